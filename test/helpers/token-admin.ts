// HTTP helpers for the revocation (RFC 7009) and introspection (RFC 7662) endpoints, and a
// quick way to get a real token pair for a user through the token endpoint.
import { mintCode, type TestClient } from './fixtures.js';
import { basicHeader, encodeBody, exchangeCode, tokensOf, type BodyFormat } from './token.js';
import type { TestServer } from './server.js';

export interface EndpointCall {
  format?: BodyFormat;
  /** HTTP Basic (client_secret_basic); otherwise the caller puts credentials in `params`. */
  basic?: { id: string; secret: string };
  /** Appended to the URL. */
  query?: string;
  /** A raw body sent as is with this content type. */
  raw?: { contentType: string; body: string };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  // Tests read fields freely and assert on them.
  json: Record<string, unknown> | undefined;
}

export async function postEndpoint(server: TestServer, path: string, params: Record<string, string>, call: EndpointCall = {}): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  if (call.basic) headers.authorization = basicHeader(call.basic.id, call.basic.secret);
  let body: string | FormData;
  if (call.raw) {
    headers['content-type'] = call.raw.contentType;
    body = call.raw.body;
  } else {
    body = encodeBody(params, call.format ?? 'form', headers);
  }
  const res = await fetch(`${server.url}${path}${call.query ?? ''}`, { method: 'POST', headers, body });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** client_secret_basic for a confidential client. */
export function basicOf(client: TestClient): { id: string; secret: string } {
  return { id: client.clientId, secret: client.clientSecret ?? '' };
}

export function revokeToken(server: TestServer, client: TestClient, token: string, extra: Record<string, string> = {}, call: EndpointCall = {}): Promise<RawResponse> {
  return postEndpoint(server, '/oauth/revoke', { token, ...extra }, { basic: basicOf(client), ...call });
}

export async function introspectToken(server: TestServer, client: TestClient, token: string, extra: Record<string, string> = {}, call: EndpointCall = {}): Promise<Record<string, unknown>> {
  const res = await postEndpoint(server, '/oauth/introspect', { token, ...extra }, { basic: basicOf(client), ...call });
  if (res.status !== 200 || !res.json) throw new Error(`introspection answered ${res.status}: ${res.text}`);
  return res.json;
}

/** A fresh authorization (code → tokens) of `client` for `userId`. */
export async function issueTokens(
  server: TestServer,
  client: TestClient,
  userId: number,
  options: { scope?: string; organizationId?: number | null } = {},
): Promise<{ accessToken: string; refreshToken: string; grantId: number }> {
  const { code, grantId } = await mintCode(server, {
    client, userId, ...(options.scope !== undefined ? { scope: options.scope } : {}), organizationId: options.organizationId ?? null,
  });
  return { ...tokensOf(await exchangeCode(server, client, code)), grantId };
}
