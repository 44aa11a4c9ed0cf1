// Clients that authenticate by assertion (private_key_jwt, client_secret_jwt), written straight
// into the store as dynamic registration would make them, the assertions they sign (jose), and
// loopback HTTP servers that serve (or refuse to serve properly) a jwks_uri.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { nowSeconds } from '../../src/oauth/clock.js';
import { newClientId, newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { sealClientSecret } from '../../src/oauth/sealed-secret.js';
import type { Client, JsonWebKeySet } from '../../src/oauth/model.js';
import type { GrantType } from '../../src/oauth/grant-types.js';
import type { FixtureHost } from './fixtures.js';

export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface KeyPair {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newKeyPair(alg: 'ES256' | 'PS256' | 'RS256' | 'EdDSA' | 'Ed25519' = 'ES256', kid: string = randomUUID()): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

export interface AssertionClientOptions {
  method: 'private_key_jwt' | 'client_secret_jwt';
  jwks?: JsonWebKeySet | null;
  jwksUri?: string | null;
  grantTypes?: GrantType[];
  redirectUris?: string[];
  scopes?: string[];
}

export interface AssertionClient {
  client: Client;
  clientId: string;
  /** client_secret_jwt only. */
  secret: string | null;
}

export async function createAssertionClient(server: FixtureHost, options: AssertionClientOptions): Promise<AssertionClient> {
  const clientId = newClientId();
  const secret = options.method === 'client_secret_jwt' ? newSecret() : null;
  const client = await server.services.clients.insert({
    clientId,
    // A client_secret_jwt client keeps the hash too, as registration stores it; it must not be usable as a plain secret.
    secretHash: secret === null ? null : sha256Hex(secret),
    name: `Assertion client (${options.method})`,
    redirectUris: options.redirectUris ?? ['https://rp.example/cb'],
    ownerUserId: null,
    isPublic: false,
    grantTypes: options.grantTypes ?? ['client_credentials', 'authorization_code', 'refresh_token'],
    scopes: options.scopes ?? server.config.scopes,
    refreshWithoutSecret: false,
    trusted: true,
    now: nowSeconds(server.clock),
    tokenEndpointAuthMethod: options.method,
    jwks: options.jwks ?? null,
    jwksUri: options.jwksUri ?? null,
    secretSealed: secret === null ? null : sealClientSecret(secret, clientId, server.config.encryptionKey),
  });
  return { client, clientId, secret };
}

export interface SignOptions {
  clientId: string;
  aud: string | string[];
  key: CryptoKey | Uint8Array;
  alg: string;
  kid?: string;
  /** Claims to set or (undefined) drop. */
  claims?: Partial<Record<keyof JWTPayload | string, unknown>>;
  /** Epoch seconds the assertion is made at (default: the real clock). */
  now?: number;
}

/** A client assertion: iss = sub = client_id, aud, jti, iat, exp = iat + 60, signed. */
export async function signAssertion(options: SignOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: options.clientId, sub: options.clientId, aud: options.aud, jti: randomUUID(), iat: now, exp: now + 60, ...options.claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: options.alg, ...(options.kid ? { kid: options.kid } : {}) }).sign(options.key);
}

/** An unsigned JWT (alg none). */
export function unsignedAssertion(payload: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc(payload)}.`;
}

export interface LoopbackServer {
  url: string;
  /** Requests received. */
  hits: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 answering every request with `handle`. */
export async function startLoopbackServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<LoopbackServer> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits += 1;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    get hits() {
      return state.hits;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A jwks_uri server that serves `current()` as JSON. */
export function startJwksServer(current: () => JsonWebKeySet): Promise<LoopbackServer> {
  return startLoopbackServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(current()));
  });
}
