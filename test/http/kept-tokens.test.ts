// On SQLite a server keeps the access tokens it has looked up (store/access-tokens.ts, changes.ts).
// Every flow that ends or changes a token must be seen by the very next request even when that
// token was just looked up (and so is kept): rotation, reuse detection, revocation of either
// token, a profile change, an organization switched off. With opaque and with JWT access
// tokens (kept by jti), on both databases.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { getUser, refresh } from '../helpers/token.js';
import { introspectToken, issueTokens, revokeToken } from '../helpers/token-admin.js';
import { nowSeconds } from '../../src/oauth/clock.js';

for (const kind of databaseKinds()) {
  for (const format of ['opaque', 'jwt'] as const) {
    describe(`[${kind}, ${format}] a token looked up just before it changes`, () => {
      let server: TestServer;
      let user: TestUser;
      let client: TestClient;

      before(async () => {
        server = await startTestServer(kind, { file: { access_token_format: format } });
        user = await createUser(server, { email: 'kept@example.com', name: 'Kept' });
        client = await createClient(server, {});
      });
      after(async () => {
        await server.close();
      });

      /** Uses the token twice (the second answer may come from what the server kept). */
      async function use(token: string): Promise<void> {
        for (let i = 0; i < 2; i++) {
          assert.equal((await getUser(server, token)).status, 200);
          assert.equal((await introspectToken(server, client, token)).active, true);
        }
      }

      async function assertDead(token: string, why: string): Promise<void> {
        assert.equal((await getUser(server, token)).status, 401, why);
        assert.deepEqual(await introspectToken(server, client, token), { active: false }, why);
      }

      test('rotation ends the used pair\'s access token', async () => {
        const t = await issueTokens(server, client, user.id);
        await use(t.accessToken);
        assert.equal((await refresh(server, client, t.refreshToken)).status, 200);
        await assertDead(t.accessToken, 'revoked by the rotation');
      });

      test('reuse of a used refresh token ends the newer access token too (the grant is revoked)', async () => {
        const t = await issueTokens(server, client, user.id);
        const rotated = await refresh(server, client, t.refreshToken);
        const newer = String(rotated.body.access_token);
        await use(newer);
        assert.equal((await refresh(server, client, t.refreshToken)).status, 400);
        await assertDead(newer, 'its grant was revoked on reuse');
      });

      test('revoking the access token, or the refresh token (its grant), is seen at once', async () => {
        const a = await issueTokens(server, client, user.id);
        await use(a.accessToken);
        assert.equal((await revokeToken(server, client, a.accessToken)).status, 200);
        await assertDead(a.accessToken, 'revoked itself');

        const b = await issueTokens(server, client, user.id);
        await use(b.accessToken);
        assert.equal((await revokeToken(server, client, b.refreshToken, { token_type_hint: 'refresh_token' })).status, 200);
        await assertDead(b.accessToken, 'its grant was revoked');
      });

      test('a profile change shows in the next /api/user answer; an organization switched off ends its tokens', async () => {
        const t = await issueTokens(server, client, user.id);
        await use(t.accessToken);
        await server.services.users.update(user.id, { name: 'Renamed' }, nowSeconds(server.clock));
        assert.equal((await getUser(server, t.accessToken)).body.name, 'Renamed');
        await server.services.users.update(user.id, { name: 'Kept' }, nowSeconds(server.clock));

        const org = await server.services.orgs.insert({ name: 'Org', integrationsEnabled: true, now: nowSeconds(server.clock) });
        await server.services.orgs.upsertMember(org.id, user.id, 'admin', nowSeconds(server.clock));
        const bound = await issueTokens(server, client, user.id, { organizationId: org.id });
        await use(bound.accessToken);
        await server.services.orgs.setIntegrations(org.id, false);
        await assertDead(bound.accessToken, 'its organization has integrations off');
      });
    });
  }
}
