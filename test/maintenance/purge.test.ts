// The purge service (src/maintenance/purge.ts) without HTTP: the horizon the settings give,
// and which horizon a purge outside the server uses (the one a server stored, else its own).
// The rows it deletes are tested end to end in test/hardening/purge.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { purgeHorizonOf, purgeWithStoredHorizon, recordServerHorizon } from '../../src/maintenance/purge.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore } from '../helpers/store.js';

const NOTHING_DELETED = { authorization_codes: 0, access_tokens: 0, refresh_tokens: 0, grants: 0, sessions: 0, client_assertions: 0, reuse_records: 0, registered_clients: 0, registration_tokens: 0 };

test('the horizon: the margin, and the longer of the retry window and the access-token lifetime', () => {
  assert.deepEqual(purgeHorizonOf({ purgeMargin: 120, refreshRetryWindow: 10, accessTokenTtl: 3600 }), { margin: 120, reuseWindow: 3600 });
  assert.deepEqual(purgeHorizonOf({ purgeMargin: 0, refreshRetryWindow: 7200, accessTokenTtl: 300 }), { margin: 0, reuseWindow: 7200 });
});

for (const kind of databaseKinds()) {
  describe(`[${kind}] purge service`, () => {
    test('with no horizon stored, a purge outside the server uses its own settings', async () => {
      await withStore(kind, async ({ services }) => {
        const { result, horizon, source } = await purgeWithStoredHorizon(services);
        assert.equal(source, 'config');
        assert.deepEqual(horizon, purgeHorizonOf(services.config));
        assert.deepEqual(result, NOTHING_DELETED);
      });
    });

    test('once a server has stored its horizon, a purge with other settings uses the stored one', async () => {
      await withStore(kind, async ({ services }) => {
        const server = { ...services, config: { ...services.config, purgeMargin: 7200, refreshRetryWindow: 0, accessTokenTtl: 900 } };
        await recordServerHorizon(server);
        const { result, horizon, source } = await purgeWithStoredHorizon(services);
        assert.equal(source, 'server');
        assert.deepEqual(horizon, { margin: 7200, reuseWindow: 900 });
        assert.notDeepEqual(horizon, purgeHorizonOf(services.config));
        assert.deepEqual(result, NOTHING_DELETED);
      });
    });
  });
}
