// Second factors over real HTTP, on SQLite and PostgreSQL (SPEC.md "Accounts: e-mail, recovery,
// second factors"): the authenticator app set up on the account page with a code computed here
// (otpauth), login asking for it after the password (a pending login that is not a session),
// the ID token's amr; a wrong code backing off; a replayed code refused; a burst of one
// recovery code sent at once with exactly one success; `user reset-factors` as a real process;
// and the database read to prove that TOTP secrets are sealed and recovery codes hashed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { decodeJwt } from 'jose';
import { Secret, TOTP } from 'otpauth';
import { sql } from 'kysely';
import { hashRecoveryCode, normalizeRecoveryCode } from '../../src/accounts/factors.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { authorize } from '../helpers/authorize.js';
import { hiddenFields } from '../helpers/html.js';
import { textById } from '../helpers/pages.js';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.js';
import { databaseKinds, type DbKind } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = new URL('../../bin/latchkey.js', import.meta.url).pathname;
const ENCRYPTION_KEY = randomBytes(32).toString('base64');

async function withServer(kind: DbKind, fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(kind, { env: { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY } });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** GETs `pagePath`, then posts its form for `action` with `fields`. */
async function submit(server: TestServer, jar: CookieJar, pagePath: string, action: string, fields: Record<string, string> = {}): Promise<HttpResult> {
  const page = await httpRequest(server, 'GET', pagePath, { jar });
  assert.equal(page.status, 200, `GET ${pagePath} → ${page.status}`);
  return httpRequest(server, 'POST', action, { jar, form: { ...hiddenFields(page.body, action), ...fields } });
}

function codeAt(secret: string, timestampMs: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: timestampMs });
}

/** A password login: 303 to `expected`. */
async function passwordLogin(server: TestServer, user: TestUser, expected: string, jar = new CookieJar()): Promise<CookieJar> {
  const res = await submit(server, jar, '/login', '/login', { email: user.email, password: user.password });
  assert.equal(res.status, 303, `password login → ${res.status}`);
  assert.equal(res.location, expected);
  return jar;
}

interface Enrolled {
  user: TestUser;
  secret: string;
  codes: string[];
}

/** A user with a confirmed authenticator app: set up through the account page. */
async function enrolTotp(server: TestServer): Promise<Enrolled> {
  const user = await createUser(server, { locale: 'en' });
  const jar = await passwordLogin(server, user, '/account');
  const started = await submit(server, jar, '/account', '/account/totp/start');
  assert.equal(started.status, 303);
  assert.equal(started.location, '/account/totp');
  const setup = await httpRequest(server, 'GET', '/account/totp', { jar });
  assert.equal(setup.status, 200);
  assert.match(setup.body, /<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" alt="QR code for your authenticator app"/);
  const secret = textById(setup.body, 'totp-secret').replace(/\s/g, '');
  assert.match(secret, /^[A-Z2-7]{32}$/, 'the key is shown as text, base32');
  // A wrong first code does not turn the app on.
  const wrong = await httpRequest(server, 'POST', '/account/totp/confirm', { jar, form: { ...hiddenFields(setup.body, '/account/totp/confirm'), code: otherCode(codeAt(secret, server.clock.nowMs())) } });
  assert.equal(wrong.status, 400);
  assert.match(wrong.body, /That code is not right/);
  const confirmed = await httpRequest(server, 'POST', '/account/totp/confirm', { jar, form: { ...hiddenFields(setup.body, '/account/totp/confirm'), code: codeAt(secret, server.clock.nowMs()) } });
  assert.equal(confirmed.status, 200, confirmed.body.slice(0, 500));
  const codes = [...confirmed.body.matchAll(/<code class="secret">([0-9a-z]{4}(?:-[0-9a-z]{4}){3})<\/code>/g)].map((m) => m[1] ?? '');
  assert.equal(codes.length, 10, 'ten recovery codes are shown once');
  assert.equal(new Set(codes).size, 10);
  // The first code took its time step: move on to the next one for what follows.
  server.clock.advance(30);
  return { user, secret, codes };
}

/** A six-digit code that is not `code` (nor any code of the window, most likely). */
function otherCode(code: string): string {
  return String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
}

function auditEvents(server: TestServer, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === event);
}

for (const kind of databaseKinds()) {
  describe(`second factors (${kind})`, () => {
    test('TOTP: enrolment, then login asks for a code after the password; a pending login is no session; amr is pwd otp mfa', async () => {
      await withServer(kind, async (server) => {
        const { user, secret } = await enrolTotp(server);
        assert.equal(auditEvents(server, 'factor.enrolled').filter((l) => l.reason === 'totp' && l.user_id === user.id).length, 1);

        const jar = await passwordLogin(server, user, '/login/factor');
        // Password right, factor owed: no page behind the login opens yet.
        const account = await httpRequest(server, 'GET', '/account', { jar });
        assert.equal(account.status, 303);
        assert.match(account.location ?? '', /^\/login\?next=/);
        const factor = await httpRequest(server, 'GET', '/login/factor', { jar });
        assert.equal(factor.status, 200);
        assert.match(factor.body, /<label for="factor-code">Authentication code<\/label>/);
        assert.match(factor.body, /<label for="factor-recovery">Recovery code<\/label>/);

        const done = await httpRequest(server, 'POST', '/login/factor', { jar, form: { ...hiddenFields(factor.body, '/login/factor'), code: codeAt(secret, server.clock.nowMs()) } });
        assert.equal(done.status, 303, done.body.slice(0, 300));
        assert.equal(done.location, '/account');
        assert.equal((await httpRequest(server, 'GET', '/account', { jar })).status, 200);
        assert.equal(auditEvents(server, 'factor.used').filter((l) => l.user_id === user.id && l.reason === 'totp').length, 1);
        // The pending login was used up: the factor page sends the browser back to /login.
        assert.equal((await httpRequest(server, 'GET', '/login/factor', { jar })).location, '/login');

        // The session's login reaches the ID token: RFC 8176 pwd + otp, and mfa.
        const client = await createClient(server);
        const flow = await authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid profile', state: 's1', cookies: jar });
        assert.ok(flow.code, `a code (status ${flow.status}, error ${flow.error})`);
        const token = await fetch(`${server.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code: flow.code, redirect_uri: client.redirectUri, client_id: client.clientId, client_secret: client.clientSecret ?? '' }),
        });
        assert.equal(token.status, 200);
        const body = (await token.json()) as { id_token?: string };
        assert.ok(body.id_token);
        assert.deepEqual(decodeJwt(body.id_token).amr, ['pwd', 'otp', 'mfa']);
        assert.equal(decodeJwt(body.id_token).acr, 'urn:latchkey:acr:mfa');

        // The password grant cannot skip the factor: it answers as for a wrong password.
        const grantClient = await createClient(server, { grantTypes: ['password', 'refresh_token'] });
        const grant = await fetch(`${server.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password, client_id: grantClient.clientId, client_secret: grantClient.clientSecret ?? '' }),
        });
        assert.equal(grant.status, 400);
        assert.equal(((await grant.json()) as { error: string }).error, 'invalid_grant');
      });
    });

    test('a wrong code backs off: 429 with Retry-After, even for the right code, until the wait is over', async () => {
      await withServer(kind, async (server) => {
        server.clock.freeze();
        const { user, secret } = await enrolTotp(server);
        const jar = await passwordLogin(server, user, '/login/factor');
        const page = await httpRequest(server, 'GET', '/login/factor', { jar });
        const form = hiddenFields(page.body, '/login/factor');
        const wrong = otherCode(codeAt(secret, server.clock.nowMs()));
        for (let i = 1; i <= 4; i++) {
          const res = await httpRequest(server, 'POST', '/login/factor', { jar, form: { ...form, code: wrong } });
          assert.equal(res.status, 401, `wrong code ${i}`);
          assert.match(res.body, /That code is not right/);
        }
        const fifth = await httpRequest(server, 'POST', '/login/factor', { jar, form: { ...form, code: wrong } });
        assert.equal(fifth.status, 429);
        assert.ok(Number(fifth.headers.get('retry-after')) >= 1);
        // Held back: the right code is not even checked.
        const held = await httpRequest(server, 'POST', '/login/factor', { jar, form: { ...form, code: codeAt(secret, server.clock.nowMs()) } });
        assert.equal(held.status, 429);
        assert.match(held.body, /Too many failed sign-in attempts/);
        assert.equal(auditEvents(server, 'factor.failed').filter((l) => l.user_id === user.id && l.reason === 'totp').length, 5);
        // Once the wait is over the right code signs in.
        server.clock.advance(Number(held.headers.get('retry-after')) + 1);
        const ok = await httpRequest(server, 'POST', '/login/factor', { jar, form: { ...form, code: codeAt(secret, server.clock.nowMs()) } });
        assert.equal(ok.status, 303, ok.body.slice(0, 300));
        assert.equal(ok.location, '/account');
      });
    });

    test('a code is not accepted twice: replayed within its window it is refused, the next one works', async () => {
      await withServer(kind, async (server) => {
        server.clock.freeze();
        const { user, secret } = await enrolTotp(server);
        const code = codeAt(secret, server.clock.nowMs());
        const first = await passwordLogin(server, user, '/login/factor');
        const firstRes = await submit(server, first, '/login/factor', '/login/factor', { code });
        assert.equal(firstRes.status, 303);
        // Another browser (someone who saw the code) replays it within the same 30 seconds.
        const second = await passwordLogin(server, user, '/login/factor');
        const replay = await submit(server, second, '/login/factor', '/login/factor', { code });
        assert.equal(replay.status, 401);
        assert.match(replay.body, /That code was used already/);
        assert.equal((await httpRequest(server, 'GET', '/account', { jar: second })).status, 303, 'no session from a replayed code');
        // A code of an earlier step (still inside the window) is refused as well.
        const earlier = await submit(server, second, '/login/factor', '/login/factor', { code: codeAt(secret, server.clock.nowMs() - 30_000) });
        assert.equal(earlier.status, 401);
        server.clock.advance(30);
        const next = await submit(server, second, '/login/factor', '/login/factor', { code: codeAt(secret, server.clock.nowMs()) });
        assert.equal(next.status, 303);
        assert.equal(auditEvents(server, 'factor.failed').filter((l) => l.reason === 'totp_replayed').length, 2);
      });
    });

    test('recovery codes: a burst of one code sent at once signs in exactly once; the code never works again', async () => {
      await withServer(kind, async (server) => {
        const { user, codes } = await enrolTotp(server);
        const code = codes[0] ?? '';
        // Eight browsers, each past the password, send the same recovery code at the same moment.
        // (Signed in one after the other: passwords checked at once for one account are bounded.)
        const jars: CookieJar[] = [];
        for (let i = 0; i < 8; i++) jars.push(await passwordLogin(server, user, '/login/factor'));
        const forms = await Promise.all(jars.map(async (jar) => hiddenFields((await httpRequest(server, 'GET', '/login/factor', { jar })).body, '/login/factor')));
        const results = await Promise.all(jars.map((jar, i) => httpRequest(server, 'POST', '/login/factor', { jar, form: { ...forms[i], recovery_code: code } })));
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 303).length, 1, `exactly one success: ${statuses.join(',')}`);
        assert.ok(statuses.every((s) => s === 303 || s === 401 || s === 429), statuses.join(','));
        // Used: a fresh attempt with it is refused — 401, or 429 when this failure starts a wait
        // (the burst's failures count in the back-off) — and once any wait is over an unused code
        // (typed in upper case, with spaces) works.
        const later = await passwordLogin(server, user, '/login/factor');
        const again = await submit(server, later, '/login/factor', '/login/factor', { recovery_code: code });
        assert.ok(again.status === 401 || again.status === 429, `a used code → ${again.status}`);
        assert.match(again.body, again.status === 401 ? /That recovery code is not right or was used already/ : /Too many failed sign-in attempts/);
        if (again.status === 429) server.clock.advance(Number(again.headers.get('retry-after')) + 1);
        const other = await submit(server, later, '/login/factor', '/login/factor', { recovery_code: ` ${(codes[1] ?? '').toUpperCase().replace(/-/g, ' ')} ` });
        assert.equal(other.status, 303);
        const account = await httpRequest(server, 'GET', '/account', { jar: later });
        assert.match(account.body, /8 of 10 recovery codes left/);

        // The store's single use, without the HTTP layer's flight limits: twenty at once, one wins.
        const hash = hashRecoveryCode(normalizeRecoveryCode(codes[2] ?? '') ?? '');
        const wins = await Promise.all(Array.from({ length: 20 }, () => server.services.factors.consumeRecoveryCode(user.id, hash, 1)));
        assert.equal(wins.filter(Boolean).length, 1);
      });
    });

    test('TOTP secrets are stored sealed and recovery codes hashed: the database never holds them in clear', async () => {
      await withServer(kind, async (server) => {
        const { user, secret, codes } = await enrolTotp(server);
        const db = server.services.store.db;
        const totp = await db.selectFrom('totp_credentials').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
        assert.match(totp.secret, /^enc:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        const rawKey = Buffer.from(Secret.fromBase32(secret).bytes);
        for (const clear of [secret, rawKey.toString('base64url'), rawKey.toString('base64'), rawKey.toString('hex')]) {
          assert.ok(!totp.secret.includes(clear), 'the sealed secret does not contain the secret');
        }
        const rows = await db.selectFrom('recovery_codes').selectAll().where('user_id', '=', user.id).execute();
        assert.equal(rows.length, 10);
        for (const row of rows) assert.match(row.code_hash, /^[0-9a-f]{64}$/);
        const stored = new Set(rows.map((r) => r.code_hash));
        for (const code of codes) {
          const normalized = normalizeRecoveryCode(code) ?? '';
          assert.ok(stored.has(hashRecoveryCode(normalized)));
          assert.ok(!stored.has(code) && !stored.has(normalized));
        }
        // Every text column of every table, and on SQLite the file's bytes (and its WAL).
        const needles = [secret, rawKey.toString('base64url'), ...codes, ...codes.map((c) => normalizeRecoveryCode(c) ?? '')];
        if (kind === 'sqlite') {
          const file = server.db.file ?? '';
          const bytes = Buffer.concat([readFileSync(file), ...(existsSync(`${file}-wal`) ? [readFileSync(`${file}-wal`)] : [])]).toString('latin1');
          for (const needle of needles) assert.ok(!bytes.includes(needle), 'no secret in the database file');
        } else {
          const dump = await sql<{ t: string }>`select (select string_agg(t::text, '|') from totp_credentials t) || (select string_agg(r::text, '|') from recovery_codes r) as t`.execute(db);
          const text = dump.rows[0]?.t ?? '';
          assert.ok(text.length > 100);
          for (const needle of needles) assert.ok(!text.includes(needle), 'no secret in the rows');
        }
      });
    });

    test('latchkey user reset-factors removes the app, passkeys and recovery codes; the password alone signs in again', async () => {
      await withServer(kind, async (server) => {
        const { user } = await enrolTotp(server);
        await server.services.factors.insertPasskey({
          credentialId: 'dGVzdC1jcmVkZW50aWFs', userId: user.id, publicKey: 'cHVibGlj', counter: 0, transports: ['internal'], backedUp: false, name: 'Laptop', createdAt: 1,
        });
        const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--database-url', server.db.url], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
        const usage = run('user', 'reset-factors');
        assert.equal(usage.status, 2, usage.stderr);
        assert.equal(usage.stderr.trimEnd().split('\n').length, 1);
        const unknown = run('user', 'reset-factors', '--user', '999999');
        assert.equal(unknown.status, 1, unknown.stderr);
        assert.match(unknown.stderr, /no user with id 999999/);
        const reset = run('user', 'reset-factors', '--user', String(user.id));
        assert.equal(reset.status, 0, reset.stderr);
        assert.deepEqual(JSON.parse(reset.stdout), { id: user.id, factors_removed: 12 });
        assert.match(reset.stderr, /"event":"factor.reset"/);
        assert.equal(await server.services.factors.hasSecondFactor(user.id), false);
        assert.equal(await server.services.factors.countUnusedRecoveryCodes(user.id), 0);
        await passwordLogin(server, user, '/account');
        const again = run('user', 'reset-factors', '--user', String(user.id));
        assert.deepEqual(JSON.parse(again.stdout), { id: user.id, factors_removed: 0 });
      });
    });

    test('changing factors needs a recent login: after five minutes the session confirms it is them first', async () => {
      await withServer(kind, async (server) => {
        server.clock.freeze();
        const user = await createUser(server, { locale: 'en' });
        const jar = await passwordLogin(server, user, '/account');
        const account = await httpRequest(server, 'GET', '/account', { jar });
        server.clock.advance(301);
        const start = await httpRequest(server, 'POST', '/account/totp/start', { jar, form: hiddenFields(account.body, '/account/totp/start') });
        assert.equal(start.status, 303);
        assert.equal(start.location, '/login?next=%2Faccount%23security');
        assert.equal(await server.services.factors.findTotp(user.id), undefined, 'nothing started');
        const options = await fetch(`${server.url}/account/passkeys/options`, {
          method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() ?? '' }, body: JSON.stringify({ csrf_token: hiddenFields(account.body, '/account/totp/start').csrf_token }),
        });
        assert.equal(options.status, 401);
        // Signing in again (the login page, as "Confirm it is you") opens it again.
        const again = await submit(server, jar, '/login?next=%2Faccount%23security', '/login', { email: user.email, password: user.password });
        assert.equal(again.status, 303);
        const restarted = await submit(server, jar, '/account', '/account/totp/start');
        assert.equal(restarted.location, '/account/totp');
      });
    });

    test('passkey challenges are single use and short-lived', async () => {
      await withServer(kind, async (server) => {
        server.clock.freeze();
        const jar = new CookieJar();
        const login = await httpRequest(server, 'GET', '/login', { jar });
        const csrf = hiddenFields(login.body, '/login').csrf_token ?? '';
        const call = async (path: string, body: Record<string, unknown>) => {
          const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() ?? '' }, body: JSON.stringify({ csrf_token: csrf, ...body }) });
          return { status: res.status, json: (await res.json()) as Record<string, unknown> };
        };
        const answer = (challenge: string) => ({
          id: 'bm8tc3VjaC1rZXk', rawId: 'bm8tc3VjaC1rZXk', type: 'public-key',
          response: { clientDataJSON: Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: server.config.issuer })).toString('base64url'), authenticatorData: 'AA', signature: 'AA' },
        });
        const options = await call('/login/passkey/options', {});
        assert.equal(options.status, 200);
        const challenge = String(options.json.challenge);
        assert.match(challenge, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(options.json.rpId, '127.0.0.1');
        assert.deepEqual(options.json.allowCredentials ?? [], [], 'usernameless: no credentials named');
        // The first answer uses the challenge up (the key is unknown, so it fails after that) …
        const first = await call('/login/passkey/verify', { response: answer(challenge) });
        assert.equal(first.status, 400);
        assert.match(String(first.json.error), /not registered/);
        // … and a second answer to it is refused as used, as are concurrent ones to a new challenge but one.
        const second = await call('/login/passkey/verify', { response: answer(challenge) });
        assert.match(String(second.json.error), /expired or was already used/);
        const fresh = String((await call('/login/passkey/options', {})).json.challenge);
        const burst = await Promise.all(Array.from({ length: 6 }, () => call('/login/passkey/verify', { response: answer(fresh) })));
        assert.equal(burst.filter((r) => /not registered/.test(String(r.json.error))).length, 1, 'one request got past the challenge');
        // Two minutes later a challenge is no longer answerable.
        const old = String((await call('/login/passkey/options', {})).json.challenge);
        server.clock.advance(121);
        const late = await call('/login/passkey/verify', { response: answer(old) });
        assert.match(String(late.json.error), /expired or was already used/);
      });
    });

    test('bad input on the factor pages: a page with a message, never a 5xx', async () => {
      await withServer(kind, async (server) => {
        const { user } = await enrolTotp(server);
        const jar = await passwordLogin(server, user, '/login/factor');
        const page = await httpRequest(server, 'GET', '/login/factor', { jar });
        const form = hiddenFields(page.body, '/login/factor');
        for (const value of ['', '12345', '1234567', 'abcdef', '\u0000\u0001', '١٢٣٤٥٦', 'x'.repeat(5000), '%00', '<script>']) {
          const res = await httpRequest(server, 'POST', '/login/factor', { jar, form: { ...form, code: value } });
          assert.ok(res.status === 401 || res.status === 429, `code ${JSON.stringify(value.slice(0, 20))} → ${res.status}`);
          assert.ok(!res.body.includes('<script>'), 'escaped');
        }
        // No CSRF token, no pending login, malformed JSON to the passkey endpoints.
        assert.equal((await httpRequest(server, 'POST', '/login/factor', { jar, form: { code: '123456' } })).status, 403);
        assert.equal((await httpRequest(server, 'POST', '/login/factor', { jar: new CookieJar(), form: { csrf_token: 'x' } })).status, 403);
        const bad = await fetch(`${server.url}/login/passkey/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"csrf_token":' });
        assert.equal(bad.status, 400);
        const noToken = await fetch(`${server.url}/login/passkey/options`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        assert.equal(noToken.status, 403);
        const loginPage = await httpRequest(server, 'GET', '/login', { jar });
        const csrf = hiddenFields(loginPage.body, '/login').csrf_token ?? '';
        for (const response of [null, 'x', { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'bm90IGpzb24' } }, { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: Buffer.from('{"challenge":"' + 'A'.repeat(43) + '"}').toString('base64url') } }]) {
          const json = await fetch(`${server.url}/login/passkey/verify`, {
            method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() ?? '' }, body: JSON.stringify({ csrf_token: csrf, response }),
          });
          assert.equal(json.status, 400, JSON.stringify(response));
          assert.match(((await json.json()) as { error: string }).error, /passkey/);
        }
      });
    });
  });
}
