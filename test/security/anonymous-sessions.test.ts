// Issue 18 finding 9: every cookieless GET /signup and GET /login used to store a 14-day
// anonymous session row (50 requests, 50 rows). The anonymous forms now carry a stateless
// double-submit CSRF token (its own cookie, echoed in the form), so nothing is written until
// someone signs in or up; the pages are rate limited per address.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { createUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function sessionRows(server: TestServer): Promise<number> {
  return (await server.services.store.db.selectFrom('sessions').select('id_hash').execute()).length;
}

for (const kind of databaseKinds()) {
  describe(`anonymous forms write no session row (${kind})`, () => {
    test('50 cookieless GET /signup and GET /login at once: 0 new session rows; login still works', async () => {
      const server = await startTestServer(kind);
      try {
        const user = await createUser(server);
        const before = await sessionRows(server);
        const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => httpRequest(server, 'GET', i % 2 === 0 ? '/signup' : '/login')));
        for (const res of burst) {
          assert.equal(res.status, 200);
          assert.ok((hiddenFields(res.body, res.body.includes('action="/signup"') ? '/signup' : '/login').csrf_token ?? '').length >= 43, 'every form still carries a token');
        }
        assert.equal(await sessionRows(server), before, 'no session row for an anonymous page');

        // End to end afterwards: the login form's token is accepted and signing in makes one row.
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', '/login', { jar });
        assert.equal(await sessionRows(server), before);
        const res = await httpRequest(server, 'POST', '/login', { jar, form: { ...hiddenFields(page.body, '/login'), email: user.email, password: user.password } });
        assert.equal(res.status, 303);
        assert.equal(res.location, '/account');
        assert.equal(await sessionRows(server), before + 1);
        assert.equal((await httpRequest(server, 'GET', '/account', { jar })).status, 200);

        // And sign-up through its page too.
        const jar2 = new CookieJar();
        const signup = await httpRequest(server, 'GET', '/signup', { jar: jar2 });
        const created = await httpRequest(server, 'POST', '/signup', {
          jar: jar2,
          form: { ...hiddenFields(signup.body, '/signup'), name: 'New', email: 'new@example.com', password: 'correct horse battery', password_confirm: 'correct horse battery', locale: 'en' },
        });
        assert.equal(created.status, 303);
        assert.equal(await sessionRows(server), before + 2);
      } finally {
        await server.close();
      }
    });

    test('a POST /login whose CSRF cookie and field differ: 403, no session', async () => {
      const server = await startTestServer(kind);
      try {
        const user = await createUser(server);
        const victim = new CookieJar();
        const page = await httpRequest(server, 'GET', '/login', { jar: victim });
        const attacker = new CookieJar();
        const attackerPage = await httpRequest(server, 'GET', '/login', { jar: attacker });
        const attackerToken = hiddenFields(attackerPage.body, '/login').csrf_token ?? '';
        assert.notEqual(attackerToken, hiddenFields(page.body, '/login').csrf_token);
        const before = await sessionRows(server);
        // The victim's cookie with the attacker's own (valid, but other) token in the field.
        const res = await httpRequest(server, 'POST', '/login', { jar: victim, form: { ...hiddenFields(page.body, '/login'), csrf_token: attackerToken, email: user.email, password: user.password } });
        assert.equal(res.status, 403);
        assert.match(res.body, /Form expired/);
        // No cookie at all, but a token in the field.
        const bare = await httpRequest(server, 'POST', '/login', { form: { csrf_token: attackerToken, email: user.email, password: user.password } });
        assert.equal(bare.status, 403);
        // Odd cookies and fields: refused with 403, never a 5xx, never a row.
        const token = hiddenFields(page.body, '/login').csrf_token ?? '';
        const odd: Array<[string, string]> = [
          [`lk_csrf=${token}`, `csrf_token=${token}&csrf_token=${token}`],
          [`lk_csrf=${token}`, `csrf_token=${token}x`],
          [`lk_csrf=${token}x`, `csrf_token=${token}x`],
          [`lk_csrf=%00${token.slice(3)}`, `csrf_token=%00${token.slice(3)}`],
          ['lk_csrf=', 'csrf_token='],
          [`lk_csrf=${'é'.repeat(43)}`, `csrf_token=${encodeURIComponent('é'.repeat(43))}`],
          [`lk_session=${token}; lk_csrf=${token}`, `csrf_token=${token.toUpperCase()}`],
        ];
        for (const [cookie, body] of odd) {
          const r = await fetch(`${server.url}/login`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `${body}&email=${encodeURIComponent(user.email)}&password=${encodeURIComponent(user.password)}` });
          assert.equal(r.status, 403, `${cookie} / ${body}`);
        }
        assert.equal(await sessionRows(server), before);
      } finally {
        await server.close();
      }
    });
  });
}

describe('the login and sign-up pages are rate limited per address', () => {
  test('GET /login and GET /signup past the limit: 429 with Retry-After', async () => {
    const server = await startTestServer('sqlite', { env: { LATCHKEY_LOGIN_RATE_LIMIT: '5' } });
    try {
      for (const path of ['/signup', '/login']) {
        const answers = await Promise.all(Array.from({ length: 12 }, () => httpRequest(server, 'GET', path)));
        const limited = answers.filter((r) => r.status === 429);
        assert.ok(limited.length >= 6, `${path}: ${limited.length} of 12 limited`);
        assert.ok(Number(limited[0]?.headers.get('retry-after')) > 0);
      }
    } finally {
      await server.close();
    }
  });

  test('IPv6 clients are counted by their /64: rotating addresses inside it does not buy more tries', async () => {
    // One trusted proxy hop: the client address comes from X-Forwarded-For.
    const server = await startTestServer('sqlite', { env: { LATCHKEY_LOGIN_RATE_LIMIT: '3', LATCHKEY_TRUST_PROXY: '1' } });
    try {
      const from = (ip: string) => httpRequest(server, 'GET', '/login', { headers: { 'x-forwarded-for': ip } });
      const statuses: number[] = [];
      for (const ip of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:DB8:1:2:ffff::c', '2001:db8:1:2::d%eth0']) statuses.push((await from(ip)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.equal((await from('2001:db8:1:3::1')).status, 200, 'the next /64 has its own budget');
      // IPv4 and IPv4-mapped IPv6 are one client.
      for (let i = 0; i < 3; i += 1) assert.equal((await from('198.51.100.4')).status, 200);
      assert.equal((await from('::ffff:198.51.100.4')).status, 429);
    } finally {
      await server.close();
    }
  });
});
