// The mail queue's claims (store/mail-queue.ts) on SQLite and PostgreSQL: a claim leases a due
// message to one sender; claims sent at once never share a message; a lease that runs out
// lets another sender take the message, and the first sender's late record then changes
// nothing; retries wait; sent and given-up messages lose their bodies.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MailQueue } from '../../src/accounts/mail/queue.js';
import { MovableClock, nowSeconds } from '../../src/oauth/clock.js';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import { MailQueueStore } from '../../src/store/mail-queue.js';
import { databaseKinds, freshDatabase, type DbKind } from '../helpers/databases.js';

async function withQueue(kind: DbKind, fn: (q: { store: Store; rows: MailQueueStore; queue: MailQueue; clock: MovableClock }) => Promise<void>): Promise<void> {
  const db = await freshDatabase(kind);
  const store = openDatabase(db.url, db.schema ? { schema: db.schema } : {});
  try {
    await migrate(store);
    const clock = new MovableClock();
    const rows = new MailQueueStore(store.db, store.dialect);
    await fn({ store, rows, queue: new MailQueue(rows, clock, null), clock });
  } finally {
    await store.close();
    await db.drop();
  }
}

const message = (i: number) => ({ to: `r${i}@example.com`, subject: `S${i}`, text: `T${i}`, html: `<p>H${i}</p>`, kind: 'test_message' });

for (const kind of databaseKinds()) {
  describe(`[${kind}] mail queue claims`, () => {
    test('claims sent at once share no message, and together take every due one', async () => {
      await withQueue(kind, async ({ rows, queue, clock }) => {
        for (let i = 0; i < 25; i++) await queue.enqueue(message(i));
        const now = nowSeconds(clock);
        const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => rows.claim(`sender-${i}`, now, now + 180, 10)));
        const ids = claims.flat().map((r) => r.id);
        assert.equal(new Set(ids).size, ids.length, 'no message claimed twice');
        // SKIP LOCKED (PostgreSQL) or one writer (SQLite): between them they took all 25.
        assert.equal(ids.length, 25);
        for (const [i, claim] of claims.entries()) {
          assert.ok(claim.length <= 10, `a claim takes at most its limit, got ${claim.length}`);
          for (const row of claim) assert.equal(row.lease_owner, `sender-${i}`);
        }
        assert.deepEqual(await rows.claim('late', now, now + 180, 10), [], 'everything is leased');
      });
    });

    test('one claim takes at most its limit, oldest first', async () => {
      await withQueue(kind, async ({ rows, queue, clock }) => {
        const ids: number[] = [];
        for (let i = 0; i < 25; i++) ids.push(await queue.enqueue(message(i)));
        const now = nowSeconds(clock);
        const first = await rows.claim('a', now, now + 180, 10);
        assert.deepEqual(first.map((r) => r.id).sort((x, y) => x - y), ids.slice(0, 10));
        assert.equal((await rows.claim('b', now, now + 180, 10)).length, 10);
        assert.equal((await rows.claim('c', now, now + 180, 10)).length, 5);
      });
    });

    test('a lease that runs out lets another sender take the message; the first one\'s record then changes nothing', async () => {
      await withQueue(kind, async ({ rows, queue, clock }) => {
        const id = await queue.enqueue(message(1));
        const now = nowSeconds(clock);
        const [first] = await rows.claim('a', now, now + 180, 10);
        assert.equal(first?.id, id);
        assert.equal(first?.attempts, 1);
        assert.deepEqual(await rows.claim('b', now + 179, now + 359, 10), [], 'still leased');
        const [taken] = await rows.claim('b', now + 180, now + 360, 10);
        assert.equal(taken?.id, id);
        assert.equal(taken?.attempts, 2);
        assert.equal(await rows.markSent(id, 'a', now + 181), false, 'the old owner records nothing');
        assert.equal(await rows.markSent(id, 'b', now + 181), true);
        const row = await rows.find(id);
        assert.equal(row?.status, 'sent');
        assert.equal(row?.content, '', 'the body is gone once sent');
        assert.deepEqual(await rows.claim('c', now + 10_000, now + 10_180, 10), [], 'a sent message is never claimed again');
      });
    });

    test('a retry waits until it is due; a given-up message loses its body', async () => {
      await withQueue(kind, async ({ rows, queue, clock }) => {
        const id = await queue.enqueue(message(2));
        const now = nowSeconds(clock);
        await rows.claim('a', now, now + 180, 10);
        assert.equal(await rows.retryLater(id, 'a', now + 30, 'ECONNREFUSED'), true);
        assert.deepEqual(await rows.claim('a', now + 29, now + 209, 10), []);
        const [again] = await rows.claim('a', now + 30, now + 210, 10);
        assert.equal(again?.last_error, 'ECONNREFUSED');
        assert.equal(await rows.markFailed(id, 'a', now + 31, 'SMTP 550'), true);
        const row = await rows.find(id);
        assert.equal(row?.status, 'failed');
        assert.equal(row?.content, '');
        assert.equal(await rows.countPending(), 0);
        assert.equal(await rows.deleteFinished(now + 32), 1);
      });
    });

    test('a message is refused when its recipient or subject could add headers', async () => {
      await withQueue(kind, async ({ queue, rows }) => {
        await assert.rejects(queue.enqueue({ ...message(3), to: 'a@example.com\r\nBcc: all@example.com' }), /one e-mail address/);
        await assert.rejects(queue.enqueue({ ...message(3), subject: 'Hi\r\nBcc: all@example.com' }), /one line/);
        await assert.rejects(queue.enqueue({ ...message(3), to: 'a@example.com, b@example.com' }), /one e-mail address/);
        assert.equal(await rows.countPending(), 0);
      });
    });
  });
}
