// openid-client v6 (panva), untouched, as an OpenID Connect relying party of Latchkey: it
// discovers the issuer from /.well-known/openid-configuration (http allowed for the loopback
// issuer by the library's own allowInsecureRequests), builds the authorization URL with a
// nonce and PKCE, and after the login and consent pages (driven by our test helper) runs
// authorizationCodeGrant with every check it has: state, iss (RFC 9207, because the metadata
// says authorization_response_iss_parameter_supported), PKCE, the ID token's claims and nonce,
// and — with enableNonRepudiationChecks — the ID token's signature against jwks_uri. Then
// UserInfo for the ID token's subject and a refresh. Also with response_mode=form_post (the
// library reads the POSTed form from a Request) and for a client registered with ES256.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { followAuthorizationUrl } from '../helpers/authorize.js';

const REDIRECT_URI = 'https://rp.example/cb';

/** The library's refusal: a ClientError whose cause says what it found wrong. */
function refusedFor(reason: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof client.ClientError, String(err));
    assert.match(err.cause instanceof Error ? err.cause.message : err.message, reason);
    return true;
  };
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] openid-client v6 as an OpenID Connect relying party`, () => {
    let server: TestServer;
    let user: TestUser;
    let rs256: TestClient;
    let es256: TestClient;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server, { email: 'ria@example.com', name: 'Ria Smit', locale: 'en' });
      rs256 = await createClient(server, { name: 'openid-client RP', redirectUris: [REDIRECT_URI] });
      es256 = await createClient(server, { name: 'openid-client RP (ES256)', redirectUris: [REDIRECT_URI], idTokenSignedResponseAlg: 'ES256' });
    });
    after(() => server.close());

    /** Discovery as the library does it (algorithm oidc by default), and signature checks on. */
    async function discover(c: TestClient, metadata: Partial<client.ClientMetadata> = {}): Promise<client.Configuration> {
      const config = await client.discovery(new URL(server.url), c.clientId, metadata, client.ClientSecretBasic(c.clientSecret ?? ''), {
        execute: [client.allowInsecureRequests],
      });
      client.enableNonRepudiationChecks(config);
      return config;
    }

    /** The authorization request every flow here makes: openid with a nonce, PKCE, state. */
    async function start(config: client.Configuration, extra: Record<string, string> = {}) {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'openid profile email', state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
      });
      const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
      return { url, checks, nonce };
    }

    /** What every relying party does after the code exchange: the claims, UserInfo for that subject, a refresh. */
    async function useTokens(config: client.Configuration, tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, nonce: string, alg: string) {
      assert.equal(decodeProtectedHeader(tokens.id_token ?? '').alg, alg);
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.iss, server.url);
      assert.equal(claims.aud, config.clientMetadata().client_id);
      assert.equal(claims.sub, user.subject);
      assert.equal(claims.nonce, nonce);
      assert.equal(claims.email, 'ria@example.com');
      assert.equal(claims.name, 'Ria Smit');
      assert.equal(typeof claims.auth_time, 'number');

      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.sub, user.subject);
      assert.equal(info.email, 'ria@example.com');
      assert.equal(info.name, 'Ria Smit');
      // The library compares UserInfo's sub with the one it expects (Core §5.3.2).
      await assert.rejects(client.fetchUserInfo(config, tokens.access_token, 'someone-else'), refusedFor(/unexpected "response" body "sub" property value/));

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      assert.notEqual(refreshed.access_token, tokens.access_token);
      const again = refreshed.claims();
      assert.ok(again, 'a refresh of an openid grant answers an ID token');
      assert.equal(decodeProtectedHeader(refreshed.id_token ?? '').alg, alg);
      assert.equal(again.sub, claims.sub);
      assert.equal(again.auth_time, claims.auth_time);
      assert.equal(again.nonce, undefined);
      assert.equal((await client.fetchUserInfo(config, refreshed.access_token, claims.sub)).sub, user.subject);
    }

    test('discovery, code flow with nonce and PKCE (state and iss checked), signed ID token, UserInfo for its subject, refresh', async () => {
      const config = await discover(rs256);
      const metadata = config.serverMetadata();
      assert.equal(metadata.issuer, server.url);
      assert.equal(metadata.authorization_response_iss_parameter_supported, true);
      assert.ok(metadata.supportsPKCE('S256'));

      const { url, checks, nonce } = await start(config);
      const { redirect } = await followAuthorizationUrl(server, url, user);
      assert.ok(redirect);
      assert.equal(redirect.searchParams.get('iss'), server.url);
      // The library insists on iss when the metadata promises it (RFC 9207 §2.4)…
      const withoutIss = new URL(redirect);
      withoutIss.searchParams.delete('iss');
      await assert.rejects(client.authorizationCodeGrant(config, withoutIss, checks), refusedFor(/"iss" \(issuer\) missing/));
      // …and with it the flow completes.
      const tokens = await client.authorizationCodeGrant(config, redirect, checks);
      await useTokens(config, tokens, nonce, 'RS256');
    });

    test('response_mode=form_post: the library reads code, state and iss from the POSTed form', async () => {
      const config = await discover(rs256);
      assert.deepEqual(config.serverMetadata().response_modes_supported, ['query', 'form_post']);
      const { url, checks, nonce } = await start(config, { response_mode: 'form_post' });
      const { formPost } = await followAuthorizationUrl(server, url, user);
      assert.ok(formPost);
      assert.equal(formPost.action, REDIRECT_URI);
      assert.deepEqual(Object.keys(formPost.fields).sort(), ['code', 'iss', 'state']);
      // What the browser posts to the redirect URI, as the relying party's server receives it.
      const posted = new Request(formPost.action, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(formPost.fields).toString(),
      });
      const tokens = await client.authorizationCodeGrant(config, posted, checks);
      await useTokens(config, tokens, nonce, 'RS256');
    });

    test('a client registered with ES256: the library expects and gets ES256 ID tokens', async () => {
      const config = await discover(es256, { id_token_signed_response_alg: 'ES256' });
      assert.ok(config.serverMetadata().id_token_signing_alg_values_supported?.includes('ES256'));
      const { url, checks, nonce } = await start(config);
      const { redirect } = await followAuthorizationUrl(server, url, user);
      assert.ok(redirect);
      await useTokens(config, await client.authorizationCodeGrant(config, redirect, checks), nonce, 'ES256');
      // A relying party that registered RS256 would refuse this client's ID tokens.
      const expectingRs256 = await discover(es256, { id_token_signed_response_alg: 'RS256' });
      const second = await start(expectingRs256);
      const back = await followAuthorizationUrl(server, second.url, user);
      assert.ok(back.redirect);
      await assert.rejects(client.authorizationCodeGrant(expectingRs256, back.redirect, second.checks), refusedFor(/unexpected JWT "alg" header parameter/));
    });
  });
}
