// Scopes end to end on each database, with a server-wide list from the config file: each
// client is limited to its registered subset (invalid_scope beyond it, at the authorization
// and the token endpoint), a request without `scope` gets the client's full set, and what
// the identity endpoint and introspection reveal follows the granted scope.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerClient } from '../../src/accounts/client-registration.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, postToken, secretPost, tokensOf } from '../helpers/token.js';
import { pkcePair } from '../helpers/pkce.js';
import { authorize } from '../helpers/authorize.js';
import { introspectToken } from '../helpers/token-admin.js';

const SCOPES = ['profile', 'email', 'calendar'];

for (const kind of databaseKinds()) {
  describe(`[${kind}] scopes`, () => {
    let server: TestServer;
    let user: TestUser;
    let narrow: TestClient;
    let wide: TestClient;

    before(async () => {
      server = await startTestServer(kind, { file: { scopes: SCOPES } });
      user = await createUser(server, { email: 'sam@example.com', name: 'Sam', locale: 'de' });
      narrow = await createClient(server, { name: 'Narrow', scopes: ['profile'], grantTypes: ['authorization_code', 'refresh_token', 'password', 'client_credentials'] });
      wide = await createClient(server, { name: 'Wide' });
    });
    after(async () => {
      await server.close();
    });

    /** Runs the real flow (login, consent) and exchanges the code; returns the token response. */
    async function codeFlow(client: TestClient, scope: string | undefined) {
      const { verifier, challenge } = pkcePair();
      const result = await authorize(server, {
        clientId: client.clientId, redirectUri: client.redirectUri, state: 'st', codeChallenge: challenge,
        ...(scope !== undefined ? { scope } : {}), login: { email: user.email, password: user.password },
      });
      return { result, exchange: result.code ? await exchangeCode(server, client, result.code, { code_verifier: verifier }) : undefined };
    }

    test('a client registers only scopes the server offers; by default it gets them all', async () => {
      assert.deepEqual(wide.client.scopes, SCOPES);
      await assert.rejects(registerClient(server.services, { name: 'Greedy', redirectUris: ['https://g.example/cb'], scopes: ['profile', 'admin'] }), /unknown scope "admin"/);
    });

    test('no scope requested: the client\'s full set — and no more', async () => {
      const { exchange } = await codeFlow(narrow, undefined);
      assert.equal(exchange?.body.scope, 'profile');
      const { accessToken } = tokensOf(exchange!);
      const me = await getUser(server, accessToken);
      assert.deepEqual(me.body, { id: user.id, name: 'Sam', locale: 'de' });
      const intro = await introspectToken(server, narrow, accessToken);
      assert.equal(intro.scope, 'profile');
      assert.equal('username' in intro, false);

      const all = await codeFlow(wide, undefined);
      assert.equal(all.exchange?.body.scope, 'profile email calendar');
    });

    test('beyond the client\'s set: invalid_scope at the authorization endpoint and at the token endpoint', async () => {
      const { result } = await codeFlow(narrow, 'profile email');
      assert.equal(result.error, 'invalid_scope');
      assert.equal(result.state, 'st');
      assert.equal(result.code, null);
      const password = await postToken(server, { grant_type: 'password', username: user.email, password: user.password, scope: 'profile email', ...secretPost(narrow) });
      assert.equal(password.status, 400);
      assert.equal(password.body.error, 'invalid_scope');
      const machine = await postToken(server, { grant_type: 'client_credentials', scope: 'calendar', ...secretPost(narrow) });
      assert.equal(machine.status, 400);
      assert.equal(machine.body.error, 'invalid_scope');
      // A scope the server does not offer at all.
      const unknown = await codeFlow(wide, 'profile admin');
      assert.equal(unknown.result.error, 'invalid_scope');
    });

    test('the identity endpoint returns email only under the email scope', async () => {
      const emailOnly = tokensOf((await codeFlow(wide, 'email')).exchange!);
      assert.deepEqual((await getUser(server, emailOnly.accessToken)).body, { id: user.id, email: 'sam@example.com' });
      assert.equal((await introspectToken(server, wide, emailOnly.accessToken)).username, 'sam@example.com');

      const profileOnly = tokensOf((await codeFlow(wide, 'profile')).exchange!);
      assert.deepEqual((await getUser(server, profileOnly.accessToken)).body, { id: user.id, name: 'Sam', locale: 'de' });

      const both = tokensOf((await codeFlow(wide, 'calendar email profile')).exchange!);
      assert.deepEqual((await getUser(server, both.accessToken)).body, { id: user.id, name: 'Sam', email: 'sam@example.com', locale: 'de' });

      // Neither profile nor email: the identity is not readable at all.
      const calendar = tokensOf((await codeFlow(wide, 'calendar')).exchange!);
      const res = await getUser(server, calendar.accessToken);
      assert.equal(res.status, 403);
      assert.equal(res.body.error, 'insufficient_scope');
    });
  });
}
