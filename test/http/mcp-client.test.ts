// An MCP-style client (Model Context Protocol authorization) written from the specifications
// alone, against Latchkey's own protected resource, on each database:
//   1. call the resource without a token → 401, WWW-Authenticate names resource_metadata (RFC 9728 §5.1)
//   2. fetch the protected-resource metadata (RFC 9728 §3) → the resource and its authorization server
//   3. fetch the authorization server's metadata (RFC 8414 §3) and check its issuer
//   4. dynamic client registration (RFC 7591) at the metadata's registration_endpoint: a public
//      client (token_endpoint_auth_method none), as MCP clients register themselves
//   5. authorization code + PKCE (RFC 7636) with `resource` (RFC 8707), the user's login and
//      consent driven by the test helpers; `iss` checked (RFC 9207)
//   6. exchange the code with `resource` → an access token whose audience is the resource
//      (a JWT, RFC 9068, verified against the published jwks_uri)
//   7. call the resource with it → 200.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/fixtures.js';
import { authorize } from '../helpers/authorize.js';

/** RFC 9110 §11.6.1 challenge auth-params: name=token or name="quoted-string". */
function challengeParams(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  const re = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))/g;
  for (const m of header.slice(space + 1).matchAll(re)) params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return { scheme, params };
}

/** RFC 8414 §3.1: the well-known URI of an issuer, inserted between host and path. */
function authorizationServerMetadataUrl(issuer: string): string {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-authorization-server${path}`;
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  assert.equal(res.status, 200, `${url} → ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

for (const kind of databaseKinds()) {
  describe(`an MCP-style client, from the specifications [${kind}]`, () => {
    let server: TestServer;
    let user: TestUser;

    before(async () => {
      server = await startTestServer(kind, { file: { access_token_format: 'jwt', registration: 'open' } });
      user = await createUser(server, { locale: 'en' });
    });
    after(async () => server.close());

    test('401 → protected-resource metadata → AS metadata → dynamic registration → code + PKCE with resource → token for the resource → 200', async () => {
      const resourceUrl = `${server.url}/api/user`;

      // 1. Unauthenticated call.
      const first = await fetch(resourceUrl);
      assert.equal(first.status, 401);
      const challenge = challengeParams(first.headers.get('www-authenticate') ?? '');
      assert.equal(challenge.scheme.toLowerCase(), 'bearer');
      const metadataUrl = challenge.params.resource_metadata;
      assert.ok(metadataUrl, 'WWW-Authenticate names resource_metadata');

      // 2. Protected-resource metadata (RFC 9728 §3.2).
      const prm = await getJson(metadataUrl);
      const resource = String(prm.resource);
      // The resource identifier covers the URL called (MCP: the canonical URI of the server; here the API's prefix).
      assert.ok(resourceUrl.startsWith(`${resource}/`) || resourceUrl === resource, `${resource} does not cover ${resourceUrl}`);
      assert.ok(Array.isArray(prm.authorization_servers) && prm.authorization_servers.length > 0);
      assert.deepEqual(prm.bearer_methods_supported, ['header']);
      const issuer = String((prm.authorization_servers as unknown[])[0]);
      const scopes = (prm.scopes_supported as string[] | undefined) ?? [];

      // 3. Authorization server metadata (RFC 8414 §3), its issuer identical to the one asked for (§3.3).
      const as = await getJson(authorizationServerMetadataUrl(issuer));
      assert.equal(as.issuer, issuer);
      assert.ok((as.code_challenge_methods_supported as string[]).includes('S256'), 'MCP requires PKCE with S256');
      assert.ok((as.response_types_supported as string[]).includes('code'));
      assert.ok((as.token_endpoint_auth_methods_supported as string[]).includes('none'), 'a public client is possible');

      // 4. Dynamic client registration (RFC 7591 §3.1), as a public client with PKCE.
      const redirectUri = 'http://127.0.0.1:33418/callback';
      assert.equal(typeof as.registration_endpoint, 'string', 'the AS advertises registration_endpoint');
      const registration = await fetch(String(as.registration_endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          client_name: 'MCP client', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: scopes.join(' '),
        }),
      });
      assert.equal(registration.status, 201);
      const registered = (await registration.json()) as Record<string, unknown>;
      const clientId = String(registered.client_id);
      assert.equal(registered.client_secret, undefined, 'a public client gets no secret');
      assert.equal(registered.token_endpoint_auth_method, 'none');
      assert.deepEqual(registered.redirect_uris, [redirectUri]);

      // 5. Authorization request with PKCE and the resource indicator.
      const verifier = randomBytes(32).toString('base64url');
      const challengeValue = createHash('sha256').update(verifier).digest('base64url');
      const state = randomBytes(16).toString('base64url');
      assert.equal(as.authorization_endpoint, `${server.url}/oauth/authorize`, 'the test helpers drive this server\'s authorization endpoint');
      const flow = await authorize(server, {
        clientId, redirectUri, codeChallenge: challengeValue, codeChallengeMethod: 'S256', state,
        scope: scopes.join(' '), extra: [['resource', resource]],
        login: { email: user.email, password: user.password },
      });
      assert.ok(flow.code, `no code: ${flow.error} ${flow.errorDescription}`);
      assert.equal(flow.state, state);
      assert.equal(flow.redirect?.searchParams.get('iss'), issuer, 'RFC 9207 iss');

      // 6. Token request with the verifier and the resource.
      const tokenRes = await fetch(String(as.token_endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: flow.code, redirect_uri: redirectUri, client_id: clientId, code_verifier: verifier, resource }).toString(),
      });
      assert.equal(tokenRes.status, 200);
      assert.equal(tokenRes.headers.get('cache-control'), 'no-store');
      const tokens = (await tokenRes.json()) as Record<string, unknown>;
      assert.equal(String(tokens.token_type).toLowerCase(), 'bearer');
      const accessToken = String(tokens.access_token);
      // The token is for the resource: verified as a resource server would (RFC 9068 §4).
      const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(String(as.jwks_uri))), { issuer, audience: resource, typ: 'at+jwt' });
      assert.equal(payload.aud, resource);
      assert.equal(payload.client_id, clientId);

      // 7. The call, now authorized.
      const second = await fetch(resourceUrl, { headers: { authorization: `Bearer ${accessToken}` } });
      assert.equal(second.status, 200);
      const me = (await second.json()) as Record<string, unknown>;
      assert.equal(me.id, user.id);
      assert.equal(me.email, user.email);

      // And a refresh keeps the audience (the grant's resource).
      if (typeof tokens.refresh_token === 'string') {
        const refreshed = await fetch(String(as.token_endpoint), {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId, resource }).toString(),
        });
        assert.equal(refreshed.status, 200);
        const again = (await refreshed.json()) as Record<string, unknown>;
        const { payload: p2 } = await jwtVerify(String(again.access_token), createRemoteJWKSet(new URL(String(as.jwks_uri))), { issuer, audience: resource });
        assert.equal(p2.aud, resource);
      }
    });
  });
}
