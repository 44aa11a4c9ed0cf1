// The client libraries' own client assertions, untouched, against a real server: oauth4webapi
// v3 with PrivateKeyJwt (ES256, PS256, RS256 and Ed25519 keys, from jwks and from a jwks_uri)
// and ClientSecretJwt through discovery, the authorization code flow (login and consent pages
// driven by our helper), refresh, client_credentials, introspection and revocation; and
// openid-client v6 with PrivateKeyJwt and ClientSecretJwt through the same. SQLite and PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/fixtures.js';
import { followAuthorizationUrl } from '../helpers/authorize.js';
import { createAssertionClient, newKeyPair, startJwksServer, type KeyPair, type LoopbackServer } from '../helpers/assertion-clients.js';

const REDIRECT_URI = 'https://rp.example/cb';
const http = { [oauth.allowInsecureRequests]: true };

for (const kind of databaseKinds()) {
  describe(`[${kind}] oauth4webapi and openid-client authenticating by client assertion`, () => {
    let server: TestServer;
    let user: TestUser;
    let as: oauth.AuthorizationServer;
    let jwksServer: LoopbackServer;
    let rotating: KeyPair;

    before(async () => {
      server = await startTestServer(kind, { env: { LATCHKEY_ALLOW_LOOPBACK_FETCH: '1' } });
      user = await createUser(server, { email: 'pkj@example.com', name: 'Pim Kok', locale: 'en' });
      rotating = await newKeyPair('ES256');
      jwksServer = await startJwksServer(() => ({ keys: [rotating.publicJwk] }));
      const issuer = new URL(server.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
    });
    after(async () => {
      await jwksServer.close();
      await server.close();
    });

    /** Authorization code + PKCE + nonce through the pages, the code exchanged with `auth`, then refresh, introspection and revocation. */
    async function oauth4webapiFlow(c: oauth.Client, auth: oauth.ClientAuth): Promise<void> {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(String(as.authorization_endpoint));
      for (const [k, v] of Object.entries({
        client_id: c.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid profile email', state, nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      })) url.searchParams.set(k, v);
      const { redirect } = await followAuthorizationUrl(server, url, user);
      assert.ok(redirect);
      const params = oauth.validateAuthResponse(as, c, redirect, state);
      const result = await oauth.processAuthorizationCodeResponse(as, c,
        await oauth.authorizationCodeGrantRequest(as, c, auth, params, REDIRECT_URI, verifier, http), { expectedNonce: nonce, requireIdToken: true });
      assert.equal(oauth.getValidatedIdTokenClaims(result)?.sub, user.subject);
      const refreshed = await oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, result.refresh_token ?? '', http));
      const machine = await oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, auth, { scope: 'profile' }, http));
      assert.equal(typeof machine.access_token, 'string');
      const introspected = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.access_token, http));
      assert.equal(introspected.active, true);
      assert.equal(introspected.client_id, c.client_id);
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth, refreshed.access_token, http));
      const after = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.access_token, http));
      assert.equal(after.active, false);
    }

    test('metadata advertises private_key_jwt and client_secret_jwt and their algorithms at all three endpoints', () => {
      for (const endpoint of ['token', 'introspection', 'revocation'] as const) {
        const methods = as[`${endpoint}_endpoint_auth_methods_supported`] as string[];
        assert.ok(methods.includes('private_key_jwt') && methods.includes('client_secret_jwt'), endpoint);
        const algs = as[`${endpoint}_endpoint_auth_signing_alg_values_supported`] as string[];
        for (const alg of ['ES256', 'PS256', 'RS256', 'EdDSA', 'HS256']) assert.ok(algs.includes(alg), `${endpoint} ${alg}`);
        assert.ok(!algs.includes('none'));
      }
    });

    test('oauth4webapi PrivateKeyJwt with ES256, PS256, RS256 and Ed25519 keys (registered jwks): code, refresh, client_credentials, introspection, revocation', async () => {
      for (const alg of ['ES256', 'PS256', 'RS256', 'Ed25519'] as const) {
        const pair = await newKeyPair(alg);
        const registered = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [pair.publicJwk] }, redirectUris: [REDIRECT_URI] });
        await oauth4webapiFlow({ client_id: registered.clientId }, oauth.PrivateKeyJwt({ key: pair.privateKey, kid: pair.kid }));
      }
    });

    test('oauth4webapi PrivateKeyJwt with keys from a jwks_uri', async () => {
      const registered = await createAssertionClient(server, { method: 'private_key_jwt', jwksUri: jwksServer.url, redirectUris: [REDIRECT_URI] });
      await oauth4webapiFlow({ client_id: registered.clientId }, oauth.PrivateKeyJwt({ key: rotating.privateKey, kid: rotating.kid }));
    });

    test('oauth4webapi ClientSecretJwt', async () => {
      const registered = await createAssertionClient(server, { method: 'client_secret_jwt', redirectUris: [REDIRECT_URI] });
      await oauth4webapiFlow({ client_id: registered.clientId }, oauth.ClientSecretJwt(registered.secret ?? ''));
    });

    test('openid-client v6 PrivateKeyJwt and ClientSecretJwt: discovery, code flow, refresh, client_credentials, introspection, revocation', async () => {
      const pair = await newKeyPair('PS256');
      const pkj = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [pair.publicJwk] }, redirectUris: [REDIRECT_URI] });
      const csj = await createAssertionClient(server, { method: 'client_secret_jwt', redirectUris: [REDIRECT_URI] });
      for (const [clientId, auth] of [
        [pkj.clientId, client.PrivateKeyJwt({ key: pair.privateKey, kid: pair.kid })],
        [csj.clientId, client.ClientSecretJwt(csj.secret ?? '')],
      ] as const) {
        const config = await client.discovery(new URL(server.url), clientId, {}, auth, { execute: [client.allowInsecureRequests] });
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI, scope: 'openid profile email', state, nonce,
          code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        });
        const { redirect } = await followAuthorizationUrl(server, url, user);
        assert.ok(redirect);
        const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
        assert.equal(tokens.claims()?.sub, user.subject);
        const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
        const machine = await client.clientCredentialsGrant(config, { scope: 'profile' });
        assert.equal(typeof machine.access_token, 'string');
        assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, true);
        await client.tokenRevocation(config, refreshed.access_token);
        assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false);
      }
    });
  });
}
