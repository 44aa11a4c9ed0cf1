// grant_type=password (RFC 6749 §4.3; Huddle's guide): the user's e-mail and password, for
// confidential clients registered with this grant only (RFC 9700 §2.4). The password check
// is the login page's (accounts/password-check.ts), handed in as a dependency.
import type { Config } from '../../config/load.js';
import { audit } from '../../audit.js';
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import { OAuthError } from '../errors.js';
import { newOpaqueToken, type TokenIssuer } from '../tokens.js';
import type { ResourcePort, RunInTransaction } from '../ports.js';
import { clientScopes, defaultScope, grantedScope, optionalParam, requireParam, type AuditLog, type GrantHandler } from './grant.js';
import { scopeForIndicatedResources } from './resource-scope.js';

/**
 * The resource owner's password check (accounts/password-check.ts, shared with the login page,
 * so failures through either door count against both): brute-force reservation, argon2 with
 * the account's and client's share of the hashing, audit of failures and lockouts.
 */
export type CheckResourceOwner = (request: { email: string; password: string; address: string; clientId: string; grantType: 'password' }) => Promise<
  | { ok: true; user: { id: number; emailVerified: boolean } }
  | { ok: false; refusal: 'wrong' }
  | { ok: false; refusal: 'locked' | 'busy' | 'overloaded'; retryAfter: number; message: string }
>;

export interface PasswordGrantDeps {
  checkPassword: CheckResourceOwner;
  audit: AuditLog;
  clock: Clock;
  /** `emailVerification` "required": an account whose address is not verified gets no token (SPEC.md). */
  config: Pick<Config, 'scopes'> & Partial<Pick<Config, 'emailVerification' | 'issuer'>>;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  /** The registered resources (RFC 8707); without them a `resource` other than ISSUER/api is unknown. */
  resources?: ResourcePort;
}

export function passwordGrant(deps: PasswordGrantDeps): GrantHandler {
  return {
    grantType: 'password',
    // RFC 9700 §2.4: not for public clients (nothing proves which app collects the password).
    clientAuthentication: 'confidential',
    async handle({ client, params, address = 'unknown' }) {
      const username = requireParam(params, 'username');
      const password = requireParam(params, 'password');
      // Scope first: a request that would fail anyway costs no password hash.
      const allowed = clientScopes(client, deps.config.scopes);
      // RFC 8707: with `resource`, the token is for those resources and carries their scopes.
      const indicated = await scopeForIndicatedResources(deps, client, params, allowed);
      const scope = indicated?.scope ?? grantedScope(optionalParam(params, 'scope'), allowed, defaultScope(allowed));
      const audience = indicated?.audience ?? null;

      // Per account and per address, as on the login page: 429 slow_down with Retry-After
      // while backing off or with too many attempts at once; 503 while the hashing is full.
      const checked = await deps.checkPassword({ email: username, password, address, clientId: client.clientId, grantType: 'password' });
      if (!checked.ok) {
        // RFC 6749 §5.2: invalid_grant covers wrong resource owner credentials; one message
        // for both cases, so the answer does not tell which e-mails have accounts.
        if (checked.refusal === 'wrong') throw new OAuthError('invalid_grant', 'the username or password is incorrect');
        if (checked.refusal === 'overloaded') throw new OAuthError('temporarily_unavailable', checked.message, { retryAfter: checked.retryAfter });
        throw new OAuthError('slow_down', checked.message, { status: 429, retryAfter: checked.retryAfter });
      }
      const user = checked.user;
      if (deps.config.emailVerification === 'required' && !user.emailVerified) {
        audit(deps.audit, 'login.failed', { user_id: user.id, client_id: client.clientId, grant_type: 'password', address, reason: 'email_unverified' });
        throw new OAuthError('invalid_grant', 'the account\'s e-mail address is not verified');
      }
      audit(deps.audit, 'login.succeeded', { user_id: user.id, client_id: client.clientId, grant_type: 'password', address });

      const now = nowSeconds(deps.clock);
      const refresh = client.grantTypes.includes('refresh_token') ? newOpaqueToken() : null;
      return deps.transaction(async (tx) => {
        const grantId = await tx.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope, grantType: 'password', now });
        return deps.issuer.issue(tx, { grantId, client, userId: user.id, organizationId: null, scope, audience }, now, refresh);
      });
    },
  };
}
