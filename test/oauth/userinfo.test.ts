// The user identity (src/oauth/userinfo.ts) without HTTP: what each Authorization header gets,
// and each refusal's OAuthError with the RFC 6750 §3 challenge the error handler sends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nowSeconds } from '../../src/oauth/clock.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { userIdentity } from '../../src/oauth/userinfo.js';
import { answeringBody, withGrantWorld, type GrantWorld } from '../helpers/grant-world.js';
import { createClient, createUser, mintCode } from '../helpers/fixtures.js';
import { authorizationCodeGrant } from '../../src/oauth/grants/authorization-code.js';
import { clientCredentialsGrant } from '../../src/oauth/grants/client-credentials.js';

async function refusal(promise: Promise<unknown>): Promise<{ code: string; status: number; description: string; challenge: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OAuthError, String(err));
    return { code: err.code, status: err.status, description: err.description, challenge: err.challenge };
  }
  assert.fail('expected a refusal');
}

async function accessToken(w: GrantWorld, scope: string): Promise<{ token: string; grantId: number }> {
  const user = await createUser(w);
  const client = await createClient(w);
  const { code, grantId } = await mintCode(w, { client, userId: user.id, scope });
  const grant = answeringBody(w, authorizationCodeGrant({ clock: w.clock, issuer: w.issuer, transaction: w.services.transaction, codes: w.services.codes, grants: w.services.grants, audit: w.audit, idTokens: w.idTokens }));
  return { token: (await grant.handle({ client: client.client, params: { code, redirect_uri: client.redirectUri } })).access_token, grantId };
}

describe('user identity', () => {
  test('no token: 401 invalid_token, and a challenge with the realm alone (RFC 6750 §3.1)', async () => {
    await withGrantWorld(async (w) => {
      for (const header of [undefined, 'Basic abc', 'Bearer', 'Bearer   ']) {
        assert.deepEqual(await refusal(userIdentity(w.services, header)), {
          code: 'invalid_token', status: 401, description: 'an access token is required: send Authorization: Bearer TOKEN', challenge: `Bearer realm="latchkey", resource_metadata="${w.config.issuer}/.well-known/oauth-protected-resource"`,
        });
      }
    });
  });

  test('a malformed, unknown or revoked token: 401 with the error in the challenge', async () => {
    await withGrantWorld(async (w) => {
      assert.deepEqual(await refusal(userIdentity(w.services, 'Bearer a"b')), {
        code: 'invalid_token', status: 401, description: 'the access token is malformed',
        challenge: `Bearer realm="latchkey", error="invalid_token", error_description="the access token is malformed", resource_metadata="${w.config.issuer}/.well-known/oauth-protected-resource"`,
      });
      assert.equal((await refusal(userIdentity(w.services, 'OAuth2 nosuchtoken'))).description, 'the access token is invalid');
      const { token, grantId } = await accessToken(w, 'profile');
      await w.services.grants.revoke(grantId, nowSeconds(w.clock));
      assert.equal((await refusal(userIdentity(w.services, `Bearer ${token}`))).description, 'the access token has been revoked');
    });
  });

  test('an expired token: the profile\'s status (403 under huddle)', async () => {
    for (const expiredTokenStatus of [401, 403] as const) {
      await withGrantWorld(async (w) => {
        const { token } = await accessToken(w, 'profile');
        w.clock.advance(w.config.accessTokenTtl);
        const refused = await refusal(userIdentity(w.services, `Bearer ${token}`));
        assert.equal(refused.status, expiredTokenStatus);
        // RFC 9728 §5.1: a 401 names the protected-resource metadata; huddle's 403 is not a 401.
        const metadata = expiredTokenStatus === 401 ? `, resource_metadata="${w.config.issuer}/.well-known/oauth-protected-resource"` : '';
        assert.equal(refused.challenge, `Bearer realm="latchkey", error="invalid_token", error_description="the access token has expired"${metadata}`);
      }, { expiredTokenStatus });
    }
  });

  test('a token with no user: 403 insufficient_scope, naming the scopes that would do', async () => {
    await withGrantWorld(async (w) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      const grant = answeringBody(w, clientCredentialsGrant({ clock: w.clock, config: w.config, issuer: w.issuer, transaction: w.services.transaction }));
      const { access_token: token } = await grant.handle({ client: client.client, params: {} });
      const refused = await refusal(userIdentity(w.services, `Bearer ${token}`));
      assert.equal(refused.status, 403);
      assert.equal(refused.code, 'insufficient_scope');
      assert.match(refused.challenge ?? '', /^Bearer realm="latchkey", error="insufficient_scope", error_description="[^"]+", scope="profile email"$/);
    });
  });

  test('the body follows the scope', async () => {
    await withGrantWorld(async (w) => {
      const { token } = await accessToken(w, 'email');
      const body = await userIdentity(w.services, `Bearer ${token}`);
      assert.deepEqual(Object.keys(body), ['id', 'email']);
      const both = await userIdentity(w.services, `Bearer ${(await accessToken(w, 'profile email')).token}`);
      assert.deepEqual(Object.keys(both), ['id', 'name', 'email', 'locale']);
    });
  });
});
