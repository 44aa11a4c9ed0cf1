// Issue 22, sessions on the account page: each signed-in session is listed with its device
// (from the User-Agent), the address and when it was last seen, this browser marked; "Sign out
// everywhere else" ends every other session of the account (its cookie stops working at
// once), keeps this one and says so, and leaves other accounts alone. Apps connected by a
// grant alone (the password grant, no consent page) are listed too and can be revoked.
// Real HTTP on SQLite and PostgreSQL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { csrfTokenOf } from '../helpers/pages.js';
import { getUser, postToken, secretPost, tokensOf } from '../helpers/token.js';
import { describeDevice } from '../../src/accounts/device.js';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const CHROME_ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

/** Signs in through the login page with this User-Agent (and, behind a trusted proxy, this address). */
async function signInAs(server: TestServer, email: string, password: string, userAgent: string, forwardedFor?: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const headers: Record<string, string> = { 'user-agent': userAgent, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) };
  const page = await httpRequest(server, 'GET', '/login', { jar, headers });
  const res = await httpRequest(server, 'POST', '/login', { jar, headers, form: { ...hiddenFields(page.body, '/login'), email, password } });
  assert.equal(res.status, 303, `sign-in → ${res.status}`);
  return jar;
}

function auditLines(server: TestServer, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === event);
}

test('devices are named from their User-Agent', () => {
  assert.equal(describeDevice(FIREFOX_WINDOWS), 'Firefox on Windows');
  assert.equal(describeDevice(SAFARI_IPHONE), 'Safari on iPhone');
  assert.equal(describeDevice(CHROME_ANDROID), 'Chrome on Android');
  assert.equal(describeDevice('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0'), 'Edge on Windows');
  assert.equal(describeDevice('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36'), 'Chrome on Linux');
  assert.equal(describeDevice('curl/8.5.0'), 'curl');
  assert.equal(describeDevice(null), 'Unknown device');
  assert.equal(describeDevice('\u0000\u0001'), 'Unknown device');
});

for (const kind of databaseKinds()) {
  describe(`[${kind}] account page: sessions and "Sign out everywhere else"`, () => {
    test('lists the sessions; "Sign out everywhere else" ends the others and keeps this one', async () => {
      const server = await startTestServer(kind, { env: { LATCHKEY_TRUST_PROXY: '127.0.0.1' } });
      try {
        const user = await createUser(server, { locale: 'en' });
        const someoneElse = await createUser(server, { locale: 'en' });
        const laptop = await signInAs(server, user.email, user.password, FIREFOX_WINDOWS, '198.51.100.7');
        const phone = await signInAs(server, user.email, user.password, SAFARI_IPHONE, '203.0.113.9');
        const tablet = await signInAs(server, user.email, user.password, CHROME_ANDROID, '192.0.2.44');
        const theirs = await signInAs(server, someoneElse.email, someoneElse.password, FIREFOX_WINDOWS, '198.51.100.8');

        const page = await httpRequest(server, 'GET', '/account', { jar: laptop, headers: { 'user-agent': FIREFOX_WINDOWS, 'x-forwarded-for': '198.51.100.7' } });
        assert.equal(page.status, 200);
        const section = page.body.slice(page.body.indexOf('id="sessions"'), page.body.indexOf('id="connected-apps"'));
        assert.match(section, /Signed-in sessions/);
        assert.match(section, /Firefox on Windows <span class="badge">This browser<\/span>/);
        assert.match(section, /Safari on iPhone<\/h3>/);
        assert.match(section, /Chrome on Android<\/h3>/);
        assert.match(section, /From 198\.51\.100\.7/);
        assert.match(section, /From 203\.0\.113\.9/);
        assert.match(section, /last seen <time datetime="/);
        assert.equal((section.match(/<li class="item">/g) ?? []).length, 3, 'three sessions of this account, not the other account\'s');
        assert.equal((section.match(/This browser/g) ?? []).length, 1);
        assert.doesNotMatch(section, /198\.51\.100\.8/, 'another account\'s session is not shown');

        // Without the form's CSRF token nothing ends.
        const forged = await httpRequest(server, 'POST', '/account/sessions/sign-out-others', { jar: laptop, form: { csrf_token: 'x'.repeat(43) } });
        assert.equal(forged.status, 403);
        assert.equal((await httpRequest(server, 'GET', '/account', { jar: phone })).status, 200, 'the phone is still signed in');

        const res = await httpRequest(server, 'POST', '/account/sessions/sign-out-others', { jar: laptop, headers: { 'x-forwarded-for': '198.51.100.7' }, form: { csrf_token: csrfTokenOf(page.body) } });
        assert.equal(res.status, 303);
        assert.equal(res.location, '/account?done=signed-out-others&ended=2#sessions');
        const after = await httpRequest(server, 'GET', res.location, { jar: laptop });
        assert.equal(after.status, 200, 'this browser stays signed in');
        assert.match(after.body, /You are signed out everywhere else: 2 other sessions ended\. Only this browser is still signed in\./);
        assert.match(after.body, /This browser is the only one signed in\./);
        assert.doesNotMatch(after.body, /Safari on iPhone/);

        // The other cookies no longer work, anywhere.
        for (const jar of [phone, tablet]) {
          const gone = await httpRequest(server, 'GET', '/account', { jar });
          assert.equal(gone.status, 303);
          assert.match(gone.location ?? '', /^\/login\?next=/);
        }
        // Another account is untouched.
        assert.equal((await httpRequest(server, 'GET', '/account', { jar: theirs })).status, 200);

        const [line] = auditLines(server, 'session.ended_others');
        assert.ok(line, 'a session.ended_others audit line');
        assert.equal(line.user_id, user.id);
        assert.equal(line.sessions_ended, 2);
        assert.equal(line.address, '198.51.100.7');
      } finally {
        await server.close();
      }
    });

    test('an app connected by the password grant alone is listed and can be revoked', async () => {
      const server = await startTestServer(kind);
      try {
        const user = await createUser(server, { locale: 'en' });
        const direct = await createClient(server, { name: 'Direct Sync', grantTypes: ['password', 'refresh_token'] });
        const tokens = tokensOf(await postToken(server, { grant_type: 'password', username: user.email, password: user.password, ...secretPost(direct) }));
        assert.equal((await getUser(server, tokens.accessToken)).status, 200);
        const jar = await signInAs(server, user.email, user.password, FIREFOX_WINDOWS);
        const page = await httpRequest(server, 'GET', '/account', { jar });
        assert.match(page.body, /<h3>Direct Sync<\/h3>/);
        const res = await httpRequest(server, 'POST', '/account/apps/revoke', { jar, form: { csrf_token: csrfTokenOf(page.body), client_id: direct.clientId, organization_id: '' } });
        assert.equal(res.status, 303);
        assert.equal((await getUser(server, tokens.accessToken)).status, 401, 'its token stops working');
        assert.doesNotMatch((await httpRequest(server, 'GET', '/account', { jar })).body, /<h3>Direct Sync<\/h3>/);
      } finally {
        await server.close();
      }
    });
  });
}
