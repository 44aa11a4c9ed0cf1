// grant_type=authorization_code (src/oauth/grants/authorization-code.ts) without HTTP: the
// grant handler with its real dependencies on a SQLite :memory: store and a moved clock.
// RFC 6749 §4.1.3, PKCE RFC 7636 §4.6, RFC 9700 §2.1.1.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenKey } from '../../../src/oauth/crypto.js';
import { authorizationCodeGrant } from '../../../src/oauth/grants/authorization-code.js';
import { createClient, createOrganization, createUser, mintCode, type TestClient, type TestUser } from '../../helpers/fixtures.js';
import { accessTokenState, answeringBody, assertRefused, assertTokenResponse, withGrantWorld, type BodyGrant, type GrantWorld } from '../../helpers/grant-world.js';
import { newVerifier } from '../../helpers/pkce.js';

function grantOf(w: GrantWorld): BodyGrant {
  return answeringBody(w, authorizationCodeGrant({
    clock: w.clock, issuer: w.issuer, transaction: w.services.transaction, codes: w.services.codes, grants: w.services.grants, audit: w.audit, idTokens: w.idTokens,
  }));
}

interface Scene {
  w: GrantWorld;
  grant: BodyGrant;
  user: TestUser;
  client: TestClient;
}

async function scene(fn: (s: Scene) => Promise<void>, clientOptions: Parameters<typeof createClient>[1] = {}): Promise<void> {
  await withGrantWorld(async (w) => {
    const user = await createUser(w);
    const client = await createClient(w, clientOptions);
    await fn({ w, grant: grantOf(w), user, client });
  });
}

describe('authorization_code grant', () => {
  test('is the authorization_code grant and open to public clients too', async () => {
    await withGrantWorld(async (w) => {
      const grant = grantOf(w);
      assert.equal(grant.grantType, 'authorization_code');
      assert.equal(grant.clientAuthentication, 'any');
    });
  });

  test('a code is exchanged for a Bearer access token and a refresh token with the code\'s scope', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const { code, grantId } = await mintCode(w, { client, userId: user.id, scope: 'profile email' });
      const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: true });
      assert.equal(await accessTokenState(w, res.access_token), 'active');
      assert.equal(await w.services.grants.isRevoked(grantId), false);
    });
  });

  test('the scope is the one the code was issued for; a scope parameter does not change it', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const { code } = await mintCode(w, { client, userId: user.id, scope: 'profile' });
      const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri, scope: 'profile email' } });
      assert.equal(res.scope, 'profile');
    });
  });

  test('no refresh token for a client not registered for the refresh_token grant', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const { code } = await mintCode(w, { client, userId: user.id });
      const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: false });
    }, { grantTypes: ['authorization_code'] });
  });

  test('the tokens carry the user and the organization the code was issued for', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const org = await createOrganization(w, { memberIds: [user.id] });
      const { code } = await mintCode(w, { client, userId: user.id, organizationId: org.id });
      const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } });
      const stored = await w.services.accessTokens.find(tokenKey(res.access_token));
      assert.equal(stored?.userId, user.id);
      assert.equal(stored?.organizationId, org.id);
      assert.equal(stored?.clientId, client.client.id);
    });
  });

  test('a missing or empty code is invalid_request', async () => {
    await scene(async ({ grant, client }) => {
      await assertRefused(grant, { client: client.client, params: { redirect_uri: client.redirectUri } }, 'invalid_request', /the code parameter is required/);
      await assertRefused(grant, { client: client.client, params: { code: '', redirect_uri: client.redirectUri } }, 'invalid_request', /the code parameter is required/);
    });
  });

  test('an unknown code is invalid_grant', async () => {
    await scene(async ({ grant, client }) => {
      await assertRefused(grant, { client: client.client, params: { code: 'no-such-code', redirect_uri: client.redirectUri } }, 'invalid_grant', /the authorization code is invalid/);
    });
  });

  test('another client\'s code reads as unknown and stays usable by its own client', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const other = await createClient(w);
      const { code, grantId } = await mintCode(w, { client, userId: user.id });
      await assertRefused(grant, { client: other.client, params: { code, redirect_uri: client.redirectUri } }, 'invalid_grant', /the authorization code is invalid/);
      assert.equal(await w.services.grants.isRevoked(grantId), false);
      const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } });
      assert.equal(res.token_type, 'Bearer');
    });
  });

  test('a code lives 10 minutes: valid a second before, expired at 600 seconds, and not used up by the refusal', async () => {
    await scene(async ({ w, grant, user, client }) => {
      assert.equal(w.config.authorizationCodeTtl, 600);
      const early = await mintCode(w, { client, userId: user.id });
      const late = await mintCode(w, { client, userId: user.id });
      w.clock.advance(599);
      const res = await grant.handle({ client: client.client, params: { code: early.code, redirect_uri: client.redirectUri } });
      assert.equal(res.token_type, 'Bearer');
      w.clock.advance(1);
      await assertRefused(grant, { client: client.client, params: { code: late.code, redirect_uri: client.redirectUri } }, 'invalid_grant', /the authorization code has expired/);
      // The refusal rolled the consume back: the same code is still "expired", not "already used".
      await assertRefused(grant, { client: client.client, params: { code: late.code, redirect_uri: client.redirectUri } }, 'invalid_grant', /has expired/);
      assert.equal(await w.services.grants.isRevoked(late.grantId), false);
      assert.deepEqual(w.audit.events(), []);
    });
  });

  test('a code used twice is refused and revokes every token issued from it', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const { code, grantId } = await mintCode(w, { client, userId: user.id });
      const first = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } });
      assert.equal(await accessTokenState(w, first.access_token), 'active');

      await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri } }, 'invalid_grant', /already been used; every token issued from it is revoked/);
      assert.equal(await w.services.grants.isRevoked(grantId), true);
      assert.equal(await accessTokenState(w, first.access_token), 'revoked');
      assert.deepEqual(w.audit.lines, [{ audit: true, event: 'code.reuse_detected', client_id: client.clientId, user_id: user.id, grant_id: grantId }]);
    });
  });

  test('of two exchanges of one code at once, exactly one gets tokens', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const { code } = await mintCode(w, { client, userId: user.id });
      const request = { client: client.client, params: { code, redirect_uri: client.redirectUri } };
      const outcomes = await Promise.allSettled([grant.handle(request), grant.handle(request)]);
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      const refused = outcomes.find((o) => o.status === 'rejected');
      assert.equal((refused?.reason as { code?: string } | undefined)?.code, 'invalid_grant');
    });
  });

  test('a code of a revoked authorization is invalid_grant', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const { code, grantId } = await mintCode(w, { client, userId: user.id });
      await w.services.grants.revoke(grantId, Math.floor(w.clock.nowMs() / 1000));
      await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri } }, 'invalid_grant', /the authorization has been revoked/);
    });
  });

  test('a code for an organization whose plan has no integrations is invalid_grant', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const org = await createOrganization(w, { integrationsEnabled: false, memberIds: [user.id] });
      const { code } = await mintCode(w, { client, userId: user.id, organizationId: org.id });
      await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri } }, 'invalid_grant', /third-party integrations are not available/);
    });
  });

  describe('redirect_uri (RFC 6749 §4.1.3)', () => {
    test('required when the authorization request carried one; the refusal does not use the code up', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const { code } = await mintCode(w, { client, userId: user.id, redirectUriSent: true });
        await assertRefused(grant, { client: client.client, params: { code } }, 'invalid_grant', /redirect_uri is required/);
        const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } });
        assert.equal(res.token_type, 'Bearer');
      });
    });

    test('must be identical to the authorization request\'s, even another registered one is refused', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const { code } = await mintCode(w, { client, userId: user.id });
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: 'https://app.example/other' } }, 'invalid_grant', /redirect_uri does not match/);
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: `${client.redirectUri}/` } }, 'invalid_grant', /redirect_uri does not match/);
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: 'HTTPS://APP.EXAMPLE/callback' } }, 'invalid_grant', /redirect_uri does not match/);
      }, { redirectUris: ['https://app.example/callback', 'https://app.example/other'] });
    });

    test('may be left out when the authorization request had none, and if sent must still be the one the code was issued for', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const left = await mintCode(w, { client, userId: user.id, redirectUriSent: false });
        assert.equal((await grant.handle({ client: client.client, params: { code: left.code } })).token_type, 'Bearer');

        const sent = await mintCode(w, { client, userId: user.id, redirectUriSent: false });
        await assertRefused(grant, { client: client.client, params: { code: sent.code, redirect_uri: 'https://elsewhere.example/cb' } }, 'invalid_grant', /redirect_uri does not match/);
        assert.equal((await grant.handle({ client: client.client, params: { code: sent.code, redirect_uri: client.redirectUri } })).token_type, 'Bearer');
      });
    });
  });

  describe('PKCE (RFC 7636 §4.6)', () => {
    test('the right S256 verifier is accepted', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const verifier = newVerifier();
        const { code } = await mintCode(w, { client, userId: user.id, codeVerifier: verifier });
        const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: verifier } });
        assert.equal(res.token_type, 'Bearer');
      });
    });

    test('a wrong verifier is invalid_grant and leaves the code for the right one', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const verifier = newVerifier();
        const { code } = await mintCode(w, { client, userId: user.id, codeVerifier: verifier });
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: newVerifier() } }, 'invalid_grant', /code_verifier does not match the code_challenge/);
        const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: verifier } });
        assert.equal(res.token_type, 'Bearer');
      });
    });

    test('a missing verifier where a challenge was sent is invalid_grant', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const { code } = await mintCode(w, { client, userId: user.id, codeVerifier: newVerifier() });
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri } }, 'invalid_grant', /code_verifier is required/);
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: '' } }, 'invalid_grant', /code_verifier is required/);
      });
    });

    test('a verifier without a challenge is refused (no PKCE downgrade, RFC 9700 §2.1.1)', async () => {
      await scene(async ({ w, grant, user, client }) => {
        const { code } = await mintCode(w, { client, userId: user.id });
        await assertRefused(grant, { client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: newVerifier() } }, 'invalid_grant', /no code_challenge/);
      });
    });

    test('a public client must use PKCE; with it, it gets tokens', async () => {
      await scene(async ({ w, grant, user, client }) => {
        assert.equal(client.clientSecret, null);
        const without = await mintCode(w, { client, userId: user.id });
        await assertRefused(grant, { client: client.client, params: { code: without.code, redirect_uri: client.redirectUri } }, 'invalid_grant', /a public client must use PKCE/);

        const verifier = newVerifier();
        const { code } = await mintCode(w, { client, userId: user.id, codeVerifier: verifier });
        const res = await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri, code_verifier: verifier } });
        assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: true });
      }, { isPublic: true });
    });
  });
});
