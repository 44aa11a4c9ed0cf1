// openid-client v6 (panva), untouched, registering itself with Latchkey (RFC 7591, through
// dynamicClientRegistration: discovery, then POST to the metadata's registration_endpoint) and
// then using what it got: an authorization-code flow with PKCE, nonce and a signed ID token,
// UserInfo and a refresh; a machine client with client_credentials; and with registration
// `token`, the initial access token the operator handed out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/fixtures.js';
import { followAuthorizationUrl } from '../helpers/authorize.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';

const REDIRECT_URI = 'https://rp.example/cb';

/** The library reads the 401's Bearer challenge (RFC 6750 §3): error="invalid_token". */
function refusedAsInvalidToken(err: unknown): boolean {
  assert.ok(err instanceof client.WWWAuthenticateChallengeError, String(err));
  assert.equal(err.status, 401);
  assert.equal(err.cause[0]?.scheme, 'bearer');
  assert.equal(err.cause[0]?.parameters.error, 'invalid_token');
  return true;
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] openid-client v6 registers itself (RFC 7591) and signs in`, () => {
    let server: TestServer;
    let user: TestUser;

    before(async () => {
      server = await startTestServer(kind, { file: { registration: 'open' } });
      user = await createUser(server, { email: 'dyn@example.com', name: 'Dyna Mic', locale: 'en' });
    });
    after(() => server.close());

    test('dynamicClientRegistration, then the code flow with PKCE and nonce, a signed ID token, UserInfo and a refresh', async () => {
      const config = await client.dynamicClientRegistration(new URL(server.url), {
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        client_name: 'Self-registered RP',
        scope: 'openid profile email',
      }, undefined, { execute: [client.allowInsecureRequests] });
      client.enableNonRepudiationChecks(config);
      const registered = config.clientMetadata();
      assert.equal(typeof registered.client_id, 'string');
      assert.equal(typeof registered.client_secret, 'string');
      assert.equal(registered.token_endpoint_auth_method, 'client_secret_basic');
      assert.equal(typeof registered.registration_access_token, 'string');

      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'openid profile email', state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const { redirect } = await followAuthorizationUrl(server, url, user);
      assert.ok(redirect, 'the consent page sends the browser back with a code');
      const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.aud, registered.client_id);
      assert.equal(claims.sub, user.subject);
      assert.equal((await client.fetchUserInfo(config, tokens.access_token, claims.sub)).email, 'dyn@example.com');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      assert.notEqual(refreshed.access_token, tokens.access_token);
    });

    test('a machine client: dynamicClientRegistration with client_credentials, then clientCredentialsGrant', async () => {
      const config = await client.dynamicClientRegistration(new URL(server.url), {
        grant_types: ['client_credentials'],
        response_types: [],
        client_name: 'Self-registered machine',
        token_endpoint_auth_method: 'client_secret_post',
      }, undefined, { execute: [client.allowInsecureRequests] });
      assert.equal(config.clientMetadata().token_endpoint_auth_method, 'client_secret_post');
      const tokens = await client.clientCredentialsGrant(config, { scope: 'profile' });
      assert.equal(typeof tokens.access_token, 'string');
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    });

    test('registration token: with the operator\'s initial access token it registers; without it the library gets invalid_token', async () => {
      const gated = await startTestServer(kind, { file: { registration: 'token' } });
      try {
        const token = newSecret();
        await gated.services.registrationTokens.insert({ tokenHash: sha256Hex(token), expiresAt: nowSeconds(gated.clock) + 600, maxUses: 1, ownerUserId: null, now: nowSeconds(gated.clock) });
        const metadata = { grant_types: ['client_credentials'], response_types: [] };
        await assert.rejects(
          client.dynamicClientRegistration(new URL(gated.url), metadata, undefined, { execute: [client.allowInsecureRequests] }),
          refusedAsInvalidToken,
        );
        const config = await client.dynamicClientRegistration(new URL(gated.url), metadata, undefined, { execute: [client.allowInsecureRequests], initialAccessToken: token });
        assert.equal(typeof (await client.clientCredentialsGrant(config, { scope: 'profile' })).access_token, 'string');
        // Its one use is spent.
        await assert.rejects(
          client.dynamicClientRegistration(new URL(gated.url), metadata, undefined, { execute: [client.allowInsecureRequests], initialAccessToken: token }),
          refusedAsInvalidToken,
        );
      } finally {
        await gated.close();
      }
    });
  });
}
