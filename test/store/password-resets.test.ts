// The password_resets store (migration 011) on SQLite and PostgreSQL: a link is used by one
// statement, so of ten uses at once (and from a second connection, as another server would)
// exactly one wins; a used, expired or account-less link is never live; ended rows are deleted
// in bounded batches; deleting the account deletes its links.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { databaseKinds } from '../helpers/databases.js';
import { createUser } from '../helpers/fixtures.js';
import { asOtherProcess, withStore } from '../helpers/store.js';

for (const kind of databaseKinds()) {
  describe(`[${kind}] password_resets`, () => {
    test('one use wins among ten at once, across two connections', async () => {
      await withStore(kind, async (t) => {
        const user = await createUser({ ...t, config: t.services.config });
        const now = nowSeconds(t.clock);
        const tokenHash = sha256Hex('the token');
        await t.services.passwordResets.insert({ tokenHash, userId: user.id, emailHash: sha256Hex('e'), now, expiresAt: now + 1800 });
        assert.deepEqual(await t.services.passwordResets.findLive(tokenHash, now), { userId: user.id, expiresAt: now + 1800 });
        await asOtherProcess(t, async (other) => {
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? t.services.passwordResets : other.passwordResets).consume(tokenHash, now)));
          assert.equal(results.filter((r) => r === user.id).length, 1, `exactly one use: ${JSON.stringify(results)}`);
          assert.equal(results.filter((r) => r === undefined).length, 9);
        });
        assert.equal(await t.services.passwordResets.findLive(tokenHash, now), undefined, 'used: no longer live');
      });
    });

    test('expired and account-less links are never live; ended rows go in batches; the account takes its links along', async () => {
      await withStore(kind, async (t) => {
        const user = await createUser({ ...t, config: t.services.config });
        const now = nowSeconds(t.clock);
        const resets = t.services.passwordResets;
        await resets.insert({ tokenHash: sha256Hex('expiring'), userId: user.id, emailHash: sha256Hex('e'), now, expiresAt: now + 1800 });
        await resets.insert({ tokenHash: sha256Hex('nobody'), userId: null, emailHash: sha256Hex('x'), now, expiresAt: now + 1800 });
        assert.ok(await resets.findLive(sha256Hex('expiring'), now + 1799));
        assert.equal(await resets.findLive(sha256Hex('expiring'), now + 1800), undefined, 'dead at expires_at');
        assert.equal(await resets.consume(sha256Hex('expiring'), now + 1800), undefined);
        assert.equal(await resets.findLive(sha256Hex('nobody'), now), undefined, 'a row for an unknown address opens nothing');
        assert.equal(await resets.consume(sha256Hex('nobody'), now), undefined);

        for (let i = 0; i < 7; i += 1) await resets.insert({ tokenHash: sha256Hex(`old${i}`), userId: null, emailHash: sha256Hex('x'), now: now - 90_000, expiresAt: now - 88_200 });
        assert.equal(await resets.deleteExpired(now - 86_400, 5), 5);
        assert.equal(await resets.deleteExpired(now - 86_400, 5), 2);
        assert.equal(await resets.deleteExpired(now - 86_400, 5), 0);

        await resets.insert({ tokenHash: sha256Hex('second'), userId: user.id, emailHash: sha256Hex('e'), now, expiresAt: now + 1800 });
        assert.equal(await resets.expireForUser(user.id, now), 2, 'both unused links of the account end');
        assert.equal(await resets.findLive(sha256Hex('second'), now), undefined);
        await t.services.store.db.deleteFrom('users').where('id', '=', user.id).execute();
        const left = await t.services.store.db.selectFrom('password_resets').select('user_id').execute();
        assert.deepEqual(left.map((r) => r.user_id), [null]);
      });
    });
  });
}
