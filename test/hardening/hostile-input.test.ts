// Hostile input, one kind at a time: oversize heads refused early by Node's parser (431),
// oversize and deeply nested bodies, very long redirect URIs, open-redirect tries, and HTML
// and SQL injection in every name a page shows (client names on the consent, account and
// developer pages; user names in the header) — escaped, never executed, never a 5xx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { databaseKinds } from '../helpers/databases.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { postToken } from '../helpers/token.js';
import { httpRequest } from '../helpers/browser.js';
import { unescapeHtml } from '../helpers/html.js';
import { authorize, authorizePath, signIn } from '../helpers/authorize.js';
import { ClientRegistrationError, registerClient } from '../../src/accounts/client-registration.js';
import { HOSTILE_NEXT, hostileRedirectUris, RAW_IN_LOCATION } from '../helpers/hostile-values.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const XSS = `<script>alert("x")</script><img src=x onerror=alert(1)>'"&`;
const SQL = `Robert'); DROP TABLE users; -- ' OR '1'='1`;

/** Sends raw bytes and returns the status line (the parser refuses before any route runs). */
function rawStatusLine(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] hostile input`, () => {
    let server: TestServer;
    let evilClient: TestClient;
    let evilUser: TestUser;

    before(async () => {
      // Hundreds of hostile requests go to /login and /signup from one address: the per-address
      // page limits (tested in test/security/anonymous-sessions.test.ts) are set out of reach here.
      server = await startTestServer(kind, { env: { LATCHKEY_LOGIN_RATE_LIMIT: '1000000' } });
      evilUser = await createUser(server, { name: `${XSS} ${SQL}` });
      evilClient = await createClient(server, { name: `${XSS} ${SQL}`, ownerUserId: evilUser.id });
    });
    after(async () => {
      await server.close();
    });

    test('a request head over Node\'s maxHeaderSize is refused with 431 before any route runs', async () => {
      const line = await rawStatusLine(server.url, `POST /oauth/token HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20 * 1024)}\r\nContent-Length: 0\r\n\r\n`);
      assert.match(line, /^HTTP\/1\.1 431 /);
      const url = await rawStatusLine(server.url, `GET /oauth/authorize?redirect_uri=${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(url, /^HTTP\/1\.1 431 /);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    });

    test('an oversize body is refused by its Content-Length and a deeply nested one is invalid_request', async () => {
      const body = `{"x":"${'a'.repeat(200 * 1024)}"}`;
      const big = await fetch(`${server.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as { error: string }).error, 'invalid_request');
      // The token endpoint answers invalid_request with its one status for it (400; 401 under hover).
      const atToken = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(atToken.status, 400);
      assert.equal(((await atToken.json()) as { error: string }).error, 'invalid_request');
      for (const body of [`${'['.repeat(30_000)}${']'.repeat(30_000)}`, `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`]) {
        const res = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      }
    });

    test('a very long or foreign redirect_uri is a 400 page, never a redirect, and never echoed unescaped', async () => {
      const tries = [
        `${evilClient.redirectUri}?${'a'.repeat(8000)}`,
        `${evilClient.redirectUri}/more`,
        evilClient.redirectUri.replace('app.example', 'App.Example'),
        evilClient.redirectUri.replace('https://', 'https://app.example@evil.example/'),
        'https://evil.example/callback',
        '//evil.example/callback',
        `javascript:alert(document.domain)//${evilClient.redirectUri}`,
        `${evilClient.redirectUri}"><script>alert(1)</script>`,
      ];
      for (const redirectUri of tries) {
        const res = await httpRequest(server, 'GET', authorizePath({ clientId: evilClient.clientId, redirectUri, state: 's' }));
        assert.equal(res.status, 400, redirectUri.slice(0, 80));
        assert.equal(res.location, null, redirectUri.slice(0, 80));
        assert.doesNotMatch(res.body, /<script>alert/);
      }
    });

    test('hostile next values (TAB, CR/LF, backslashes, dot segments, lookalikes) and redirect URIs: never a 5xx, never off the issuer', async () => {
      const issuer = server.config.issuer;
      const home = new URL(issuer).origin;
      const jar = await signIn(server, evilUser.email, evilUser.password);
      const noSurrogates = (v: string) => v.replace(/[\uD800-\uDFFF]/g, '\uFFFD');
      const answers = await Promise.all(HOSTILE_NEXT.flatMap((next) => {
        const q = `next=${encodeURIComponent(noSurrogates(next))}`;
        return [
          httpRequest(server, 'GET', `/signup?${q}`, { jar }),
          httpRequest(server, 'GET', `/signup?${q}`),
          httpRequest(server, 'GET', `/login?${q}`, { jar }),
        ].map(async (p) => ({ label: JSON.stringify(next), res: await p }));
      }));
      const redirectUris = hostileRedirectUris(evilClient.redirectUri);
      for (const redirectUri of redirectUris) {
        const path = authorizePath({ clientId: evilClient.clientId, redirectUri: noSurrogates(redirectUri), state: 's' });
        answers.push({ label: `redirect_uri ${JSON.stringify(redirectUri)}`, res: await httpRequest(server, 'GET', path, { jar }) });
        answers.push({ label: `redirect_uri ${JSON.stringify(redirectUri)} (no session)`, res: await httpRequest(server, 'GET', path) });
      }
      for (const { label, res } of answers) {
        assert.ok(res.status < 500, `${label} → ${res.status}`);
        if (res.location !== null) {
          assert.doesNotMatch(res.location, RAW_IN_LOCATION, `${label}: raw Location ${JSON.stringify(res.location)}`);
          assert.equal(new URL(res.location, issuer).origin, home, `${label}: Location ${JSON.stringify(res.location)}`);
        }
        for (const m of res.body.matchAll(/name="next" value="([^"]*)"/g)) {
          assert.equal(new URL(unescapeHtml(m[1] ?? ''), issuer).origin, home, `${label}: next field ${m[1]}`);
        }
      }
      assert.equal(answers.length, HOSTILE_NEXT.length * 3 + redirectUris.length * 2);
    });

    test('redirect URIs with control characters or backslashes are refused at registration; a portal client\'s errors never redirect without the user', async () => {
      const base = 'https://portal.example/cb';
      const withControls = hostileRedirectUris(base).filter((u) => (/[\\\t\n\r\u2028]/.test(u.trim()) || u.includes('\u0000')));
      assert.ok(withControls.length >= 8);
      for (const uri of withControls) {
        await assert.rejects(registerClient(server.services, { name: 'x', redirectUris: [uri] }), ClientRegistrationError, JSON.stringify(uri));
      }
      const portal = await createClient(server, { redirectUris: [base], ownerUserId: evilUser.id, trusted: false });
      const tries = [base, ...hostileRedirectUris(base)].map((redirectUri) => redirectUri.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
      const answers = await Promise.all(tries.flatMap((redirectUri) => [{ scope: 'bogus' }, { prompt: 'none' }, { responseType: 'token' }].map(async (extra) => ({
        redirectUri, res: await httpRequest(server, 'GET', authorizePath({ clientId: portal.clientId, redirectUri, state: 's', ...extra })),
      }))));
      for (const { redirectUri, res } of answers) {
        assert.equal(res.status, 400, JSON.stringify(redirectUri));
        assert.equal(res.location, null, JSON.stringify(redirectUri));
      }
    });

    test('names with HTML and SQL are stored as typed and shown escaped on the consent, account and developer pages', async () => {
      const jar = await signIn(server, evilUser.email, evilUser.password);
      const consent = await authorize(server, { clientId: evilClient.clientId, redirectUri: evilClient.redirectUri, state: 'x', cookies: jar, decision: 'stop' });
      assert.equal(consent.consentShown, true);
      const pages = [consent.consentPage ?? ''];
      const allowed = await authorize(server, { clientId: evilClient.clientId, redirectUri: evilClient.redirectUri, state: 'x', cookies: jar });
      assert.ok(allowed.code);
      pages.push((await httpRequest(server, 'GET', '/account', { jar })).body);
      pages.push((await httpRequest(server, 'GET', '/developer/clients', { jar })).body);
      pages.push((await httpRequest(server, 'GET', `/developer/clients/${encodeURIComponent(evilClient.clientId)}`, { jar })).body);
      for (const page of pages) {
        assert.ok(page.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'), 'the name is shown, escaped');
        assert.doesNotMatch(page, /<script>alert|<img src=x/);
        assert.ok(page.includes('Robert&#39;); DROP TABLE users;'), 'the SQL is just text');
      }
      // Nothing was dropped: the name comes back exactly as typed.
      assert.equal((await server.services.clients.findByClientId(evilClient.clientId))?.name, `${XSS} ${SQL}`.trim());
      assert.equal((await server.services.users.findById(evilUser.id))?.name, `${XSS} ${SQL}`.trim());
    });

    test('SQL in the e-mail, username, client_id and tokens is data: refused, no 5xx, tables intact', async () => {
      const page = await httpRequest(server, 'GET', '/login');
      const hidden = [...page.body.matchAll(/name="csrf_token" value="([^"]*)"/g)].map((m) => m[1])[0] ?? '';
      const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const login = await httpRequest(server, 'POST', '/login', { headers: { cookie }, form: { csrf_token: hidden, email: `' OR '1'='1' --`, password: `' OR '1'='1` } });
      assert.equal(login.status, 401);
      const grant = await postToken(server, { grant_type: 'password', username: `admin' --`, password: 'x', client_id: `' OR 1=1 --`, client_secret: `'; DELETE FROM clients; --` });
      assert.equal(grant.status, 401);
      assert.equal(grant.body.error, 'invalid_client');
      const refresh = await postToken(server, { grant_type: 'refresh_token', refresh_token: `' OR consumed_at IS NULL --`, client_id: evilClient.clientId, client_secret: evilClient.clientSecret ?? '' });
      assert.equal(refresh.body.error, 'invalid_grant');
      const me = await fetch(`${server.url}/api/user`, { headers: { authorization: `Bearer ' OR 1=1 --` } });
      assert.equal(me.status, 401);
      assert.ok(await server.services.users.findById(evilUser.id));
      assert.ok(await server.services.clients.findByClientId(evilClient.clientId));
    });
  });
}
