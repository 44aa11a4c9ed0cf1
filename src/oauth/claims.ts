// OpenID Connect claims (Core §5.1, §5.4, §5.5): which claims a user has, which scope brings
// each, the `claims` request parameter, and the claim set an ID token or UserInfo answer
// holds. Pure functions: the ID token (id-token.ts) and UserInfo (userinfo.ts) share them, so
// that both say the same about a user.
import type { ClaimRequest, ClaimsRequest, User } from './model.js';
import { hasScope } from './scope.js';

/** The scope that switches a request to OpenID Connect (Core §3.1.2.1). */
export const OPENID_SCOPE = 'openid';
/** Accepted in any OpenID request and changes nothing: refresh tokens are issued as for OAuth (SPEC.md). */
export const OFFLINE_ACCESS_SCOPE = 'offline_access';

/** The user claims each scope brings (Core §5.4, SPEC.md "OpenID Connect"). */
export const SCOPE_CLAIMS: Readonly<Record<string, readonly UserClaimName[]>> = {
  profile: ['name', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
};

/** Claims about the user that a `claims` request may name (beyond `sub`, which is always there). */
export const USER_CLAIMS = ['name', 'locale', 'updated_at', 'email', 'email_verified'] as const;
export type UserClaimName = (typeof USER_CLAIMS)[number];

/** Every claim an ID token or UserInfo answer may hold (Discovery `claims_supported`). */
export const CLAIMS_SUPPORTED = [
  'sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'sid', 'amr', 'acr',
  ...USER_CLAIMS, 'organization',
] as const;

/** The longest `claims` parameter accepted; real ones are a few hundred bytes. */
export const MAX_CLAIMS_PARAMETER_LENGTH = 4096;

function isUserClaim(name: string): name is UserClaimName {
  return (USER_CLAIMS as readonly string[]).includes(name);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A scalar a claim's `value`/`values` may hold; anything nested is refused (no claim of ours has structure). */
function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function parseMember(member: unknown, name: 'userinfo' | 'id_token'): Record<string, ClaimRequest | null> | string {
  if (!isPlainObject(member)) return `claims.${name} must be a JSON object`;
  const out: Record<string, ClaimRequest | null> = {};
  for (const [claim, request] of Object.entries(member)) {
    if (request !== null && !isPlainObject(request)) return `claims.${name}.${claim} must be null or a JSON object`;
    const parsed: { essential?: boolean; value?: unknown; values?: unknown[] } = {};
    if (request !== null) {
      if ('essential' in request) {
        if (typeof request.essential !== 'boolean') return `claims.${name}.${claim}.essential must be true or false`;
        parsed.essential = request.essential;
      }
      if ('value' in request) {
        if (!isScalar(request.value)) return `claims.${name}.${claim}.value must be a string, number or boolean`;
        parsed.value = request.value;
      }
      if ('values' in request) {
        if (!Array.isArray(request.values) || !request.values.every(isScalar)) return `claims.${name}.${claim}.values must be an array of strings, numbers or booleans`;
        parsed.values = request.values;
      }
    }
    // Core §5.5: claims the OP does not understand are ignored; only ours (and sub, which may
    // carry a value the signed-in user must match, and the ID token's acr, Core §5.5.1.1) are kept.
    if (claim === 'sub' || isUserClaim(claim) || (claim === 'acr' && name === 'id_token')) out[claim] = request === null ? null : parsed;
  }
  return out;
}

/**
 * Parses the `claims` request parameter (OIDC Core §5.5). Returns the request reduced to the
 * claims Latchkey knows, or a message saying what is wrong (the caller answers
 * `invalid_request`). Broken, huge, nested or oddly typed values are all refused here.
 */
export function parseClaimsParameter(value: string): ClaimsRequest | string {
  if (value.length > MAX_CLAIMS_PARAMETER_LENGTH) return `the claims parameter is longer than ${MAX_CLAIMS_PARAMETER_LENGTH} characters`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return 'the claims parameter is not valid JSON';
  }
  if (!isPlainObject(parsed)) return 'the claims parameter must be a JSON object';
  const out: { userinfo?: Record<string, ClaimRequest | null>; id_token?: Record<string, ClaimRequest | null> } = {};
  for (const name of ['userinfo', 'id_token'] as const) {
    if (!(name in parsed) || parsed[name] === undefined) continue;
    const member = parseMember(parsed[name], name);
    if (typeof member === 'string') return member;
    if (Object.keys(member).length > 0) out[name] = member;
  }
  return out;
}

/**
 * The request without the user claims of scopes the client may not ask for (its registered
 * scopes the server offers): Core §5.5 lets the OP leave out claims it will not return, and a
 * `claims` request must not reach what `scope` could not (an operator who withheld `email`
 * from a client withholds the address too). `sub` is always kept.
 */
export function claimsWithinScopes(claims: ClaimsRequest, allowedScopes: readonly string[]): ClaimsRequest {
  const permitted = new Set<string>(['sub', 'acr']);
  for (const [scope, names] of Object.entries(SCOPE_CLAIMS)) if (allowedScopes.includes(scope)) for (const n of names) permitted.add(n);
  const out: { userinfo?: Record<string, ClaimRequest | null>; id_token?: Record<string, ClaimRequest | null> } = {};
  for (const name of ['userinfo', 'id_token'] as const) {
    const member = claims[name];
    if (member === undefined) continue;
    const kept = Object.fromEntries(Object.entries(member).filter(([claim]) => permitted.has(claim)));
    if (Object.keys(kept).length > 0) out[name] = kept;
  }
  return out;
}

/** The user claims a `claims` request names across both members (for the consent page). */
export function requestedUserClaims(claims: ClaimsRequest | null): UserClaimName[] {
  if (claims === null) return [];
  const names = new Set<UserClaimName>();
  for (const member of [claims.userinfo, claims.id_token]) {
    for (const name of Object.keys(member ?? {})) if (isUserClaim(name)) names.add(name);
  }
  return [...names];
}

/** The scopes whose claims a `claims` request asks for: what the consent page must also show. */
export function scopesOfRequestedClaims(claims: ClaimsRequest | null): string[] {
  const claimNames = requestedUserClaims(claims);
  return Object.entries(SCOPE_CLAIMS).filter(([, names]) => names.some((n) => claimNames.includes(n))).map(([scope]) => scope);
}

/** The value of one user claim. */
function userClaim(user: User, name: UserClaimName): string | number | boolean {
  switch (name) {
    case 'name': return user.name;
    case 'locale': return user.locale;
    case 'updated_at': return user.updatedAt;
    case 'email': return user.email;
    case 'email_verified': return user.emailVerified;
  }
}

/** Claims about the user, as both the ID token and OIDC UserInfo carry them. */
export interface UserClaims {
  sub: string;
  name?: string;
  locale?: string;
  updated_at?: number;
  email?: string;
  email_verified?: boolean;
  organization?: { id: number; name: string };
}

/**
 * `sub`, the claims of the granted scopes (SPEC.md: in the ID token too, beyond Core §5.4),
 * the claims the `claims` request's member names, and `organization` when the grant is bound
 * to one. Claims of scopes not granted and not requested are left out.
 */
export function userClaims(
  user: User,
  scope: string,
  requested: Readonly<Record<string, ClaimRequest | null>> | undefined,
  organization: { readonly id: number; readonly name: string } | null,
): UserClaims {
  const out: Record<string, unknown> = { sub: user.subject };
  for (const [scopeName, names] of Object.entries(SCOPE_CLAIMS)) {
    if (!hasScope(scope, scopeName)) continue;
    for (const name of names) out[name] = userClaim(user, name);
  }
  for (const name of Object.keys(requested ?? {})) {
    if (isUserClaim(name)) out[name] = userClaim(user, name);
  }
  if (organization !== null) out.organization = { id: organization.id, name: organization.name };
  return out as unknown as UserClaims;
}
