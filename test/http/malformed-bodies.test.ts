// Malformed token requests, table-driven: every token-endpoint path (/oauth/token, /token,
// /refresh) under the `standard` and `hover` profiles answers each with a 4xx and an
// RFC 6749 §5.2 body {"error", "error_description"} — never a 5xx, never a stack trace.
// invalid_request is 400, or 401 under hover (its guide: "a 401 could mean … a malformed
// body") — a body over the limit included, as SPEC.md fixes the status of invalid_request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProfileName } from '../../src/config/profiles.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient } from '../helpers/fixtures.js';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const BOUNDARY = '----latchkey-test-boundary';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

interface Ctx {
  client: TestClient;
  username: string;
  password: string;
}

interface Case {
  name: string;
  contentType?: string;
  body: (ctx: Ctx) => Buffer | string | undefined;
  query?: (ctx: Ctx) => string;
  /** The RFC 6749 error code expected. */
  error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type';
  /** Fixed status regardless of profile (e.g. 413); otherwise the profile's status for the code. */
  status?: number;
}

/** A valid password-grant body for this client, as form fields. */
function valid(ctx: Ctx): Record<string, string> {
  return { grant_type: 'password', username: ctx.username, password: ctx.password, client_id: ctx.client.clientId, client_secret: ctx.client.clientSecret ?? '' };
}

const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();

function multipart(parts: Array<{ name: string; value: string; filename?: string; type?: string }>, close = true): string {
  let out = '';
  for (const p of parts) {
    out += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.type) out += `Content-Type: ${p.type}\r\n`;
    out += `\r\n${p.value}\r\n`;
  }
  return close ? `${out}--${BOUNDARY}--\r\n` : out;
}

const fields = (ctx: Ctx) => Object.entries(valid(ctx)).map(([name, value]) => ({ name, value }));

const CASES: Case[] = [
  { name: 'text/plain', contentType: 'text/plain', body: (c) => form(valid(c)), error: 'invalid_request' },
  { name: 'application/xml', contentType: 'application/xml', body: () => '<token><grant_type>password</grant_type></token>', error: 'invalid_request' },
  { name: 'no content type with a body', body: (c) => form(valid(c)), error: 'invalid_request' },
  { name: 'bad JSON', contentType: JSON_TYPE, body: () => '{"grant_type": "password", ', error: 'invalid_request' },
  { name: 'empty JSON body', contentType: JSON_TYPE, body: () => '', error: 'invalid_request' },
  { name: 'a JSON array', contentType: JSON_TYPE, body: (c) => JSON.stringify(Object.entries(valid(c))), error: 'invalid_request' },
  { name: 'a JSON string', contentType: JSON_TYPE, body: () => '"grant_type=password"', error: 'invalid_request' },
  { name: 'JSON null', contentType: JSON_TYPE, body: () => 'null', error: 'invalid_request' },
  { name: 'a nested JSON object', contentType: JSON_TYPE, body: (c) => JSON.stringify({ ...valid(c), username: { email: c.username } }), error: 'invalid_request' },
  { name: 'a JSON array value', contentType: JSON_TYPE, body: (c) => JSON.stringify({ ...valid(c), grant_type: ['password', 'password'] }), error: 'invalid_request' },
  { name: 'JSON with __proto__', contentType: JSON_TYPE, body: (c) => `{"__proto__": {"grant_type": "password"}, "client_id": ${JSON.stringify(c.client.clientId)}}`, error: 'invalid_request' },
  { name: 'deeply nested JSON', contentType: JSON_TYPE, body: () => `${'['.repeat(5000)}${']'.repeat(5000)}`, error: 'invalid_request' },
  { name: 'truncated multipart', contentType: MULTIPART, body: (c) => multipart(fields(c), false).slice(0, -20), error: 'invalid_request' },
  { name: 'multipart without a closing boundary', contentType: MULTIPART, body: (c) => multipart(fields(c), false), error: 'invalid_request' },
  { name: 'multipart without a boundary parameter', contentType: 'multipart/form-data', body: (c) => multipart(fields(c)), error: 'invalid_request' },
  { name: 'multipart with a file part', contentType: MULTIPART, body: (c) => multipart([...fields(c).filter((f) => f.name !== 'password'), { name: 'password', value: c.password, filename: 'password.txt', type: 'text/plain' }]), error: 'invalid_request' },
  { name: 'multipart with a repeated field', contentType: MULTIPART, body: (c) => multipart([...fields(c), { name: 'grant_type', value: 'password' }]), error: 'invalid_request' },
  { name: 'a repeated form parameter', contentType: FORM, body: (c) => `${form(valid(c))}&grant_type=password`, error: 'invalid_request' },
  { name: 'a repeated form parameter with white space in its name', contentType: FORM, body: (c) => `${form(valid(c))}&grant_type =password`, error: 'invalid_request' },
  { name: 'a parameter in both the query and the body', contentType: FORM, query: () => '?grant_type=password', body: (c) => form(valid(c)), error: 'invalid_request' },
  { name: 'a 1 MB form body', contentType: FORM, body: (c) => `${form(valid(c))}&pad=${'a'.repeat(1024 * 1024)}`, error: 'invalid_request' },
  { name: 'a 1 MB JSON body', contentType: JSON_TYPE, body: (c) => JSON.stringify({ ...valid(c), pad: 'a'.repeat(1024 * 1024) }), error: 'invalid_request' },
  { name: 'a 1 MB multipart body', contentType: MULTIPART, body: (c) => multipart([...fields(c), { name: 'pad', value: 'a'.repeat(1024 * 1024) }]), error: 'invalid_request' },
  { name: '%FF in a form value', contentType: FORM, body: (c) => `${form({ ...valid(c), username: 'x' })}`.replace('username=x', 'username=%FF'), error: 'invalid_request' },
  { name: 'raw 0xFF bytes in a form body', contentType: FORM, body: (c) => Buffer.concat([Buffer.from(`${form(valid(c))}&username2=`), Buffer.from([0xff, 0xfe])]), error: 'invalid_request' },
  { name: 'raw 0xFF bytes in a JSON string', contentType: JSON_TYPE, body: (c) => Buffer.concat([Buffer.from(JSON.stringify(valid(c)).slice(0, -1) + ',"x":"'), Buffer.from([0xff]), Buffer.from('"}')]), error: 'invalid_request' },
  { name: 'raw 0xFF bytes in a multipart field', contentType: MULTIPART, body: (c) => Buffer.concat([Buffer.from(multipart(fields(c), false) + `--${BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n`), Buffer.from([0xff]), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]), error: 'invalid_request' },
  { name: 'an empty form body', contentType: FORM, body: () => '', error: 'invalid_request' },
  { name: 'no body at all', body: () => undefined, error: 'invalid_request' },
  { name: 'a form body without grant_type', contentType: FORM, body: (c) => form({ client_id: c.client.clientId, client_secret: c.client.clientSecret ?? '', username: c.username, password: c.password }), error: 'invalid_request' },
  { name: 'a JSON body without grant_type', contentType: JSON_TYPE, body: (c) => JSON.stringify({ client_id: c.client.clientId, client_secret: c.client.clientSecret }), error: 'invalid_request' },
  { name: 'an unknown grant_type', contentType: FORM, body: (c) => form({ ...valid(c), grant_type: 'urn:nope' }), error: 'unsupported_grant_type' },
  { name: 'a form body that is not a form', contentType: FORM, body: () => '\u0000\u0001%%%&&&===', error: 'invalid_request' },
];

const PATHS = ['/oauth/token', '/token', '/refresh'] as const;
const PROFILES: ProfileName[] = ['standard', 'hover'];

function expectedStatus(c: Case, profile: ProfileName): number {
  if (c.status !== undefined) return c.status;
  if (c.error === 'invalid_client') return 401;
  if (c.error === 'invalid_request') return profile === 'hover' ? 401 : 400;
  return 400;
}

for (const kind of databaseKinds()) {
  for (const profile of PROFILES) {
    describe(`[${kind}] malformed token requests under ${profile}`, () => {
      let server: TestServer;
      let ctx: Ctx;

      before(async () => {
        server = await startTestServer(kind, { profile });
        const user = await createUser(server);
        const client = await createClient(server, { grantTypes: ['password', 'refresh_token', 'authorization_code'] });
        ctx = { client, username: user.email, password: user.password };
      });
      after(async () => {
        await server.close();
      });

      for (const path of PATHS) {
        for (const c of CASES) {
          test(`POST ${path}: ${c.name} → ${c.error}`, async () => {
            const body = c.body(ctx);
            const headers: Record<string, string> = {};
            if (c.contentType) headers['content-type'] = c.contentType;
            const res = await fetch(`${server.url}${path}${c.query?.(ctx) ?? ''}`, { method: 'POST', headers, body });
            const text = await res.text();
            assert.ok(res.status >= 400 && res.status < 500, `${res.status}: ${text.slice(0, 300)}`);
            assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
            const json = JSON.parse(text) as Record<string, unknown>;
            assert.deepEqual(Object.keys(json).sort(), ['error', 'error_description']);
            assert.equal(typeof json.error_description, 'string');
            // /refresh knows one grant: an unknown grant_type is unsupported there as well.
            assert.equal(json.error, c.error, text);
            assert.equal(res.status, expectedStatus(c, profile), text);
          });
        }
      }

      test('the same client can still get a token afterwards (nothing above was half-applied)', async () => {
        const res = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': FORM }, body: form(valid(ctx)) });
        assert.equal(res.status, 200, await res.clone().text());
        const json = (await res.json()) as { access_token?: string };
        assert.equal(typeof json.access_token, 'string');
      });
    });
  }
}
