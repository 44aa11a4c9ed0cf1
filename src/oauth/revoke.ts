// Token revocation (RFC 7009). The caller has already authenticated as a client
// (client-auth.ts, RFC 7009 §2.1; public clients identify themselves by client_id).
//
// - A refresh token: its whole grant is revoked — every access and refresh token descending
//   from the same authorization stops working (RFC 7009 §2.1: "the authorization server
//   SHOULD also invalidate all access tokens based on the same authorization grant").
// - An access token: that token only. RFC 7009 §2.1 lets the server revoke the grant as well
//   ("MAY"); we do not, so that a client dropping one access token (say, on sign-out of one
//   device) keeps its refresh token and the user's authorization.
// - A token issued to another client is not revoked, and the answer is the same 200
//   (RFC 7009 §2.1: the server "first validates the client credentials … and then verifies
//   whether the token was issued to the client making the revocation request. If this
//   validation fails, the request is refused" — refused silently, so that the answer never
//   tells whether someone else's token exists).
// - An unknown, malformed, expired or already revoked token: 200 as well (RFC 7009 §2.2).
import type { Client } from './model.js';
import type { OwnedRevocations, RevocationOutcome, RunInTransaction } from './ports.js';
import { nowSeconds, type Clock } from './clock.js';
import { tokenKey } from './crypto.js';
import { MAX_TOKEN_LENGTH, lookupOrder, requireTokenParam } from './introspect.js';

export type { RevocationOutcome } from './ports.js';

export interface RevocationDeps {
  clock: Clock;
  /** The lookups and the writes go through the transaction runner: atomic, and group-committed. */
  transaction: RunInTransaction;
  /**
   * The same rule done by the store in one step, where it offers that (PostgreSQL,
   * store/postgres/revocations.ts); the rule below is then not run here.
   */
  revocations?: OwnedRevocations | undefined;
}

/** RFC 7009 §2.1: revokes `params.token` if it is one of `client`'s tokens. */
export async function revoke(deps: RevocationDeps, client: Client, params: Readonly<Record<string, string>>): Promise<RevocationOutcome> {
  const token = requireTokenParam(params);
  if (token.length > MAX_TOKEN_LENGTH) return { revoked: null, reason: 'unknown' };
  // Both kinds are stored under tokenKey (a JWT access token under its SHA-256), so no
  // verification is needed to find one: only a token we issued has a row.
  const hash = tokenKey(token);
  const now = nowSeconds(deps.clock);
  const order = lookupOrder(params.token_type_hint);
  if (deps.revocations) return deps.revocations.revokeOwned(hash, client.id, order[0]!, now);
  // The lookups run inside the transaction: on PostgreSQL they then leave with the group's
  // BEGIN, beside the other works' statements, and the revocations with its COMMIT, so a
  // revocation costs its group a share of two round trips instead of two round trips of its
  // own before the transaction (docs/PERFORMANCE.md, revoke-in-transaction). Both kinds are
  // looked for at once; the hint decides which is taken when, against all odds, one hash is
  // in both tables. Revoking twice is harmless (the first revocation time is kept), so the
  // work may be run again (RunInTransaction).
  return deps.transaction(async (tx): Promise<RevocationOutcome> => {
    const [access, refresh] = await Promise.all([tx.accessTokens.owner(hash), tx.refreshTokens.owner(hash)]);
    for (const kind of order) {
      const owner = kind === 'access_token' ? access : refresh;
      if (!owner) continue;
      if (owner.clientId !== client.id) return { revoked: null, reason: 'other_client' };
      if (kind === 'access_token') {
        await tx.accessTokens.revoke(hash, now);
        return { revoked: 'access_token', grantId: owner.grantId };
      }
      // The grant and the token together: once the grant is revoked, nothing descending from it works.
      await tx.grants.revoke(owner.grantId, now);
      await tx.refreshTokens.revoke(hash, now);
      return { revoked: 'refresh_token', grantId: owner.grantId };
    }
    return { revoked: null, reason: 'unknown' };
  });
}
