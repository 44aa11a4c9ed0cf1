// The three API guides (SPEC.md profiles), as their integrations send the requests: Huddle's
// password grant at /token and secret-less refresh at /refresh with its odd white space and
// `OAuth2` header; Hover's multipart and JSON bodies and 401 answers; House Check's lifetimes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { freezeClock, startTestServer } from '../helpers/server.js';
import { createClient, createUser, mintCode } from '../helpers/fixtures.js';
import { getUser, postToken, refresh, secretPost, tokensOf, type JsonResponse } from '../helpers/token.js';

async function rawPost(url: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<JsonResponse> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of databaseKinds()) {
  test(`[${kind}] huddle: password grant at /token, OAuth2 header, refresh at /refresh without the secret, 403 when expired`, async () => {
    const server = await startTestServer(kind, { profile: 'huddle' });
    try {
      const user = await createUser(server, { email: 'avalidusername@huddle.example' });
      const huddle = await createClient(server, { name: 'CloudHack', grantTypes: ['password', 'refresh_token'], refreshWithoutSecret: true });
      // The guide's body, white space and all ("grant_type=password &username=…", a trailing space).
      const body = `client_id=${huddle.clientId}&client_secret=${huddle.clientSecret ?? ''}&grant_type=password &username=${user.email}&password=${encodeURIComponent(user.password)} `;
      const issued = await rawPost(`${server.url}/token`, body);
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.expires_in, 1200);
      const first = tokensOf(issued);

      const me = await getUser(server, first.accessToken, { scheme: 'OAuth2' });
      assert.equal(me.status, 200);
      assert.equal(me.body.id, user.id);

      // Step 3 of the guide, verbatim: "Refresh_Token" and a leading space in the token.
      const refreshed = await rawPost(`${server.url}/refresh`, `grant_type=Refresh_Token&client_id=${huddle.clientId}&refresh_token= ${first.refreshToken}`);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(refreshed.body.expires_in, 1200);
      assert.equal(refreshed.headers.get('cache-control'), 'no-store');
      const second = tokensOf(refreshed);

      // Without the secret only /refresh will do; the token endpoint wants the secret.
      const atToken = await rawPost(`${server.url}/token`, `grant_type=refresh_token&client_id=${huddle.clientId}&refresh_token=${second.refreshToken}`);
      assert.equal(atToken.status, 401);
      assert.equal(atToken.body.error, 'invalid_client');
      // With the secret, /refresh works as well.
      const withSecret = await refresh(server, huddle, second.refreshToken, {}, { path: '/refresh' });
      assert.equal(withSecret.status, 200);
      const third = tokensOf(withSecret);

      server.clock.advance(1200);
      const expired = await getUser(server, third.accessToken, { scheme: 'OAuth2' });
      assert.equal(expired.status, 403);
      assert.equal(expired.body.error, 'invalid_token');
      assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

      // A client registered without refresh_without_secret must authenticate even at /refresh.
      const plain = await createClient(server, { grantTypes: ['password', 'refresh_token'] });
      const pair = tokensOf(await postToken(server, { grant_type: 'password', username: user.email, password: user.password, ...secretPost(plain) }, { path: '/token' }));
      const noSecret = await postToken(server, { grant_type: 'refresh_token', refresh_token: pair.refreshToken, client_id: plain.clientId }, { path: '/refresh' });
      assert.equal(noSecret.status, 401);
      assert.equal(noSecret.body.error, 'invalid_client');
      // /refresh takes only the refresh grant.
      const pw = await postToken(server, { grant_type: 'password', username: user.email, password: user.password, ...secretPost(plain) }, { path: '/refresh' });
      assert.equal(pw.status, 400);
      assert.equal(pw.body.error, 'unsupported_grant_type');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] hover: multipart and JSON bodies, 2-hour tokens, refresh tokens that never expire, 401 for invalid_grant and invalid_request`, async () => {
    const server = await startTestServer(kind, { profile: 'hover' });
    try {
      const user = await createUser(server);
      const org = await server.services.orgs.insert({ name: 'Hover Org', integrationsEnabled: true, now: 0 });
      const client = await createClient(server, { redirectUris: ['https://hover.to'] });
      const { code } = await mintCode(server, { client, userId: user.id, organizationId: org.id });
      const issued = await postToken(server, { client_id: client.clientId, client_secret: client.clientSecret ?? '', redirect_uri: 'https://hover.to', grant_type: 'authorization_code', code }, { format: 'multipart' });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.expires_in, 7200);
      const first = tokensOf(issued);
      assert.deepEqual((await getUser(server, first.accessToken)).body.organization, { id: org.id, name: 'Hover Org' });

      server.clock.advance(400 * 86_400);
      const refreshed = await postToken(server, { client_id: client.clientId, client_secret: client.clientSecret ?? '', grant_type: 'refresh_token', refresh_token: first.refreshToken }, { format: 'json' });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(refreshed.body.expires_in, 7200);

      // "A 401 could mean … an invalid refresh token … or a malformed body".
      const reused = await postToken(server, { ...secretPost(client), grant_type: 'refresh_token', refresh_token: first.refreshToken }, { format: 'json' });
      assert.equal(reused.status, 401);
      assert.equal(reused.body.error, 'invalid_grant');
      const malformed = await rawPost(`${server.url}/oauth/token`, '{"grant_type":', 'application/json');
      assert.equal(malformed.status, 401);
      assert.equal(malformed.body.error, 'invalid_request');
      // Other errors keep their RFC status.
      const unsupported = await postToken(server, { ...secretPost(client), grant_type: 'implicit' });
      assert.equal(unsupported.status, 400);
      assert.equal(unsupported.body.error, 'unsupported_grant_type');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] housecheck: 1-day access tokens, refresh tokens valid 3 days`, async () => {
    const server = await startTestServer(kind, { profile: 'housecheck' });
    try {
      const user = await createUser(server, { name: 'John Doe', email: 'john@doe.com', locale: 'nl' });
      const client = await createClient(server, { redirectUris: ['https://a.example/cb', 'https://b.example/cb'] });
      const { code } = await mintCode(server, { client, userId: user.id, redirectUri: 'https://b.example/cb' });
      const issued = await postToken(server, { grant_type: 'authorization_code', client_id: client.clientId, client_secret: client.clientSecret ?? '', code, redirect_uri: 'https://b.example/cb' });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.expires_in, 86_400);
      const first = tokensOf(issued);
      assert.deepEqual((await getUser(server, first.accessToken)).body, { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl' });

      // Frozen, so that a second ticking between the requests cannot move the boundary.
      const unfreeze = freezeClock(server);
      server.clock.advance(3 * 86_400 - 5);
      const second = tokensOf(await refresh(server, client, first.refreshToken));
      server.clock.advance(3 * 86_400);
      unfreeze();
      const expired = await refresh(server, client, second.refreshToken);
      assert.equal(expired.status, 400);
      assert.equal(expired.body.error, 'invalid_grant');
    } finally {
      await server.close();
    }
  });
}
