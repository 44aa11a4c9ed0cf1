// grant_type=password (RFC 6749 §4.3; Huddle's guide): the user's e-mail and password,
// for clients registered with this grant only. The password is checked with argon2id; an
// unknown e-mail is checked against a dummy hash so that both failures take as long.
import type { Config } from '../../config/load.js';
import { lockoutError, type BruteForceGuard } from '../../accounts/backoff.js';
import { audit } from '../../audit.js';
import { dummyPasswordHash, verifyPassword } from '../../accounts/passwords.js';
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import { OAuthError } from '../errors.js';
import { newOpaqueToken, type TokenIssuer } from '../tokens.js';
import type { UserStore } from '../../store/users.js';
import type { RunInTransaction } from '../../store/transaction.js';
import { clientScopes, grantedScope, optionalParam, requireParam, type AuditLog, type GrantHandler } from './grant.js';

/** The brute-force backoff the login page uses too: failures through either door count against both. */
export type PasswordGuard = Pick<BruteForceGuard, 'checkPassword' | 'passwordFailed' | 'passwordSucceeded'>;

export interface PasswordGrantDeps {
  guard: PasswordGuard;
  audit: AuditLog;
  clock: Clock;
  config: Pick<Config, 'scopes'>;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  users: Pick<UserStore, 'findCredentialsByEmail'>;
}

export function passwordGrant(deps: PasswordGrantDeps): GrantHandler {
  return {
    grantType: 'password',
    clientAuthentication: 'any',
    async handle({ client, params, address = 'unknown' }) {
      const username = requireParam(params, 'username');
      const password = requireParam(params, 'password');
      // Scope first: a request that would fail anyway costs no password hash.
      const scope = grantedScope(optionalParam(params, 'scope'), clientScopes(client, deps.config.scopes));

      // Per account and per address, as on the login page: 429 with Retry-After while backing off.
      const lockout = await deps.guard.checkPassword(username, address);
      if (lockout) {
        audit(deps.audit, 'login.locked', { client_id: client.clientId, grant_type: 'password', address, reason: lockout.subject, retry_after: lockout.retryAfter });
        throw lockoutError(lockout);
      }
      const user = await deps.users.findCredentialsByEmail(username);
      const matches = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password);
      // RFC 6749 §5.2: invalid_grant covers wrong resource owner credentials; one message
      // for both cases, so the answer does not tell which e-mails have accounts.
      if (!user || !matches) {
        const started = await deps.guard.passwordFailed(username, address);
        audit(deps.audit, 'login.failed', { user_id: user?.id ?? null, client_id: client.clientId, grant_type: 'password', address });
        if (started) throw lockoutError(started);
        throw new OAuthError('invalid_grant', 'the username or password is incorrect');
      }
      await deps.guard.passwordSucceeded(username, address);
      audit(deps.audit, 'login.succeeded', { user_id: user.id, client_id: client.clientId, grant_type: 'password', address });

      const now = nowSeconds(deps.clock);
      const refresh = client.grantTypes.includes('refresh_token') ? newOpaqueToken() : null;
      return deps.transaction(async (tx) => {
        const grantId = await tx.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope, grantType: 'password', now });
        return deps.issuer.issue(tx.tokens, { grantId, client, userId: user.id, organizationId: null, scope }, now, refresh);
      });
    },
  };
}
