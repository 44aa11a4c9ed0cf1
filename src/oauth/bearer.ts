// Protected resources (RFC 6750): reading the access token from the Authorization header,
// deciding whether a stored token is usable, and the WWW-Authenticate challenge.
// Framework-free: the route hands in the header and the stored token, and writes the answer.
import type { AccessTokenContext } from './model.js';

/**
 * Schemes that carry an access token: `Bearer` (RFC 6750 §2.1) and `OAuth2` (Huddle's
 * guide). Auth schemes are case-insensitive (RFC 9110 §11.1).
 */
const TOKEN_SCHEMES = new Set(['bearer', 'oauth2']);

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Longer than any token we issue (a JWT access token is well under 1 KB). */
const MAX_TOKEN_LENGTH = 4096;

export type BearerCredentials =
  /** No Authorization header, or one with another scheme (Basic, …): no token was sent. */
  | { kind: 'absent' }
  /** A token scheme whose value cannot be a token (RFC 6750 §3.1 invalid_request territory). */
  | { kind: 'malformed' }
  | { kind: 'token'; token: string };

export function parseBearerAuthorization(header: string | undefined): BearerCredentials {
  if (header === undefined) return { kind: 'absent' };
  const value = header.trim();
  const space = value.search(/\s/);
  const scheme = (space === -1 ? value : value.slice(0, space)).toLowerCase();
  if (!TOKEN_SCHEMES.has(scheme)) return { kind: 'absent' };
  const token = space === -1 ? '' : value.slice(space).trim();
  // "Bearer" with nothing after it sends no token.
  return credentialsOf(token);
}

/**
 * The `access_token` of a form-encoded request body (RFC 6750 §2.2), checked as the header's
 * token is: the same b64token syntax and length. Empty sends no token.
 */
export function parseBodyAccessToken(value: string): BearerCredentials {
  return credentialsOf(value);
}

function credentialsOf(token: string): BearerCredentials {
  if (token === '') return { kind: 'absent' };
  if (token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) return { kind: 'malformed' };
  return { kind: 'token', token };
}

export type AccessTokenState = 'active' | 'unknown' | 'revoked' | 'inactive_organization' | 'expired';

/**
 * Whether a stored access token may be used now. A token is usable while its row and its
 * grant are unrevoked, its organization (when bound to one) has integrations on (SPEC.md,
 * Hover's plans), and it has not expired (valid while now < expires_at). Revocation is
 * checked before expiry, so a revoked token never reads as merely expired.
 */
export function accessTokenState(token: AccessTokenContext | undefined, now: number): AccessTokenState {
  if (!token) return 'unknown';
  if (token.revokedAt !== null || token.grantRevokedAt !== null) return 'revoked';
  if (token.organizationId !== null && token.organizationIntegrationsEnabled !== true) return 'inactive_organization';
  if (token.expiresAt <= now) return 'expired';
  return 'active';
}

export interface BearerChallenge {
  error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope';
  description?: string;
  /** insufficient_scope: the scopes that would do (RFC 6750 §3). */
  scope?: string;
  /** RFC 9728 §5.1: where the resource's protected-resource metadata is; sent last, after the RFC 6750 fields. */
  resourceMetadata?: string;
}

/** RFC 6750 §3: quoted values may not carry `"` or `\` or control characters. */
function quoted(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;
}

/**
 * The WWW-Authenticate value (RFC 6750 §3). Without an error (no token was sent, §3.1) it
 * carries only the realm.
 */
export function bearerChallenge(realm: string, challenge: BearerChallenge = {}): string {
  const parts = [`realm=${quoted(realm)}`];
  if (challenge.error) parts.push(`error=${quoted(challenge.error)}`);
  if (challenge.error && challenge.description) parts.push(`error_description=${quoted(challenge.description)}`);
  if (challenge.error && challenge.scope) parts.push(`scope=${quoted(challenge.scope)}`);
  if (challenge.resourceMetadata) parts.push(`resource_metadata=${quoted(challenge.resourceMetadata)}`);
  return `Bearer ${parts.join(', ')}`;
}
