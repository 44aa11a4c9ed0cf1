// grant_type=refresh_token (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): every use
// returns a new pair and uses the presented refresh token up; presenting a used (or
// revoked) refresh token again is treated as theft and revokes the whole grant, so the
// pair issued from its first use stops working too.
//
// Consume (with the successor's hash recorded in the same statement) and the inserts of the
// new pair run in one transaction; a scope error after the consume rolls it back, so a
// refused request does not use the token up.
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import { sha256Hex } from '../crypto.js';
import { OAuthError } from '../errors.js';
import { newOpaqueToken, type TokenIssuer } from '../tokens.js';
import type { Client } from '../../store/clients.js';
import type { GrantStore } from '../../store/grants.js';
import type { TokenStore } from '../../store/tokens.js';
import type { RunInTransaction } from '../../store/transaction.js';
import { grantedScope, optionalParam, requireParam, type AuditLog, type GrantHandler } from './grant.js';

export interface RefreshTokenGrantDeps {
  clock: Clock;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  tokens: Pick<TokenStore, 'findRefreshToken'>;
  grants: Pick<GrantStore, 'revoke' | 'isRevoked'>;
  audit: AuditLog;
}

export function refreshTokenGrant(deps: RefreshTokenGrantDeps): GrantHandler {
  return {
    grantType: 'refresh_token',
    clientAuthentication: 'any',
    async handle({ client, params }) {
      const presented = requireParam(params, 'refresh_token');
      const requestedScope = optionalParam(params, 'scope');
      const presentedHash = sha256Hex(presented);
      const now = nowSeconds(deps.clock);
      const successor = newOpaqueToken();

      const response = await deps.transaction(async (tx) => {
        const old = await tx.tokens.consumeRefreshToken(presentedHash, client.id, now, undefined, successor.hash);
        if (!old) return undefined;
        // RFC 6749 §6: the scope may be narrowed, never widened; the new refresh token keeps
        // the original scope.
        const scope = grantedScope(requestedScope, old.scope.split(' ').filter(Boolean));
        return deps.issuer.issue(tx.tokens, {
          grantId: old.grant_id, client, userId: old.user_id, organizationId: old.organization_id, scope, refreshScope: old.scope,
        }, now, successor);
      });
      if (response) return response;
      throw await whyNotConsumed(deps, presentedHash, client, now);
    },
  };
}

/** The consume matched nothing: find out why, and revoke the grant on reuse. */
async function whyNotConsumed(deps: RefreshTokenGrantDeps, tokenHash: string, client: Client, now: number): Promise<OAuthError> {
  const row = await deps.tokens.findRefreshToken(tokenHash);
  // Another client's token reads like an unknown one, and is not used up (RFC 6749 §6: the
  // refresh token must have been issued to the authenticated client).
  if (!row || row.client_id !== client.id) {
    return new OAuthError('invalid_grant', 'the refresh token is invalid', { debug: row ? `refresh token of client row ${row.client_id} presented by ${client.clientId}` : 'unknown refresh token' });
  }
  if (row.consumed_at !== null || row.revoked_at !== null) {
    // Reuse: RFC 9700 §4.14.2, RFC 6749 §10.4. (A refresh_retry_window, SPEC.md, would step
    // in here, using successor_hash to find the pair the lost response carried.)
    await deps.grants.revoke(row.grant_id, now);
    deps.audit.warn({ event: 'refresh_token.reused', clientId: client.clientId, grantId: row.grant_id }, 'used refresh token presented again: grant revoked');
    return new OAuthError('invalid_grant', 'the refresh token has already been used; the authorization is revoked');
  }
  if (row.expires_at !== null && row.expires_at <= now) return new OAuthError('invalid_grant', 'the refresh token has expired');
  if (await deps.grants.isRevoked(row.grant_id)) return new OAuthError('invalid_grant', 'the authorization has been revoked');
  return new OAuthError('invalid_grant', 'third-party integrations are not available on the organization\'s plan');
}
