// grant_type=client_credentials (src/oauth/grants/client-credentials.ts) without HTTP: a
// confidential client acting for itself, on a SQLite :memory: store. RFC 6749 §4.4.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientRegistration } from '../../../src/accounts/client-registration.js';
import type { Config } from '../../../src/config/load.js';
import { tokenKey } from '../../../src/oauth/crypto.js';
import { clientCredentialsGrant } from '../../../src/oauth/grants/client-credentials.js';
import { createClient, type TestClient } from '../../helpers/fixtures.js';
import { accessTokenState, answeringBody, assertRefused, assertTokenResponse, withGrantWorld, type BodyGrant, type GrantWorld } from '../../helpers/grant-world.js';

async function scene(
  fn: (s: { w: GrantWorld; grant: BodyGrant; client: TestClient }) => Promise<void>,
  options: { client?: Partial<ClientRegistration>; grantConfig?: Pick<Config, 'scopes'> } = {},
): Promise<void> {
  await withGrantWorld(async (w) => {
    const grant = answeringBody(w, clientCredentialsGrant({ clock: w.clock, config: options.grantConfig ?? w.config, issuer: w.issuer, transaction: w.services.transaction }));
    const client = await createClient(w, { grantTypes: ['client_credentials'], ...options.client });
    await fn({ w, grant, client });
  });
}

describe('client_credentials grant', () => {
  test('is the client_credentials grant and for confidential clients only (RFC 6749 §4.4)', async () => {
    await scene(async ({ grant }) => {
      assert.equal(grant.grantType, 'client_credentials');
      assert.equal(grant.clientAuthentication, 'confidential');
    });
  });

  test('an access token for the client itself: no user, no organization, every scope the client may have', async () => {
    await scene(async ({ w, grant, client }) => {
      const res = await grant.handle({ client: client.client, params: {} });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: false });
      const stored = await w.services.accessTokens.find(tokenKey(res.access_token));
      assert.equal(stored?.userId, null);
      assert.equal(stored?.user, null);
      assert.equal(stored?.organizationId, null);
      assert.equal(stored?.clientId, client.client.id);
      assert.equal(await accessTokenState(w, res.access_token), 'active');
    });
  });

  test('never a refresh token, even for a client registered for the refresh_token grant (RFC 6749 §4.4.3)', async () => {
    await scene(async ({ w, grant, client }) => {
      assert.ok(client.client.grantTypes.includes('refresh_token'));
      const res = await grant.handle({ client: client.client, params: {} });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: false });
    }, { client: { grantTypes: ['client_credentials', 'refresh_token'] } });
  });

  test('the scope may be narrowed; repeats and extra spaces are folded', async () => {
    await scene(async ({ grant, client }) => {
      assert.equal((await grant.handle({ client: client.client, params: { scope: 'email' } })).scope, 'email');
      assert.equal((await grant.handle({ client: client.client, params: { scope: 'email  profile email' } })).scope, 'email profile');
      assert.equal((await grant.handle({ client: client.client, params: { scope: '' } })).scope, 'profile email');
    });
  });

  test('a scope the client is not registered for, or one the server no longer offers, is invalid_scope', async () => {
    await scene(async ({ grant, client }) => {
      assert.equal((await grant.handle({ client: client.client, params: {} })).scope, 'profile');
      await assertRefused(grant, { client: client.client, params: { scope: 'profile email' } }, 'invalid_scope', /scope not allowed: email/);
    }, { client: { scopes: ['profile'] } });
    await scene(async ({ grant, client }) => {
      assert.equal((await grant.handle({ client: client.client, params: {} })).scope, 'profile');
      await assertRefused(grant, { client: client.client, params: { scope: 'email' } }, 'invalid_scope', /scope not allowed: email/);
    }, { grantConfig: { scopes: ['profile'] } });
  });

  test('a malformed scope is invalid_scope', async () => {
    await scene(async ({ grant, client }) => {
      await assertRefused(grant, { client: client.client, params: { scope: 'profile "email"' } }, 'invalid_scope', /the scope parameter is malformed/);
      await assertRefused(grant, { client: client.client, params: { scope: 'profile\\' } }, 'invalid_scope', /malformed/);
    });
  });

  test('each call is a grant of its own and the access token lives access_token_ttl', async () => {
    await scene(async ({ w, grant, client }) => {
      const a = await grant.handle({ client: client.client, params: {} });
      const b = await grant.handle({ client: client.client, params: {} });
      const [sa, sb] = await Promise.all([a, b].map((r) => w.services.accessTokens.find(tokenKey(r.access_token))));
      assert.ok(sa && sb);
      assert.notEqual(sa.grantId, sb.grantId);
      assert.equal(sa.expiresAt - sa.createdAt, w.config.accessTokenTtl);
      w.clock.advance(w.config.accessTokenTtl - 1);
      assert.equal(await accessTokenState(w, a.access_token), 'active');
      w.clock.advance(1);
      assert.equal(await accessTokenState(w, a.access_token), 'expired');
    });
  });
});
