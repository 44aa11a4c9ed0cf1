// Token introspection (RFC 7662). The caller has already authenticated as a client
// (client-auth.ts, RFC 7662 §2.1).
//
// Policy: a client may introspect only its own tokens. Latchkey has no separate resource
// servers with their own credentials, so nobody else has a legitimate need; another
// client's token is simply inactive to the caller (RFC 7662 §2.2: "the authorization server
// MAY respond differently to different protected resources making the same request", and
// §4: the answer for a token the caller may not see is `{"active":false}`).
//
// Anything not currently usable — unknown, malformed, expired, revoked (the token, its
// grant, or its organization's integrations switched off), used refresh tokens — answers
// exactly `{"active":false}` and nothing more (RFC 7662 §2.2), so the answer never tells a
// caller why.
import type { Config } from '../config/load.js';
import type { Client, RefreshToken } from './model.js';
import type { AccessTokenPort, RefreshTokenPort, RootPick } from './ports.js';
import { accessTokenState } from './bearer.js';
import { nowSeconds, type Clock } from './clock.js';
import { tokenKey } from './crypto.js';
import { OAuthError } from './errors.js';
import { jwtAudience, looksLikeJwt, lookupAccessToken } from './jwt.js';
import { hasScope } from './scope.js';
import type { SigningKeys } from './signing-keys.js';

export interface IntrospectionDeps {
  config: Pick<Config, 'issuer'>;
  clock: Clock;
  accessTokens: RootPick<AccessTokenPort, 'find' | 'findByJti'>;
  refreshTokens: RootPick<RefreshTokenPort, 'findContext'>;
  signingKeys: SigningKeys;
}

export type TokenTypeHint = 'access_token' | 'refresh_token';

/** RFC 7662 §2.2 (plus `org_id`, the organization a grant is bound to). */
export interface ActiveIntrospection {
  active: true;
  scope: string;
  client_id: string;
  /** The user's e-mail, only under the `email` scope (it is what that scope grants). */
  username?: string;
  sub: string;
  exp?: number;
  iat: number;
  /** "Bearer" for access tokens (RFC 6750), "refresh_token" for refresh tokens. */
  token_type: 'Bearer' | 'refresh_token';
  iss: string;
  /** RFC 7662 §2.2 / RFC 8707: the token's resources; one as a string, several as an array. */
  aud?: string | string[];
  jti?: string;
  org_id?: number;
}

export type IntrospectionResponse = ActiveIntrospection | { active: false };

export const INACTIVE: { active: false } = Object.freeze({ active: false });

/** Longer than any token we issue (a JWT access token is well under 1 KB). */
export const MAX_TOKEN_LENGTH = 4096;

/** The `token` parameter, required by RFC 7009 §2.1 and RFC 7662 §2.1. */
export function requireTokenParam(params: Readonly<Record<string, string>>): string {
  const token = params.token;
  if (token === undefined || token === '') throw new OAuthError('invalid_request', 'the token parameter is required');
  return token;
}

/**
 * `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1) only decides which kind is looked up
 * first; the other kind is always tried too, and an unknown hint is ignored.
 */
export function lookupOrder(hint: string | undefined): TokenTypeHint[] {
  return hint === 'refresh_token' ? ['refresh_token', 'access_token'] : ['access_token', 'refresh_token'];
}

async function introspectAccessToken(deps: IntrospectionDeps, client: Client, token: string, key: string, now: number): Promise<IntrospectionResponse | undefined> {
  const ctx = await lookupAccessToken(deps, token, key);
  if (!ctx) return undefined;
  if (ctx.clientId !== client.id || accessTokenState(ctx, now) !== 'active') return INACTIVE;
  return {
    active: true,
    scope: ctx.scope,
    client_id: ctx.clientPublicId,
    ...(ctx.user && hasScope(ctx.scope, 'email') ? { username: ctx.user.email } : {}),
    // RFC 9068 §2.2: with no user (client_credentials) the subject is the client itself.
    sub: ctx.userId !== null ? String(ctx.userId) : ctx.clientPublicId,
    exp: ctx.expiresAt,
    iat: ctx.createdAt,
    token_type: 'Bearer',
    iss: deps.config.issuer,
    aud: jwtAudience(ctx.audience, deps.config.issuer),
    ...(ctx.jti !== null ? { jti: ctx.jti } : {}),
    ...(ctx.organizationId !== null ? { org_id: ctx.organizationId } : {}),
  };
}

function isRefreshTokenLive(token: RefreshToken, now: number): boolean {
  return token.consumedAt === null && token.revokedAt === null && (token.expiresAt === null || token.expiresAt > now);
}

async function introspectRefreshToken(deps: IntrospectionDeps, client: Client, token: string, key: string, now: number): Promise<IntrospectionResponse | undefined> {
  // Refresh tokens are always opaque; a JWT-shaped value cannot be one.
  if (looksLikeJwt(token)) return undefined;
  const found = await deps.refreshTokens.findContext(key);
  if (!found) return undefined;
  const { token: refresh } = found;
  if (refresh.clientId !== client.id || !isRefreshTokenLive(refresh, now) || found.grantRevokedAt !== null) return INACTIVE;
  // Bound to an organization whose plan has integrations off (SPEC.md, Hover): not usable.
  if (refresh.organizationId !== null && found.organizationIntegrationsEnabled !== true) return INACTIVE;
  if (refresh.userId !== null && found.userEmail === null) return INACTIVE;
  return {
    active: true,
    scope: refresh.scope,
    client_id: client.clientId,
    ...(found.userEmail !== null && hasScope(refresh.scope, 'email') ? { username: found.userEmail } : {}),
    sub: refresh.userId !== null ? String(refresh.userId) : client.clientId,
    // A refresh token that never expires (Hover) has no `exp`.
    ...(refresh.expiresAt !== null ? { exp: refresh.expiresAt } : {}),
    iat: refresh.createdAt,
    token_type: 'refresh_token',
    iss: deps.config.issuer,
    ...(refresh.organizationId !== null ? { org_id: refresh.organizationId } : {}),
  };
}

/** RFC 7662 §2.1–2.2: the token's state as the authenticated `client` may see it. */
export async function introspect(deps: IntrospectionDeps, client: Client, params: Readonly<Record<string, string>>): Promise<IntrospectionResponse> {
  const token = requireTokenParam(params);
  if (token.length > MAX_TOKEN_LENGTH) return INACTIVE;
  const now = nowSeconds(deps.clock);
  // Both kinds are stored under the same key (crypto.ts tokenKey): computed once.
  const key = tokenKey(token);
  for (const kind of lookupOrder(params.token_type_hint)) {
    const found = kind === 'access_token'
      ? await introspectAccessToken(deps, client, token, key, now)
      : await introspectRefreshToken(deps, client, token, key, now);
    if (found) return found;
  }
  return INACTIVE;
}
