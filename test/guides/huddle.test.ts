// Huddle's guide (../shared/seeds/002_0ec9685b70ad97e0.txt, "Using Password Profile"), replayed
// under the `huddle` profile. Every request is sent over a bare TCP socket exactly as the guide
// prints it — absolute-form targets, "Content-Type : …" with a space before the colon,
// "GET /v2/entry HTTP/1.1 " with a space after the version, "grant_type=password &username=…"
// and "refresh_token= …" — with only these substitutions:
//   - ids, secrets, the user and the tokens: ours instead of CloudHack's;
//   - /v2/entry → /api/user (Latchkey's protected resource);
//   - Content-Length: the real length of our body. The guide prints no Content-Length on the
//     /token request (without one an HTTP/1.1 request has no body, RFC 9112 §6.3) and prints
//     95 on the /refresh request, whose printed body is 96 bytes long; a blank line ends the
//     head (the guide's rendering dropped it before the /token body).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/users.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';

const USER = { email: 'john@doe.com', name: 'John Doe', password: 'aValidPassword-1', locale: 'nl' };

/** The guide's lines, CRLF-terminated, a blank line, then the body with its real Content-Length. */
function printed(lines: string[], body?: string): Buffer {
  const head = body === undefined ? lines : [...lines, `Content-Length: ${Buffer.byteLength(body)}`];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body ?? ''}`, 'latin1');
}

/** Step 1, as printed: POST https://login.huddle.net/token (or /oauth/token). */
function step1(path: '/token' | '/oauth/token', clientId: string, clientSecret: string, username: string, password: string): Buffer {
  return printed([
    `POST https://login.huddle.net${path} HTTP/1.1`,
    'Content-Type: application/x-www-form-urlencoded',
    'Host: login.huddle.net',
  ], `client_id=${clientId}&client_secret=${clientSecret}&grant_type=password &username=${username}&password=${password} `);
}

/** Step 2, as printed (trailing spaces and all): GET /v2/entry → /api/user with the OAuth2 scheme. */
function step2(accessToken: string): Buffer {
  return printed([
    'GET /api/user HTTP/1.1 ',
    `Authorization: OAuth2 ${accessToken}`,
    'Host: api.huddle.net ',
  ]);
}

/** Step 3, as printed: POST https://login.huddle.net/refresh with "Content-Type :" and the leading space. */
function step3(clientId: string, refreshToken: string): Buffer {
  return printed([
    'POST https://login.huddle.net/refresh HTTP/1.1',
    'User-Agent: Fiddler',
    'Content-Type : application/x-www-form-urlencoded',
    'Host: login.huddle.net',
  ], `grant_type=Refresh_Token&client_id=${clientId}&refresh_token= ${refreshToken}`);
}

interface TokenBody {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  token_type: string;
}

/** The response fields the guide documents: access_token, expires_in (1200), refresh_token. */
function assertTokenResponse(res: RawResponse): TokenBody {
  assert.equal(res.status, 200, res.body);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as TokenBody;
  assert.equal(typeof body.access_token, 'string');
  assert.ok(body.access_token.length > 20);
  assert.equal(body.expires_in, 1200);
  assert.equal(typeof body.refresh_token, 'string');
  assert.ok(body.refresh_token.length > 20);
  // What a client would trip over: the values carry no white space of their own.
  assert.equal(body.access_token.trim(), body.access_token);
  assert.equal(body.refresh_token.trim(), body.refresh_token);
  assert.equal(body.token_type, 'Bearer');
  return body;
}

async function huddleSetup(server: TestServer, refreshWithoutSecret: boolean) {
  const user = await createUser(server.services, USER);
  const { client, clientSecret } = await registerClient(server.services, {
    name: 'CloudHack',
    redirectUris: ['https://cloudhack.example/callback'],
    grantTypes: ['password', 'refresh_token'],
    refreshWithoutSecret,
  });
  assert.ok(clientSecret);
  return { user, clientId: client.clientId, clientSecret };
}

for (const kind of databaseKinds()) {
  test(`[${kind}] Huddle guide: password grant, OAuth2 header, 403 after 1200 s, /refresh with Refresh_Token and a leading space`, async () => {
    const server = await startTestServer(kind, { profile: 'huddle' });
    try {
      const { user, clientId, clientSecret } = await huddleSetup(server, true);
      // Expiry is checked to the second below: the clock moves only when told from here on.
      server.clock.freeze();

      // Step 1: Obtain an access token.
      const first = assertTokenResponse(await rawRequest(server.url, step1('/token', clientId, clientSecret, USER.email, USER.password)));

      // Step 2: Calling the APIs with "Authorization: OAuth2 TOKEN".
      const entry = await rawRequest(server.url, step2(first.access_token));
      assert.equal(entry.status, 200, entry.body);
      assert.deepEqual(entry.json(), { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl' });

      // "The access token … will expire after {expires_in} seconds. Once the access token
      // expires you will receive a 403 Forbidden response from any API call you make."
      server.clock.advance(1199);
      assert.equal((await rawRequest(server.url, step2(first.access_token))).status, 200);
      server.clock.advance(1);
      const expired = await rawRequest(server.url, step2(first.access_token));
      assert.equal(expired.status, 403);
      assert.equal(expired.statusText, 'Forbidden');
      assert.equal((expired.json() as { error: string }).error, 'invalid_token');

      // Step 3: Refreshing an expired token.
      const second = assertTokenResponse(await rawRequest(server.url, step3(clientId, first.refresh_token)));
      assert.notEqual(second.access_token, first.access_token);
      assert.notEqual(second.refresh_token, first.refresh_token);
      const again = await rawRequest(server.url, step2(second.access_token));
      assert.equal(again.status, 200);
      assert.equal((again.json() as { email: string }).email, 'john@doe.com');

      // "You can then use the new response as you used that obtained in Step 1": its refresh
      // token refreshes again, 1200 s later, and the one already used does not.
      server.clock.advance(1200);
      assert.equal((await rawRequest(server.url, step2(second.access_token))).status, 403);
      const third = assertTokenResponse(await rawRequest(server.url, step3(clientId, second.refresh_token)));
      assert.equal((await rawRequest(server.url, step2(third.access_token))).status, 200);
      const reused = await rawRequest(server.url, step3(clientId, first.refresh_token));
      assert.equal(reused.status, 400);
      assert.equal((reused.json() as { error: string }).error, 'invalid_grant');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] Huddle guide: step 1 also works at POST /oauth/token; wrong password and wrong secret`, async () => {
    const server = await startTestServer(kind, { profile: 'huddle' });
    try {
      const { clientId, clientSecret } = await huddleSetup(server, true);
      const viaOauth = assertTokenResponse(await rawRequest(server.url, step1('/oauth/token', clientId, clientSecret, USER.email, USER.password)));
      assert.equal((await rawRequest(server.url, step2(viaOauth.access_token))).status, 200);

      // A wrong password is invalid_grant (RFC 6749 §5.2), 400 under huddle.
      const wrong = await rawRequest(server.url, step1('/token', clientId, clientSecret, USER.email, 'notThePassword'));
      assert.equal(wrong.status, 400);
      assert.equal((wrong.json() as { error: string }).error, 'invalid_grant');
      // A wrong client secret is invalid_client, 401.
      const badClient = await rawRequest(server.url, step1('/token', clientId, `${clientSecret}x`, USER.email, USER.password));
      assert.equal(badClient.status, 401);
      assert.equal((badClient.json() as { error: string }).error, 'invalid_client');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] Huddle guide: /refresh with client_id alone needs refresh_without_secret (401 invalid_client otherwise)`, async () => {
    const server = await startTestServer(kind, { profile: 'huddle' });
    try {
      const { clientId, clientSecret } = await huddleSetup(server, false);
      const first = assertTokenResponse(await rawRequest(server.url, step1('/token', clientId, clientSecret, USER.email, USER.password)));
      const refused = await rawRequest(server.url, step3(clientId, first.refresh_token));
      assert.equal(refused.status, 401);
      assert.equal((refused.json() as { error: string }).error, 'invalid_client');
      // The refresh token was not spent by the refused request: with the secret it still works.
      const withSecret = await rawRequest(server.url, printed([
        'POST https://login.huddle.net/refresh HTTP/1.1',
        'User-Agent: Fiddler',
        'Content-Type : application/x-www-form-urlencoded',
        'Host: login.huddle.net',
      ], `grant_type=Refresh_Token&client_id=${clientId}&client_secret=${clientSecret}&refresh_token= ${first.refresh_token}`));
      assertTokenResponse(withSecret);
      // /refresh is the refresh grant only.
      const password = await rawRequest(server.url, printed([
        'POST https://login.huddle.net/refresh HTTP/1.1',
        'Content-Type : application/x-www-form-urlencoded',
        'Host: login.huddle.net',
      ], `client_id=${clientId}&client_secret=${clientSecret}&grant_type=password &username=${USER.email}&password=${USER.password} `));
      assert.equal(password.status, 400);
      assert.equal((password.json() as { error: string }).error, 'unsupported_grant_type');
    } finally {
      await server.close();
    }
  });
}
