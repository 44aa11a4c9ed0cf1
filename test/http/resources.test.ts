// RFC 8707 resource indicators and RFC 9728 protected-resource metadata over HTTP, on each
// database: a code + PKCE exchange with `resource` gives a JWT whose `aud` (and introspection's
// `aud`) is the resource; a refresh narrows the audience and never widens it; client_credentials
// with `resource`; unknown resources are invalid_target at both endpoints; a token for another
// resource is refused at /api/user while tokens without one keep working; the metadata
// documents and WWW-Authenticate's resource_metadata; hostile `resource` values are clear 400s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { authorize } from '../helpers/authorize.js';
import { pkcePair } from '../helpers/pkce.js';
import { getUser } from '../helpers/token.js';
import { introspectToken } from '../helpers/token-admin.js';
import { nowSeconds } from '../../src/oauth/clock.js';

const NOTES = 'https://notes.example/api';
const CALENDAR = 'https://calendar.example/v1';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a form whose parameters may repeat (RFC 8707 `resource`). */
async function postForm(server: TestServer, path: string, pairs: Array<[string, string]>): Promise<Answer> {
  const body = new URLSearchParams();
  for (const [k, v] of pairs) body.append(k, v);
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, headers: res.headers, body: json };
}

function secret(client: TestClient): Array<[string, string]> {
  return [['client_id', client.clientId], ['client_secret', client.clientSecret ?? '']];
}

for (const kind of databaseKinds()) {
  describe(`resource indicators and protected-resource metadata [${kind}]`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;
    let api: string;

    before(async () => {
      server = await startTestServer(kind, { file: { access_token_format: 'jwt' } });
      api = `${server.url}/api`;
      const now = nowSeconds(server.clock);
      await server.services.resources.insert({ identifier: NOTES, name: 'Notes', scopes: ['notes:read', 'notes:write'], now });
      await server.services.resources.insert({ identifier: CALENDAR, name: 'Calendar', scopes: ['calendar:read'], now });
      await server.services.resources.insert({ identifier: `${server.url}/notes-on-origin`, name: 'Notes here', scopes: ['notes:read'], now });
      user = await createUser(server, { locale: 'en' });
      client = await createClient(server, {
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        // notes:read only of the Notes scopes; calendar:read too.
        scopes: ['openid', 'profile', 'email', 'notes:read', 'calendar:read'],
      });
    });
    after(async () => server.close());

    /** Code + PKCE with the given resources; returns the token response. */
    async function codeFlow(resources: string[], scope?: string, tokenResources: string[] = []): Promise<Answer> {
      const { verifier, challenge } = pkcePair();
      const flow = await authorize(server, {
        clientId: client.clientId, redirectUri: client.redirectUri, codeChallenge: challenge, state: 's',
        ...(scope !== undefined ? { scope } : {}),
        extra: resources.map((r) => ['resource', r] as [string, string]),
        login: { email: user.email, password: user.password },
      });
      assert.ok(flow.code, `no code: ${flow.error} ${flow.errorDescription} (status ${flow.status})`);
      return postForm(server, '/oauth/token', [
        ['grant_type', 'authorization_code'], ['code', flow.code], ['redirect_uri', client.redirectUri], ['code_verifier', verifier],
        ...secret(client), ...tokenResources.map((r) => ['resource', r] as [string, string]),
      ]);
    }

    test('code + PKCE with resource: the JWT aud and introspection aud are the resource, the scope its scopes the client may use', async () => {
      const res = await codeFlow([NOTES]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.scope, 'notes:read', 'without scope: the resource\'s scopes this client may use (not notes:write)');
      const token = String(res.body.access_token);
      assert.equal(decodeJwt(token).aud, NOTES);
      const introspected = await introspectToken(server, client, token);
      assert.equal(introspected.active, true);
      assert.equal(introspected.aud, NOTES);

      // Two resources: aud is both.
      const both = await codeFlow([NOTES, api], 'notes:read profile');
      assert.equal(both.status, 200, JSON.stringify(both.body));
      assert.deepEqual(decodeJwt(String(both.body.access_token)).aud, [NOTES, api]);
      assert.deepEqual((await introspectToken(server, client, String(both.body.access_token))).aud, [NOTES, api]);
      // It may read /api/user: ISSUER/api is one of its audiences.
      const me = await getUser(server, String(both.body.access_token));
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.name, user.name);
    });

    test('a scope outside the indicated resources is invalid_scope; a resource for which the client has no scope gets none', async () => {
      const { challenge } = pkcePair();
      const flow = await authorize(server, {
        clientId: client.clientId, redirectUri: client.redirectUri, codeChallenge: challenge, state: 's', scope: 'calendar:read',
        extra: [['resource', NOTES]], login: { email: user.email, password: user.password },
      });
      assert.equal(flow.error, 'invalid_scope', flow.errorDescription ?? '');
      assert.equal(flow.state, 's');
    });

    test('the code exchange may name a subset of the authorized resources, not another', async () => {
      const narrowed = await codeFlow([NOTES, CALENDAR], undefined, [CALENDAR]);
      assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
      assert.equal(decodeJwt(String(narrowed.body.access_token)).aud, CALENDAR);
      const other = await codeFlow([NOTES], undefined, [CALENDAR]);
      assert.equal(other.status, 400);
      assert.equal(other.body.error, 'invalid_target');
    });

    test('refresh narrows the audience and never widens it; a refused widening leaves the refresh token usable', async () => {
      const first = await codeFlow([NOTES, api], 'notes:read profile');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const refreshToken = String(first.body.refresh_token);

      const widen = await postForm(server, '/oauth/token', [['grant_type', 'refresh_token'], ['refresh_token', refreshToken], ...secret(client), ['resource', CALENDAR]]);
      assert.equal(widen.status, 400, JSON.stringify(widen.body));
      assert.equal(widen.body.error, 'invalid_target');

      const narrow = await postForm(server, '/oauth/token', [['grant_type', 'refresh_token'], ['refresh_token', refreshToken], ...secret(client), ['resource', NOTES]]);
      assert.equal(narrow.status, 200, `the refused widening must not have used the token up: ${JSON.stringify(narrow.body)}`);
      assert.equal(decodeJwt(String(narrow.body.access_token)).aud, NOTES);
      assert.equal((await getUser(server, String(narrow.body.access_token))).status, 401, 'narrowed to Notes: no longer for /api/user');

      // The new refresh token still carries both resources: the next refresh may name ISSUER/api again.
      const back = await postForm(server, '/oauth/token', [['grant_type', 'refresh_token'], ['refresh_token', String(narrow.body.refresh_token)], ...secret(client), ['resource', api]]);
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(decodeJwt(String(back.body.access_token)).aud, api);
      // Without resource: the grant's resources.
      const all = await postForm(server, '/oauth/token', [['grant_type', 'refresh_token'], ['refresh_token', String(back.body.refresh_token)], ...secret(client)]);
      assert.deepEqual(decodeJwt(String(all.body.access_token)).aud, [NOTES, api]);

      // A grant without resources is for ISSUER/api: naming it is allowed, anything else widens.
      const plain = await codeFlow([], 'profile');
      const plainWiden = await postForm(server, '/oauth/token', [['grant_type', 'refresh_token'], ['refresh_token', String(plain.body.refresh_token)], ...secret(client), ['resource', NOTES]]);
      assert.equal(plainWiden.body.error, 'invalid_target');
      const plainApi = await postForm(server, '/oauth/token', [['grant_type', 'refresh_token'], ['refresh_token', String(plain.body.refresh_token)], ...secret(client), ['resource', api]]);
      assert.equal(plainApi.status, 200, JSON.stringify(plainApi.body));
      assert.equal(decodeJwt(String(plainApi.body.access_token)).aud, api);
    });

    test('client_credentials with resource: aud and scope are the resource\'s; unknown resource is invalid_target', async () => {
      const res = await postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ['resource', NOTES]]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.scope, 'notes:read');
      assert.equal(decodeJwt(String(res.body.access_token)).aud, NOTES);
      assert.equal((await introspectToken(server, client, String(res.body.access_token))).aud, NOTES);

      const scoped = await postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ['resource', NOTES], ['scope', 'notes:write']]);
      assert.equal(scoped.body.error, 'invalid_scope', 'notes:write is not among the client\'s scopes');

      for (const unknown of ['https://unknown.example/api', `${NOTES}/`, 'HTTPS://notes.example/api']) {
        const refused = await postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ['resource', unknown]]);
        assert.equal(refused.status, 400, unknown);
        assert.equal(refused.body.error, 'invalid_target', unknown);
      }
    });

    test('unknown, relative or fragment resources at the authorization endpoint: invalid_target to the redirect URI with state', async () => {
      for (const bad of ['https://unknown.example/api', '/api', 'notes', `${NOTES}#frag`]) {
        const flow = await authorize(server, {
          clientId: client.clientId, redirectUri: client.redirectUri, codeChallenge: pkcePair().challenge, state: 'xyz',
          extra: [['resource', bad]],
        });
        assert.equal(flow.error, 'invalid_target', `${bad}: ${flow.status} ${flow.errorDescription}`);
        assert.equal(flow.state, 'xyz');
        assert.equal(flow.loginShown, false, 'refused before any login');
      }
    });

    test('a token for another resource is refused at /api/user and UserInfo; tokens without resource keep working', async () => {
      const notes = await codeFlow([NOTES], 'openid notes:read profile');
      assert.equal(notes.status, 200, JSON.stringify(notes.body));
      for (const path of ['/api/user', '/oauth/userinfo']) {
        const res = await getUser(server, String(notes.body.access_token), { path });
        assert.equal(res.status, 401, path);
        assert.equal(res.body.error, 'invalid_token');
        const challenge = res.headers.get('www-authenticate') ?? '';
        assert.match(challenge, /^Bearer realm="latchkey", error="invalid_token"/);
        assert.match(challenge, new RegExp(`resource_metadata="${server.url}/.well-known/oauth-protected-resource"$`));
      }
      const plain = await codeFlow([], 'profile email');
      assert.equal(decodeJwt(String(plain.body.access_token)).aud, api, 'RFC 9068 default audience');
      const me = await getUser(server, String(plain.body.access_token));
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, { id: user.id, name: user.name, email: user.email, locale: 'en' });
    });

    test('protected-resource metadata (RFC 9728) and resource_metadata on 401s', async () => {
      const expected = {
        resource: api, authorization_servers: [server.url], scopes_supported: ['profile', 'email'],
        bearer_methods_supported: ['header'], resource_name: 'Latchkey user API',
      };
      for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/api']) {
        const res = await fetch(`${server.url}${path}`);
        assert.equal(res.status, 200, path);
        assert.deepEqual(await res.json(), expected);
      }
      const onOrigin = await fetch(`${server.url}/.well-known/oauth-protected-resource/notes-on-origin`);
      assert.equal(onOrigin.status, 200);
      assert.deepEqual(await onOrigin.json(), {
        resource: `${server.url}/notes-on-origin`, authorization_servers: [server.url], scopes_supported: ['notes:read'],
        bearer_methods_supported: ['header'], resource_name: 'Notes here',
      });
      for (const path of ['/.well-known/oauth-protected-resource/nothing', '/.well-known/oauth-protected-resource/%00', '/.well-known/oauth-protected-resource/a%zz']) {
        const res = await fetch(`${server.url}${path}`);
        assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      }
      const none = await fetch(`${server.url}/api/user`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${server.url}/.well-known/oauth-protected-resource"`);
      const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.deepEqual(metadata.protected_resources, [api]);
    });

    test('hostile resource values: clear 400s, never a 5xx, nothing stored', async () => {
      const hostile = [
        'https://notes.example/\u0001api', 'https://notes.example/api\u007f', 'https://notes.example/ api', 'https://notes.example/api\r\nX: y',
        'https://notes.example/%00', 'https://notes.example/%zz', 'https://notes.example/%E2%80%AE', 'https://nötes.example/api',
        `https://notes.example/${'a'.repeat(100_000)}`, '\u202ehttps://notes.example/api', 'javascript:alert(1)',
      ];
      const before = await introspectCount(server);
      for (const value of hostile) {
        const cc = await postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ['resource', value]]);
        assert.ok(cc.status === 400 || (value === '' && cc.status === 200), `${JSON.stringify(value.slice(0, 40))}: ${cc.status} ${JSON.stringify(cc.body).slice(0, 200)}`);
        if (cc.status === 400) assert.ok(cc.body.error === 'invalid_target' || cc.body.error === 'invalid_request', String(cc.body.error));
        const flow = await authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, codeChallenge: pkcePair().challenge, state: 'h', extra: [['resource', value]] });
        // A 100,000-character URL is refused by the HTTP server itself (431/414): still no 5xx.
        assert.ok(flow.status < 500, `authorize ${JSON.stringify(value.slice(0, 40))}: ${flow.status}`);
        if (value !== '' && value.length < 10_000) assert.equal(flow.error, 'invalid_target', `${JSON.stringify(value)}: ${flow.status} ${flow.errorDescription}`);
      }
      // Repeated 1,000 times, at both endpoints and sent all at once.
      const repeated: Array<[string, string]> = Array.from({ length: 1000 }, () => ['resource', NOTES] as [string, string]);
      const answers = await Promise.all([
        postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ...repeated]),
        postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ...Array.from({ length: 1000 }, (_, i) => ['resource', `https://r${i}.example/`] as [string, string])]),
        // As a POSTed form (OIDC Core §3.1.2.1): a GET this long is refused by the HTTP server (431) before us.
        authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, codeChallenge: pkcePair().challenge, state: 'r', extra: repeated, method: 'POST' }),
      ]);
      const [tokenRepeat, tokenMany, authorizeRepeat] = answers;
      assert.equal(tokenRepeat.status, 400, JSON.stringify(tokenRepeat.body));
      assert.equal(tokenRepeat.body.error, 'invalid_target');
      assert.equal(tokenMany.status, 400);
      assert.ok(authorizeRepeat.status < 500, String(authorizeRepeat.status));
      assert.equal(authorizeRepeat.error, 'invalid_target', `${authorizeRepeat.status} ${authorizeRepeat.errorDescription}`);
      assert.equal(authorizeRepeat.state, 'r');
      // JSON bodies: an array of values, and a value that is not a string.
      for (const body of [{ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, resource: [NOTES, { a: 1 }] },
        { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, resource: { nested: NOTES } }]) {
        const res = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(res.status, 400);
      }
      const json = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, resource: [NOTES, CALENDAR] }) });
      assert.equal(json.status, 200);
      assert.deepEqual(decodeJwt(String(((await json.json()) as Record<string, unknown>).access_token)).aud, [NOTES, CALENDAR]);
      assert.equal(await introspectCount(server), before + 1, 'only the accepted request stored a token');
    });
  });
}

/** Access tokens on record. */
async function introspectCount(server: TestServer): Promise<number> {
  const row = await server.services.store.db.selectFrom('access_tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

if (databaseKinds().includes('postgres')) {
  describe('registered resources across two servers on one PostgreSQL', () => {
    test('a resource created or deleted through one is seen by the other at once (kept resources are dropped on change)', async () => {
      const a = await startTestServer('postgres');
      const b = await startTestServer('postgres', { database: a.db, overrides: { issuer: a.config.issuer } });
      try {
        const client = await createClient(a, { grantTypes: ['client_credentials'], scopes: ['profile', 'email'] });
        const ask = async (server: TestServer) => postForm(server, '/oauth/token', [['grant_type', 'client_credentials'], ...secret(client), ['resource', 'https://shared.example/api']]);
        assert.equal((await ask(b)).body.error, 'invalid_target', 'unknown at first');
        await a.services.resources.insert({ identifier: 'https://shared.example/api', name: 'Shared', scopes: [], now: nowSeconds(a.clock) });
        const ok = await ask(b);
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.equal((await ask(b)).status, 200, 'kept now');
        assert.equal(await a.services.resources.delete('https://shared.example/api'), true);
        // The delete's NOTIFY reaches b before a's statement is answered (postgres/changes.ts).
        const gone = await ask(b);
        assert.equal(gone.body.error, 'invalid_target', 'the kept resource was dropped');
      } finally {
        await b.close();
        await a.close();
      }
    });
  });
}
