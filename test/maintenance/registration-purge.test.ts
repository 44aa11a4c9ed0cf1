// Registrations that never get a token expire (issue 23): the purge deletes a dynamically
// registered client older than `registration_unused_ttl` that has no grant and never had one.
// A client that was used keeps living after its grants are purged; operator-made clients and
// young registrations are never touched. With a moved clock, on both databases.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient } from '../helpers/fixtures.js';
import { register } from '../helpers/registration.js';
import { postToken } from '../helpers/token.js';
import { purgeNow } from '../../src/maintenance/purge.js';

const DAY = 86_400;

for (const kind of databaseKinds()) {
  describe(`[${kind}] the purge of registrations never used`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { file: { registration: 'open' }, overrides: { registrationRateLimit: 0, purgeInterval: 0 } });
    });
    after(() => server.close());

    const exists = async (clientId: unknown) => (await server.services.clients.findByClientId(String(clientId))) !== undefined;

    test('after registration_unused_ttl (default a day): unused registrations go, used ones and operator clients stay', async () => {
      assert.equal(server.config.registrationUnusedTtl, DAY);
      const machine = { grant_types: ['client_credentials'], client_name: 'machine' };
      const unused = (await register(server, machine)).json;
      const used = (await register(server, machine)).json;
      const operator = await createClient(server, {});
      const token = await postToken(server, { grant_type: 'client_credentials', scope: 'profile' }, { basic: { id: String(used.client_id), secret: String(used.client_secret) } });
      assert.equal(token.status, 200);

      server.clock.advance(DAY - 60);
      const early = await purgeNow(server.services);
      assert.equal(early.registered_clients, 0);
      assert.ok(await exists(unused.client_id), 'a day has not passed yet');
      assert.ok(early.grants >= 1, 'the used client\'s only grant has ended and is purged: from now on nothing but the purge\'s record says it was used');

      server.clock.advance(120);
      const young = (await register(server, machine)).json;
      const result = await purgeNow(server.services);
      assert.equal(result.registered_clients, 1, JSON.stringify(result));
      assert.equal(await exists(unused.client_id), false, 'never used, older than a day: deleted');
      assert.ok(await exists(used.client_id), 'it had a grant');
      assert.ok(await exists(young.client_id), 'registered a moment ago');
      assert.ok(await exists(operator.clientId), 'operator clients are never purged');

      // Weeks later its grants are long gone, and it is still kept: it was used.
      server.clock.advance(30 * DAY);
      const later = await purgeNow(server.services);
      assert.equal(later.registered_clients, 1, 'the young one, now old and never used');
      assert.ok(await exists(used.client_id));
      assert.equal(await exists(young.client_id), false);
    });

    test('registration_unused_ttl from the config file; spent and expired initial access tokens go too', async () => {
      const short = await startTestServer(kind, { file: { registration: 'open', registration_unused_ttl: 600 }, overrides: { registrationRateLimit: 0, purgeInterval: 0 } });
      try {
        assert.equal(short.config.registrationUnusedTtl, 600);
        const res = (await register(short, { grant_types: ['client_credentials'] })).json;
        const now = Math.floor(short.clock.nowMs() / 1000);
        await short.services.registrationTokens.insert({ tokenHash: 'a'.repeat(64), expiresAt: now + 60, maxUses: null, ownerUserId: null, now });
        await short.services.registrationTokens.insert({ tokenHash: 'b'.repeat(64), expiresAt: null, maxUses: null, ownerUserId: null, now });
        short.clock.advance(601 + short.config.purgeMargin);
        const result = await purgeNow(short.services);
        assert.equal(result.registered_clients, 1);
        assert.equal(result.registration_tokens, 1, 'the expired token; the one without expiry stays');
        assert.equal((await short.services.clients.findByClientId(String(res.client_id))), undefined);
      } finally {
        await short.close();
      }
    });
  });
}
