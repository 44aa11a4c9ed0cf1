// HTTP helpers for dynamic client registration (RFC 7591) and its management URIs (RFC 7592).
import type { TestServer } from './server.js';

export interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

export async function call(server: { url: string }, method: string, path: string, options: { body?: unknown; raw?: string; contentType?: string; token?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = options.contentType ?? 'application/json';
  }
  const res = await fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = { unparsed: text };
  }
  return { status: res.status, headers: res.headers, json };
}

export function register(server: { url: string }, body: unknown, token?: string): Promise<Answer> {
  return call(server, 'POST', '/oauth/register', { body, ...(token !== undefined ? { token } : {}) });
}

export function managePath(clientId: string): string {
  return `/oauth/register/${encodeURIComponent(clientId)}`;
}

export async function clientCount(server: TestServer): Promise<number> {
  const row = await server.services.store.db.selectFrom('clients').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

