// grant_type=refresh_token (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): every use
// returns a new pair and uses the presented refresh token up; presenting a used (or
// revoked) refresh token again is treated as theft and revokes the whole grant, so the
// pair issued from its first use stops working too.
//
// Consume (with the successor's hash recorded in the same statement) and the inserts of the
// new pair run in one transaction; a scope error after the consume rolls it back, so a
// refused request does not use the token up.
import { audit } from '../../audit.js';
import type { Config } from '../../config/load.js';
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import { tokenKey } from '../crypto.js';
import { OAuthError } from '../errors.js';
import { newOpaqueToken, type IssuedTokens, type TokenIssuer } from '../tokens.js';
import type { Client, IdTokenContext, RefreshToken } from '../model.js';
import type { GrantPort, RefreshTokenPort, RootPick, RunInTransaction } from '../ports.js';
import { withIdToken, type IdTokenMinterDeps } from '../id-token.js';
import { OPENID_SCOPE } from '../claims.js';
import { hasScope } from '../scope.js';
import { grantedScope, optionalParam, requireParam, type AuditLog, type GrantHandler } from './grant.js';
import { narrowedAudience, requestedResources } from '../resources.js';

export interface RefreshTokenGrantDeps {
  clock: Clock;
  /** `emailVerification` "required": a refresh for an account whose address is not verified is refused (SPEC.md). */
  config: Pick<Config, 'refreshRetryWindow'> & Partial<Pick<Config, 'emailVerification' | 'issuer'>>;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  refreshTokens: RootPick<RefreshTokenPort, 'find' | 'findConsumed'>;
  grants: RootPick<GrantPort, 'revoke' | 'isRevoked' | 'findIdTokenContext'>;
  audit: AuditLog;
  /** Signs ID tokens for OpenID grants (id-token.ts). */
  idTokens: IdTokenMinterDeps;
}

export function refreshTokenGrant(deps: RefreshTokenGrantDeps): GrantHandler {
  return {
    grantType: 'refresh_token',
    clientAuthentication: 'any',
    async handle({ client, params, address }) {
      const presented = requireParam(params, 'refresh_token');
      const requestedScope = optionalParam(params, 'scope');
      // RFC 8707 §2.2: a refresh may narrow the audience to some of the grant's resources, never widen it.
      const resources = requestedResources(params);
      const presentedHash = tokenKey(presented);
      const now = nowSeconds(deps.clock);
      const successor = newOpaqueToken();

      // The successor's hash is recorded on the used token only for refresh_retry_window, its
      // one reader: the column starts NULL, so recording it grows the used row by 74 bytes and
      // on SQLite often splits the row's full B-tree page, adding pages written to the WAL
      // (see docs/PERFORMANCE.md, successor-hash-only-with-retry-window). A retry of a token
      // used while the window was 0 finds no successor and is reuse.
      const record = deps.config.refreshRetryWindow > 0 ? successor.hash : null;
      let context: IdTokenContext | undefined;
      const response = await refusedIfUnverified(() => deps.transaction(async (tx) => {
        const old = await tx.refreshTokens.consume(presentedHash, client.id, now, record);
        if (!old) return undefined;
        // What the refreshed ID token says of the user, read in the same transaction (id-token.ts withIdToken).
        context = hasScope(old.scope, OPENID_SCOPE) ? await tx.grants.findIdTokenContext(old.grantId) : undefined;
        if (deps.config.emailVerification === 'required' && old.userId !== null) {
          // Rolled back with the consume: the token stays usable once the address is verified.
          const owner = context ?? await tx.grants.findIdTokenContext(old.grantId);
          if (owner && !owner.user.emailVerified) throw EMAIL_UNVERIFIED;
        }
        // The refresh "invalidates the old pair" (Hover's guide): the access token issued with
        // the used refresh token ends now rather than at its expiry, as fosite (Hydra) does.
        if (old.accessTokenHash !== null) await tx.accessTokens.revoke(old.accessTokenHash, now);
        // RFC 6749 §6: the scope may be narrowed, never widened; the new refresh token keeps
        // the original scope.
        const scope = grantedScope(requestedScope, old.scope.split(' ').filter(Boolean));
        // Refused inside the transaction: the consume is rolled back and the token stays usable.
        const audience = narrowedAudience(resources, old.resources, deps.config.issuer);
        return deps.issuer.issue(tx, {
          grantId: old.grantId, client, userId: old.userId, organizationId: old.organizationId, scope, refreshScope: old.scope,
          audience, refreshResources: old.resources,
        }, now, successor);
      }));
      const idTokens = { ...deps.idTokens, grants: deps.grants };
      // Core §12.2: a refreshed ID token has no nonce and repeats the grant's sub, aud and auth_time.
      if (response) return withIdToken(idTokens, response, client, null, now, context);
      const refused = await whyNotConsumed(deps, presentedHash, client, now, requestedScope, address);
      if (refused instanceof OAuthError) throw refused;
      return withIdToken(idTokens, refused, client, null, now);
    },
  };
}

// Thrown inside the refresh transaction to roll the consume back when the account's address
// is not verified and email_verification is "required".
const EMAIL_UNVERIFIED = Symbol('e-mail not verified');

async function refusedIfUnverified<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err === EMAIL_UNVERIFIED) throw new OAuthError('invalid_grant', 'the account\'s e-mail address is not verified');
    throw err;
  }
}

/**
 * The consume matched nothing: find out why, and revoke the grant on reuse — unless it is a
 * retry inside refresh_retry_window, which is answered with a new pair.
 */
async function whyNotConsumed(
  deps: RefreshTokenGrantDeps, tokenHash: string, client: Client, now: number, requestedScope: string | undefined, address: string | undefined,
): Promise<OAuthError | IssuedTokens> {
  const token = await deps.refreshTokens.find(tokenHash);
  if (!token) {
    // The purge deletes a used token's full row after the reuse horizon and keeps a slim
    // record of it for as long as its grant lives: a replay then is reuse all the same.
    const used = await deps.refreshTokens.findConsumed(tokenHash);
    if (used && used.clientId === client.id) return reuseDetected(deps, used, client, now, address);
  }
  // Another client's token reads like an unknown one, and is not used up (RFC 6749 §6: the
  // refresh token must have been issued to the authenticated client).
  if (!token || token.clientId !== client.id) {
    return new OAuthError('invalid_grant', 'the refresh token is invalid', { debug: token ? `refresh token of client row ${token.clientId} presented by ${client.clientId}` : 'unknown refresh token' });
  }
  if (token.consumedAt !== null || token.revokedAt !== null) {
    const retried = await retryInsideWindow(deps, token, client, now, requestedScope);
    if (retried !== 'reuse') return retried;
    return reuseDetected(deps, token, client, now, address);
  }
  if (token.expiresAt !== null && token.expiresAt <= now) return new OAuthError('invalid_grant', 'the refresh token has expired');
  if (await deps.grants.isRevoked(token.grantId)) return new OAuthError('invalid_grant', 'the authorization has been revoked');
  return new OAuthError('invalid_grant', 'third-party integrations are not available on the organization\'s plan');
}

/** Reuse: RFC 9700 §4.14.2, RFC 6749 §10.4. The whole grant is revoked. */
async function reuseDetected(
  deps: RefreshTokenGrantDeps, used: { readonly grantId: number; readonly userId: number | null }, client: Client, now: number, address: string | undefined,
): Promise<OAuthError> {
  await deps.grants.revoke(used.grantId, now);
  audit(deps.audit, 'refresh.reuse_detected', { client_id: client.clientId, user_id: used.userId, grant_id: used.grantId, ...(address === undefined ? {} : { address }) });
  return new OAuthError('invalid_grant', 'the refresh token has already been used; the authorization is revoked');
}

// Thrown inside the retry transaction to roll the successor swap back when the successor
// turns out to have been used.
const SUCCESSOR_USED = Symbol('successor used');

/**
 * refresh_retry_window (SPEC.md): a client whose refresh response was lost presents the token
 * it already used. Within the window after that use, and while the successor it never
 * received is still unused, the successor pair (refresh token and its access token) is
 * revoked and a new pair issued in its place, so one live chain remains. The successor is
 * swapped by compare-and-swap (`UPDATE … WHERE token_hash = old AND successor_hash =
 * expected`), so of concurrent retries, on any number of servers, exactly one wins; the
 * others are refused without revoking anything. Anything else is 'reuse'.
 */
async function retryInsideWindow(
  deps: RefreshTokenGrantDeps, token: RefreshToken, client: Client, now: number, requestedScope: string | undefined,
): Promise<IssuedTokens | OAuthError | 'reuse'> {
  const window = deps.config.refreshRetryWindow;
  const expected = token.successorHash;
  if (window <= 0 || token.revokedAt !== null || token.consumedAt === null || now - token.consumedAt > window || expected === null) return 'reuse';
  const next = newOpaqueToken();
  let outcome: IssuedTokens | 'lost';
  try {
    outcome = await deps.transaction(async (tx) => {
      // The swap also requires the grant to be live (as consuming does).
      if (!(await tx.refreshTokens.replaceSuccessor(token.tokenHash, expected, next.hash))) return 'lost';
      const dead = await tx.refreshTokens.revokeUnused(expected, now);
      if (!dead) throw SUCCESSOR_USED;
      if (dead.accessTokenHash !== null) await tx.accessTokens.revoke(dead.accessTokenHash, now);
      const scope = grantedScope(requestedScope, token.scope.split(' ').filter(Boolean));
      return deps.issuer.issue(tx, {
        grantId: token.grantId, client, userId: token.userId, organizationId: token.organizationId, scope, refreshScope: token.scope,
        // The lost response's pair is replaced: the grant's resources, as the first refresh of it would have had without `resource`.
        audience: token.resources,
      }, now, next);
    });
  } catch (err) {
    if (err === SUCCESSOR_USED) return 'reuse';
    throw err;
  }
  if (outcome === 'lost') {
    if (await deps.grants.isRevoked(token.grantId)) return new OAuthError('invalid_grant', 'the authorization has been revoked');
    return new OAuthError('invalid_grant', 'the refresh token has already been used, and a retry with it is already under way');
  }
  audit(deps.audit, 'refresh.retried', { client_id: client.clientId, user_id: token.userId, grant_id: token.grantId });
  return outcome;
}
