// A client_secret_jwt client's secret, kept sealed (clients.secret_sealed) beside its hash: an
// HMAC client assertion (RFC 7523 §2.2 with HS256) can only be checked with the secret itself,
// never against a hash. Sealed as the signing keys are (signing-keys.ts sealPrivateJwk:
// AES-256-GCM under LATCHKEY_ENCRYPTION_KEY, `plain:` without one), as an RFC 7518 §6.4
// symmetric JWK `{"kty":"oct","k":base64url(secret)}`, with `client:<client_id>` as the
// additional data: a sealed secret copied onto another client's row does not open.
import { openPrivateJwk, sealPrivateJwk } from './signing-keys.js';

function aad(clientId: string): string {
  return `client:${clientId}`;
}

/** Seals `secret` for the client `clientId` (the public client_id). */
export function sealClientSecret(secret: string, clientId: string, key: Buffer | null): string {
  return sealPrivateJwk({ kty: 'oct', k: Buffer.from(secret, 'utf8').toString('base64url') }, aad(clientId), key);
}

/** The secret sealClientSecret sealed; throws SigningKeyError when it cannot be opened. */
export function openClientSecret(sealed: string, clientId: string, key: Buffer | null): string {
  const jwk = openPrivateJwk(sealed, aad(clientId), key);
  return Buffer.from(typeof jwk.k === 'string' ? jwk.k : '', 'base64url').toString('utf8');
}
