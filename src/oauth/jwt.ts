// JWT access tokens (RFC 9068 "JSON Web Token Profile for OAuth 2.0 Access Tokens"),
// signed ES256 with the keys of signing-keys.ts. A JWT access token is still recorded in
// access_tokens (token_hash = SHA-256 of the JWT, jti = its `jti`), so revocation works as
// for opaque tokens: a verifier checks the signature, `iss`, `aud`, `typ` and `exp`, then
// looks the `jti` up.
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { Config } from '../config/load.js';
import type { AccessTokenContext } from './model.js';
import type { AccessTokenPort, RootPick } from './ports.js';
import { nowSeconds, type Clock } from './clock.js';
import { newOrderedId, tokenKey } from './crypto.js';
import type { SigningAlg, SigningKeys } from './signing-keys.js';
import { opaqueAccessTokens, type AccessTokenFormatter } from './tokens.js';

/** JWT access tokens are signed ES256 (whatever signs ID tokens). */
export const ACCESS_TOKEN_ALG: SigningAlg = 'ES256';

/** RFC 9068 §2.1: the `typ` header of an access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Longest token worth parsing; ours are well under 1 KB. */
const MAX_JWT_LENGTH = 4096;

/**
 * RFC 9068 §3: without a `resource` parameter the `aud` is a default resource indicator.
 * Ours is the issuer's API (`/api/user`, `/oauth/userinfo`): `${issuer}/api`, distinct from
 * the issuer itself so that an access token is never mistaken for something meant for the
 * authorization server.
 */
export function accessTokenAudience(issuer: string): string {
  return `${issuer}/api`;
}

export interface AccessTokenClaims {
  issuer: string;
  /** RFC 9068 §2.2: the user id (as a string), or the client_id when no user is involved (client_credentials). */
  subject: string;
  clientId: string;
  scope: string;
  jti: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
  organizationId: number | null;
  /** RFC 8707: the resources the token is for; null: the default audience (accessTokenAudience). */
  audience?: readonly string[] | null;
}

/** The private claims we add to RFC 9068's set. */
export interface LatchkeyAccessTokenPayload extends JWTPayload {
  client_id: string;
  scope: string;
  org_id?: number;
}

export async function signAccessToken(keys: SigningKeys, claims: AccessTokenClaims): Promise<string> {
  const { kid, privateKey } = await keys.signingKey(ACCESS_TOKEN_ALG);
  const payload: LatchkeyAccessTokenPayload = {
    client_id: claims.clientId,
    scope: claims.scope,
    ...(claims.organizationId !== null ? { org_id: claims.organizationId } : {}),
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, typ: ACCESS_TOKEN_TYP, kid })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(jwtAudience(claims.audience, claims.issuer))
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .setJti(claims.jti)
    .sign(privateKey);
}

/** RFC 9068 §2.2 / RFC 7519 §4.1.3: one audience as a string, several as an array; none indicated: the default. */
export function jwtAudience(audience: readonly string[] | null | undefined, issuer: string): string | string[] {
  if (audience === null || audience === undefined || audience.length === 0) return accessTokenAudience(issuer);
  return audience.length === 1 ? audience[0]! : [...audience];
}

/**
 * The AccessTokenFormatter (tokens.ts) for JWT access tokens: a fresh 128-bit `jti`, stored
 * with the token's hash, so the token can be found (and revoked) like an opaque one.
 * `config` is read at each call (the issuer is fixed only once the server listens, in tests).
 */
export function jwtAccessTokens(keys: SigningKeys, config: Pick<Config, 'issuer'>): AccessTokenFormatter {
  return {
    async format(details) {
      const jti = newOrderedId();
      const token = await signAccessToken(keys, {
        issuer: config.issuer,
        subject: details.userId !== null ? String(details.userId) : details.clientId,
        clientId: details.clientId,
        scope: details.scope,
        jti,
        issuedAt: details.issuedAt,
        expiresAt: details.expiresAt,
        organizationId: details.organizationId,
        audience: details.audience,
      });
      return { token, jti };
    },
  };
}

/** The formatter `access_token_format` asks for (SPEC.md): opaque by default, or JWT. */
export function accessTokenFormatter(config: Pick<Config, 'issuer' | 'accessTokenFormat'>, keys: SigningKeys): AccessTokenFormatter {
  return config.accessTokenFormat === 'jwt' ? jwtAccessTokens(keys, config) : opaqueAccessTokens;
}

/** Whether a JWT's `aud` claim is exactly `expected` (a string, or the same list in the same order). */
function sameAudience(aud: unknown, expected: string | string[]): boolean {
  if (typeof expected === 'string') return aud === expected || (Array.isArray(aud) && aud.length === 1 && aud[0] === expected);
  return Array.isArray(aud) && aud.length === expected.length && aud.every((a, i) => a === expected[i]);
}

/** Three base64url segments: the shape of a JWS compact serialization (RFC 7515 §7.1). */
export function looksLikeJwt(token: string): boolean {
  // The dot test first: an opaque token (none) then costs no regular-expression scan.
  return token.length <= MAX_JWT_LENGTH && token.includes('.') && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

export type JwtVerification =
  | { ok: true; jti: string; kid: string; payload: LatchkeyAccessTokenPayload }
  /** `expired`: signature and issuer good, `exp` passed. `invalid`: anything else. */
  | { ok: false; reason: 'expired' | 'invalid' };

/**
 * RFC 9068 §4: checks `typ`, the signature against our published keys, `alg`, `iss`,
 * `aud` and `exp`. Does not consult the database: the caller looks up `jti` to honour
 * revocation.
 */
export async function verifyAccessToken(keys: SigningKeys, token: string, expected: { issuer: string; clock: Clock }): Promise<JwtVerification> {
  if (!looksLikeJwt(token)) return { ok: false, reason: 'invalid' };
  try {
    const { payload, protectedHeader } = await jwtVerify<LatchkeyAccessTokenPayload>(
      token,
      async (header: ProtectedHeaderParameters) => {
        const key = await keys.verificationKey(header.kid, ACCESS_TOKEN_ALG);
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: [ACCESS_TOKEN_ALG],
        typ: ACCESS_TOKEN_TYP,
        issuer: expected.issuer,
        // `aud` is not checked here: a token for another resource (RFC 8707) is still ours to
        // introspect. Each of our resources checks the stored audience (resources.ts audienceIncludes).
        currentDate: new Date(expected.clock.nowMs()),
        requiredClaims: ['jti', 'exp', 'iat', 'sub'],
      },
    );
    if (typeof payload.jti !== 'string' || typeof payload.client_id !== 'string' || typeof payload.scope !== 'string') {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, jti: payload.jti, kid: String(protectedHeader.kid), payload };
  } catch (err) {
    // jose checks the signature before the claims, so an expired token was really ours.
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'invalid' };
  }
}

export interface AccessTokenLookupDeps {
  config: Pick<Config, 'issuer'>;
  clock: Clock;
  accessTokens: RootPick<AccessTokenPort, 'find' | 'findByJti'>;
  signingKeys: SigningKeys;
}

/**
 * The stored record of an access token in either format, in one query, or undefined when it
 * is not one of ours. A JWT is verified first (signature against our published keys, `typ`,
 * `iss`, `aud`, `exp`; RFC 9068 §4) and then found by its `jti`, so revocation is honoured;
 * forged or foreign JWTs never reach the database. An expired but genuine JWT is found by
 * its hash instead, so the caller can tell "expired" from "invalid" (SPEC.md: 401, or 403
 * under huddle). An opaque token is found by its key (crypto.ts tokenKey; `hash`, when the
 * caller has it already).
 */
export async function lookupAccessToken(deps: AccessTokenLookupDeps, token: string, hash: string = tokenKey(token)): Promise<AccessTokenContext | undefined> {
  if (!looksLikeJwt(token)) return deps.accessTokens.find(hash);
  // ECDSA verification costs far more than the database lookup that must follow anyway
  // (revocation; see docs/PERFORMANCE.md, jwt-verified-cache), and a client sends the same
  // access token many times. So the key set remembers, by the token's SHA-256, the tokens whose
  // signature, `typ`, `iss` and `aud` were verified, with their `jti`, `kid` and `exp`
  // (SigningKeys.verifiedTokens: one memory per key set, so per server). A remembered token is
  // still checked for expiry, for its key still being published, and in the database; only the
  // signature check is not repeated.
  const cache = deps.signingKeys.verifiedTokens;
  const known = cache.get(hash);
  if (known && deps.signingKeys.isPublished(known.kid)) {
    if (known.exp > nowSeconds(deps.clock)) return deps.accessTokens.findByJti(known.jti);
    cache.delete(hash);
    return deps.accessTokens.find(hash);
  }
  const verified = await verifyAccessToken(deps.signingKeys, token, { issuer: deps.config.issuer, clock: deps.clock });
  if (verified.ok) {
    const found = await deps.accessTokens.findByJti(verified.jti);
    // RFC 9068 §4, RFC 8707: the signed `aud` must be the audience the token was issued with
    // (a token re-signed with another `aud` but a real `jti` is not that token). Remembered only
    // once it is, so a remembered token's `aud` needs no second look.
    if (found !== undefined && !sameAudience(verified.payload.aud, jwtAudience(found.audience, deps.config.issuer))) return undefined;
    if (found !== undefined) cache.set(hash, { jti: verified.jti, kid: verified.kid, exp: Number(verified.payload.exp) });
    return found;
  }
  if (verified.reason === 'expired') return deps.accessTokens.find(hash);
  return undefined;
}
