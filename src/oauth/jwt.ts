// JWT access tokens (RFC 9068 "JSON Web Token Profile for OAuth 2.0 Access Tokens"),
// signed ES256 with the keys of signing-keys.ts. A JWT access token is still recorded in
// access_tokens (token_hash = SHA-256 of the JWT, jti = its `jti`), so revocation works as
// for opaque tokens: a verifier checks the signature, `iss`, `aud`, `typ` and `exp`, then
// looks the `jti` up.
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { Clock } from './clock.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

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
}

/** The private claims we add to RFC 9068's set. */
export interface LatchkeyAccessTokenPayload extends JWTPayload {
  client_id: string;
  scope: string;
  org_id?: number;
}

export async function signAccessToken(keys: SigningKeys, claims: AccessTokenClaims): Promise<string> {
  const { kid, privateKey } = await keys.signingKey();
  const payload: LatchkeyAccessTokenPayload = {
    client_id: claims.clientId,
    scope: claims.scope,
    ...(claims.organizationId !== null ? { org_id: claims.organizationId } : {}),
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: SIGNING_ALG, typ: ACCESS_TOKEN_TYP, kid })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(accessTokenAudience(claims.issuer))
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .setJti(claims.jti)
    .sign(privateKey);
}

/** Three base64url segments: the shape of a JWS compact serialization (RFC 7515 §7.1). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

export type JwtVerification =
  | { ok: true; jti: string; payload: LatchkeyAccessTokenPayload }
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
    const { payload } = await jwtVerify<LatchkeyAccessTokenPayload>(
      token,
      async (header: ProtectedHeaderParameters) => {
        const key = await keys.verificationKey(header.kid);
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: [SIGNING_ALG],
        typ: ACCESS_TOKEN_TYP,
        issuer: expected.issuer,
        audience: accessTokenAudience(expected.issuer),
        currentDate: new Date(expected.clock.nowMs()),
        requiredClaims: ['jti', 'exp', 'iat', 'sub'],
      },
    );
    if (typeof payload.jti !== 'string' || typeof payload.client_id !== 'string' || typeof payload.scope !== 'string') {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, jti: payload.jti, payload };
  } catch (err) {
    // jose checks the signature before the claims, so an expired token was really ours.
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'invalid' };
  }
}
