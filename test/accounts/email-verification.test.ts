// Issue 22: e-mail verification and change of address, over real HTTP, with a real SMTP server
// on loopback (test/helpers/mail.ts), on SQLite and PostgreSQL. The mails arrive with text and
// HTML bodies, their links work when followed over HTTP, once; the tokens rest nowhere in
// clear; email_verification "required" keeps unverified accounts out of pages and tokens; an
// SMTP outage delays a message but does not lose it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { databaseKinds, type DbKind } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { PageClient, csrfTokenOf, signUp } from '../helpers/pages.js';
import { MailSink, linkTo, type ReceivedMail } from '../helpers/mail.js';
import { getUser, postToken, refresh, secretPost } from '../helpers/token.js';
import { issueTokens } from '../helpers/token-admin.js';

const KEY = randomBytes(32).toString('base64');

function auditLines(server: TestServer, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === event);
}

async function withMail(kind: DbKind, fn: (server: TestServer, sink: MailSink) => Promise<void>, options: { env?: Record<string, string>; file?: Record<string, unknown> } = {}): Promise<void> {
  const sink = new MailSink();
  await sink.start();
  const server = await startTestServer(kind, {
    env: { SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey Test <accounts@latchkey.test>', LATCHKEY_MAIL_RETRY_BASE: '1', ...options.env },
    ...(options.file ? { file: options.file } : {}),
  });
  try {
    await fn(server, sink);
  } finally {
    await server.close();
    await sink.stop();
  }
}

/** GET the link's page, then press its button: the response to the POST. */
async function follow(link: string, browser: PageClient) {
  const page = await browser.get(link);
  assert.equal(page.status, 200, `GET ${link} → ${page.status}: ${page.body.slice(0, 300)}`);
  const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(token, 'the page carries the token in its form');
  return browser.post('/verify-email', { csrf_token: csrfTokenOf(page.body), token });
}

/** Waits until the sender has recorded every message as sent (the SMTP server has it a moment before). */
async function allRecorded(server: TestServer): Promise<void> {
  for (let i = 0; i < 200 && (await server.services.mailQueue.countPending()) > 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(await server.services.mailQueue.countPending(), 0);
}

function tokenOf(link: string): string {
  return new URL(link).searchParams.get('token') ?? '';
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] e-mail verification`, () => {
    test('sign-up sends a verification mail (text and HTML) whose link, followed over HTTP, verifies the address once', async () => {
      await withMail(kind, async (server, sink) => {
        const browser = await signUp(server.url, { email: 'Anna@Example.com', name: 'Anna <b>' });
        // (the SMTP client lower-cases the domain)
        const mail = await sink.waitFor((m) => m.to.some((t) => t.toLowerCase() === 'anna@example.com'));
        assert.equal(mail.kind, 'verify_email');
        assert.equal(mail.subject, 'Verify your e-mail address');
        assert.match(mail.raw, /^From: "?Latchkey Test"? <accounts@latchkey\.test>/m);
        assert.match(mail.text, /Hello Anna <b>,/);
        assert.match(mail.html, /Hello Anna &lt;b&gt;,/, 'the HTML body escapes the name');
        const link = linkTo(mail, '/verify-email');
        assert.ok(link.startsWith(`${server.url}/verify-email?token=`));
        assert.ok(mail.html.includes(link.replace(/&/g, '&amp;')), 'the HTML body has the same link');

        const before = await browser.get('/account');
        assert.match(before.body, /is not verified yet/);
        assert.match(before.body, />Send verification link</);
        // Opening the link changes nothing (a mail scanner may fetch it); the button does.
        assert.equal((await new PageClient(server.url).get(link)).status, 200);
        const user = await server.services.users.findByEmail('anna@example.com');
        assert.equal(user?.emailVerified, false);

        const done = await follow(link, browser);
        assert.equal(done.status, 200);
        assert.match(done.body, /E-mail address verified/);
        assert.equal((await server.services.users.findByEmail('anna@example.com'))?.emailVerified, true);
        const after = await browser.get('/account');
        assert.match(after.body, /is verified\./);
        assert.doesNotMatch(after.body, />Send verification link</);

        // Single use: the link's page and its button both refuse it now.
        const again = await new PageClient(server.url).get(link);
        assert.equal(again.status, 400);
        assert.match(again.body, /expired or has already been used/);
        const replay = await browser.post('/verify-email', { csrf_token: csrfTokenOf(after.body), token: tokenOf(link) });
        assert.equal(replay.status, 400);

        const lines = auditLines(server, 'email.verified');
        assert.equal(lines.length, 1);
        assert.equal(lines[0]?.user_id, user?.id);
        await allRecorded(server);
        assert.equal(auditLines(server, 'mail.sent').length, 1);
        // Over SMTP no log line holds the token or the recipient.
        const logs = server.logs.join('\n');
        assert.equal(logs.includes(tokenOf(link)), false, 'the token is never logged');
        assert.equal(logs.toLowerCase().includes('anna@example.com'), false, 'the address is never logged');

        // The metrics count it.
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, /latchkey_mail_sent_total\{kind="verify_email"\} 1/);
      });
    });

    test('a burst of 10 uses of one link at once: exactly one verifies', async () => {
      await withMail(kind, async (server, sink) => {
        await signUp(server.url, { email: 'burst@example.com' });
        const link = linkTo(await sink.waitFor((m) => m.to.includes('burst@example.com')), '/verify-email');
        const browser = new PageClient(server.url);
        const page = await browser.get(link);
        const csrf = csrfTokenOf(page.body);
        const answers = await Promise.all(Array.from({ length: 10 }, () => browser.post('/verify-email', { csrf_token: csrf, token: tokenOf(link) })));
        const statuses = answers.map((a) => a.status).sort();
        assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
        assert.equal(answers.filter((a) => /E-mail address verified/.test(a.body)).length, 1);
        for (const a of answers.filter((x) => x.status === 400)) assert.match(a.body, /expired or has already been used/);
        assert.equal(auditLines(server, 'email.verified').length, 1);
      });
    });

    test('tokens rest nowhere in clear: the links table holds SHA-256 only, queued bodies are sealed and emptied once sent', async () => {
      await withMail(kind, async (server, sink) => {
        // Queued while the SMTP server is away, so the body is read while it waits.
        await sink.stop();
        await signUp(server.url, { email: 'rest@example.com' });
        const db = server.services.store.db;
        for (let i = 0; i < 100 && (await db.selectFrom('mail_queue').select('id').where('attempts', '>', 0).execute()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        const waiting = await db.selectFrom('mail_queue').selectAll().execute();
        assert.equal(waiting.length, 1);
        assert.ok(waiting[0]?.content.startsWith('enc:'), 'sealed under LATCHKEY_ENCRYPTION_KEY');
        assert.doesNotMatch(waiting[0]?.content ?? '', /verify-email|token=/);
        await sink.start();
        const mail = await sink.waitFor((m) => m.to.includes('rest@example.com'));
        const token = tokenOf(linkTo(mail, '/verify-email'));
        assert.equal(token.length, 43);
        await allRecorded(server);

        const rows = await db.selectFrom('email_tokens').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.token_hash, createHash('sha256').update(token).digest('hex'));
        const sent = await db.selectFrom('mail_queue').selectAll().execute();
        assert.equal(sent[0]?.status, 'sent');
        assert.equal(sent[0]?.content, '', 'the body is emptied once sent');
        // Every text column of every table: the token appears nowhere.
        const tables = kind === 'sqlite'
          ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows.map((r) => r.name)
          : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${server.db.schema}`.execute(db)).rows.map((r) => r.name);
        for (const table of tables) {
          const all = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
          assert.equal(JSON.stringify(all.rows).includes(token), false, `table ${table} holds the token`);
        }
        if (kind === 'sqlite' && server.db.file) {
          // The file and its WAL, byte for byte: the sealed body never put the token on a page.
          for (const file of [server.db.file, `${server.db.file}-wal`]) {
            if (existsSync(file)) assert.equal(readFileSync(file).includes(Buffer.from(token)), false, `${file} holds the token`);
          }
        }
      }, { env: { LATCHKEY_ENCRYPTION_KEY: KEY } });
    });

    test('a change of address: confirmed by a link to the new address before it replaces the old one; the old address is told', async () => {
      await withMail(kind, async (server, sink) => {
        const user = await createUser(server, { email: 'old@example.com', name: 'Olga' });
        const client = await createClient(server);
        const { accessToken } = await issueTokens(server, client, user.id);
        const browser = new PageClient(server.url);
        assert.equal((await browser.submit('/login', '/login', { email: user.email, password: user.password })).status, 303);
        // English: the mails speak the account's language (mail-languages.test.ts has Dutch and German).
        const changed = await browser.submit('/account', '/account/profile', { name: 'Olga', email: 'new@example.org', locale: 'en', current_password: user.password });
        assert.equal(changed.status, 303);
        assert.equal(changed.location, '/account?done=email_pending');
        // Not yet: the account and the apps keep the old address.
        assert.equal((await server.services.users.findById(user.id))?.email, 'old@example.com');
        assert.equal((await getUser(server, accessToken)).body.email, 'old@example.com');
        const page = await browser.get('/account?done=email_pending');
        assert.match(page.body, /Waiting for confirmation: we sent a link to <strong>new@example\.org<\/strong>/);

        const confirm = await sink.waitFor((m) => m.to.includes('new@example.org'));
        assert.equal(confirm.kind, 'email_change_confirm');
        assert.equal(confirm.subject, 'Confirm your new e-mail address');
        assert.equal(sink.to('old@example.com').length, 0, 'the old address hears nothing until the change is made');
        const link = linkTo(confirm, '/verify-email');
        const linkPage = await browser.get(link);
        assert.match(linkPage.body, />Confirm new address</);
        const done = await follow(link, browser);
        assert.equal(done.status, 200);
        assert.match(done.body, /Your account now uses new@example\.org/);
        const stored = await server.services.users.findById(user.id);
        assert.equal(stored?.email, 'new@example.org');
        assert.equal(stored?.emailVerified, true, 'the link proved the new address');
        assert.equal((await getUser(server, accessToken)).body.email, 'new@example.org');

        const notice = await sink.waitFor((m) => m.to.includes('old@example.com'));
        assert.equal(notice.kind, 'email_change_notice');
        assert.match(notice.text, /changed from old@example\.com to new@example\.org/);
        // Once: the link cannot change the address again.
        assert.equal((await browser.post('/verify-email', { csrf_token: csrfTokenOf(page.body), token: tokenOf(link) })).status, 400);
        const lines = auditLines(server, 'email.changed');
        assert.equal(lines.length, 1);
        assert.equal(JSON.stringify(lines[0]).includes('example'), false, 'never an address in the audit line');
      });
    });

    test('a newer change of address voids the older link; a verification link of an address no longer held is refused', async () => {
      await withMail(kind, async (server, sink) => {
        const browser = await signUp(server.url, { email: 'first@example.com', password: 'a long password' });
        const verify = linkTo(await sink.waitFor((m) => m.to.includes('first@example.com')), '/verify-email');
        const password = 'a long password';
        const change = (email: string) => browser.submit('/account', '/account/profile', { name: 'Someone', email, locale: 'en', current_password: password });
        assert.equal((await change('second@example.com')).status, 303);
        assert.equal((await change('third@example.com')).status, 303);
        const older = linkTo(await sink.waitFor((m) => m.to.includes('second@example.com')), '/verify-email');
        const newer = linkTo(await sink.waitFor((m) => m.to.includes('third@example.com')), '/verify-email');
        assert.equal((await new PageClient(server.url).get(older)).status, 400, 'the older change link is void');
        assert.equal((await follow(newer, browser)).status, 200);
        const stale = await browser.post('/verify-email', { csrf_token: csrfTokenOf((await browser.get('/account')).body), token: tokenOf(verify) });
        assert.equal(stale.status, 400);
        assert.match(stale.body, /no longer uses/);
      });
    });

    test('email_verification "required": no session and no token until the link is followed; "Send the link again" sends a new one', async () => {
      await withMail(kind, async (server, sink) => {
        const signup = new PageClient(server.url);
        const created = await signup.submit('/signup', '/signup', {
          name: 'Rita', email: 'rita@example.com', password: 'a long password', password_confirm: 'a long password', locale: 'en',
        });
        assert.equal(created.status, 200);
        assert.match(created.body, /Check your inbox/);
        assert.equal((await signup.get('/account')).status, 303, 'not signed in');
        const first = await sink.waitFor((m) => m.to.includes('rita@example.com'));

        const browser = new PageClient(server.url);
        const login = await browser.submit('/login', '/login', { email: 'rita@example.com', password: 'a long password' });
        assert.equal(login.status, 403);
        assert.match(login.body, /Verify your e-mail address before you sign in/);
        assert.match(login.body, />Send the link again</);
        assert.equal((await browser.get('/account')).status, 303, 'no session');
        const failed = auditLines(server, 'login.failed').filter((l) => l.reason === 'email_unverified');
        assert.equal(failed.length, 1);

        // The password grant and a refresh are refused with invalid_grant.
        const client = await createClient(server, { grantTypes: ['password', 'refresh_token', 'authorization_code'] });
        const grant = await postToken(server, { grant_type: 'password', username: 'rita@example.com', password: 'a long password', ...secretPost(client) });
        assert.equal(grant.status, 400);
        assert.equal(grant.body.error, 'invalid_grant');
        const rita = await server.services.users.findByEmail('rita@example.com');
        assert.ok(rita);
        // Tokens issued before (as if the setting was turned on later): the refresh is refused and the token kept.
        const issued = await issueTokens(server, client, rita.id);
        const refused = await refresh(server, client, issued.refreshToken);
        assert.equal(refused.status, 400);
        assert.equal(refused.body.error, 'invalid_grant');

        // "Send the link again", from the login page's form: a second mail, same answer as for an unknown address.
        const resent = await browser.post('/verify-email/resend', { csrf_token: csrfTokenOf(login.body), email: 'rita@example.com' });
        const unknown = await browser.post('/verify-email/resend', { csrf_token: csrfTokenOf(login.body), email: 'nobody@example.com' });
        assert.equal(resent.status, 200);
        assert.equal(unknown.status, 200);
        assert.equal(resent.body.replace(/value="[^"]*"/g, ''), unknown.body.replace(/value="[^"]*"/g, ''));
        await sink.waitFor(() => sink.to('rita@example.com').length === 2);
        const second = sink.to('rita@example.com')[1] as ReceivedMail;
        assert.notEqual(linkTo(second, '/verify-email'), linkTo(first, '/verify-email'));

        assert.equal((await follow(linkTo(second, '/verify-email'), browser)).status, 200);
        assert.equal((await browser.submit('/login', '/login', { email: 'rita@example.com', password: 'a long password' })).status, 303);
        assert.equal((await browser.get('/account')).status, 200);
        const ok = await postToken(server, { grant_type: 'password', username: 'rita@example.com', password: 'a long password', ...secretPost(client) });
        assert.equal(ok.status, 200);
        assert.equal((await refresh(server, client, issued.refreshToken)).status, 200, 'the refused refresh token was not used up');
      }, { file: { email_verification: 'required' } });
    });

    test('resending is limited per address, also when asked at once', async () => {
      await withMail(kind, async (server, sink) => {
        await signUp(server.url, { email: 'limit@example.com' });
        await sink.waitFor((m) => m.to.includes('limit@example.com'));
        const browser = new PageClient(server.url);
        const page = await browser.get('/verify-email/resend');
        assert.match(page.body, />Send the link again</);
        const csrf = csrfTokenOf(page.body);
        const answers = await Promise.all(Array.from({ length: 8 }, () => browser.post('/verify-email/resend', { csrf_token: csrf, email: 'LIMIT@example.com' })));
        const statuses = answers.map((a) => a.status);
        assert.equal(statuses.filter((s) => s === 200).length, 3, statuses.join(','));
        assert.equal(statuses.filter((s) => s === 429).length, 5, statuses.join(','));
        await sink.waitFor(() => sink.to('limit@example.com').length === 4);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(sink.to('limit@example.com').length, 4, 'the first mail and three more, never more');
      });
    });

    test('SMTP down: the message waits in the queue and is sent once the server is back; metrics count the failed attempts', async () => {
      await withMail(kind, async (server, sink) => {
        await sink.stop();
        await signUp(server.url, { email: 'outage@example.com' });
        // At least one attempt fails and is put off.
        for (let i = 0; i < 200 && auditLines(server, 'mail.deferred').length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        const deferred = auditLines(server, 'mail.deferred');
        assert.ok(deferred.length >= 1, 'an attempt was made and put off');
        assert.equal(deferred[0]?.kind, 'verify_email');
        assert.equal(await server.services.mailQueue.countPending(), 1);
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(metrics, /latchkey_mail_failed_total\{kind="verify_email",outcome="retry"\} [1-9]/);
        assert.equal(sink.messages.length, 0);

        await sink.start();
        const mail = await sink.waitFor((m) => m.to.includes('outage@example.com'), 30_000);
        assert.equal(mail.kind, 'verify_email');
        await allRecorded(server);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(sink.to('outage@example.com').length, 1, 'sent once');
      });
    });
  });
}

describe('without SMTP_URL: the outbox', () => {
  test('each message is written as an .eml file and its links are logged', async () => {
    const outbox = mkdtempSync(join(tmpdir(), 'latchkey-outbox-'));
    const server = await startTestServer('sqlite', { env: { LATCHKEY_OUTBOX: outbox } });
    try {
      await signUp(server.url, { email: 'dev@example.com' });
      let files: string[] = [];
      for (let i = 0; i < 200 && files.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        files = existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : [];
      }
      assert.equal(files.length, 1);
      const eml = readFileSync(join(outbox, files[0] ?? ''), 'utf8');
      assert.match(eml, /^To: dev@example\.com\r$/m);
      assert.match(eml, /Content-Type: multipart\/alternative/);
      const line = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'mail.outbox');
      assert.ok(line, 'the outbox line is logged');
      assert.equal(line.level, 30, 'at info, the start-up level');
      const links = line.links as string[];
      assert.equal(links.length, 1);
      // The logged link works.
      const browser = new PageClient(server.url);
      assert.equal((await follow(links[0] ?? '', browser)).status, 200);
      assert.equal((await server.services.users.findByEmail('dev@example.com'))?.emailVerified, true);
    } finally {
      await server.close();
      rmSync(outbox, { recursive: true, force: true });
    }
  });
});
