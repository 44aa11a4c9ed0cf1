// Issue 18 finding 10: a session used to live 14 days however long it lay unused. Now it ends
// after LATCHKEY_SESSION_IDLE_TIMEOUT without a request or LATCHKEY_SESSION_LIFETIME after
// sign-in, whichever comes first (a moved clock, both databases); last_seen_at is written at
// most once a minute. On an https issuer the cookies carry the __Host- prefix.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { createUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { signIn } from '../helpers/authorize.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const IDLE = 3600;
const LIFETIME = 4 * 3600;

async function rows(server: TestServer) {
  return server.services.store.db.selectFrom('sessions').select(['id_hash', 'last_seen_at', 'expires_at', 'created_at']).execute();
}

async function signedIn(server: TestServer, jar: CookieJar): Promise<boolean> {
  const res = await httpRequest(server, 'GET', '/account', { jar });
  if (res.status === 200) return true;
  assert.equal(res.status, 303);
  assert.match(res.location ?? '', /^\/login\?next=/);
  return false;
}

for (const kind of databaseKinds()) {
  describe(`session idle timeout and lifetime (${kind})`, () => {
    test('idle past the timeout: signed out and the row is gone', async () => {
      const server = await startTestServer(kind, { env: { LATCHKEY_SESSION_IDLE_TIMEOUT: String(IDLE), LATCHKEY_SESSION_LIFETIME: String(LIFETIME) } });
      try {
        server.clock.freeze();
        const user = await createUser(server);
        const jar = await signIn(server, user.email, user.password);
        server.clock.advance(IDLE - 1);
        assert.equal(await signedIn(server, jar), true, 'used just inside the idle timeout');
        // That use moved the idle deadline: another almost-full idle period is fine.
        server.clock.advance(IDLE - 1);
        assert.equal(await signedIn(server, jar), true);
        server.clock.advance(IDLE);
        assert.equal(await signedIn(server, jar), false, 'idle for the whole timeout');
        assert.equal((await rows(server)).length, 0, 'the dead session was deleted');
      } finally {
        await server.close();
      }
    });

    test('busy past the absolute lifetime: signed out however active', async () => {
      const server = await startTestServer(kind, { env: { LATCHKEY_SESSION_IDLE_TIMEOUT: String(IDLE), LATCHKEY_SESSION_LIFETIME: String(LIFETIME) } });
      try {
        server.clock.freeze();
        const user = await createUser(server);
        const jar = await signIn(server, user.email, user.password);
        let elapsed = 0;
        while (elapsed + 1800 < LIFETIME) {
          server.clock.advance(1800);
          elapsed += 1800;
          assert.equal(await signedIn(server, jar), true, `active at +${elapsed}s`);
        }
        const [row] = await rows(server);
        assert.ok(row && row.expires_at <= row.created_at + LIFETIME, 'expires_at never passes the lifetime');
        server.clock.advance(LIFETIME - elapsed);
        assert.equal(await signedIn(server, jar), false, 'at the lifetime');
        assert.equal((await rows(server)).length, 0);
        // Signing in again works.
        await signIn(server, user.email, user.password, jar);
        assert.equal(await signedIn(server, jar), true);
      } finally {
        await server.close();
      }
    });

    test('last_seen_at is written at most once a minute', async () => {
      const server = await startTestServer(kind);
      try {
        server.clock.freeze();
        const user = await createUser(server);
        const jar = await signIn(server, user.email, user.password);
        const [first] = await rows(server);
        assert.ok(first);
        assert.equal(first.last_seen_at, first.created_at);
        await Promise.all(Array.from({ length: 10 }, () => signedIn(server, jar)));
        server.clock.advance(59);
        assert.equal(await signedIn(server, jar), true);
        assert.equal((await rows(server))[0]?.last_seen_at, first.last_seen_at, 'no write inside the minute');
        server.clock.advance(1);
        assert.equal(await signedIn(server, jar), true);
        const [touched] = await rows(server);
        assert.equal(touched?.last_seen_at, first.last_seen_at + 60);
        // expires_at follows the idle deadline, so the purge finds idle sessions by it.
        assert.equal(touched?.expires_at, first.last_seen_at + 60 + server.config.sessionIdleTimeout);
      } finally {
        await server.close();
      }
    });
  });
}

describe('cookie names', () => {
  test('an https issuer: __Host-lk_csrf and __Host-lk_session (Secure, Path=/, no Domain), read back; the plain names are ignored', async () => {
    const server = await startTestServer('sqlite', { env: { LATCHKEY_ISSUER: 'https://login.example.test' } });
    try {
      const user = await createUser(server);
      const jar = new CookieJar();
      const page = await httpRequest(server, 'GET', '/login', { jar });
      const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith('__Host-lk_csrf='));
      assert.ok(csrfCookie, page.headers.getSetCookie().join(' | '));
      for (const attribute of [/;\s*Secure/i, /;\s*Path=\/(;|$)/i, /;\s*HttpOnly/i, /;\s*SameSite=Lax/i]) assert.match(csrfCookie, attribute);
      assert.doesNotMatch(csrfCookie, /domain=/i);
      const res = await httpRequest(server, 'POST', '/login', { jar, form: { ...hiddenFields(page.body, '/login'), email: user.email, password: user.password } });
      assert.equal(res.status, 303);
      const sessionCookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-lk_session='));
      assert.ok(sessionCookie);
      for (const attribute of [/;\s*Secure/i, /;\s*Path=\/(;|$)/i, /;\s*HttpOnly/i]) assert.match(sessionCookie, attribute);
      assert.doesNotMatch(sessionCookie, /domain=/i);
      assert.equal(await signedIn(server, jar), true, 'the __Host- session cookie is read back');

      // The same values under the plain names (what a sibling subdomain could plant) count for nothing.
      const planted = new CookieJar();
      planted.cookies.set('lk_session', jar.cookies.get('__Host-lk_session') ?? '');
      assert.equal(await signedIn(server, planted), false);
      const planter = new CookieJar();
      const page2 = await httpRequest(server, 'GET', '/login', { jar: planter });
      const token = hiddenFields(page2.body, '/login').csrf_token ?? '';
      const forged = await httpRequest(server, 'POST', '/login', {
        headers: { cookie: `lk_csrf=${token}` }, form: { csrf_token: token, email: user.email, password: user.password },
      });
      assert.equal(forged.status, 403);
    } finally {
      await server.close();
    }
  });
});
