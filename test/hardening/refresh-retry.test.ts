// refresh_retry_window (SPEC.md): a client whose refresh response was lost may present the
// used refresh token again within the window; its unused successor pair is revoked and a new
// pair issued, so one live chain remains. After the window, or once the successor was used,
// it is reuse and the grant is revoked. On SQLite and PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenKey } from '../../src/oauth/crypto.js';
import { databaseKinds } from '../helpers/databases.js';
import { createClient, createUser, mintCode, type TestClient } from '../helpers/fixtures.js';
import { exchangeCode, getUser, refresh, tokensOf } from '../helpers/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const WINDOW = 30;

for (const kind of databaseKinds()) {
  describe(`[${kind}] refresh_retry_window`, () => {
    let server: TestServer;
    let client: TestClient;
    let userId: number;

    before(async () => {
      server = await startTestServer(kind, { file: { refresh_retry_window: WINDOW } });
      client = await createClient(server);
      userId = (await createUser(server)).id;
    });
    after(async () => {
      await server.close();
    });

    /** A fresh grant: the code exchanged, and the first refresh done (its response "lost"). */
    async function lostResponse(): Promise<{ grantId: number; r0: string; lost: { accessToken: string; refreshToken: string } }> {
      const { code, grantId } = await mintCode(server, { client, userId });
      const r0 = tokensOf(await exchangeCode(server, client, code)).refreshToken;
      const lost = tokensOf(await refresh(server, client, r0));
      return { grantId, r0, lost };
    }

    async function liveRefreshTokens(grantId: number): Promise<string[]> {
      const rows = await server.services.store.db.selectFrom('refresh_tokens').select('token_hash')
        .where('grant_id', '=', grantId).where('consumed_at', 'is', null).where('revoked_at', 'is', null).execute();
      return rows.map((r) => r.token_hash);
    }

    async function grantRevoked(grantId: number): Promise<boolean> {
      return server.services.grants.isRevoked(grantId);
    }

    test('a retry inside the window gets a working pair, and the lost successor pair is dead', async () => {
      const { grantId, r0, lost } = await lostResponse();
      const retry = await refresh(server, client, r0);
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      const fresh = tokensOf(retry);
      assert.notEqual(fresh.refreshToken, lost.refreshToken);

      // The lost pair: its access token is refused, its refresh token revoked.
      assert.equal((await getUser(server, lost.accessToken)).status, 401);
      const lostRow = await server.services.refreshTokens.find(tokenKey(lost.refreshToken));
      assert.notEqual(lostRow?.revokedAt, null);
      // One live chain: the new pair's refresh token is the only live one.
      assert.deepEqual(await liveRefreshTokens(grantId), [tokenKey(fresh.refreshToken)]);
      assert.equal(await grantRevoked(grantId), false);

      // The new pair works and rotates normally.
      assert.equal((await getUser(server, fresh.accessToken)).status, 200);
      const next = await refresh(server, client, fresh.refreshToken);
      assert.equal(next.status, 200);
      assert.equal((await getUser(server, tokensOf(next).accessToken)).status, 200);
      assert.ok(server.logs.some((l) => l.includes('"event":"refresh.retried"')));
    });

    test('a retry after the successor was used is reuse: the grant is revoked', async () => {
      const { grantId, r0, lost } = await lostResponse();
      const used = tokensOf(await refresh(server, client, lost.refreshToken));
      const retry = await refresh(server, client, r0);
      assert.equal(retry.status, 400);
      assert.equal(retry.body.error, 'invalid_grant');
      assert.equal(await grantRevoked(grantId), true);
      assert.equal((await getUser(server, used.accessToken)).status, 401);
      assert.equal((await refresh(server, client, used.refreshToken)).status, 400);
      assert.ok(server.logs.some((l) => l.includes('"event":"refresh.reuse_detected"') && l.includes(`"grant_id":${grantId}`)));
    });

    test('a retry after the window is reuse: the grant is revoked', async () => {
      const { grantId, r0, lost } = await lostResponse();
      server.clock.advance(WINDOW + 1);
      try {
        const retry = await refresh(server, client, r0);
        assert.equal(retry.status, 400);
        assert.equal(retry.body.error, 'invalid_grant');
        assert.equal(await grantRevoked(grantId), true);
        assert.equal((await getUser(server, lost.accessToken)).status, 401);
      } finally {
        server.clock.advance(-(WINDOW + 1));
      }
    });

    test('50 concurrent retries inside the window leave exactly one live pair', async () => {
      const { grantId, r0, lost } = await lostResponse();
      const answers = await Promise.all(Array.from({ length: 50 }, () => refresh(server, client, r0)));
      const ok = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status !== 200);
      assert.ok(ok.length >= 1, 'at least one retry succeeds');
      for (const r of refused) assert.equal(r.body.error, 'invalid_grant');
      assert.equal(await grantRevoked(grantId), false, 'concurrent retries are not reuse');

      const live = await liveRefreshTokens(grantId);
      assert.equal(live.length, 1, 'exactly one live refresh token');
      const winners = ok.filter((a) => live.includes(tokenKey(String(a.body.refresh_token))));
      assert.equal(winners.length, 1, 'the live refresh token is one that was handed out');
      // Of every access token the retries handed out (and the lost one), only the winner's works.
      const accessTokens = [lost.accessToken, ...ok.map((a) => String(a.body.access_token))];
      const working = [];
      for (const t of accessTokens) if ((await getUser(server, t)).status === 200) working.push(t);
      assert.deepEqual(working, [String(winners[0]?.body.access_token)]);
      process.stdout.write(`# [${kind}] 50 concurrent retries: ${ok.length} answered 200, ${refused.length} refused, 1 live pair\n`);
    });

    test('audit lines: token.issued carries user, client, grant and address, never a token', async () => {
      const { grantId, r0, lost } = await lostResponse();
      const lines = server.logs.filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const issued = lines.filter((l) => l.event === 'token.issued' && l.grant_id === grantId);
      assert.equal(issued.length, 2, 'the exchange and the refresh');
      for (const line of issued) {
        assert.equal(line.user_id, userId);
        assert.equal(line.client_id, client.clientId);
        assert.equal(line.address, '127.0.0.1');
      }
      const all = server.logs.join('\n');
      for (const secret of [r0, lost.refreshToken, lost.accessToken, client.clientSecret ?? '']) assert.ok(!all.includes(secret), 'no token or secret in the log');
    });

    test('without a window (the default 0) a retry is reuse', async () => {
      const plain = await startTestServer(kind);
      try {
        const c = await createClient(plain);
        const u = await createUser(plain);
        const { code, grantId } = await mintCode(plain, { client: c, userId: u.id });
        const r0 = tokensOf(await exchangeCode(plain, c, code)).refreshToken;
        tokensOf(await refresh(plain, c, r0));
        const retry = await refresh(plain, c, r0);
        assert.equal(retry.body.error, 'invalid_grant');
        assert.equal(await plain.services.grants.isRevoked(grantId), true);
      } finally {
        await plain.close();
      }
    });
  });
}
