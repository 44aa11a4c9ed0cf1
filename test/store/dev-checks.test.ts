// The development-mode guard of the transaction runner's contract (src/store/dev-checks.ts):
// with LATCHKEY_DEV_CHECKS=1 (set by the test helpers), a root store called from inside a
// transaction work throws; without it the services are the plain objects.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { types } from 'node:util';
import { registerClient } from '../../src/accounts/client-registration.js';
import { createUser } from '../../src/accounts/users.js';
import { loadConfig } from '../../src/config/load.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { createServices } from '../../src/services.js';
import { ROOT_STORE_IN_WORK } from '../../src/store/dev-checks.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

async function fixture(t: TestStore): Promise<{ userId: number; clientId: number; publicId: string }> {
  const user = await createUser(t.services, { email: 'guard@example.com', name: 'Guard', password: 'a long password' });
  const { client } = await registerClient(t.services, { name: 'guard', redirectUris: ['https://app.example/cb'], ownerUserId: user.id });
  return { userId: user.id, clientId: client.id, publicId: client.clientId };
}

async function grantCount(t: TestStore, scope: string): Promise<number> {
  const rows = await t.services.store.db.selectFrom('grants').select('id').where('scope', '=', scope).execute();
  return rows.length;
}

for (const kind of databaseKinds()) {
  describe(`development checks: root stores inside a transaction work [${kind}]`, () => {
    test('a root store called inside a work throws, naming the store and method; the work leaves nothing behind', async () => {
      await withStore(kind, async (t) => {
        const { userId, clientId, publicId } = await fixture(t);
        const now = nowSeconds(t.clock);
        const cases: Array<[string, () => Promise<unknown>]> = [
          ['services.grants.insert', () => t.services.grants.insert({ clientId, userId, organizationId: null, scope: 'root', grantType: 'client_credentials', now })],
          ['services.codes.find', () => t.services.codes.find('no such code')],
          ['services.clients.findByClientId', () => t.services.clients.findByClientId(publicId)],
          ['services.users.findById', () => t.services.users.findById(userId)],
        ];
        for (const [name, call] of cases) {
          await assert.rejects(t.services.transaction(async (tx) => {
            await tx.grants.insert({ clientId, userId, organizationId: null, scope: 'in-work', grantType: 'client_credentials', now });
            return call();
          }), (err: unknown) => err instanceof Error && err.message === `${ROOT_STORE_IN_WORK} (${name})`, name);
        }
        assert.equal(await grantCount(t, 'in-work'), 0);
        assert.equal(await grantCount(t, 'root'), 0);
      });
    });

    test('the transaction\'s stores work inside a work, and root stores called outside one (even while a work waits) do not throw', async () => {
      await withStore(kind, async (t) => {
        const { userId, clientId, publicId } = await fixture(t);
        const now = nowSeconds(t.clock);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let started!: () => void;
        const inWork = new Promise<void>((resolve) => {
          started = resolve;
        });
        const work = t.services.transaction(async (tx) => {
          const id = await tx.grants.insert({ clientId, userId, organizationId: null, scope: 'tx', grantType: 'client_credentials', now });
          started();
          await gate;
          return id;
        });
        await inWork;
        // Another request's root-store calls, made while the work waits (on SQLite they queue
        // behind its transaction for the one connection, so they are awaited after it ends).
        const outside = Promise.all([t.services.clients.findByClientId(publicId), t.services.codes.find('no such code')]);
        release();
        assert.equal(typeof (await work), 'number');
        const [client, code] = await outside;
        assert.equal(client?.id, clientId);
        assert.equal(code, undefined);
        assert.equal(await grantCount(t, 'tx'), 1);
        // After the work, the root stores are usable again from the same async chain.
        assert.equal((await t.services.clients.findByClientId(publicId))?.id, clientId);
      });
    });
  });
}

describe('development checks off', () => {
  test('without LATCHKEY_DEV_CHECKS=1, createServices hands out the stores themselves (no Proxy) and the runner lets root stores through', async () => {
    const saved = process.env.LATCHKEY_DEV_CHECKS;
    delete process.env.LATCHKEY_DEV_CHECKS;
    const store = openDatabase('sqlite::memory:');
    try {
      await migrate(store);
      const services = createServices(loadConfig({ env: { DATABASE_URL: 'sqlite::memory:' } }), store);
      for (const name of ['users', 'orgs', 'invitations', 'clients', 'grants', 'codes', 'accessTokens', 'refreshTokens', 'sessions'] as const) {
        assert.equal(types.isProxy(services[name]), false, name);
      }
      // Not awaited inside the work: on SQLite a root store's statement waits for the one
      // connection, which the work's transaction holds until the work ends.
      let outside: Promise<unknown> | undefined;
      assert.equal(await services.transaction((tx) => {
        outside = services.codes.find('no such code');
        return tx.codes.consume('no such code', 0, 0);
      }), undefined);
      assert.equal(await outside, undefined);
    } finally {
      if (saved === undefined) delete process.env.LATCHKEY_DEV_CHECKS;
      else process.env.LATCHKEY_DEV_CHECKS = saved;
      await store.close();
    }
  });
});
