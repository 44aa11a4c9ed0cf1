// The transaction runner the grants write through: atomic per work on both dialects, and on
// SQLite, works that arrive together share one commit (group commit) without sharing fate.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import SqliteDatabase from 'better-sqlite3';
import { registerClient } from '../../src/accounts/client-registration.js';
import { createUser } from '../../src/accounts/users.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { transactionRunner } from '../../src/store/transaction.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

async function grantCount(t: TestStore): Promise<number> {
  const row = await t.services.store.db.selectFrom('grants').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function fixture(t: TestStore): Promise<{ userId: number; clientId: number }> {
  const user = await createUser(t.services, { email: 'tx@example.com', name: 'Tx', password: 'a long password' });
  const { client } = await registerClient(t.services, { name: 'tx', redirectUris: ['https://app.example/cb'], ownerUserId: user.id });
  return { userId: user.id, clientId: client.id };
}

class Refused extends Error {}

for (const kind of databaseKinds()) {
  describe(`transaction runner [${kind}]`, () => {
    test('concurrent works: each one that throws leaves nothing behind and gets its own error; the others commit', async () => {
      await withStore(kind, async (t) => {
        const { userId, clientId } = await fixture(t);
        const run = transactionRunner(t.services.store);
        const now = nowSeconds(t.clock);
        const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => run(async (tx) => {
          const id = await tx.grants.insert({ clientId, userId, organizationId: null, scope: `s${i}`, grantType: 'authorization_code', now });
          if (i % 3 === 0) throw new Refused(`work ${i}`);
          return id;
        })));
        const refused = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [[i, o.reason] as const] : []));
        assert.deepEqual(refused.map(([i]) => i), Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 === 0));
        for (const [i, reason] of refused) {
          assert.ok(reason instanceof Refused);
          assert.equal(reason.message, `work ${i}`);
        }
        const ids = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
        assert.equal(new Set(ids).size, ids.length);
        const rows = await t.services.store.db.selectFrom('grants').select(['id', 'scope']).orderBy('id').execute();
        assert.deepEqual(rows.map((r) => r.scope).sort(), Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `s${i}`).sort());
        assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), [...ids].sort((a, b) => a - b));
      });
    });

    test('of many concurrent consumes of one code, exactly one wins and the losers see it used', async () => {
      await withStore(kind, async (t) => {
        const { userId, clientId } = await fixture(t);
        const now = nowSeconds(t.clock);
        const grantId = await t.services.grants.insert({ clientId, userId, organizationId: null, scope: '', grantType: 'authorization_code', now });
        const codeHash = sha256Hex('the code');
        await t.services.codes.insert({
          codeHash: codeHash, grantId: grantId, clientId: clientId, userId: userId, organizationId: null, redirectUri: 'https://app.example/cb',
          redirectUriSent: true, scope: '', codeChallenge: null, codeChallengeMethod: null, createdAt: now, expiresAt: now + 600,
        });
        const run = transactionRunner(t.services.store);
        const results = await Promise.all(Array.from({ length: 30 }, () => run(async (tx) => (await tx.codes.consume(codeHash, clientId, now)) !== undefined)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.notEqual((await t.services.codes.find(codeHash))?.consumedAt, null);
      });
    });

    if (kind === 'sqlite') {
      test('SQLite: when one work of a batch throws, the batch runs once more, each work apart, and what is answered is what was committed', async () => {
        await withStore(kind, async (t) => {
          const { userId, clientId } = await fixture(t);
          const run = transactionRunner(t.services.store);
          const now = nowSeconds(t.clock);
          const runs = Array<number>(6).fill(0);
          const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => run(async (tx) => {
            runs[i]! += 1;
            const id = await tx.grants.insert({ clientId, userId, organizationId: null, scope: `f${i}`, grantType: 'client_credentials', now });
            if (i === 3) throw new Refused('work 3');
            return id;
          })));
          assert.deepEqual(runs, [2, 2, 2, 2, 1, 1], 'works 0–3 ran together until work 3 threw (all rolled back), then all ran apart');
          assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
          const rows = await t.services.store.db.selectFrom('grants').select(['id', 'scope']).where('scope', 'like', 'f%').orderBy('id').execute();
          assert.deepEqual(rows.map((r) => r.scope), ['f0', 'f1', 'f2', 'f4', 'f5']);
          const answered = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
          assert.deepEqual(answered, rows.map((r) => r.id), 'each caller got the id of the row that was committed');
        });
      });

      test('SQLite: a work alone that throws runs once and leaves nothing behind', async () => {
        await withStore(kind, async (t) => {
          const { userId, clientId } = await fixture(t);
          const run = transactionRunner(t.services.store);
          const now = nowSeconds(t.clock);
          const before = await grantCount(t);
          let runs = 0;
          await assert.rejects(run(async (tx) => {
            runs += 1;
            await tx.grants.insert({ clientId, userId, organizationId: null, scope: 'alone', grantType: 'client_credentials', now });
            throw new Refused('alone');
          }), (err: unknown) => err instanceof Refused && err.message === 'alone');
          assert.equal(runs, 1);
          assert.equal(await grantCount(t), before);
        });
      });

      test('SQLite: works that arrive together share one commit, and no caller hears back before it', async () => {
        await withStore(kind, async (t) => {
          const { userId, clientId } = await fixture(t);
          const run = transactionRunner(t.services.store);
          const now = nowSeconds(t.clock);
          // A second connection sees only what has been committed.
          const outside = new SqliteDatabase(t.db.file!, { readonly: true });
          try {
            const committedBefore = (outside.prepare('select count(*) as n from grants').get() as { n: number }).n;
            const seenOutside: number[] = [];
            const settled: number[] = [];
            const runs = Array<number>(10).fill(0);
            await Promise.all(Array.from({ length: 10 }, (_, i) => run(async (tx) => {
              runs[i]! += 1;
              await tx.grants.insert({ clientId, userId, organizationId: null, scope: `b${i}`, grantType: 'client_credentials', now });
              seenOutside.push((outside.prepare('select count(*) as n from grants').get() as { n: number }).n);
              return i;
            }).then((i) => {
              // Every work has run by the time any caller hears back: they were one commit.
              settled.push(seenOutside.length);
              return i;
            })));
            assert.deepEqual(seenOutside, Array(10).fill(committedBefore), 'nothing of the batch is visible outside before its commit');
            assert.deepEqual(settled, Array(10).fill(10), 'no caller hears back before the whole batch has run and committed');
            assert.deepEqual(runs, Array(10).fill(1), 'a batch where nothing fails runs each work once');
            assert.equal(await grantCount(t), committedBefore + 10);
            assert.equal((outside.prepare('select count(*) as n from grants').get() as { n: number }).n, committedBefore + 10);
          } finally {
            outside.close();
          }
        });
      });
    }
  });
}
