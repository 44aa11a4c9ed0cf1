// Issue 18 finding 2: open redirect through `next`. A browser strips TAB, CR and LF from a
// Location and treats `\` as `/`, so `/\t/evil.example` and `/\evil.example` are followed to
// //evil.example; CR/LF must not reach a header (Node refuses it: a 500). Every `next` the
// login and sign-up pages (and the portal's redirect to the login page) act on is resolved
// against the issuer as a browser would resolve it, and must stay on the issuer's origin.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { percentEncodeUnsafe } from '../../src/http/plugins/security-headers.js';
import { safeNext } from '../../src/http/session.js';
import { databaseKinds } from '../helpers/databases.js';
import { createUser, type TestUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { signIn } from '../helpers/authorize.js';
import { CONTROL_OR_BACKSLASH, HOSTILE_NEXT, RAW_IN_LOCATION } from '../helpers/hostile-values.js';
import { startTestServer, type TestServer } from '../helpers/server.js';


function assertStaysHome(res: HttpResult, issuer: string, label: string): void {
  assert.ok(res.status < 500, `${label}: status ${res.status}`);
  if (res.location === null) return;
  assert.doesNotMatch(res.location, RAW_IN_LOCATION, `${label}: raw Location ${JSON.stringify(res.location)}`);
  assert.equal(new URL(res.location, issuer).origin, new URL(issuer).origin, `${label}: Location ${JSON.stringify(res.location)}`);
}

function assertFieldStaysHome(value: string | undefined, issuer: string, label: string): void {
  if (value === undefined || value === '') return;
  assert.doesNotMatch(value, CONTROL_OR_BACKSLASH, `${label}: next field ${JSON.stringify(value)}`);
  assert.equal(new URL(value, issuer).origin, new URL(issuer).origin, `${label}: next field ${JSON.stringify(value)}`);
}

describe('safeNext', () => {
  const issuer = 'https://id.example.com';
  test('every hostile value falls back or stays on the issuer, re-serialised', () => {
    for (const next of HOSTILE_NEXT) {
      const out = safeNext(next, issuer, '/account');
      assert.ok(out.startsWith('/') && !out.startsWith('//'), `${JSON.stringify(next)} → ${JSON.stringify(out)}`);
      assert.doesNotMatch(out, RAW_IN_LOCATION);
      assert.equal(new URL(out, issuer).origin, issuer, `${JSON.stringify(next)} → ${JSON.stringify(out)}`);
    }
  });
  test('ordinary local paths come back unchanged', () => {
    for (const next of ['/account', '/oauth/authorize?response_type=code&client_id=abc&scope=profile%20email&state=s1', '/orgs/3?x=a%26b#top', '/developer/clients/x%2Fy']) {
      assert.equal(safeNext(next, issuer), next);
    }
  });
  test('the backstop on every response: a Location never carries a raw control character, space or non-ASCII', () => {
    assert.equal(percentEncodeUnsafe('/\t/evil.example'), '/%09/evil.example');
    assert.equal(percentEncodeUnsafe('/a\r\nSet-Cookie: x=1'), '/a%0D%0ASet-Cookie:%20x=1');
    assert.equal(percentEncodeUnsafe('https://app.example/cb?x=é\uD800'), 'https://app.example/cb?x=%C3%A9%EF%BF%BD');
    assert.equal(percentEncodeUnsafe('/account?done=saved'), '/account?done=saved');
  });
  test('an issuer with a path keeps the origin check', () => {
    assert.equal(safeNext('//evil.example', 'https://id.example.com/auth', '/x'), '/x');
    assert.equal(safeNext('/auth/account', 'https://id.example.com/auth', '/x'), '/auth/account');
  });
});

for (const kind of databaseKinds()) {
  describe(`[${kind}] open redirect through next (issue 18, finding 2)`, () => {
    let server: TestServer;
    let user: TestUser;
    let signedIn: CookieJar;

    before(async () => {
      // Many sign-ins from one address: the login page's flood limit is not what is tested here.
      server = await startTestServer(kind, { overrides: { loginRateLimit: 0 } });
      user = await createUser(server);
      signedIn = await signIn(server, user.email, user.password);
    });
    after(async () => {
      await server.close();
    });

    test('GET /signup?next=%2F%09%2Fevil.example for a signed-in user does not leave the issuer (zero-click)', async () => {
      const res = await httpRequest(server, 'GET', '/signup?next=%2F%09%2Fevil.example', { jar: signedIn });
      assert.equal(res.status, 303);
      assertStaysHome(res, server.config.issuer, 'TAB');
      const crlf = await httpRequest(server, 'GET', '/signup?next=%2F%0D%0A%2Fevil.example', { jar: signedIn });
      assert.equal(crlf.status, 303, 'CR/LF is refused, not a 500');
      assertStaysHome(crlf, server.config.issuer, 'CRLF');
    });

    test('every hostile next on GET /signup (signed in) and GET /login stays on the issuer, never a 5xx', async () => {
      const issuer = server.config.issuer;
      await Promise.all(HOSTILE_NEXT.map(async (next) => {
        const q = `next=${encodeURIComponent(next.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))}`;
        assertStaysHome(await httpRequest(server, 'GET', `/signup?${q}`, { jar: signedIn }), issuer, `signup ${JSON.stringify(next)}`);
        const page = await httpRequest(server, 'GET', `/login?${q}`);
        assertStaysHome(page, issuer, `login ${JSON.stringify(next)}`);
        assert.equal(page.status, 200);
        assertFieldStaysHome(hiddenFields(page.body, '/login').next, issuer, `login ${JSON.stringify(next)}`);
        const again = await httpRequest(server, 'GET', `/login?${q}`, { jar: signedIn });
        assertStaysHome(again, issuer, `login (signed in) ${JSON.stringify(next)}`);
        if (again.status === 200) assertFieldStaysHome(hiddenFields(again.body, '/login').next, issuer, `login (signed in) ${JSON.stringify(next)}`);
        const signup = await httpRequest(server, 'GET', `/signup?${q}`);
        assert.equal(signup.status, 200);
        const carried = /name="next" value="([^"]*)"/.exec(signup.body)?.[1];
        assertFieldStaysHome(carried?.replaceAll('&amp;', '&'), issuer, `signup page ${JSON.stringify(next)}`);
      }));
    });

    test('POST /login with a hostile next signs in and lands on the issuer', async () => {
      const issuer = server.config.issuer;
      for (const next of HOSTILE_NEXT) {
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', '/login', { jar });
        const fields = hiddenFields(page.body, '/login');
        const form = new URLSearchParams({ ...fields, email: user.email, password: user.password });
        form.set('next', next.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
        const res = await httpRequest(server, 'POST', '/login', { jar, form });
        assert.equal(res.status, 303, JSON.stringify(next));
        assertStaysHome(res, issuer, `POST /login ${JSON.stringify(next)}`);
      }
    });

    test('POST /signup with a hostile next creates the account and lands on the issuer', async () => {
      const issuer = server.config.issuer;
      let n = 0;
      for (const next of ['/\t/evil.example', '/\r\n/evil.example', '/\\evil.example', '/..//evil.example']) {
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', '/signup', { jar });
        const csrf = /name="csrf_token" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
        n += 1;
        const res = await httpRequest(server, 'POST', '/signup', {
          jar, form: { csrf_token: csrf, name: 'N', email: `n${n}-${kind}@example.com`, password: 'long enough 1', password_confirm: 'long enough 1', locale: 'en', next },
        });
        assert.equal(res.status, 303, JSON.stringify(next));
        assertStaysHome(res, issuer, `POST /signup ${JSON.stringify(next)}`);
      }
    });

    test('the portal\'s redirect to the login page carries only a local path', async () => {
      const issuer = server.config.issuer;
      for (const path of ['/account', '/developer/clients/%2F%2Fevil.example', '/account?x=%0D%0A', '/orgs/1?next=%2F%09%2Fevil.example']) {
        const res = await httpRequest(server, 'GET', path);
        assert.equal(res.status, 303, path);
        assertStaysHome(res, issuer, path);
        const next = new URL(res.location ?? '', issuer).searchParams.get('next') ?? '';
        assertFieldStaysHome(next, issuer, path);
        assert.equal(safeNext(next, issuer, '/fallback'), next, `${path}: the login page keeps it`);
      }
    });
  });
}
