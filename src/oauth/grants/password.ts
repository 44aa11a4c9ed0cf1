// grant_type=password (RFC 6749 §4.3; Huddle's guide): the user's e-mail and password,
// for clients registered with this grant only. The password is checked with argon2id; an
// unknown e-mail is checked against a dummy hash so that both failures take as long.
import type { Config } from '../../config/load.js';
import { dummyPasswordHash, verifyPassword } from '../../accounts/passwords.js';
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import { OAuthError } from '../errors.js';
import { newOpaqueToken, type TokenIssuer } from '../tokens.js';
import type { UserStore } from '../../store/users.js';
import type { RunInTransaction } from '../../store/transaction.js';
import { clientScopes, grantedScope, optionalParam, requireParam, type GrantHandler } from './grant.js';

export interface PasswordGrantDeps {
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
    async handle({ client, params }) {
      const username = requireParam(params, 'username');
      const password = requireParam(params, 'password');
      // Scope first: a request that would fail anyway costs no password hash.
      const scope = grantedScope(optionalParam(params, 'scope'), clientScopes(client, deps.config.scopes));

      const user = await deps.users.findCredentialsByEmail(username);
      const matches = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password);
      // RFC 6749 §5.2: invalid_grant covers wrong resource owner credentials; one message
      // for both cases, so the answer does not tell which e-mails have accounts.
      if (!user || !matches) throw new OAuthError('invalid_grant', 'the username or password is incorrect');

      const now = nowSeconds(deps.clock);
      const refresh = client.grantTypes.includes('refresh_token') ? newOpaqueToken() : null;
      return deps.transaction(async (tx) => {
        const grantId = await tx.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope, grantType: 'password', now });
        return deps.issuer.issue(tx.tokens, { grantId, client, userId: user.id, organizationId: null, scope }, now, refresh);
      });
    },
  };
}
