// HTTP helpers for the token endpoint (RFC 6749 §3.2) and the protected resource /api/user.
import type { TestClient } from './fixtures.js';
import type { TestServer } from './server.js';

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

/** Encodes parameters as a request body; sets content-type in `headers` (fetch sets multipart's own). */
export function encodeBody(params: Record<string, string>, format: BodyFormat, headers: Record<string, string>): string | FormData {
  switch (format) {
    case 'form':
      headers['content-type'] = 'application/x-www-form-urlencoded';
      return new URLSearchParams(params).toString();
    case 'json':
      headers['content-type'] = 'application/json';
      return JSON.stringify(params);
    case 'multipart': {
      const form = new FormData();
      for (const [k, v] of Object.entries(params)) form.append(k, v);
      return form;
    }
  }
}

export async function postToken(server: TestServer, params: Record<string, string>, call: TokenCall = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.basic) headers.authorization = basicHeader(call.basic.id, call.basic.secret);
  const body = encodeBody(params, call.format ?? 'form', headers);
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

/** Answers to racing uses of one code or token: the successes, the invalid_grant refusals, and anything else. */
export function tally(responses: JsonResponse[]): { ok: number; invalidGrant: number; other: string[] } {
  const other: string[] = [];
  let ok = 0;
  let invalidGrant = 0;
  for (const r of responses) {
    if (r.status === 200) ok += 1;
    else if (r.status === 400 && r.body.error === 'invalid_grant') invalidGrant += 1;
    else other.push(`${r.status} ${JSON.stringify(r.body)}`);
  }
  return { ok, invalidGrant, other };
}

/** The token pair of a successful response, typed. */
export function tokensOf(res: JsonResponse): { accessToken: string; refreshToken: string } {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${JSON.stringify(res.body)}`);
  return { accessToken: String(res.body.access_token), refreshToken: String(res.body.refresh_token) };
}
