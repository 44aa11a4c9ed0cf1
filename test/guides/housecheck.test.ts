// House Check's guide (../shared/seeds/000_497eb17b4c335540.txt, "Authentication"), replayed
// under the `housecheck` profile: a client with several redirect URIs, the authorization
// request with client_id, redirect_uri, response_type=code and state, allow and deny, the code
// exchange with exactly the guide's five parameters, 1-day access tokens, single-use refresh
// tokens valid 3 days, and the user identity, byte for byte. Only hosts, ids and secrets are ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/users.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { httpRequest, type CookieJar } from '../helpers/browser.js';
import { authorize, authorizePath, signIn } from '../helpers/authorize.js';

const JOHN = { email: 'john@doe.com', name: 'John Doe', password: 'correct horse battery staple', locale: 'nl' };
// "Note that you can specify multiple redirect uri's, these should be comma separated."
const REDIRECT_URIS = 'https://app.housecheck-integration.example/oauth/callback,https://staging.housecheck-integration.example/cb';
const REDIRECT_URI = 'https://staging.housecheck-integration.example/cb';
const DAY = 86_400;

interface Setup {
  server: TestServer;
  clientId: string;
  clientSecret: string;
  jar: CookieJar;
}

async function setup(server: TestServer): Promise<Setup> {
  // The same call `latchkey user create --email john@doe.com --name "John Doe" --password … --locale nl`
  // makes: on a fresh database John is user 1.
  const user = await createUser(server.services, JOHN);
  assert.equal(user.id, 1);
  // `latchkey client create --name … --redirect-uris "a,b"`: the portal and CLI split on commas.
  const { client, clientSecret } = await registerClient(server.services, { name: 'House Check integration', redirectUris: REDIRECT_URIS.split(','), trusted: true });
  assert.ok(clientSecret);
  assert.deepEqual(client.redirectUris, REDIRECT_URIS.split(','));
  const jar = await signIn(server, JOHN.email, JOHN.password);
  return { server, clientId: client.clientId, clientSecret, jar };
}

/** "redirect users to the House Check authorization page" with the four documented parameters; allow. */
async function authorizationCode(s: Setup, state: string): Promise<string> {
  const result = await authorize(s.server, { clientId: s.clientId, redirectUri: REDIRECT_URI, responseType: 'code', state, cookies: s.jar });
  // "https://YOUR_REDIRECT_URI?code=CODE&state=STATE"
  assert.equal(result.status, 302);
  assert.ok(result.location?.startsWith(`${REDIRECT_URI}?code=`), result.location ?? '');
  // SPEC.md "OpenID Connect": every authorization response also carries iss (RFC 9207).
  assert.equal([...(result.redirect?.searchParams.keys() ?? [])].join(','), 'code,state,iss');
  assert.equal(result.redirect?.searchParams.get('iss'), s.server.config.issuer);
  assert.equal(result.state, state);
  assert.ok(result.code);
  return result.code;
}

/** "Obtaining access tokens": POST with grant_type, client_id, client_secret, code, redirect_uri. */
async function exchange(s: Setup, code: string): Promise<Response> {
  return fetch(`${s.server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: s.clientId, client_secret: s.clientSecret, code, redirect_uri: REDIRECT_URI }).toString(),
  });
}

/** "Using refresh tokens": POST with grant_type, client_id, client_secret, refresh_token. */
async function refresh(s: Setup, refreshToken: string): Promise<Response> {
  return fetch(`${s.server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: s.clientId, client_secret: s.clientSecret, refresh_token: refreshToken }).toString(),
  });
}

interface Pair {
  access_token: string;
  refresh_token: string;
}

/** The documented response: {"token_type":"Bearer","expires_in":86400,"access_token":…,"refresh_token":…}. */
async function assertTokenResponse(res: Response): Promise<Pair> {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 86400);
  assert.equal(typeof body.access_token, 'string');
  assert.equal(typeof body.refresh_token, 'string');
  return { access_token: body.access_token as string, refresh_token: body.refresh_token as string };
}

async function assertError(res: Response, status: number, error: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal((JSON.parse(text) as { error: string }).error, error);
}

/** "User identity": the token as an Authorization header. */
async function identity(s: Setup, accessToken: string): Promise<Response> {
  return fetch(`${s.server.url}/api/user`, { headers: { authorization: `Bearer ${accessToken}` } });
}

const IDENTITY = '{"id":1,"name":"John Doe","email":"john@doe.com","locale":"nl"}';

for (const kind of databaseKinds()) {
  test(`[${kind}] House Check guide: authorization, code exchange, identity, refresh`, async () => {
    const server = await startTestServer(kind, { profile: 'housecheck' });
    try {
      const s = await setup(server);
      const code = await authorizationCode(s, 'st-4f1c9a');
      const pair = await assertTokenResponse(await exchange(s, code));

      // "User identity … Response {"id": 1, "name": "John Doe", "email": "john@doe.com", "locale": "nl"}"
      const me = await identity(s, pair.access_token);
      assert.equal(me.status, 200);
      assert.match(me.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(await me.text(), IDENTITY);

      // "Note that refresh tokens can only be used once to get a new access token and refresh token."
      const next = await assertTokenResponse(await refresh(s, pair.refresh_token));
      assert.notEqual(next.access_token, pair.access_token);
      assert.notEqual(next.refresh_token, pair.refresh_token);
      assert.equal(await (await identity(s, next.access_token)).text(), IDENTITY);
      const third = await assertTokenResponse(await refresh(s, next.refresh_token));
      assert.equal((await identity(s, third.access_token)).status, 200);
      // The used one is dead (and presenting it revokes the grant, RFC 6819 §5.2.2.3).
      await assertError(await refresh(s, pair.refresh_token), 400, 'invalid_grant');
      assert.equal((await identity(s, third.access_token)).status, 401);

      // "authorization codes can only be exchanged for an access token once" (and a second try
      // revokes what the first one got, RFC 6749 §4.1.2).
      const once = await authorizationCode(s, 'once');
      const fromOnce = await assertTokenResponse(await exchange(s, once));
      await assertError(await exchange(s, once), 400, 'invalid_grant');
      assert.equal((await identity(s, fromOnce.access_token)).status, 401);
      await assertError(await exchange(s, code), 400, 'invalid_grant');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] House Check guide: deny, unregistered redirect URIs, and the lifetimes (code 10 min, access 1 day, refresh 3 days)`, async () => {
    const server = await startTestServer(kind, { profile: 'housecheck' });
    try {
      const s = await setup(server);

      // "If the user denies your integration, he will be redirected to the redirect_uri, with an
      // error parameter: https://YOUR_REDIRECT_URI?error=access_denied"
      const denied = await authorize(server, { clientId: s.clientId, redirectUri: REDIRECT_URI, state: 'deny-me', cookies: s.jar, decision: 'deny' });
      assert.equal(denied.status, 302);
      assert.ok(denied.location?.startsWith(`${REDIRECT_URI}?error=access_denied`), denied.location ?? '');
      assert.equal(denied.error, 'access_denied');
      assert.equal(denied.state, 'deny-me');
      assert.equal(denied.code, null);

      // "Only redirect URIs matching one of these whitelisted URIs will be accepted."
      for (const redirectUri of ['https://evil.example/cb', `${REDIRECT_URI}/more`, 'https://staging.housecheck-integration.example/cb?x=1']) {
        const res = await httpRequest(server, 'GET', authorizePath({ clientId: s.clientId, redirectUri, state: 's' }), { jar: s.jar });
        assert.equal(res.status, 400);
        assert.equal(res.location, null);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      }
      // Both registered URIs work.
      for (const redirectUri of REDIRECT_URIS.split(',')) {
        const ok = await authorize(server, { clientId: s.clientId, redirectUri, state: 's', cookies: s.jar });
        assert.ok(ok.location?.startsWith(`${redirectUri}?code=`), ok.location ?? '');
      }

      // "authorization codes … expire 10 minutes after issuance" (checked to the second: the
      // clock moves only when told from here on)
      server.clock.freeze();
      const late = await authorizationCode(s, 'late');
      server.clock.advance(600);
      await assertError(await exchange(s, late), 400, 'invalid_grant');
      const inTime = await authorizationCode(s, 'in-time');
      server.clock.advance(599);
      const pair = await assertTokenResponse(await exchange(s, inTime));

      // "Access tokens expire shortly (1 day) after they are issued"
      server.clock.advance(DAY - 1);
      assert.equal((await identity(s, pair.access_token)).status, 200);
      server.clock.advance(1);
      const expired = await identity(s, pair.access_token);
      assert.equal(expired.status, 401);
      assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

      // "The refresh token will be valid for 3 days." (counted from issuance; one day has passed)
      server.clock.advance(2 * DAY - 1);
      const refreshed = await assertTokenResponse(await refresh(s, pair.refresh_token));
      assert.equal((await identity(s, refreshed.access_token)).status, 200);
      // The new refresh token: valid for 3 days, not one second more.
      server.clock.advance(3 * DAY + 1);
      await assertError(await refresh(s, refreshed.refresh_token), 400, 'invalid_grant');
    } finally {
      await server.close();
    }
  });
}
