// ClientStore keeps the clients it finds on SQLite (store/clients.ts says why). Whatever is
// kept, a lookup never answers with a client row that a change has since replaced: not after a
// change through the same store, not after one by another connection (the command line, another
// process) once the event loop has turned, not when a lookup and a change overlap. PostgreSQL
// keeps nothing, so another server's change is seen at once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { registerClient } from '../../src/accounts/client-registration.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { databaseKinds } from '../helpers/databases.js';
import { asOtherProcess, holdTransactionOpen, withStore } from '../helpers/store.js';

for (const kind of databaseKinds()) {
  describe(`kept clients [${kind}]`, () => {
    test('changes through the store are seen by the next lookup: secret, redirect URIs, deletion', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
        const first = await services.clients.findByClientId(client.clientId);
        assert.equal(first?.secretHash, client.secretHash);
        if (kind === 'sqlite') assert.equal(await services.clients.findByClientId(client.clientId), first, 'kept: the same object again');

        assert.equal(await services.clients.updateSecretHash(client.clientId, sha256Hex('new secret'), nowSeconds(clock)), true);
        assert.equal((await services.clients.findByClientId(client.clientId))?.secretHash, sha256Hex('new secret'));

        await services.clients.update(client.id, { redirectUris: ['https://b.example/cb'] }, nowSeconds(clock));
        assert.deepEqual((await services.clients.findByClientId(client.clientId))?.redirectUris, ['https://b.example/cb']);

        await services.clients.delete(client.id);
        assert.equal(await services.clients.findByClientId(client.clientId), undefined);
      });
    });

    test('a lookup overlapping a change does not keep the row as it was', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
        // Started together: the lookup may read either row, but must not keep the old one.
        const [, changed] = await Promise.all([
          services.clients.findByClientId(client.clientId),
          services.clients.updateSecretHash(client.clientId, sha256Hex('rotated'), nowSeconds(clock)),
        ]);
        assert.equal(changed, true);
        assert.equal((await services.clients.findByClientId(client.clientId))?.secretHash, sha256Hex('rotated'));
      });
    });

    test('a change by another connection is seen once the event loop turns', async () => {
      await withStore(kind, async (t) => {
        const { services, clock } = t;
        const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
        assert.equal((await services.clients.findByClientId(client.clientId))?.secretHash, client.secretHash);
        await nextTurn();

        await asOtherProcess(t, async (other) => {
          assert.equal(await other.clients.updateSecretHash(client.clientId, sha256Hex('from elsewhere'), nowSeconds(clock)), true);
          await nextTurn();
          assert.equal((await services.clients.findByClientId(client.clientId))?.secretHash, sha256Hex('from elsewhere'));

          await other.clients.delete(client.id);
          await nextTurn();
          assert.equal(await services.clients.findByClientId(client.clientId), undefined);
        });
      });
    });

    test('a lookup while a transaction is open (a JWT grant signing) does not trust the kept client', async () => {
      await withStore(kind, async (t) => {
        const { services, clock } = t;
        const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
        assert.equal((await services.clients.findByClientId(client.clientId))?.secretHash, client.secretHash);
        await nextTurn();

        const transaction = await holdTransactionOpen(services);
        try {
          await asOtherProcess(t, async (other) => {
            assert.equal(await other.clients.updateSecretHash(client.clientId, sha256Hex('rotated elsewhere'), nowSeconds(clock)), true);
          });
          await nextTurn();
          const lookup = services.clients.findByClientId(client.clientId);
          transaction.release();
          await transaction.done;
          assert.equal((await lookup)?.secretHash, sha256Hex('rotated elsewhere'));
        } finally {
          transaction.release();
        }
      });
    });

    test('a kept client cannot be changed by one caller for the others', async () => {
      await withStore(kind, async ({ services }) => {
        const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
        const found = await services.clients.findByClientId(client.clientId);
        assert.ok(found);
        if (kind === 'sqlite') {
          assert.throws(() => (found.redirectUris as string[]).push('https://evil.example/cb'), TypeError);
          assert.throws(() => { (found as { secretHash: string | null }).secretHash = null; }, TypeError);
        }
        assert.deepEqual((await services.clients.findByClientId(client.clientId))?.redirectUris, ['https://a.example/cb']);
      });
    });

    test('a client found is frozen where kept (SQLite), else a copy of its own (PostgreSQL): a caller changing its copy changes no later lookup', async () => {
      await withStore(kind, async ({ services }) => {
        const { client } = await registerClient(services, { name: 'App', redirectUris: ['https://a.example/cb'] });
        const found = await services.clients.findByClientId(client.clientId);
        assert.ok(found);
        // SQLite: the kept client is shared, so it is frozen (the test above). PostgreSQL: a new object for every lookup.
        assert.equal(Object.isFrozen(found) && Object.isFrozen(found.redirectUris), kind === 'sqlite');
        if (kind === 'postgres') {
          (found.redirectUris as string[]).push('https://evil.example/cb');
          (found.scopes as string[]).length = 0;
          (found as { secretHash: string | null }).secretHash = null;
          const again = await services.clients.findByClientId(client.clientId);
          assert.notEqual(again, found);
          assert.deepEqual(again?.redirectUris, ['https://a.example/cb']);
          assert.deepEqual(again?.scopes, client.scopes);
          assert.equal(again?.secretHash, client.secretHash);
        }
      });
    });

    test('unknown client ids are not kept', async () => {
      await withStore(kind, async ({ services }) => {
        assert.equal(await services.clients.findByClientId('nobody'), undefined);
        const { client } = await registerClient(services, { name: 'Late', redirectUris: ['https://a.example/cb'] });
        assert.equal((await services.clients.findByClientId(client.clientId))?.name, 'Late');
      });
    });
  });
}
