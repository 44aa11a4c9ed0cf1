// Issue 22, password reset, attacked the way the issue asks: a real server (SQLite and
// PostgreSQL) sending over SMTP to a real SMTP server on loopback.
//   - "Forgot password?" on the login page; the mail arrives with a link that works, and after
//     the reset the old password, every old session and every old refresh/access token is dead,
//     the owner is told by mail, and audit lines say what happened;
//   - the link works once: ten uses sent at once, exactly one wins;
//   - it lives 30 minutes (a moved clock);
//   - the link's token is nowhere in the database (only its SHA-256) nor in the logs;
//   - enumeration: 50 requests for a known and 50 for an unknown address, interleaved at the
//     same concurrency, answer with the same status, headers and body, and the medians of their
//     times are within noise; the known address gets at most its hourly share of mails;
//   - the per-address limit answers 429; hostile input gets a readable page, never a 5xx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { databaseKinds, type DbKind } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { signIn } from '../helpers/authorize.js';
import { hiddenFields } from '../helpers/html.js';
import { getUser, postToken, refresh, secretPost, tokensOf } from '../helpers/token.js';
import { MailSink, type ReceivedMail } from '../helpers/mail.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { RESET_MAILS_PER_ACCOUNT, RESET_REQUESTS_PER_ADDRESS, RESET_REQUESTED_MESSAGE } from '../../src/accounts/password-reset.js';

const NEW_PASSWORD = 'a fresh and long passphrase';
const RESET_SUBJECT = 'Reset your Latchkey password';
const CHANGED_SUBJECT = 'Your Latchkey password was changed';

const inbox = new MailSink();
before(async () => {
  await inbox.start();
});
after(async () => {
  await inbox.stop();
});

async function startServer(kind: DbKind, env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer(kind, { env: { SMTP_URL: inbox.url, LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), ...env } });
}

/** The reset link of a mail (text part), checked against the HTML part. */
function linkOf(server: TestServer, mail: ReceivedMail): { link: string; path: string; token: string } {
  const m = /(http:\/\/127\.0\.0\.1:\d+\/reset-password\?token=([A-Za-z0-9_-]{43}))/.exec(mail.text);
  assert.ok(m?.[1] && m[2], `a reset link in the mail:\n${mail.text}`);
  assert.ok(m[1].startsWith(`${server.url}/`), 'the link points at the server');
  assert.ok(mail.html.includes(`href="${m[1]}"`), 'the HTML part links to it too');
  return { link: m[1], path: m[1].slice(server.url.length), token: m[2] };
}

/** Asks for a reset link through the pages, as a person does; returns the answer. */
async function askForReset(server: TestServer, email: string, jar = new CookieJar(), headers: Record<string, string> = {}): Promise<HttpResult> {
  const page = await httpRequest(server, 'GET', '/forgot-password', { jar, headers });
  assert.equal(page.status, 200);
  assert.match(page.body, /<label for="f-email">E-mail address<\/label>/);
  return httpRequest(server, 'POST', '/forgot-password', { jar, headers, form: { ...hiddenFields(page.body, '/forgot-password'), email } });
}

async function resetMailFor(server: TestServer, user: TestUser, since: number): Promise<ReceivedMail> {
  return inbox.waitFor((m) => inbox.messages.indexOf(m) >= since && m.to.includes(user.email) && m.subject === RESET_SUBJECT);
}

function auditLines(server: TestServer, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === event);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] password reset`, () => {
    test('the mailed link resets the password once; old password, sessions and tokens die; the owner is told', async () => {
      const server = await startServer(kind);
      try {
        const user = await createUser(server, { locale: 'en' });
        const bystander = await createUser(server, { locale: 'en' });
        const app = await createClient(server, { name: 'Sync', grantTypes: ['password', 'refresh_token'] });
        const tokens = tokensOf(await postToken(server, { grant_type: 'password', username: user.email, password: user.password, ...secretPost(app) }));
        const theirTokens = tokensOf(await postToken(server, { grant_type: 'password', username: bystander.email, password: bystander.password, ...secretPost(app) }));
        const laptop = await signIn(server, user.email, user.password);
        const phone = await signIn(server, user.email, user.password);
        const theirBrowser = await signIn(server, bystander.email, bystander.password);

        // "Forgot password?" is on the login page.
        const login = await httpRequest(server, 'GET', '/login');
        assert.match(login.body, /<a href="\/forgot-password">Forgot password\?<\/a>/);

        const since = inbox.messages.length;
        const asked = await askForReset(server, user.email.toUpperCase());
        assert.equal(asked.status, 200);
        assert.ok(asked.body.includes(RESET_REQUESTED_MESSAGE));
        const mail = await resetMailFor(server, user, since);
        assert.match(mail.text, /within 30 minutes/);
        const { path, token } = linkOf(server, mail);

        // The link's page: the account it is for, a form, no referrer to leak the token.
        const browser = new CookieJar();
        const form = await httpRequest(server, 'GET', path, { jar: browser });
        assert.equal(form.status, 200);
        assert.equal(form.headers.get('referrer-policy'), 'no-referrer');
        assert.equal(form.headers.get('cache-control'), 'no-store');
        assert.ok(form.body.includes(user.email));
        const fields = hiddenFields(form.body, '/reset-password');
        assert.equal(fields.token, token);

        // The same rules as sign-up: too short, or not the same twice → the form again, nothing used.
        const short = await httpRequest(server, 'POST', '/reset-password', { jar: browser, form: { ...fields, password: 'short', password_confirm: 'short' } });
        assert.equal(short.status, 400);
        assert.match(short.body, /The password must be at least 8 characters/);
        const mismatch = await httpRequest(server, 'POST', '/reset-password', { jar: browser, form: { ...fields, password: NEW_PASSWORD, password_confirm: `${NEW_PASSWORD}!` } });
        assert.equal(mismatch.status, 400);
        assert.match(mismatch.body, /The two passwords are not the same/);
        // Without the form's CSRF token: refused, nothing used.
        const forged = await httpRequest(server, 'POST', '/reset-password', { form: { token, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD } });
        assert.equal(forged.status, 403);

        const done = await httpRequest(server, 'POST', '/reset-password', { jar: browser, form: { ...fields, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD } });
        assert.equal(done.status, 303);
        assert.equal(done.location, '/reset-password/done');
        const donePage = await httpRequest(server, 'GET', done.location, { jar: browser });
        assert.match(donePage.body, /Your password is changed\./);

        // Used once: the link is dead now.
        const again = await httpRequest(server, 'GET', path);
        assert.equal(again.status, 400);
        assert.match(again.body, /This link to reset your password has expired or was already used/);
        const replay = await httpRequest(server, 'POST', '/reset-password', { jar: browser, form: { ...fields, password: 'yet another passphrase', password_confirm: 'yet another passphrase' } });
        assert.equal(replay.status, 400);

        // Following the link proved the address.
        assert.equal((await server.services.users.findById(user.id))?.emailVerified, true);
        // The new password signs in; the old one does not.
        await signIn(server, user.email, NEW_PASSWORD);
        const loginJar = new CookieJar();
        const loginPage = await httpRequest(server, 'GET', '/login', { jar: loginJar });
        const oldLogin = await httpRequest(server, 'POST', '/login', { jar: loginJar, form: { ...hiddenFields(loginPage.body, '/login'), email: user.email, password: user.password } });
        assert.equal(oldLogin.status, 401, 'the old password no longer signs in');

        // Every old session and token of the account is dead; the bystander's are not.
        for (const jar of [laptop, phone]) assert.equal((await httpRequest(server, 'GET', '/account', { jar })).status, 303);
        assert.equal((await getUser(server, tokens.accessToken)).status, 401);
        const refreshed = await refresh(server, app, tokens.refreshToken);
        assert.equal(refreshed.body.error, 'invalid_grant');
        assert.equal((await httpRequest(server, 'GET', '/account', { jar: theirBrowser })).status, 200);
        assert.equal((await refresh(server, app, theirTokens.refreshToken)).status, 200);

        // The owner is told.
        const notice = await inbox.waitFor((m) => inbox.messages.indexOf(m) >= since && m.to.includes(user.email) && m.subject === CHANGED_SUBJECT);
        assert.match(notice.text, /signed out/);

        // Audit lines; no token in any log line.
        const [requested] = auditLines(server, 'password.reset_requested');
        assert.equal(requested?.user_id, user.id);
        const [reset] = auditLines(server, 'password.reset');
        assert.equal(reset?.user_id, user.id);
        assert.equal(reset?.sessions_ended, 2);
        assert.equal(reset?.grants_revoked, 1);
        assert.ok(auditLines(server, 'password.reset_refused').length >= 1, 'the replay is audited');
        for (const line of server.logs) {
          assert.equal(line.includes(token), false, 'the token is in no log line');
          assert.equal(line.includes(NEW_PASSWORD), false);
        }
      } finally {
        await server.close();
      }
    });

    test('the database holds only the SHA-256 of a reset token', async () => {
      const server = await startServer(kind);
      try {
        const user = await createUser(server, { locale: 'en' });
        const since = inbox.messages.length;
        assert.equal((await askForReset(server, user.email)).status, 200);
        const { token } = linkOf(server, await resetMailFor(server, user, since));
        const { db } = server.services.store;
        const rows = await db.selectFrom('password_resets').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.token_hash, sha256Hex(token));
        assert.equal(rows[0]!.user_id, user.id);
        assert.equal(rows[0]!.expires_at - rows[0]!.created_at, 30 * 60);
        // Not in that table, nor in the mail queue (sealed, then emptied once sent), nor anywhere else.
        for (const table of ['password_resets', 'mail_queue', 'sessions', 'users'] as const) {
          const all = await db.selectFrom(table).selectAll().execute();
          const text = JSON.stringify(all);
          assert.equal(text.includes(token), false, `${table} holds the token in clear`);
          assert.equal(text.includes(user.email.toLowerCase()) && table === 'password_resets', false, 'nor the address asked for');
        }
      } finally {
        await server.close();
      }
    });

    test('ten uses of one link at once: exactly one sets the password', async () => {
      const server = await startServer(kind);
      try {
        const user = await createUser(server, { locale: 'en' });
        const since = inbox.messages.length;
        await askForReset(server, user.email);
        const { path } = linkOf(server, await resetMailFor(server, user, since));
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', path, { jar });
        const fields = hiddenFields(page.body, '/reset-password');
        const passwords = Array.from({ length: 10 }, (_, i) => `burst passphrase number ${i}`);
        const results = await Promise.all(passwords.map((password) =>
          httpRequest(server, 'POST', '/reset-password', { jar, form: { ...fields, password, password_confirm: password } })));
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 303).length, 1, `exactly one success: ${statuses.join(',')}`);
        for (const r of results) {
          assert.ok(r.status < 500, `no 5xx: ${r.status}`);
          if (r.status !== 303) assert.match(r.body, /expired or was already used|Too many password checks at once/);
        }
        const winner = passwords[statuses.indexOf(303)]!;
        await signIn(server, user.email, winner);
        assert.equal(auditLines(server, 'password.reset').length, 1);
      } finally {
        await server.close();
      }
    });

    test('a link dies after 30 minutes', async () => {
      const server = await startServer(kind);
      try {
        const user = await createUser(server, { locale: 'en' });
        const since = inbox.messages.length;
        await askForReset(server, user.email);
        const { path } = linkOf(server, await resetMailFor(server, user, since));
        server.clock.advance(29 * 60);
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', path, { jar });
        assert.equal(page.status, 200, 'still alive after 29 minutes');
        const fields = hiddenFields(page.body, '/reset-password');
        server.clock.advance(61);
        assert.equal((await httpRequest(server, 'GET', path)).status, 400, 'dead after 30 minutes');
        const late = await httpRequest(server, 'POST', '/reset-password', { jar, form: { ...fields, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD } });
        assert.equal(late.status, 400);
        assert.match(late.body, /expired or was already used/);
        await signIn(server, user.email, user.password);
      } finally {
        await server.close();
      }
    });

    test('enumeration: a known and an unknown address get the same answer in the same time', async (t) => {
      const server = await startServer(kind, { LATCHKEY_TRUST_PROXY: '127.0.0.1' });
      try {
        const user = await createUser(server, { locale: 'en' });
        const unknown = `nobody-${randomBytes(4).toString('hex')}@example.com`;
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', '/forgot-password', { jar });
        const fields = hiddenFields(page.body, '/forgot-password');
        let n = 0;
        const ask = async (email: string) => {
          n += 1;
          // Each from an address of its own (behind the trusted proxy), so the per-address limit stays out of it.
          const headers = { 'x-forwarded-for': `10.${(n >> 8) & 255}.${n & 255}.1` };
          const started = performance.now();
          const res = await httpRequest(server, 'POST', '/forgot-password', { jar, headers, form: { ...fields, email } });
          return { res, ms: performance.now() - started };
        };
        // Warm up both paths, then 50 of each, interleaved, five of each kind at once.
        await Promise.all([ask(user.email), ask(unknown)]);
        const since = inbox.messages.length;
        const known: Array<{ res: HttpResult; ms: number }> = [];
        const stranger: Array<{ res: HttpResult; ms: number }> = [];
        for (let round = 0; round < 10; round += 1) {
          const order = Array.from({ length: 10 }, (_, i) => (i + round) % 2 === 0);
          const batch = await Promise.all(order.map((isKnown) => ask(isKnown ? user.email : unknown).then((r) => ({ isKnown, r }))));
          for (const { isKnown, r } of batch) (isKnown ? known : stranger).push(r);
        }
        assert.equal(known.length, 50);
        assert.equal(stranger.length, 50);
        const shape = (r: HttpResult) => JSON.stringify({
          status: r.status, body: r.body,
          headers: [...r.headers].filter(([k]) => !['date', 'content-length', 'keep-alive', 'connection', 'x-ratelimit-reset'].includes(k)),
        });
        const reference = shape(known[0]!.res);
        assert.equal(known[0]!.res.status, 200);
        for (const r of [...known, ...stranger]) assert.equal(shape(r.res), reference, 'every answer is the same, byte for byte');

        const knownMs = known.map((r) => r.ms);
        const strangerMs = stranger.map((r) => r.ms);
        const all = [...knownMs, ...strangerMs];
        const noise = Math.max(2, 0.25 * median(all), 0.5 * (quantile(all, 0.75) - quantile(all, 0.25)));
        const gap = Math.abs(median(knownMs) - median(strangerMs));
        t.diagnostic(`median known ${median(knownMs).toFixed(2)} ms, unknown ${median(strangerMs).toFixed(2)} ms, gap ${gap.toFixed(2)} ms, noise bound ${noise.toFixed(2)} ms`);
        assert.ok(gap <= noise, `medians ${median(knownMs).toFixed(2)} ms (known) and ${median(strangerMs).toFixed(2)} ms (unknown) differ by ${gap.toFixed(2)} ms, more than the noise ${noise.toFixed(2)} ms`);

        // Behind the answers: the known address got its hourly share of mails and no more (the
        // warm-up's one included), the unknown one none; the rest were limited, silently.
        await inbox.waitFor((m) => inbox.messages.filter((x) => x.to.includes(user.email)).length >= RESET_MAILS_PER_ACCOUNT && m.to.includes(user.email));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(inbox.messages.filter((m) => m.to.includes(user.email)).length, RESET_MAILS_PER_ACCOUNT);
        assert.equal(inbox.messages.slice(since).filter((m) => m.to.includes(unknown)).length, 0);
        assert.ok(auditLines(server, 'password.reset_limited').length >= 90);
        const rows = await server.services.store.db.selectFrom('password_resets').select(['user_id']).execute();
        assert.equal(rows.filter((r) => r.user_id === user.id).length, RESET_MAILS_PER_ACCOUNT);
        assert.equal(rows.filter((r) => r.user_id === null).length, RESET_MAILS_PER_ACCOUNT, 'an unknown address leaves the same rows');
      } finally {
        await server.close();
      }
    });

    test(`one caller address may ask ${RESET_REQUESTS_PER_ADDRESS} times an hour; then 429 with Retry-After`, async () => {
      const server = await startServer(kind, { LATCHKEY_TRUST_PROXY: '127.0.0.1' });
      try {
        const jar = new CookieJar();
        const headers = { 'x-forwarded-for': '192.0.2.10' };
        const page = await httpRequest(server, 'GET', '/forgot-password', { jar });
        const fields = hiddenFields(page.body, '/forgot-password');
        const burst = await Promise.all(Array.from({ length: RESET_REQUESTS_PER_ADDRESS + 5 }, (_, i) =>
          httpRequest(server, 'POST', '/forgot-password', { jar, headers, form: { ...fields, email: `someone${i}@example.com` } })));
        assert.equal(burst.filter((r) => r.status === 200).length, RESET_REQUESTS_PER_ADDRESS, 'counted atomically: no more slip through');
        const refused = burst.filter((r) => r.status === 429);
        assert.equal(refused.length, 5);
        assert.match(refused[0]!.body, /Too many reset requests from your network\. Try again in 60 minutes\./);
        assert.ok(Number(refused[0]!.headers.get('retry-after')) > 3000);
        // Another address is not held back; an hour later this one may ask again.
        assert.equal((await httpRequest(server, 'POST', '/forgot-password', { jar, headers: { 'x-forwarded-for': '192.0.2.11' }, form: { ...fields, email: 'a@example.com' } })).status, 200);
        server.clock.advance(3601);
        assert.equal((await httpRequest(server, 'POST', '/forgot-password', { jar, headers, form: { ...fields, email: 'a@example.com' } })).status, 200);
      } finally {
        await server.close();
      }
    });

    test('bad input gets a readable page, never a 5xx', async () => {
      const server = await startServer(kind);
      try {
        const jar = new CookieJar();
        const page = await httpRequest(server, 'GET', '/forgot-password', { jar });
        const fields = hiddenFields(page.body, '/forgot-password');
        assert.equal((await httpRequest(server, 'POST', '/forgot-password', { form: { email: 'a@example.com' } })).status, 403, 'no CSRF token');
        const empty = await httpRequest(server, 'POST', '/forgot-password', { jar, form: { ...fields, email: '' } });
        assert.equal(empty.status, 400);
        assert.match(empty.body, /Enter the e-mail address of your account/);
        for (const email of ['not an address', 'a@b\r\nBcc: x@evil.example', `${'a'.repeat(300)}@example.com`, 'é@ü.example\u0000', '<script>@x']) {
          const res = await httpRequest(server, 'POST', '/forgot-password', { jar, form: { ...fields, email } });
          assert.ok(res.status === 200 || res.status === 400, `${JSON.stringify(email)} → ${res.status}`);
          assert.doesNotMatch(res.body, /<script>@/);
        }
        for (const query of ['', '?token=', '?token=abc', `?token=${'A'.repeat(43)}`, `?token=${'A'.repeat(5000)}`, '?token=%00', '?token=%E9', '?token[]=x&token=y', '?token=%F0%9F%98%80']) {
          const res = await httpRequest(server, 'GET', `/reset-password${query}`);
          assert.equal(res.status, 400, `GET /reset-password${query}`);
          assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
          assert.doesNotMatch(res.body, /\bat .*\.(ts|js):\d+/, 'no stack trace');
        }
        const resetPage = await httpRequest(server, 'GET', '/forgot-password', { jar });
        const csrf = hiddenFields(resetPage.body, '/forgot-password').csrf_token!;
        for (const token of ['', 'x', 'A'.repeat(43), '\u0000'.repeat(43)]) {
          const res = await httpRequest(server, 'POST', '/reset-password', { jar, form: { csrf_token: csrf, token, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD } });
          assert.equal(res.status, 400);
        }
      } finally {
        await server.close();
      }
    });
  });
}
