// Issue 22: the mail queue across real `latchkey serve` processes.
//   - A server killed with SIGKILL while a message waits (its SMTP server was down) loses
//     nothing: started again on the same SQLite file, it sends the message, once.
//   - Two servers on one PostgreSQL, both running the sender loop, send each queued message
//     exactly once (claims with a lease: store/mail-queue.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailQueue } from '../../src/accounts/mail/queue.js';
import { systemClock } from '../../src/oauth/clock.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { MailQueueStore } from '../../src/store/mail-queue.js';
import { freshDatabase, TEST_DATABASE_URL } from '../helpers/databases.js';
import { MailSink, linkTo } from '../helpers/mail.js';
import { PageClient, csrfTokenOf, signUp } from '../helpers/pages.js';
import { startServerProcess, type ServerProcess } from './process.js';

function events(server: ServerProcess, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mail across processes', () => {
  test('SIGKILL with unsent mail: after the restart the mail is sent, once, and its link works', async () => {
    const db = await freshDatabase('sqlite');
    const outbox = mkdtempSync(join(tmpdir(), 'latchkey-outbox-'));
    const sink = new MailSink();
    await sink.start();
    const port = sink.port;
    // The SMTP server is down while the first server runs.
    await sink.stop();
    const env = { DATABASE_URL: db.url, SMTP_URL: `smtp://127.0.0.1:${port}`, LATCHKEY_MAIL_RETRY_BASE: '1', LATCHKEY_OUTBOX: outbox, LATCHKEY_LOGIN_RATE_LIMIT: '0',
      // A message the killed server had claimed (mid-attempt) is free again after the lease: 5 s here, not 180.
      LATCHKEY_MAIL_LEASE: '5' };
    let server: ServerProcess | undefined = await startServerProcess(env);
    try {
      const addresses = ['k1@example.com', 'k2@example.com', 'k3@example.com'];
      for (const email of addresses) await signUp(server.url, { email });
      const first = server;
      await until(() => events(first, 'mail.deferred').length >= 1, 20_000, 'a failed attempt');
      await server.kill9();
      server = undefined;

      const store = openDatabase(db.url);
      try {
        const rows = await store.db.selectFrom('mail_queue').select(['status', 'recipient']).execute();
        assert.deepEqual(rows.map((r) => r.status), ['pending', 'pending', 'pending'], 'all three wait in the queue after the kill');
      } finally {
        await store.close();
      }

      await sink.start(port);
      server = await startServerProcess(env);
      for (const email of addresses) await sink.waitFor((m) => m.to.includes(email), 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(sink.messages.length, 3, `each once: ${sink.messages.map((m) => m.to.join()).join(' ')}`);

      // The link of a mail queued by the killed process works on the new one.
      const link = linkTo(sink.to('k2@example.com')[0]!, '/verify-email');
      // The issuer named the first process's port; the same path on the new one.
      const browser = new PageClient(server.url);
      const page = await browser.get(`${new URL(link).pathname}${new URL(link).search}`);
      assert.equal(page.status, 200);
      const done = await browser.post('/verify-email', { csrf_token: csrfTokenOf(page.body), token: new URL(link).searchParams.get('token') ?? '' });
      assert.equal(done.status, 200);
      assert.match(done.body, /E-mail address verified/);
    } finally {
      await server?.stop();
      await sink.stop();
      await db.drop();
      rmSync(outbox, { recursive: true, force: true });
    }
  });

  test('two servers on one PostgreSQL send each queued message exactly once', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, async () => {
    const db = await freshDatabase('postgres');
    // A slow SMTP server (50 ms a message): one sender cannot drain the queue before the other looks.
    const sink = new MailSink({ delayMs: 50 });
    await sink.start();
    const store = openDatabase(db.url);
    const servers: ServerProcess[] = [];
    try {
      await migrate(store);
      const env = { DATABASE_URL: db.url, SMTP_URL: sink.url, LATCHKEY_MAIL_RETRY_BASE: '1' };
      servers.push(await startServerProcess(env), await startServerProcess(env));
      // Queued in one transaction, so that both senders find them due at the same moment.
      const COUNT = 60;
      const queue = new MailQueue(new MailQueueStore(store.db, 'postgres'), systemClock, null);
      await store.db.transaction().execute(async (trx) => {
        for (let i = 0; i < COUNT; i++) {
          await queue.enqueue({ to: `m${i}@example.com`, subject: `Message ${i}`, text: `Body ${i}`, html: `<p>Body ${i}</p>`, kind: 'test_message' }, trx);
        }
      });
      await until(() => sink.messages.length >= COUNT, 60_000, `${COUNT} messages`);
      // Time for a second send of anything, were there one.
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(sink.messages.length, COUNT);
      assert.equal(new Set(sink.messages.map((m) => m.subject)).size, COUNT, 'every message once');
      const rows = await store.db.selectFrom('mail_queue').select(['status', 'attempts', 'content']).execute();
      assert.equal(rows.length, COUNT);
      for (const row of rows) {
        assert.equal(row.status, 'sent');
        assert.equal(row.attempts, 1);
        assert.equal(row.content, '');
      }
      const perServer = servers.map((s) => events(s, 'mail.sent').length);
      assert.equal(perServer[0]! + perServer[1]!, COUNT);
      assert.ok(perServer[0]! > 0 && perServer[1]! > 0, `both servers sent: ${perServer.join(' + ')}`);
      process.stdout.write(`# messages sent by the two servers: ${perServer.join(' + ')}\n`);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await store.close();
      await sink.stop();
      await db.drop();
    }
  });
});
