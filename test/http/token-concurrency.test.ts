// Single use under load (DESIGN.md "Single use is one statement"): 50 simultaneous
// exchanges of one code, or refreshes of one refresh token, give exactly one 200 and 49
// invalid_grant. On PostgreSQL the requests are spread over two servers sharing the
// database, as behind a load balancer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, mintCode } from '../helpers/fixtures.js';
import { exchangeCode, refresh, tally, tokensOf } from '../helpers/token.js';

const CONCURRENCY = 50;

for (const kind of databaseKinds()) {
  test(`[${kind}] ${CONCURRENCY} concurrent uses of one code or one refresh token: exactly one succeeds`, async () => {
    const server = await startTestServer(kind);
    const second: TestServer | undefined = kind === 'postgres' ? await startTestServer(kind, { database: server.db }) : undefined;
    const pick = (i: number) => (second && i % 2 === 1 ? second : server);
    try {
      const user = await createUser(server);
      const client = await createClient(server);

      const { code } = await mintCode(server, { client, userId: user.id });
      const exchanges = tally(await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => exchangeCode(pick(i), client, code))));
      assert.deepEqual(exchanges, { ok: 1, invalidGrant: CONCURRENCY - 1, other: [] });

      const fresh = await mintCode(server, { client, userId: user.id });
      const pair = tokensOf(await exchangeCode(server, client, fresh.code));
      const refreshes = tally(await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => refresh(pick(i), client, pair.refreshToken))));
      assert.deepEqual(refreshes, { ok: 1, invalidGrant: CONCURRENCY - 1, other: [] });

      // Exactly one successor was recorded and exactly one new refresh token row exists for the grant.
      const rows = await server.services.store.db.selectFrom('refresh_tokens').select(['token_hash', 'consumed_at', 'successor_hash'])
        .where('grant_id', '=', fresh.grantId).execute();
      assert.equal(rows.length, 2);
      assert.equal(rows.filter((r) => r.consumed_at !== null).length, 1);
    } finally {
      await second?.close();
      await server.close();
    }
  });
}
