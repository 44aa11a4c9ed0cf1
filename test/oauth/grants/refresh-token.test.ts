// grant_type=refresh_token (src/oauth/grants/refresh-token.ts) without HTTP: rotation, scope
// narrowing, expiry with the moved clock, reuse detection and the retry window, on a SQLite
// :memory: store. RFC 6749 §6, RFC 9700 §4.14.2.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientRegistration } from '../../../src/accounts/client-registration.js';
import type { Config } from '../../../src/config/load.js';
import { authorizationCodeGrant } from '../../../src/oauth/grants/authorization-code.js';
import { refreshTokenGrant } from '../../../src/oauth/grants/refresh-token.js';
import { createClient, createUser, mintCode, type TestClient, type TestUser } from '../../helpers/fixtures.js';
import { accessTokenState, answeringBody, assertRefused, assertTokenResponse, withGrantWorld, type BodyGrant, type GrantWorld } from '../../helpers/grant-world.js';
import { newVerifier } from '../../helpers/pkce.js';

interface Scene {
  w: GrantWorld;
  grant: BodyGrant;
  user: TestUser;
  client: TestClient;
  /** A fresh token pair from a code exchange. */
  issue(scope?: string): Promise<{ accessToken: string; refreshToken: string; grantId: number }>;
}

async function scene(fn: (s: Scene) => Promise<void>, options: { config?: Partial<Config>; client?: Partial<ClientRegistration> } = {}): Promise<void> {
  await withGrantWorld(async (w) => {
    const grant = answeringBody(w, refreshTokenGrant({
      clock: w.clock, config: w.config, issuer: w.issuer, transaction: w.services.transaction, refreshTokens: w.services.refreshTokens, grants: w.services.grants, audit: w.audit, idTokens: w.idTokens,
    }));
    const codes = answeringBody(w, authorizationCodeGrant({
      clock: w.clock, issuer: w.issuer, transaction: w.services.transaction, codes: w.services.codes, grants: w.services.grants, audit: w.audit, idTokens: w.idTokens,
    }));
    const user = await createUser(w);
    const client = await createClient(w, options.client);
    const issue = async (scope = 'profile email') => {
      const { code, grantId } = await mintCode(w, { client, userId: user.id, scope, redirectUriSent: false });
      // A public client must use PKCE; these codes are for confidential ones.
      const res = await codes.handle({ client: client.client, params: { code } });
      return { accessToken: res.access_token, refreshToken: res.refresh_token ?? '', grantId };
    };
    await fn({ w, grant, user, client, issue });
  }, options.config);
}

describe('refresh_token grant', () => {
  test('is the refresh_token grant and open to public clients too', async () => {
    await scene(async ({ grant }) => {
      assert.equal(grant.grantType, 'refresh_token');
      assert.equal(grant.clientAuthentication, 'any');
    });
  });

  test('a refresh returns a new pair with the same scope and ends the old access token', async () => {
    await scene(async ({ w, grant, client, issue }) => {
      const first = await issue();
      const res = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: true });
      assert.notEqual(res.access_token, first.accessToken);
      assert.notEqual(res.refresh_token, first.refreshToken);
      assert.equal(await accessTokenState(w, first.accessToken), 'revoked');
      assert.equal(await accessTokenState(w, res.access_token), 'active');
      // The new refresh token works in turn.
      const next = await grant.handle({ client: client.client, params: { refresh_token: res.refresh_token ?? '' } });
      assert.equal(next.scope, 'profile email');
    });
  });

  test('the scope may be narrowed for the access token; the new refresh token keeps the original scope', async () => {
    await scene(async ({ grant, client, issue }) => {
      const first = await issue();
      const narrowed = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken, scope: 'email' } });
      assert.equal(narrowed.scope, 'email');
      const again = await grant.handle({ client: client.client, params: { refresh_token: narrowed.refresh_token ?? '' } });
      assert.equal(again.scope, 'profile email');
    });
  });

  test('widening the scope is invalid_scope and does not use the refresh token up', async () => {
    await scene(async ({ grant, client, issue }) => {
      const first = await issue('profile');
      await assertRefused(grant, { client: client.client, params: { refresh_token: first.refreshToken, scope: 'profile email' } }, 'invalid_scope', /scope not allowed: email/);
      await assertRefused(grant, { client: client.client, params: { refresh_token: first.refreshToken, scope: 'profile "x"' } }, 'invalid_scope', /malformed/);
      const res = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });
      assert.equal(res.scope, 'profile');
    });
  });

  test('a missing or empty refresh_token is invalid_request', async () => {
    await scene(async ({ grant, client }) => {
      await assertRefused(grant, { client: client.client, params: {} }, 'invalid_request', /the refresh_token parameter is required/);
      await assertRefused(grant, { client: client.client, params: { refresh_token: '' } }, 'invalid_request', /the refresh_token parameter is required/);
    });
  });

  test('an unknown refresh token is invalid_grant', async () => {
    await scene(async ({ w, grant, client }) => {
      await assertRefused(grant, { client: client.client, params: { refresh_token: 'not-a-token' } }, 'invalid_grant', /the refresh token is invalid/);
      assert.deepEqual(w.audit.events(), []);
    });
  });

  test('another client\'s refresh token reads as unknown and is not used up', async () => {
    await scene(async ({ w, grant, client, issue }) => {
      const other = await createClient(w);
      const first = await issue();
      await assertRefused(grant, { client: other.client, params: { refresh_token: first.refreshToken } }, 'invalid_grant', /the refresh token is invalid/);
      assert.equal(await w.services.grants.isRevoked(first.grantId), false);
      assert.equal((await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } })).token_type, 'Bearer');
    });
  });

  test('a refresh token expires after refresh_token_ttl: valid a second before, expired at the TTL', async () => {
    await scene(async ({ w, grant, client, issue }) => {
      const ttl = w.config.refreshTokenTtl;
      assert.equal(ttl, 30 * 86_400);
      const early = await issue();
      const late = await issue();
      w.clock.advance(ttl - 1);
      assert.equal((await grant.handle({ client: client.client, params: { refresh_token: early.refreshToken } })).token_type, 'Bearer');
      w.clock.advance(1);
      await assertRefused(grant, { client: client.client, params: { refresh_token: late.refreshToken } }, 'invalid_grant', /the refresh token has expired/);
      // Expired is not reuse: the grant stays as it was.
      assert.equal(await w.services.grants.isRevoked(late.grantId), false);
      assert.deepEqual(w.audit.events(), []);
    });
  });

  test('with refresh_token_ttl null (Hover), refresh tokens never expire', async () => {
    await scene(async ({ w, grant, client, issue }) => {
      const first = await issue();
      w.clock.advance(10 * 365 * 86_400);
      assert.equal((await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } })).token_type, 'Bearer');
    }, { config: { refreshTokenTtl: null } });
  });

  test('a used refresh token presented again revokes the whole grant, the pair issued from its first use too', async () => {
    await scene(async ({ w, grant, user, client, issue }) => {
      const first = await issue();
      const second = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });

      await assertRefused(grant, { client: client.client, params: { refresh_token: first.refreshToken }, address: '203.0.113.9' }, 'invalid_grant', /already been used; the authorization is revoked/);
      assert.equal(await w.services.grants.isRevoked(first.grantId), true);
      assert.equal(await accessTokenState(w, second.access_token), 'revoked');
      await assertRefused(grant, { client: client.client, params: { refresh_token: second.refresh_token ?? '' } }, 'invalid_grant');
      assert.deepEqual(w.audit.lines[0], {
        audit: true, event: 'refresh.reuse_detected', client_id: client.clientId, user_id: user.id, grant_id: first.grantId, address: '203.0.113.9',
      });
    });
  });

  test('a refresh token of a revoked authorization is invalid_grant', async () => {
    await scene(async ({ w, grant, client, issue }) => {
      const first = await issue();
      await w.services.grants.revoke(first.grantId, Math.floor(w.clock.nowMs() / 1000));
      await assertRefused(grant, { client: client.client, params: { refresh_token: first.refreshToken } }, 'invalid_grant');
      assert.equal(await accessTokenState(w, first.accessToken), 'revoked');
    });
  });

  test('a public client refreshes with its client_id alone', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const codes = answeringBody(w, authorizationCodeGrant({
        clock: w.clock, issuer: w.issuer, transaction: w.services.transaction, codes: w.services.codes, grants: w.services.grants, audit: w.audit, idTokens: w.idTokens,
      }));
      const verifier = newVerifier();
      const { code } = await mintCode(w, { client, userId: user.id, codeVerifier: verifier });
      const pair = await codes.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: verifier } });
      const res = await grant.handle({ client: client.client, params: { refresh_token: pair.refresh_token ?? '' } });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: true });
    }, { client: { isPublic: true } });
  });

  describe('refresh_retry_window', () => {
    test('a retry inside the window gets a new pair and ends the pair it never received', async () => {
      await scene(async ({ w, grant, user, client, issue }) => {
        const first = await issue();
        const lost = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });
        w.clock.advance(10);
        const retried = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });
        assertTokenResponse(retried, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: true });
        assert.equal(await accessTokenState(w, lost.access_token), 'revoked');
        assert.equal(await accessTokenState(w, retried.access_token), 'active');
        await assertRefused(grant, { client: client.client, params: { refresh_token: lost.refresh_token ?? '' } }, 'invalid_grant');
        assert.deepEqual(w.audit.lines[0], { audit: true, event: 'refresh.retried', client_id: client.clientId, user_id: user.id, grant_id: first.grantId });
      }, { config: { refreshRetryWindow: 10 } });
    });

    test('past the window, the retry is reuse', async () => {
      await scene(async ({ w, grant, client, issue }) => {
        const first = await issue();
        await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });
        w.clock.advance(11);
        await assertRefused(grant, { client: client.client, params: { refresh_token: first.refreshToken } }, 'invalid_grant', /already been used/);
        assert.equal(await w.services.grants.isRevoked(first.grantId), true);
      }, { config: { refreshRetryWindow: 10 } });
    });

    test('once the successor has been used, the retry is reuse', async () => {
      await scene(async ({ w, grant, client, issue }) => {
        const first = await issue();
        const second = await grant.handle({ client: client.client, params: { refresh_token: first.refreshToken } });
        await grant.handle({ client: client.client, params: { refresh_token: second.refresh_token ?? '' } });
        await assertRefused(grant, { client: client.client, params: { refresh_token: first.refreshToken } }, 'invalid_grant', /already been used/);
        assert.equal(await w.services.grants.isRevoked(first.grantId), true);
      }, { config: { refreshRetryWindow: 10 } });
    });
  });
});
