// Building blocks for token-endpoint and protected-resource tests: users, clients, codes
// minted straight into the database (as the authorization endpoint would), and HTTP helpers
// for the token endpoint and /api/user.
import { randomBytes } from 'node:crypto';
import { registerClient, type ClientRegistration } from '../../src/accounts/client-registration.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { s256Challenge } from '../../src/oauth/pkce.js';
import type { Client } from '../../src/store/clients.js';
import type { TestServer } from './server.js';

export interface TestUser {
  id: number;
  email: string;
  name: string;
  locale: string;
  password: string;
}

let userCounter = 0;

// One argon2 hash for every test user: hashing costs tens of milliseconds each.
const PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;

export async function createUser(server: TestServer, overrides: Partial<Pick<TestUser, 'email' | 'name' | 'locale'>> = {}): Promise<TestUser> {
  userCounter += 1;
  passwordHash ??= hashPassword(PASSWORD);
  const email = overrides.email ?? `user${userCounter}-${randomBytes(3).toString('hex')}@example.com`;
  const user = await server.services.users.insert({
    email,
    name: overrides.name ?? `User ${userCounter}`,
    locale: overrides.locale ?? 'nl',
    passwordHash: await passwordHash,
    now: nowSeconds(server.clock),
  });
  return { ...user, password: PASSWORD };
}

export interface TestClient {
  client: Client;
  clientId: string;
  /** null for public clients. */
  clientSecret: string | null;
  redirectUri: string;
}

export async function createClient(server: TestServer, options: Partial<ClientRegistration> = {}): Promise<TestClient> {
  const redirectUris = options.redirectUris ?? ['https://app.example/callback'];
  const { client, clientSecret } = await registerClient(server.services, { name: 'Test app', ...options, redirectUris });
  return { client, clientId: client.clientId, clientSecret, redirectUri: redirectUris[0] ?? '' };
}

export interface MintCodeOptions {
  client: TestClient;
  userId: number;
  organizationId?: number | null;
  scope?: string;
  /** Defaults to the client's first redirect URI. */
  redirectUri?: string;
  /** Whether the authorization request carried redirect_uri (default true). */
  redirectUriSent?: boolean;
  /** A PKCE verifier: its S256 challenge is stored with the code. */
  codeVerifier?: string;
  /** Seconds the code lives (default: the server's authorization_code_ttl). */
  ttl?: number;
}

export interface MintedCode {
  code: string;
  grantId: number;
}

/** Issues a code the way the authorization endpoint does: a grant row and a hashed code row. */
export async function mintCode(server: TestServer, options: MintCodeOptions): Promise<MintedCode> {
  const now = nowSeconds(server.clock);
  const scope = options.scope ?? 'profile email';
  const organizationId = options.organizationId ?? null;
  const grantId = await server.services.grants.insert({
    clientId: options.client.client.id, userId: options.userId, organizationId, scope, grantType: 'authorization_code', now,
  });
  const code = randomBytes(32).toString('base64url');
  await server.services.tokens.insertCode({
    code_hash: sha256Hex(code),
    grant_id: grantId,
    client_id: options.client.client.id,
    user_id: options.userId,
    organization_id: organizationId,
    redirect_uri: options.redirectUri ?? options.client.redirectUri,
    redirect_uri_sent: options.redirectUriSent === false ? 0 : 1,
    scope,
    code_challenge: options.codeVerifier === undefined ? null : s256Challenge(options.codeVerifier),
    code_challenge_method: options.codeVerifier === undefined ? null : 'S256',
    created_at: now,
    expires_at: now + (options.ttl ?? server.config.authorizationCodeTtl),
  });
  return { code, grantId };
}

/** A PKCE verifier: 43 characters of base64url (RFC 7636 §4.1). */
export function newVerifier(): string {
  return randomBytes(32).toString('base64url');
}

export type BodyFormat = 'form' | 'json' | 'multipart';

export interface TokenCall {
  path?: '/oauth/token' | '/token' | '/refresh';
  format?: BodyFormat;
  /** HTTP Basic credentials (RFC 6749 §2.3.1: form-urlencoded before base64). */
  basic?: { id: string; secret: string };
  headers?: Record<string, string>;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  // Tests read fields freely and assert on them.
  body: Record<string, unknown>;
}

export function basicHeader(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export async function postToken(server: TestServer, params: Record<string, string>, call: TokenCall = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.basic) headers.authorization = basicHeader(call.basic.id, call.basic.secret);
  let body: string | FormData;
  switch (call.format ?? 'form') {
    case 'form':
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(params).toString();
      break;
    case 'json':
      headers['content-type'] = 'application/json';
      body = JSON.stringify(params);
      break;
    case 'multipart': {
      const form = new FormData();
      for (const [k, v] of Object.entries(params)) form.append(k, v);
      body = form;
      break;
    }
  }
  const res = await fetch(`${server.url}${call.path ?? '/oauth/token'}`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The client credentials of a confidential client for client_secret_post. */
export function secretPost(client: TestClient): Record<string, string> {
  return { client_id: client.clientId, client_secret: client.clientSecret ?? '' };
}

/** Exchanges a code as a confidential client (client_secret_post). */
export async function exchangeCode(server: TestServer, client: TestClient, code: string, extra: Record<string, string> = {}): Promise<JsonResponse> {
  return postToken(server, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, ...secretPost(client), ...extra });
}

export async function refresh(server: TestServer, client: TestClient, refreshToken: string, extra: Record<string, string> = {}, call: TokenCall = {}): Promise<JsonResponse> {
  return postToken(server, { grant_type: 'refresh_token', refresh_token: refreshToken, ...secretPost(client), ...extra }, call);
}

export async function getUser(server: TestServer, token: string, options: { scheme?: string; path?: string } = {}): Promise<JsonResponse> {
  const res = await fetch(`${server.url}${options.path ?? '/api/user'}`, { headers: { authorization: `${options.scheme ?? 'Bearer'} ${token}` } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The token pair of a successful response, typed. */
export function tokensOf(res: JsonResponse): { accessToken: string; refreshToken: string } {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${JSON.stringify(res.body)}`);
  return { accessToken: String(res.body.access_token), refreshToken: String(res.body.refresh_token) };
}
