// Authentication context class references (`acr`, OpenID Connect Core §2), derived from what
// the login did (its RFC 8176 `amr`). Three levels, weakest first:
//
//   urn:latchkey:acr:pwd  one factor: a password (or any sign-in that is not one of the below)
//   urn:latchkey:acr:mfa  two factors: a password and an authenticator or recovery code
//   phr                   a passkey verified by the person's PIN or biometric, alone or after a
//                         password (OpenID "EAP ACR Values 1.0": phishing-resistant)
//
// `phrh` (phishing-resistant, hardware-protected) is never claimed: that needs the
// authenticator's attestation, which we do not ask for. A stronger level satisfies a request
// for a weaker one. Pure functions: the ID token (id-token.ts) and the authorization
// interaction (authorize.ts) share them.
import type { ClaimsRequest } from './model.js';

export const ACR_PASSWORD = 'urn:latchkey:acr:pwd';
export const ACR_MFA = 'urn:latchkey:acr:mfa';
export const ACR_PHISHING_RESISTANT = 'phr';

/** Every value we issue, weakest first (Discovery `acr_values_supported`). */
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT] as const;
export type AcrValue = (typeof ACR_VALUES)[number];

/** The rank of a value (0 weakest); -1 for a value we do not issue. */
export function acrRank(value: unknown): number {
  return typeof value === 'string' ? (ACR_VALUES as readonly string[]).indexOf(value) : -1;
}

/** The level a login reached, from its `amr`. */
export function acrOfAmr(amr: readonly string[]): AcrValue {
  const mfa = amr.includes('mfa');
  if (mfa && (amr.includes('hwk') || amr.includes('swk'))) return ACR_PHISHING_RESISTANT;
  if (mfa) return ACR_MFA;
  return ACR_PASSWORD;
}

/**
 * The values an essential `acr` request (Core §5.5.1.1, `claims` → `id_token` → `acr` with
 * `essential: true`) accepts; null when there is no essential request, or one naming neither
 * `value` nor `values` (any acr then does). Values we do not issue are kept: a request naming
 * only such values cannot be met.
 */
export function essentialAcrValues(claims: ClaimsRequest | null | undefined): readonly unknown[] | null {
  const request = claims?.id_token?.acr;
  if (request === null || request === undefined || request.essential !== true) return null;
  if (request.values !== undefined) return request.values;
  if (request.value !== undefined) return [request.value];
  return null;
}

/** Whether a login at `level` meets one of `wanted` (its own value or a weaker one). */
export function acrMeets(level: AcrValue, wanted: readonly unknown[]): boolean {
  const have = acrRank(level);
  return wanted.some((w) => acrRank(w) !== -1 && acrRank(w) <= have);
}

/**
 * The `acr` of an ID token: the login's level; under an essential request the strongest
 * requested value the login meets (Core §5.5.1.1: the value must be one of those asked for),
 * which is true of the login since a stronger level includes the weaker ones.
 */
export function acrForIdToken(amr: readonly string[], claims: ClaimsRequest | null | undefined): AcrValue {
  const level = acrOfAmr(amr);
  const wanted = essentialAcrValues(claims);
  if (wanted === null) return level;
  let best: AcrValue | null = null;
  for (const w of wanted) {
    const rank = acrRank(w);
    if (rank !== -1 && rank <= acrRank(level) && (best === null || rank > acrRank(best))) best = ACR_VALUES[rank] ?? null;
  }
  return best ?? level;
}
