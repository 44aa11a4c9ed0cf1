// Issue 18, finding 4: a password change must end every OAuth grant of the account. Someone who
// learned the old password (or stole a token) and connected an app keeps nothing: every
// access and refresh token issued before the change fails at the very next request (SQLite's
// kept rows included), introspection calls them inactive, and each app must be approved again.
// Real HTTP on both databases, under the standard and the hover profile (whose refresh tokens
// never expire), and with JWT access tokens.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createOrganization, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, postToken, refresh, secretPost, tokensOf } from '../helpers/token.js';
import { httpRequest, type CookieJar } from '../helpers/browser.js';
import { authorize, signIn } from '../helpers/authorize.js';
import { csrfTokenOf } from '../helpers/pages.js';
import { introspectToken } from '../helpers/token-admin.js';

const NEW_PASSWORD = 'a brand new passphrase';

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** The code flow through the pages: authorization, login (already signed in), consent, exchange. */
async function codeFlow(server: TestServer, client: TestClient, cookies: CookieJar): Promise<Tokens> {
  const flow = await authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, state: 's', cookies });
  assert.ok(flow.code, `a code (status ${flow.status}, error ${flow.error ?? '-'})`);
  return tokensOf(await exchangeCode(server, client, flow.code));
}

/** Changes the password the way a person does: the account page, its CSRF token, the form. */
async function changePassword(server: TestServer, cookies: CookieJar, current: string): Promise<string> {
  const page = await httpRequest(server, 'GET', '/account', { jar: cookies });
  assert.equal(page.status, 200);
  const res = await httpRequest(server, 'POST', '/account/password', {
    jar: cookies, form: { csrf_token: csrfTokenOf(page.body), current_password: current, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD },
  });
  assert.equal(res.status, 303, `password change → ${res.status}: ${res.body.slice(0, 300)}`);
  const after = await httpRequest(server, 'GET', res.location ?? '/account', { jar: cookies });
  assert.equal(after.status, 200);
  return after.body;
}

async function assertDead(server: TestServer, client: TestClient, tokens: Tokens, label: string): Promise<void> {
  const api = await getUser(server, tokens.accessToken);
  assert.equal(api.status, 401, `${label}: /api/user with the old access token`);
  assert.match(api.headers.get('www-authenticate') ?? '', /error="invalid_token"/, label);
  const refreshed = await refresh(server, client, tokens.refreshToken);
  assert.equal(refreshed.body.error, 'invalid_grant', `${label}: refresh with the old refresh token`);
  assert.equal(refreshed.status, server.config.tokenErrorStatus, `${label}: the profile's status for invalid_grant`);
  assert.deepEqual(await introspectToken(server, client, tokens.accessToken), { active: false }, `${label}: access token introspected`);
  assert.deepEqual(await introspectToken(server, client, tokens.refreshToken), { active: false }, `${label}: refresh token introspected`);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] finding 4: a password change revokes every grant`, () => {
    for (const profile of ['standard', 'hover'] as const) {
      test(`${profile}: old access and refresh tokens of every app fail at once; apps must be approved again`, async () => {
        const server = await startTestServer(kind, { profile });
        try {
          const user: TestUser = await createUser(server, { locale: 'en' });
          const other = await createUser(server, { locale: 'en' });
          const org = await createOrganization(server, { name: 'Acme', memberIds: [user.id] });
          const photos = await createClient(server, { name: 'Photos', redirectUris: ['https://photos.example/cb'] });
          const notes = await createClient(server, { name: 'Notes', redirectUris: ['https://notes.example/cb'] });
          const direct = await createClient(server, { name: 'Direct', grantTypes: ['password', 'refresh_token'] });

          // The account is signed in in two browsers (the owner's and, say, an attacker's who knew the password).
          const owner = await signIn(server, user.email, user.password);
          const attacker = await signIn(server, user.email, user.password);
          const byPhotos = await codeFlow(server, photos, attacker);
          const byNotes = await codeFlow(server, notes, owner);
          const byPassword = tokensOf(await postToken(server, { grant_type: 'password', username: user.email, password: user.password, ...secretPost(direct) }));
          // Someone else's tokens, which must survive.
          const othersTokens = await codeFlow(server, photos, await signIn(server, other.email, other.password));

          // Each works now (and, on SQLite, its context is kept in memory from here on).
          for (const t of [byPhotos, byNotes, byPassword]) assert.equal((await getUser(server, t.accessToken)).status, 200);
          assert.equal((await getUser(server, byNotes.accessToken)).body.organization !== undefined, true, 'bound to the organization');
          const grantsBefore = await server.services.store.db.selectFrom('grants').select('id').where('user_id', '=', user.id).where('revoked_at', 'is', null).execute();
          assert.equal(grantsBefore.length, 3);

          const page = await changePassword(server, owner, user.password);
          await assertDead(server, photos, byPhotos, 'photos (organization)');
          await assertDead(server, notes, byNotes, 'notes (organization)');
          await assertDead(server, direct, byPassword, 'password grant (no organization)');
          assert.match(page, /Your password is changed/);
          assert.match(page, /apps were signed out/);
          assert.match(page, /approve/i);

          // Nothing of it is left connected, and the other browser is signed out.
          assert.doesNotMatch((await httpRequest(server, 'GET', '/account', { jar: owner })).body, /<h3>Photos<\/h3>|<h3>Notes<\/h3>/);
          assert.equal((await httpRequest(server, 'GET', '/account', { jar: attacker })).status, 303);
          assert.equal(await server.services.grants.findConsent(user.id, photos.client.id, org.id), undefined);

          // The next authorization asks again; after a new consent the app works again.
          const again = await authorize(server, { clientId: notes.clientId, redirectUri: notes.redirectUri, state: 's', cookies: owner, decision: 'stop' });
          assert.equal(again.consentShown, true, 'the consent page is shown again');
          const renewed = await codeFlow(server, notes, owner);
          assert.equal((await getUser(server, renewed.accessToken)).status, 200);

          // Another user's tokens are untouched.
          assert.equal((await getUser(server, othersTokens.accessToken)).status, 200);
          assert.equal((await refresh(server, photos, othersTokens.refreshToken)).status, 200);

          const line = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.audit === true && l.event === 'password.changed');
          assert.ok(line, 'a password.changed audit line');
          assert.equal(line.user_id, user.id);
          assert.equal(line.grants_revoked, 3);
          assert.equal(line.address, '127.0.0.1');
          assert.equal(JSON.stringify(line).includes(NEW_PASSWORD), false);
        } finally {
          await server.close();
        }
      });
    }

    test('a JWT access token stops working at /api/user', async () => {
      const server = await startTestServer(kind, { file: { access_token_format: 'jwt' } });
      try {
        const user = await createUser(server, { locale: 'en' });
        const client = await createClient(server);
        const cookies = await signIn(server, user.email, user.password);
        const tokens = await codeFlow(server, client, cookies);
        assert.equal(tokens.accessToken.split('.').length, 3, 'a JWT');
        assert.equal((await getUser(server, tokens.accessToken)).status, 200);
        await changePassword(server, cookies, user.password);
        const api = await getUser(server, tokens.accessToken);
        assert.equal(api.status, 401);
        assert.match(api.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        assert.deepEqual(await introspectToken(server, client, tokens.accessToken), { active: false });
      } finally {
        await server.close();
      }
    });
  });
}
