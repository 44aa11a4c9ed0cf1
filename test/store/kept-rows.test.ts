// Rows kept in memory on SQLite (store/sqlite/changes.ts, kept-rows.ts): which statements count
// as changes, the KeptRows map on its own, and AccessTokenStore's kept access-token contexts, which must never answer
// with a token, grant, client, organization or user as it was before a change — made through
// this process, by another connection once the event loop has turned, or while a transaction
// is open. PostgreSQL keeps nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createUser } from '../../src/accounts/users.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import type { Services } from '../../src/services.js';
import { writesOf } from '../../src/store/sqlite/changes.js';
import { KeptRows, type ChangeWatch } from '../../src/store/kept-rows.js';
import { databaseKinds } from '../helpers/databases.js';
import { asOtherProcess, holdTransactionOpen, withStore } from '../helpers/store.js';

describe('writesOf', () => {
  test('read-only statements and plain inserts change no row already read', () => {
    assert.equal(writesOf('select * from "access_tokens" where "token_hash" = ?', true), 'none');
    assert.equal(writesOf('begin', true), 'none');
    assert.equal(writesOf('insert into "access_tokens" ("token_hash") values (?)', false), 'none');
    assert.equal(writesOf('insert into "clients" ("client_id") values (?) returning *', false), 'none');
  });

  test('an update changes its table; an upsert its table; deletes, DDL and anything else everything', () => {
    assert.deepEqual(writesOf('update "access_tokens" set "revoked_at" = ? where "token_hash" = ?', false), { table: 'access_tokens' });
    assert.deepEqual(writesOf('UPDATE users SET name = ?', false), { table: 'users' });
    assert.deepEqual(writesOf('update "Clients" set "name" = ?', false), { table: 'clients' }, 'SQLite names are case-insensitive');
    assert.deepEqual(writesOf('insert into "consents" ("user_id") values (?) on conflict ("user_id") do update set "scope" = ?', false), { table: 'consents' });
    assert.equal(writesOf('delete from "users" where "id" = ?', false), 'all', 'a delete cascades');
    assert.equal(writesOf('create table t (x integer)', false), 'all');
    assert.equal(writesOf('with x as (select 1) update "grants" set "revoked_at" = 1', false), 'all');
    assert.equal(writesOf('replace into "users" values (?)', false), 'all');
    assert.equal(writesOf('update "main"."users" set "name" = ?', false), 'all', 'schema-qualified: not told apart');
    assert.equal(writesOf('insert into main.clients ("client_id") values (?) on conflict do nothing', false), 'all');
    assert.equal(writesOf('insert into "users" values (?)', false), 'all', 'no column list: not the form the stores write');
  });
});

/** A watch whose version the test moves by hand. */
function handWatch(): ChangeWatch & { at: number | undefined } {
  const watch = { at: 0 as number | undefined, version: () => watch.at };
  return watch;
}

describe('KeptRows', () => {
  test('keeps what it read until the version moves; forgets the oldest beyond its capacity', async () => {
    const watch = handWatch();
    const kept = new KeptRows<{ v: string }>(watch, ['users'], 2);
    let reads = 0;
    const read = (v: string) => async () => { reads++; return { v }; };
    assert.equal((await kept.get('a', read('a1'), Object.freeze))?.v, 'a1');
    assert.equal((await kept.get('a', read('a2'), Object.freeze))?.v, 'a1', 'kept');
    assert.equal(reads, 1);
    await kept.get('b', read('b1'), Object.freeze);
    await kept.get('c', read('c1'), Object.freeze);
    assert.equal(kept.size, 2);
    assert.equal((await kept.get('a', read('a3'), Object.freeze))?.v, 'a3', 'the oldest was forgotten');
    watch.at = 1;
    assert.equal((await kept.get('c', read('c2'), Object.freeze))?.v, 'c2', 'a moved version empties the map');
  });

  test('keeps nothing read while the version moved, nor while it is unknown, nor "not found"', async () => {
    const watch = handWatch();
    const kept = new KeptRows<{ v: string }>(watch, ['users'], 10);
    await kept.get('a', async () => { watch.at = 5; return { v: 'old' }; }, Object.freeze);
    assert.equal(kept.size, 0, 'changed during the read');
    watch.at = undefined;
    await kept.get('a', async () => ({ v: 'x' }), Object.freeze);
    assert.equal(kept.size, 0, 'inside a transaction');
    watch.at = 6;
    assert.equal(await kept.get('a', async () => undefined, Object.freeze), undefined);
    assert.equal(kept.size, 0);
    const noWatch = new KeptRows<{ v: string }>(undefined, ['users'], 10);
    await noWatch.get('a', async () => ({ v: 'x' }), Object.freeze);
    assert.equal(noWatch.size, 0, 'no watch (PostgreSQL): nothing kept');
  });
});

/** A user in an organization, a client, a grant and one access token (with a jti) of it. */
async function tokenFixture(services: Services, now: number) {
  const user = await createUser(services, { email: 'k@e.pt', name: 'Kept', password: 'password1', locale: 'nl' });
  const org = await services.orgs.insert({ name: 'Org', integrationsEnabled: true, now });
  const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
  const grantId = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: org.id, scope: 'profile email', grantType: 'authorization_code', now });
  const hash = sha256Hex(newSecret());
  const jti = newSecret();
  await services.accessTokens.insert({
    tokenHash: hash, jti, grantId: grantId, clientId: client.id, userId: user.id, organizationId: org.id, scope: 'profile email', createdAt: now, expiresAt: now + 3600,
  });
  return { user, org, client, grantId, hash, jti };
}

for (const kind of databaseKinds()) {
  describe(`kept access-token contexts [${kind}]`, () => {
    test('every change through this process is seen by the next lookup, by hash and by jti', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const { user, org, client, grantId, hash, jti } = await tokenFixture(services, now);
        const first = await services.accessTokens.find(hash);
        assert.equal(first?.user?.name, 'Kept');
        assert.equal((await services.accessTokens.findByJti(jti))?.user?.name, 'Kept');
        if (kind === 'sqlite') assert.equal(await services.accessTokens.find(hash), first, 'kept: the same object again');
        else assert.notEqual(await services.accessTokens.find(hash), first, 'PostgreSQL keeps nothing');

        await services.users.update(user.id, { name: 'Renamed' }, now);
        assert.equal((await services.accessTokens.find(hash))?.user?.name, 'Renamed');
        assert.equal((await services.accessTokens.findByJti(jti))?.user?.name, 'Renamed');

        await services.orgs.setIntegrations(org.id, false);
        assert.equal((await services.accessTokens.find(hash))?.organizationIntegrationsEnabled, false);
        await services.orgs.setIntegrations(org.id, true);
        assert.equal((await services.accessTokens.findByJti(jti))?.organizationIntegrationsEnabled, true);

        await services.accessTokens.revoke(hash, now + 1);
        assert.equal((await services.accessTokens.find(hash))?.revokedAt, now + 1);
        assert.equal((await services.accessTokens.findByJti(jti))?.revokedAt, now + 1);

        await services.grants.revoke(grantId, now + 2);
        assert.equal((await services.accessTokens.find(hash))?.grantRevokedAt, now + 2);

        await services.clients.delete(client.id);
        assert.equal(await services.accessTokens.find(hash), undefined, 'gone with its client (ON DELETE CASCADE)');
        assert.equal(await services.accessTokens.findByJti(jti), undefined);
      });
    });

    test('a revocation through a transaction (the revocation endpoint, a rotation) is seen at once', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const { hash } = await tokenFixture(services, now);
        assert.equal((await services.accessTokens.find(hash))?.revokedAt, null);
        await services.transaction((tx) => tx.accessTokens.revoke(hash, now + 1));
        assert.equal((await services.accessTokens.find(hash))?.revokedAt, now + 1);
      });
    });

    test('a change by another connection is seen once the event loop turns', async () => {
      await withStore(kind, async (t) => {
        const { services, clock } = t;
        const now = nowSeconds(clock);
        const { hash, jti, grantId } = await tokenFixture(services, now);
        assert.equal((await services.accessTokens.find(hash))?.revokedAt, null);
        assert.equal((await services.accessTokens.findByJti(jti))?.grantRevokedAt, null);
        await nextTurn();

        await asOtherProcess(t, async (other) => {
          await other.accessTokens.revoke(hash, now + 1);
          await other.grants.revoke(grantId, now + 1);
        });
        await nextTurn();
        assert.equal((await services.accessTokens.find(hash))?.revokedAt, now + 1);
        assert.equal((await services.accessTokens.findByJti(jti))?.grantRevokedAt, now + 1);
      });
    });

    test('a lookup while a transaction is open does not trust the kept context', async () => {
      await withStore(kind, async (t) => {
        const { services, clock } = t;
        const now = nowSeconds(clock);
        const { hash } = await tokenFixture(services, now);
        assert.equal((await services.accessTokens.find(hash))?.revokedAt, null);
        await nextTurn();

        const transaction = await holdTransactionOpen(services);
        try {
          await asOtherProcess(t, (other) => other.accessTokens.revoke(hash, now + 1));
          await nextTurn();
          const lookup = services.accessTokens.find(hash);
          transaction.release();
          await transaction.done;
          assert.equal((await lookup)?.revokedAt, now + 1);
        } finally {
          transaction.release();
        }
      });
    });

    test('a kept context cannot be changed by one caller for the others', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const { hash } = await tokenFixture(services, nowSeconds(clock));
        const found = await services.accessTokens.find(hash);
        assert.ok(found?.user);
        if (kind === 'sqlite') {
          assert.throws(() => { (found as { revokedAt: number | null }).revokedAt = null; }, TypeError);
          assert.throws(() => { (found.user as { email: string }).email = 'evil@example.com'; }, TypeError);
        }
        assert.equal((await services.accessTokens.find(hash))?.user?.email, 'k@e.pt');
      });
    });

    test('a context found is frozen where kept (SQLite), else a copy of its own (PostgreSQL): a caller changing its copy changes no later lookup', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const { hash, jti } = await tokenFixture(services, nowSeconds(clock));
        for (const find of [() => services.accessTokens.find(hash), () => services.accessTokens.findByJti(jti)]) {
          const found = await find();
          assert.ok(found?.user);
          // SQLite: the kept context is shared, so it is frozen (the test above). PostgreSQL: a new object for every lookup.
          assert.equal(Object.isFrozen(found) && Object.isFrozen(found.user), kind === 'sqlite');
          if (kind === 'postgres') {
            (found as { revokedAt: number | null }).revokedAt = 1;
            (found.user as { email: string }).email = 'evil@example.com';
            const again = await find();
            assert.notEqual(again, found);
            assert.equal(again?.revokedAt, null);
            assert.equal(again?.user?.email, 'k@e.pt');
          }
        }
      });
    });
  });
}
