// Real OAuth client libraries from outside this project — openid-client v6 and oauth4webapi
// v3 (panva) — discover Latchkey from its RFC 8414 metadata alone and run the authorization
// code flow with PKCE, refresh, introspection and revocation through their own APIs, and
// (oauth4webapi) validate a JWT access token as an RFC 9068 resource server would. Only the
// browser part (login and consent pages) is driven by our test helper.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { followAuthorizationUrl } from '../helpers/authorize.js';

const REDIRECT_URI = 'https://app.example/callback';

/** 401 with `WWW-Authenticate: Bearer … error="invalid_token"`, as both libraries report it. */
function isInvalidTokenChallenge(err: unknown): boolean {
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err));
  assert.equal(err.status, 401);
  assert.equal(err.cause[0]?.scheme, 'bearer');
  assert.equal(err.cause[0]?.parameters.error, 'invalid_token');
  return true;
}

/** Plays the browser through login and consent; returns the URL the server redirected back to. */
async function browse(server: TestServer, authorizationUrl: URL, user: TestUser): Promise<URL> {
  const { redirect } = await followAuthorizationUrl(server, authorizationUrl, user);
  assert.ok(redirect, 'the flow ended with a redirect to the client');
  return redirect;
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] openid-client v6 against Latchkey (opaque access tokens)`, () => {
    let server: TestServer;
    let user: TestUser;
    let app: TestClient;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server, { email: 'jane@example.com', name: 'Jane Roe', locale: 'en' });
      app = await createClient(server, { name: 'openid-client app', redirectUris: [REDIRECT_URI] });
    });
    after(async () => {
      await server.close();
    });

    test('discovery, code + PKCE (client_secret_basic), protected resource, introspection, refresh, revocation', async () => {
      const config = await client.discovery(new URL(server.url), app.clientId, undefined, client.ClientSecretBasic(app.clientSecret ?? ''), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      });
      const metadata = config.serverMetadata();
      assert.equal(metadata.issuer, server.url);
      assert.equal(metadata.revocation_endpoint, `${server.url}/oauth/revoke`);
      assert.ok(metadata.supportsPKCE('S256'));

      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const authorizationUrl = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'profile email',
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const callback = await browse(server, authorizationUrl, user);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      // The response's own field: expiresIn() counts down from the wall clock and reads 3599
      // when a second ticks between the response and the call.
      assert.equal(tokens.expires_in, 3600);
      assert.equal(tokens.scope, 'profile email');
      assert.ok(tokens.refresh_token);

      const me = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${server.url}/api/user`), 'GET');
      assert.equal(me.status, 200);
      assert.deepEqual(await me.json(), { id: user.id, name: 'Jane Roe', email: 'jane@example.com', locale: 'en' });

      const introspected = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(introspected.active, true);
      assert.equal(introspected.client_id, app.clientId);
      assert.equal(introspected.sub, String(user.id));
      assert.equal(introspected.username, 'jane@example.com');
      assert.equal(introspected.token_type, 'Bearer');

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.ok(refreshed.refresh_token);
      assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false, 'the used refresh token');
      assert.equal((await client.tokenIntrospection(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' })).active, true);

      // Revoking the refresh token ends the grant: its access token goes too.
      await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
      assert.deepEqual(await client.tokenIntrospection(config, refreshed.access_token), { active: false });
      // The library surfaces the 401 and its RFC 6750 challenge as an error.
      await assert.rejects(client.fetchProtectedResource(config, refreshed.access_token, new URL(`${server.url}/api/user`), 'GET'), isInvalidTokenChallenge);
      await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (err: unknown) => {
        assert.ok(err instanceof client.ResponseBodyError);
        assert.equal(err.error, 'invalid_grant');
        return true;
      });
    });

    test('a public client (token_endpoint_auth_method none): code + PKCE, refresh, revocation of an access token', async () => {
      const spa = await createClient(server, { name: 'SPA', redirectUris: [REDIRECT_URI], isPublic: true });
      const config = await client.discovery(new URL(server.url), spa.clientId, { token_endpoint_auth_method: 'none' }, client.None(), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      });
      const verifier = client.randomPKCECodeVerifier();
      const authorizationUrl = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'profile', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const tokens = await client.authorizationCodeGrant(config, await browse(server, authorizationUrl, user), { pkceCodeVerifier: verifier });
      assert.equal(tokens.scope, 'profile');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      await client.tokenRevocation(config, refreshed.access_token);
      assert.deepEqual(await client.tokenIntrospection(config, refreshed.access_token), { active: false });
      // Only that access token: the refresh token still works (see README, revocation).
      assert.ok((await client.refreshTokenGrant(config, refreshed.refresh_token ?? '')).access_token);
    });
  });

  describe(`[${kind}] oauth4webapi v3 against Latchkey (JWT access tokens)`, () => {
    let server: TestServer;
    let user: TestUser;
    let app: TestClient;

    before(async () => {
      server = await startTestServer(kind, { file: { access_token_format: 'jwt' } });
      user = await createUser(server);
      app = await createClient(server, { name: 'oauth4webapi app', redirectUris: [REDIRECT_URI] });
    });
    after(async () => {
      await server.close();
    });

    test('discovery, code + PKCE (client_secret_post), RFC 9068 validation from jwks_uri, refresh, introspection, revocation', async () => {
      const issuer = new URL(server.url);
      const http = { [oauth.allowInsecureRequests]: true };
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http }));
      assert.equal(as.jwks_uri, `${server.url}/.well-known/jwks.json`);
      const c: oauth.Client = { client_id: app.clientId };
      const auth = oauth.ClientSecretPost(app.clientSecret ?? '');

      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const authorizationUrl = new URL(String(as.authorization_endpoint));
      for (const [k, v] of Object.entries({
        client_id: app.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'profile email', state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      })) authorizationUrl.searchParams.set(k, v);
      const params = oauth.validateAuthResponse(as, c, await browse(server, authorizationUrl, user), state);
      const tokens = await oauth.processAuthorizationCodeResponse(as, c,
        await oauth.authorizationCodeGrantRequest(as, c, auth, params, REDIRECT_URI, verifier, http));

      // A resource server that knows only the metadata validates the access token (RFC 9068 §4).
      const resourceRequest = (token: string) => new Request(`${server.url}/api/user`, { headers: { authorization: `Bearer ${token}` } });
      const claims = await oauth.validateJwtAccessToken(as, resourceRequest(tokens.access_token), `${server.url}/api`, { ...http, signingAlgorithms: ['ES256'] });
      assert.equal(claims.sub, String(user.id));
      assert.equal(claims.client_id, app.clientId);
      assert.equal(claims.scope, 'profile email');
      assert.equal(claims.iss, server.url);

      const introspected = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, tokens.access_token, http));
      assert.equal(introspected.active, true);
      assert.equal(introspected.jti, claims.jti);

      const refreshed = await oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token ?? '', http));
      const newClaims = await oauth.validateJwtAccessToken(as, resourceRequest(refreshed.access_token), `${server.url}/api`, http);
      assert.notEqual(newClaims.jti, claims.jti);

      // Revocation of the JWT: its signature stays valid, but the server no longer honours it.
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth, refreshed.access_token, http));
      assert.deepEqual(await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.access_token, http)), { active: false });
      await assert.rejects(oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${server.url}/api/user`), undefined, undefined, http), isInvalidTokenChallenge);
      // The refresh token (and the grant) live on.
      assert.equal((await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.refresh_token ?? '', http))).active, true);
    });
  });
}
