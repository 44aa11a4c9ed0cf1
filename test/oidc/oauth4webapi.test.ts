// oauth4webapi v3 (panva), untouched, validating Latchkey as an OpenID Provider step by step:
// processDiscoveryResponse on /.well-known/openid-configuration; validateAuthResponse (state,
// and iss per RFC 9207: a missing or foreign iss is refused, and error responses carry both);
// processAuthorizationCodeResponse with expectedNonce, requireIdToken and maxAge (the ID
// token's iss, aud, exp, iat, sub, nonce and auth_time); validateApplicationLevelSignature (the
// ID token's signature against jwks_uri); processUserInfoResponse for the ID token's subject;
// processRefreshTokenResponse. Then the same with response_mode=form_post (the POSTed form's
// parameters) for a client registered with ES256. Only the login and consent pages are driven
// by our test helper.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { decodeProtectedHeader } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { followAuthorizationUrl } from '../helpers/authorize.js';

const REDIRECT_URI = 'https://rp.example/cb';
const http = { [oauth.allowInsecureRequests]: true };

/** The library's refusal, naming what it found wrong. */
function refusedFor(reason: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof oauth.OperationProcessingError, String(err));
    assert.match(err.message, reason);
    return true;
  };
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] oauth4webapi v3 validating Latchkey as an OpenID Provider`, () => {
    let server: TestServer;
    let user: TestUser;
    let rs256: TestClient;
    let es256: TestClient;
    let as: oauth.AuthorizationServer;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server, { email: 'sem@example.com', name: 'Sem de Vries', locale: 'nl' });
      rs256 = await createClient(server, { name: 'oauth4webapi RP', redirectUris: [REDIRECT_URI] });
      es256 = await createClient(server, { name: 'oauth4webapi RP (ES256)', redirectUris: [REDIRECT_URI], idTokenSignedResponseAlg: 'ES256' });
      const issuer = new URL(server.url);
      // algorithm 'oidc' (the default): /.well-known/openid-configuration, its issuer checked.
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
    });
    after(() => server.close());

    /** An OpenID authorization request with state, nonce and PKCE (and `extra`), and what checks its answer. */
    async function begin(c: oauth.Client, extra: Record<string, string>) {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(String(as.authorization_endpoint));
      for (const [k, v] of Object.entries({
        client_id: c.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid profile email', state, nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
      })) url.searchParams.set(k, v);
      return { url, verifier, state, nonce };
    }

    /** The code exchange and what follows it, each step through the library's own validation. */
    async function exchangeAndUse(c: oauth.Client, auth: oauth.ClientAuth, params: URLSearchParams, verifier: string, nonce: string, alg: string): Promise<void> {
      const response = await oauth.authorizationCodeGrantRequest(as, c, auth, params, REDIRECT_URI, verifier, http);
      const result = await oauth.processAuthorizationCodeResponse(as, c, response, { expectedNonce: nonce, requireIdToken: true, maxAge: 300 });
      // The ID token's signature, against the keys at jwks_uri (the library's non-repudiation check).
      await oauth.validateApplicationLevelSignature(as, response, http);
      assert.equal(decodeProtectedHeader(result.id_token ?? '').alg, alg);
      const claims = oauth.getValidatedIdTokenClaims(result);
      assert.ok(claims);
      assert.equal(claims.iss, server.url);
      assert.equal(claims.aud, c.client_id);
      assert.equal(claims.sub, user.subject);
      assert.equal(claims.nonce, nonce);
      assert.equal(claims.email, 'sem@example.com');
      assert.equal(claims.locale, 'nl');

      const info = await oauth.processUserInfoResponse(as, c, claims.sub, await oauth.userInfoRequest(as, c, result.access_token, http));
      assert.equal(info.sub, user.subject);
      assert.equal(info.name, 'Sem de Vries');
      assert.equal(info.email, 'sem@example.com');
      await assert.rejects(
        async () => oauth.processUserInfoResponse(as, c, 'someone-else', await oauth.userInfoRequest(as, c, result.access_token, http)),
        refusedFor(/unexpected "response" body "sub" property value/),
      );

      const refreshResponse = await oauth.refreshTokenGrantRequest(as, c, auth, result.refresh_token ?? '', http);
      const refreshed = await oauth.processRefreshTokenResponse(as, c, refreshResponse);
      await oauth.validateApplicationLevelSignature(as, refreshResponse, http);
      const again = oauth.getValidatedIdTokenClaims(refreshed);
      assert.ok(again, 'a refresh of an openid grant answers an ID token');
      assert.equal(again.sub, claims.sub);
      assert.equal(again.auth_time, claims.auth_time);
      assert.equal(again.nonce, undefined);
      assert.equal((await oauth.processUserInfoResponse(as, c, claims.sub, await oauth.userInfoRequest(as, c, refreshed.access_token, http))).sub, user.subject);
    }

    test('discovery; iss checked on the authorization response; code + nonce + PKCE + max_age; signed ID token; UserInfo for its subject; refresh', async () => {
      assert.equal(as.issuer, server.url);
      assert.equal(as.authorization_response_iss_parameter_supported, true);
      assert.ok(as.id_token_signing_alg_values_supported?.includes('RS256'));
      assert.equal(as.userinfo_endpoint, `${server.url}/oauth/userinfo`);

      const c: oauth.Client = { client_id: rs256.clientId };
      const { url, verifier, state, nonce } = await begin(c, { max_age: '300' });
      const { redirect } = await followAuthorizationUrl(server, url, user);
      assert.ok(redirect);

      // RFC 9207: the metadata promises iss, so a response without it, or with another, is refused.
      const tampered = new URL(redirect);
      tampered.searchParams.delete('iss');
      assert.throws(() => oauth.validateAuthResponse(as, c, tampered, state), refusedFor(/"iss" \(issuer\) missing/));
      tampered.searchParams.set('iss', 'https://elsewhere.example');
      assert.throws(() => oauth.validateAuthResponse(as, c, tampered, state), refusedFor(/unexpected "iss"/));
      const params = oauth.validateAuthResponse(as, c, redirect, state);

      await exchangeAndUse(c, oauth.ClientSecretPost(rs256.clientSecret ?? ''), params, verifier, nonce, 'RS256');
    });

    test('an error response carries iss and state too: prompt=none without a session is login_required', async () => {
      const c: oauth.Client = { client_id: rs256.clientId };
      for (const mode of ['query', 'form_post']) {
        const { url, state } = await begin(c, { prompt: 'none', response_mode: mode });
        const arrival = await followAuthorizationUrl(server, url, user);
        const parameters = arrival.redirect ?? new URLSearchParams(arrival.formPost?.fields);
        // iss and state are checked before the error is reported: a missing iss would be the refusal.
        assert.throws(() => oauth.validateAuthResponse(as, c, parameters, state), (err: unknown) => {
          assert.ok(err instanceof oauth.AuthorizationResponseError, `${mode}: ${String(err)}`);
          assert.equal(err.error, 'login_required');
          return true;
        });
      }
    });

    test('response_mode=form_post for a client registered with ES256: the posted parameters, then the same validation', async () => {
      assert.ok(as.response_modes_supported?.includes('form_post'));
      assert.ok(as.id_token_signing_alg_values_supported?.includes('ES256'));
      const c: oauth.Client = { client_id: es256.clientId, id_token_signed_response_alg: 'ES256' };
      const { url, verifier, state, nonce } = await begin(c, { response_mode: 'form_post' });
      const { formPost } = await followAuthorizationUrl(server, url, user);
      assert.ok(formPost);
      const posted = new Request(formPost.action, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(formPost.fields).toString(),
      });
      // The library takes the parameters as URLSearchParams; the relying party reads its POST body.
      const params = oauth.validateAuthResponse(as, c, new URLSearchParams(await posted.text()), state);
      assert.equal(params.get('iss'), server.url);
      await exchangeAndUse(c, oauth.ClientSecretBasic(es256.clientSecret ?? ''), params, verifier, nonce, 'ES256');
    });
  });
}
