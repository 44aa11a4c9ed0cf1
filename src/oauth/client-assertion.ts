// Client authentication by assertion (RFC 7521 §4.2, RFC 7523 §2.2 and §3, OIDC Core §9):
// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a JWT in
// `client_assertion`, signed with the client's private key (private_key_jwt: ES256, PS256,
// RS256, EdDSA) or with an HMAC of its secret (client_secret_jwt: HS256, HS384, HS512).
// Framework-free: the replay store and the jwks_uri fetcher are ports (ports.ts).
//
// What an assertion must be (every refusal is invalid_client, its reason only logged):
//   size          at most 8 KiB, a compact JWS
//   iss, sub      both the client's client_id (and the client_id parameter, when sent)
//   aud           the issuer, the token endpoint URL, or the URL of the endpoint it is sent
//                 to (introspection, revocation); a string or an array holding one of them
//   exp           required, at most 10 minutes ahead (a bounded lifetime), not past
//   iat, nbf      when present, not in the future (30 s of clock skew either way)
//   jti           required, at most 256 characters, used once per client until exp: its
//                 SHA-256 is recorded in client_assertions, and a second use is a replay
//   alg           one of the client's method's algorithms; never `none`, never an HMAC for
//                 private_key_jwt (a public key is no HMAC secret)
// Signature first, jti last: a forged assertion cannot use up a jti.
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Clock } from './clock.js';
import { sha256Hex } from './crypto.js';
import type { Client, JsonWebKeySet } from './model.js';
import type { ClientAssertionPort, ClientJwksPort } from './ports.js';
import { openClientSecret } from './sealed-secret.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** private_key_jwt: the asymmetric algorithms (EdDSA also under its RFC 9864 name Ed25519). */
export const PRIVATE_KEY_JWT_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;
/** client_secret_jwt: HMAC with the client's secret. */
export const CLIENT_SECRET_JWT_ALGS = ['HS256', 'HS384', 'HS512'] as const;
/** token_endpoint_auth_signing_alg_values_supported (and introspection's, revocation's). */
export const CLIENT_ASSERTION_ALGS = [...PRIVATE_KEY_JWT_ALGS, ...CLIENT_SECRET_JWT_ALGS] as const;

export const MAX_ASSERTION_LENGTH = 8192;
/** Seconds an assertion may reach into the future (exp - now). */
export const MAX_ASSERTION_LIFETIME = 600;
/** Seconds of clock difference allowed either way (exp, nbf, iat). */
export const ASSERTION_CLOCK_SKEW = 30;
const MAX_JTI_LENGTH = 256;

/** The endpoint an assertion is presented at: its URL is an accepted `aud` too. */
export type AssertionEndpoint = 'token' | 'introspection' | 'revocation';

const ENDPOINT_PATHS: Record<AssertionEndpoint, string> = {
  token: '/oauth/token',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
};

export interface ClientAssertionDeps {
  /** The jti store (store/client-assertions.ts). */
  assertions: ClientAssertionPort;
  /** jwks_uri sets (net/jwks-cache.ts). */
  jwks: ClientJwksPort;
  clock: Clock;
  /** Read at each request (the issuer may be set after start, as the tests do). */
  config: { readonly issuer: string; readonly encryptionKey: Buffer | null };
}

/** An assertion refused: the reason is logged, the client hears invalid_client. */
export class AssertionRefused extends Error {
  override name = 'AssertionRefused';
  /** The assertion was good but its jti had been used: a replay. */
  readonly replay: boolean;
  constructor(message: string, options: { replay?: boolean } = {}) {
    super(message);
    this.replay = options.replay === true;
  }
}

/** What the request presents, before any key is looked at. */
export interface PresentedAssertion {
  readonly jwt: string;
  /** The client it names (its `sub`, equal to its `iss`). */
  readonly clientId: string;
  readonly alg: string;
}

/**
 * Reads an assertion without trusting it: its size, its form, its alg, and iss = sub (the
 * client it claims to be). Throws AssertionRefused.
 */
export function readAssertion(jwt: string): PresentedAssertion {
  if (jwt.length > MAX_ASSERTION_LENGTH) throw new AssertionRefused(`client_assertion is longer than ${MAX_ASSERTION_LENGTH} characters`);
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(jwt)) throw new AssertionRefused('client_assertion is not a compact JWS');
  let payload: JWTPayload;
  let alg: unknown;
  try {
    payload = decodeJwt(jwt);
    alg = decodeProtectedHeader(jwt).alg;
  } catch (err) {
    throw new AssertionRefused(`client_assertion cannot be decoded: ${(err as Error).message}`);
  }
  if (typeof alg !== 'string') throw new AssertionRefused('client_assertion has no alg');
  if (typeof payload.iss !== 'string' || payload.iss === '') throw new AssertionRefused('client_assertion has no iss');
  if (payload.sub !== payload.iss) throw new AssertionRefused('client_assertion: iss and sub differ (both must be the client_id)');
  return { jwt, clientId: payload.iss, alg };
}

/** The HMAC key of a client_secret_jwt client (sealed-secret.ts); throws AssertionRefused when it cannot be opened. */
function clientSecretKey(sealed: string, clientId: string, key: Buffer | null): Uint8Array {
  try {
    return Uint8Array.from(Buffer.from(openClientSecret(sealed, clientId, key), 'utf8'));
  } catch (err) {
    throw new AssertionRefused(`the secret of client ${clientId} cannot be opened: ${(err as Error).message}`);
  }
}

// One jose key set per JWK Set object: a kept (frozen, shared) client or a cached jwks_uri set
// keeps its imported keys.
const keySets = new WeakMap<JsonWebKeySet, JWTVerifyGetKey>();
function keySetOf(jwks: JsonWebKeySet): JWTVerifyGetKey {
  let set = keySets.get(jwks);
  if (set === undefined) {
    set = createLocalJWKSet({ keys: jwks.keys as JWK[] });
    keySets.set(jwks, set);
  }
  return set;
}

function isNoMatchingKey(err: unknown): boolean {
  return err instanceof joseErrors.JWKSNoMatchingKey;
}

/**
 * Verifies `presented` as `client`'s authentication at `endpoint`, and records its jti.
 * Throws AssertionRefused (the caller answers invalid_client).
 */
export async function verifyClientAssertion(client: Client, presented: PresentedAssertion, endpoint: AssertionEndpoint, deps: ClientAssertionDeps): Promise<void> {
  const method = client.tokenEndpointAuthMethod;
  if (method !== 'private_key_jwt' && method !== 'client_secret_jwt') {
    throw new AssertionRefused(`client ${client.clientId} is registered for ${method ?? 'secrets'}, not a client assertion`);
  }
  const issuer = deps.config.issuer;
  const audience = [issuer, `${issuer}${ENDPOINT_PATHS.token}`, `${issuer}${ENDPOINT_PATHS[endpoint]}`];
  const nowMs = deps.clock.nowMs();
  const options = {
    issuer: client.clientId,
    subject: client.clientId,
    audience,
    clockTolerance: ASSERTION_CLOCK_SKEW,
    currentDate: new Date(nowMs),
    requiredClaims: ['exp', 'jti'],
  };

  let payload: JWTPayload;
  try {
    if (method === 'client_secret_jwt') {
      if (!(CLIENT_SECRET_JWT_ALGS as readonly string[]).includes(presented.alg)) throw new AssertionRefused(`alg ${presented.alg} is not allowed for client_secret_jwt`);
      if (client.secretSealed === null) throw new AssertionRefused(`client ${client.clientId} has no sealed secret`);
      const secret = clientSecretKey(client.secretSealed, client.clientId, deps.config.encryptionKey);
      ({ payload } = await jwtVerify(presented.jwt, secret, { ...options, algorithms: [...CLIENT_SECRET_JWT_ALGS] }));
    } else {
      if (!(PRIVATE_KEY_JWT_ALGS as readonly string[]).includes(presented.alg)) throw new AssertionRefused(`alg ${presented.alg} is not allowed for private_key_jwt`);
      const verifyWith = (jwks: JsonWebKeySet) => jwtVerify(presented.jwt, keySetOf(jwks), { ...options, algorithms: [...PRIVATE_KEY_JWT_ALGS] });
      if (client.jwks !== null) {
        ({ payload } = await verifyWith(client.jwks));
      } else if (client.jwksUri !== null) {
        const uri = client.jwksUri;
        const keys = await fetchedKeys(deps.jwks, uri, false);
        try {
          ({ payload } = await verifyWith(keys));
        } catch (err) {
          if (!isNoMatchingKey(err)) throw err;
          // An unknown kid: the client may have rotated its keys. One fresh copy (the cache
          // grants it at most once in a while per URI), then the answer stands.
          const fresh = await fetchedKeys(deps.jwks, uri, true);
          if (fresh === keys) throw err;
          ({ payload } = await verifyWith(fresh));
        }
      } else {
        throw new AssertionRefused(`client ${client.clientId} has neither jwks nor jwks_uri`);
      }
    }
  } catch (err) {
    if (err instanceof AssertionRefused) throw err;
    throw new AssertionRefused(`client_assertion refused: ${(err as Error).message}`);
  }

  const now = Math.floor(nowMs / 1000);
  // jwtVerify checked exp (required, not past) and nbf; the bounds it leaves are ours.
  const exp = payload.exp as number;
  if (exp > now + MAX_ASSERTION_LIFETIME + ASSERTION_CLOCK_SKEW) throw new AssertionRefused(`client_assertion exp is more than ${MAX_ASSERTION_LIFETIME} s ahead`);
  if (payload.iat !== undefined && payload.iat > now + ASSERTION_CLOCK_SKEW) throw new AssertionRefused('client_assertion iat is in the future');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw new AssertionRefused('client_assertion jti is missing, empty or too long');
  // Kept until exp plus the skew: until then the same assertion would still be accepted.
  const fresh = await deps.assertions.remember(client.id, sha256Hex(jti), exp + ASSERTION_CLOCK_SKEW, now);
  if (!fresh) throw new AssertionRefused(`client_assertion jti replayed for client ${client.clientId}`, { replay: true });
}

async function fetchedKeys(jwks: ClientJwksPort, uri: string, refresh: boolean): Promise<JsonWebKeySet> {
  try {
    return await jwks.get(uri, { refresh });
  } catch (err) {
    throw new AssertionRefused(`the JWK Set at ${uri} cannot be had: ${(err as Error).message}`);
  }
}
