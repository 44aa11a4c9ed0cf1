// The portal pages over HTTP: sign-up, the account page, the developer portal and
// organizations. Each test checks the page and what landed in the database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { PageClient, signUp, textById } from '../helpers/pages.js';
import { verifyPassword } from '../../src/accounts/passwords.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';

function fieldErrors(html: string): string[] {
  return [...html.matchAll(/class="field-error" id="([^"]+)">([^<]*)</g)].map((m) => `${m[1]}: ${m[2]}`);
}

for (const kind of databaseKinds()) {
  test(`[${kind}] sign-up: errors next to each field, then a signed-in account`, async () => {
    const server = await startTestServer(kind);
    try {
      const visitor = new PageClient(server.url);
      const home = await visitor.get('/');
      assert.equal(home.status, 200);
      assert.match(home.body, /href="\/signup"/);

      const page = await visitor.get('/signup');
      assert.equal(page.status, 200);
      for (const name of ['name', 'email', 'password', 'password_confirm', 'locale']) {
        assert.match(page.body, new RegExp(`<label for="f-${name}">`), `a label for ${name}`);
      }
      const bad = await visitor.submit('/signup', '/signup', { name: ' ', email: 'not-an-address', password: 'short', password_confirm: 'short', locale: 'english!' });
      assert.equal(bad.status, 400);
      const errors = fieldErrors(bad.body);
      assert.deepEqual(errors.map((e) => e.split(':')[0]), ['f-name-error', 'f-email-error', 'f-password-error', 'f-locale-error']);
      assert.match(bad.body, /value="not-an-address"/, 'the typed e-mail is kept');
      assert.doesNotMatch(bad.body, /value="short"/, 'passwords are never echoed');
      assert.match(bad.body, /aria-invalid="true"/);

      const mismatch = await visitor.submit('/signup', '/signup', { name: 'Ann', email: 'ann@example.com', password: 'long enough 1', password_confirm: 'long enough 2', locale: 'nl' });
      assert.equal(mismatch.status, 400);
      assert.deepEqual(fieldErrors(mismatch.body), ['f-password_confirm-error: The two passwords are not the same']);
      assert.equal(await server.services.users.findByEmail('ann@example.com'), undefined);

      const ok = await visitor.submit('/signup', '/signup', { name: 'Ann <script>alert(1)</script>', email: 'Ann@Example.com', password: 'long enough 1', password_confirm: 'long enough 1', locale: 'nl' });
      assert.equal(ok.status, 303);
      assert.equal(ok.location, '/account');
      const user = await server.services.users.findByEmail('ann@example.com');
      assert.equal(user?.locale, 'nl');
      const account = await visitor.get('/account');
      assert.equal(account.status, 200);
      assert.match(account.body, /Ann &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      assert.doesNotMatch(account.body, /<script>alert/);
      assert.equal(account.headers.get('cache-control'), 'no-store');
      assert.equal((await visitor.get('/')).location, '/account', 'signed in: / goes to the account');

      const twice = await new PageClient(server.url).submit('/signup', '/signup', { name: 'Ann 2', email: 'ann@EXAMPLE.com', password: 'long enough 1', password_confirm: 'long enough 1', locale: 'en' });
      assert.equal(twice.status, 400);
      assert.match(fieldErrors(twice.body)[0] ?? '', /^f-email-error: An account with this e-mail address already exists/);

      // Malformed bodies are a page, never a 5xx.
      const repeated = await visitor.request('POST', '/signup', 'csrf_token=a&csrf_token=b&name=x');
      assert.equal(repeated.status, 403);
      const json = await visitor.request('POST', '/signup', '{"name":', 'application/json');
      assert.ok(json.status >= 400 && json.status < 500, `bad JSON → ${json.status}`);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] sent to sign in, a visitor who creates an account instead is taken back to where they were going`, async () => {
    const server = await startTestServer(kind);
    try {
      const visitor = new PageClient(server.url);
      const next = '/oauth/authorize?response_type=code&client_id=abc&scope=profile%20email&state=s1';
      const login = await visitor.get(`/login?next=${encodeURIComponent(next)}`);
      assert.equal(login.status, 200);
      const href = /<a href="([^"]*)">Create an account<\/a>/.exec(login.body)?.[1];
      assert.equal(href, `/signup?next=${encodeURIComponent(next)}`);
      const page = await visitor.get(href);
      assert.equal(page.status, 200);
      const carried = /name="next" value="([^"]*)"/.exec(page.body)?.[1]?.replaceAll('&amp;', '&');
      assert.equal(carried, next);
      const ok = await visitor.submit(href, '/signup', { name: 'Bo', email: 'bo@example.com', password: 'long enough 1', password_confirm: 'long enough 1', locale: 'en', next: carried });
      assert.equal(ok.status, 303);
      assert.equal(ok.location, next);
      // Straight to the login page (nowhere in particular to go): the link leads to the account.
      const plain = await new PageClient(server.url).get('/login');
      assert.match(plain.body, /<a href="\/signup\?next=%2Faccount">Create an account<\/a>/);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] sign-up is a 404 when the signup setting is off`, async () => {
    const server = await startTestServer(kind, { file: { signup: false } });
    try {
      const visitor = new PageClient(server.url);
      assert.equal((await visitor.get('/signup')).status, 404);
      const res = await visitor.post('/signup', { name: 'x', email: 'x@example.com', password: 'password123', password_confirm: 'password123', locale: 'en' });
      assert.equal(res.status, 404);
      assert.equal(await server.services.users.findByEmail('x@example.com'), undefined);
      assert.doesNotMatch((await visitor.get('/')).body, /href="\/signup"/);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] account: profile and password change (current password required, other sessions end)`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const ann = await signUp(server.url, { email: 'ann@example.com', name: 'Ann' });
      const user = (await services.users.findByEmail('ann@example.com'))!;
      const elsewhere = await signUp(server.url, { email: 'bob@example.com' });
      assert.equal((await new PageClient(server.url).get('/account')).location, '/login?next=%2Faccount', 'anonymous → login');

      // A new e-mail address needs the current password (issue 18, finding 5); a taken one is
      // refused without saying that an account uses it.
      const noPassword = await ann.submit('/account', '/account/profile', { name: 'Ann B', email: 'ann.b@example.com', locale: 'en-GB' });
      assert.equal(noPassword.status, 400);
      assert.deepEqual(fieldErrors(noPassword.body), ['profile-current_password-error: Enter your current password to change your e-mail address']);
      const taken = await ann.submit('/account', '/account/profile', { name: 'Ann B', email: 'BOB@example.com', locale: 'nl', current_password: 'correct horse battery' });
      assert.equal(taken.status, 400);
      assert.match(fieldErrors(taken.body).join('\n'), /profile-email-error: This e-mail address can&#39;t be used for your account\. Choose another\./);
      const saved = await ann.submit('/account', '/account/profile', { name: 'Ann B', email: 'ann.b@example.com', locale: 'en-GB', current_password: 'correct horse battery' });
      assert.equal(saved.status, 303);
      const stored = await services.users.findById(user.id);
      // Name and language saved at once; the new address waits for the link mailed to it (issue 22).
      assert.deepEqual(stored, { id: user.id, name: 'Ann B', email: 'ann@example.com', locale: 'en-GB', subject: user.subject, emailVerified: false, updatedAt: stored?.updatedAt });
      assert.equal((await services.emailTokens.findPending(user.id, 'change', nowSeconds(server.clock)))?.email, 'ann.b@example.com');
      assert.ok((stored?.updatedAt ?? 0) >= user.updatedAt);
      assert.match((await ann.get(saved.location!)).body, /Your profile is saved/);

      // A second session of Ann's, which the password change must end.
      const second = new PageClient(server.url);
      const row = await services.store.db.selectFrom('sessions').select('id_hash').where('user_id', '=', user.id).execute();
      assert.equal(row.length, 1);
      const login = await second.submit('/login', '/login', { email: 'ann@example.com', password: 'correct horse battery' });
      assert.equal(login.status, 303, `login → ${login.status}`);
      assert.equal((await second.get('/account')).status, 200);

      const wrong = await ann.submit('/account', '/account/password', { current_password: 'wrong password', password: 'brand new pass', password_confirm: 'brand new pass' });
      assert.equal(wrong.status, 400);
      assert.deepEqual(fieldErrors(wrong.body), ['pw-current_password-error: This is not your current password']);
      assert.ok(await verifyPassword((await services.users.findPasswordHash(user.id))!, 'correct horse battery'));

      const changed = await ann.submit('/account', '/account/password', { current_password: 'correct horse battery', password: 'brand new pass', password_confirm: 'brand new pass' });
      assert.equal(changed.status, 303);
      assert.ok(await verifyPassword((await services.users.findPasswordHash(user.id))!, 'brand new pass'));
      assert.equal((await ann.get('/account')).status, 200, 'this session stays');
      assert.equal((await second.get('/account')).status, 303, 'the other session is signed out');
      assert.equal((await elsewhere.get('/account')).status, 200, "someone else's session is untouched");
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] connected apps: listed per organization, and "Revoke access" ends the grant`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const ann = await signUp(server.url, { email: 'ann@example.com', name: 'Ann' });
      const user = (await services.users.findByEmail('ann@example.com'))!;
      const dev = await signUp(server.url, { email: 'dev@example.com' });
      const created = await dev.submit('/developer/clients/new', '/developer/clients/new', { name: 'Photo <Printer>', redirect_uris: 'https://photos.example/cb' });
      const client = (await services.clients.findByClientId(textById(created.body, 'client-id')))!;
      const now = nowSeconds(services.clock);
      const org = await services.orgs.insert({ name: 'Acme & Co', integrationsEnabled: true, now });
      await services.orgs.upsertMember(org.id, user.id, 'member', now);
      await services.grants.upsertConsent(user.id, client.id, null, 'profile email', now);
      await services.grants.upsertConsent(user.id, client.id, org.id, 'profile', now);
      const personal = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope: 'profile email', grantType: 'authorization_code', now });
      const forOrg = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: org.id, scope: 'profile', grantType: 'authorization_code', now });

      const page = await ann.get('/account');
      assert.equal((page.body.match(/Photo &lt;Printer&gt;<\/h3>/g) ?? []).length, 2);
      assert.match(page.body, /Your personal account/);
      assert.match(page.body, /Organization: Acme &amp; Co/);
      assert.match(page.body, /<code>email<\/code> — Your e-mail address/);

      // Someone else cannot revoke Ann's grants (they act on their own account only).
      assert.equal((await dev.submit('/account', '/account/apps/revoke', { client_id: client.clientId, organization_id: '' })).status, 303);
      assert.equal(await services.grants.isRevoked(personal), false);

      const revoked = await ann.submit('/account', '/account/apps/revoke', { client_id: client.clientId, organization_id: String(org.id) });
      assert.equal(revoked.status, 303);
      assert.equal(await services.grants.isRevoked(forOrg), true);
      assert.equal(await services.grants.isRevoked(personal), false, 'only that organization');
      assert.equal(await services.grants.findConsent(user.id, client.id, org.id), undefined);
      const after = await ann.get(revoked.location!);
      assert.match(after.body, /Access revoked/);
      assert.equal((after.body.match(/Photo &lt;Printer&gt;<\/h3>/g) ?? []).length, 1);

      // Nonsense input is harmless.
      for (const fields of [{ client_id: 'nope', organization_id: '' }, { client_id: client.clientId, organization_id: '-1' }, { client_id: client.clientId, organization_id: '99999999999999999999' }]) {
        assert.equal((await ann.submit('/account', '/account/apps/revoke', fields)).status, 303);
      }
      assert.equal(await services.grants.isRevoked(personal), false);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] developer portal: register, validate redirect URIs, edit, reset the secret, delete; owners only`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const dev = await signUp(server.url, { email: 'dev@example.com', name: 'Dev' });
      const devUser = (await services.users.findByEmail('dev@example.com'))!;
      const stranger = await signUp(server.url, { email: 'stranger@example.com' });

      const empty = await dev.get('/developer/clients');
      assert.match(empty.body, /not registered any API clients/);

      const invalid = await dev.submit('/developer/clients/new', '/developer/clients/new', {
        name: '', redirect_uris: 'https://ok.example/cb, http://plain.example/cb',
      });
      assert.equal(invalid.status, 400);
      assert.deepEqual(fieldErrors(invalid.body), [
        'f-name-error: A client needs a name',
        'f-redirect_uris-error: http://plain.example/cb must use https (http is allowed only for localhost and 127.0.0.1)',
      ]);
      assert.match(invalid.body, /https:\/\/ok.example\/cb, http:\/\/plain.example\/cb<\/textarea>/, 'the typed list is kept');
      for (const [uris, message] of [
        ['https://a.example/cb#frag', /must not contain a fragment/],
        ['/relative/cb', /is not an absolute URI/],
        ['', /at least one redirect URI/],
        ['javascript:alert(1)', /scheme that is not allowed|must use https/],
      ] as const) {
        const res = await dev.submit('/developer/clients/new', '/developer/clients/new', { name: 'X', redirect_uris: uris });
        assert.equal(res.status, 400, uris);
        assert.match(fieldErrors(res.body).join('\n'), message);
      }
      assert.deepEqual(await services.clients.listByOwner(devUser.id), []);

      const created = await dev.submit('/developer/clients/new', '/developer/clients/new', {
        name: 'My <App>', redirect_uris: 'https://app.example/cb,http://127.0.0.1:8000/cb\nhttp://localhost/cb',
      });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get('cache-control'), 'no-store');
      const clientId = textById(created.body, 'client-id');
      const secret = textById(created.body, 'client-secret');
      assert.match(created.body, /never put it in client-side code/);
      assert.match(created.body, /<script src="\/assets\/copy.js" defer><\/script>/);
      const client = (await services.clients.findByClientId(clientId))!;
      assert.equal(client.name, 'My <App>');
      assert.deepEqual(client.redirectUris, ['https://app.example/cb', 'http://127.0.0.1:8000/cb', 'http://localhost/cb']);
      assert.equal(client.secretHash, sha256Hex(secret));
      assert.equal(client.ownerUserId, devUser.id);
      assert.equal(client.isPublic, false);

      const list = await dev.get('/developer/clients');
      assert.match(list.body, new RegExp(`href="/developer/clients/${clientId}">My &lt;App&gt;</a>`));
      const edit = await dev.get(`/developer/clients/${clientId}`);
      assert.equal(edit.status, 200);
      assert.doesNotMatch(edit.body, new RegExp(secret), 'the secret is never shown again');
      assert.match(edit.body, /https:\/\/app.example\/cb\nhttp:\/\/127.0.0.1:8000\/cb\nhttp:\/\/localhost\/cb<\/textarea>/);

      // Owners only: every page and form of someone else's client is a 404, and nothing changes.
      for (const path of ['', '/reset-secret', '/delete']) {
        assert.equal((await stranger.get(`/developer/clients/${clientId}${path}`)).status, 404, `GET ${path}`);
        const res = await stranger.submit('/account', `/developer/clients/${clientId}${path}`, { name: 'Stolen', redirect_uris: 'https://evil.example/cb', confirm: 'yes' });
        assert.equal(res.status, 404, `POST ${path}`);
      }
      assert.deepEqual(await services.clients.findByClientId(clientId), client);
      assert.equal((await dev.get('/developer/clients/unknown-client')).status, 404);
      assert.doesNotMatch((await stranger.get('/developer/clients')).body, /My &lt;App&gt;/);

      const badEdit = await dev.submit(`/developer/clients/${clientId}`, `/developer/clients/${clientId}`, { name: 'Renamed', redirect_uris: 'ftp://x' });
      assert.equal(badEdit.status, 400);
      assert.match(fieldErrors(badEdit.body).join(), /must use https/);
      const saved = await dev.submit(`/developer/clients/${clientId}`, `/developer/clients/${clientId}`, { name: 'Renamed', redirect_uris: 'https://new.example/cb\r\nhttps://new.example/other' });
      assert.equal(saved.status, 303);
      const updated = (await services.clients.findByClientId(clientId))!;
      assert.equal(updated.name, 'Renamed');
      assert.deepEqual(updated.redirectUris, ['https://new.example/cb', 'https://new.example/other']);

      // Resetting needs the confirmation box; then the new secret is shown once and the old one is gone.
      const confirmPage = await dev.get(`/developer/clients/${clientId}/reset-secret`);
      assert.match(confirmPage.body, /stops working <strong>at once<\/strong>/);
      const unconfirmed = await dev.submit(`/developer/clients/${clientId}/reset-secret`, `/developer/clients/${clientId}/reset-secret`, {});
      assert.equal(unconfirmed.status, 400);
      assert.equal((await services.clients.findByClientId(clientId))?.secretHash, sha256Hex(secret));
      const reset = await dev.submit(`/developer/clients/${clientId}/reset-secret`, `/developer/clients/${clientId}/reset-secret`, { confirm: 'yes' });
      assert.equal(reset.status, 200);
      const newSecret = textById(reset.body, 'client-secret');
      assert.notEqual(newSecret, secret);
      assert.equal((await services.clients.findByClientId(clientId))?.secretHash, sha256Hex(newSecret));

      // A public client: no secret, and no reset.
      const pub = await dev.submit('/developer/clients/new', '/developer/clients/new', { name: 'Mobile', redirect_uris: 'https://m.example/cb', public: 'yes' });
      assert.equal(pub.status, 201);
      assert.doesNotMatch(pub.body, /id="client-secret"/);
      const pubClient = (await services.clients.findByClientId(textById(pub.body, 'client-id')))!;
      assert.equal(pubClient.isPublic, true);
      assert.equal(pubClient.secretHash, null);
      assert.equal((await dev.get(`/developer/clients/${pubClient.clientId}/reset-secret`)).status, 404);

      // Deleting takes the client's grants and tokens with it.
      const now = nowSeconds(services.clock);
      const grantId = await services.grants.insert({ clientId: updated.id, userId: devUser.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
      await services.accessTokens.insert({ tokenHash: sha256Hex('tok'), jti: null, grantId: grantId, clientId: updated.id, userId: devUser.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt: now + 3600 });
      const unconfirmedDelete = await dev.submit(`/developer/clients/${clientId}/delete`, `/developer/clients/${clientId}/delete`, {});
      assert.equal(unconfirmedDelete.status, 400);
      assert.ok(await services.clients.findByClientId(clientId));
      const deleted = await dev.submit(`/developer/clients/${clientId}/delete`, `/developer/clients/${clientId}/delete`, { confirm: 'yes' });
      assert.equal(deleted.status, 303);
      assert.equal(await services.clients.findByClientId(clientId), undefined);
      assert.equal(await services.accessTokens.find(sha256Hex('tok')), undefined);
      assert.match((await dev.get(deleted.location!)).body, /The client is deleted/);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] developer portal: post-logout redirect URIs and the ID token algorithm, on create and edit, validated like redirect URIs`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const dev = await signUp(server.url, { email: 'rp@example.com', name: 'RP Dev' });
      const form = await dev.get('/developer/clients/new');
      assert.match(form.body, /<label for="f-post_logout_redirect_uris">Post-logout URIs<\/label>/);
      assert.match(form.body, /<select id="f-id_token_signed_response_alg" name="id_token_signed_response_alg"[^>]*>\s*<option value="RS256" selected>/, 'RS256 preselected');

      const invalid = await dev.submit('/developer/clients/new', '/developer/clients/new', {
        name: 'RP', redirect_uris: 'https://rp.example/cb', post_logout_redirect_uris: 'https://rp.example/bye\nhttp://plain.example/bye', id_token_signed_response_alg: 'none',
      });
      assert.equal(invalid.status, 400);
      assert.deepEqual(fieldErrors(invalid.body), [
        'f-post_logout_redirect_uris-error: Post-logout redirect URI http://plain.example/bye must use https (http is allowed only for localhost and 127.0.0.1)',
        'f-id_token_signed_response_alg-error: Choose RS256 or ES256',
      ]);
      assert.match(invalid.body, /https:\/\/rp.example\/bye\nhttp:\/\/plain.example\/bye<\/textarea>/, 'the typed list is kept');
      for (const [uris, message] of [
        ['https://rp.example/bye#frag', /must not contain a fragment/],
        ['/relative', /is not an absolute URI/],
        ['javascript:alert(1)', /scheme that is not allowed|must use https/],
        ['https://rp.example/bye\\x', /backslashes/],
        [Array.from({ length: 21 }, (_v, i) => `https://rp.example/bye${i}`).join(','), /at most 20 post-logout redirect URIs/],
      ] as const) {
        const res = await dev.submit('/developer/clients/new', '/developer/clients/new', { name: 'RP', redirect_uris: 'https://rp.example/cb', post_logout_redirect_uris: uris });
        assert.equal(res.status, 400, uris);
        assert.match(fieldErrors(res.body).join('\n'), message);
      }
      const user = (await services.users.findByEmail('rp@example.com'))!;
      assert.deepEqual(await services.clients.listByOwner(user.id), []);

      const created = await dev.submit('/developer/clients/new', '/developer/clients/new', {
        name: 'RP', redirect_uris: 'https://rp.example/cb', post_logout_redirect_uris: 'https://rp.example/bye, http://127.0.0.1:8000/bye?x=1', id_token_signed_response_alg: 'ES256',
      });
      assert.equal(created.status, 201);
      const clientId = textById(created.body, 'client-id');
      const client = (await services.clients.findByClientId(clientId))!;
      assert.deepEqual(client.postLogoutRedirectUris, ['https://rp.example/bye', 'http://127.0.0.1:8000/bye?x=1']);
      assert.equal(client.idTokenSignedResponseAlg, 'ES256');
      const page = await dev.get(`/developer/clients/${clientId}`);
      assert.match(page.body, /<dt>Post-logout redirect URIs<\/dt><dd><ul class="plain"><li><code>https:\/\/rp.example\/bye<\/code><\/li><li><code>http:\/\/127.0.0.1:8000\/bye\?x=1<\/code><\/li><\/ul><\/dd>/);
      assert.match(page.body, /<dt>ID token algorithm<\/dt><dd>ES256<\/dd>/);
      assert.match(page.body, /https:\/\/rp.example\/bye\nhttp:\/\/127.0.0.1:8000\/bye\?x=1<\/textarea>/);
      assert.match(page.body, /<option value="ES256" selected>/);

      const badEdit = await dev.submit(`/developer/clients/${clientId}`, `/developer/clients/${clientId}`, {
        name: 'RP', redirect_uris: 'https://rp.example/cb', post_logout_redirect_uris: 'ftp://x', id_token_signed_response_alg: 'HS256',
      });
      assert.equal(badEdit.status, 400);
      assert.deepEqual(fieldErrors(badEdit.body).map((e) => e.split(':')[0]), ['f-post_logout_redirect_uris-error', 'f-id_token_signed_response_alg-error']);
      assert.deepEqual(await services.clients.findByClientId(clientId), client, 'nothing changed');

      const saved = await dev.submit(`/developer/clients/${clientId}`, `/developer/clients/${clientId}`, {
        name: 'RP', redirect_uris: 'https://rp.example/cb', post_logout_redirect_uris: 'https://rp.example/signed-out', id_token_signed_response_alg: 'RS256',
      });
      assert.equal(saved.status, 303);
      const updated = (await services.clients.findByClientId(clientId))!;
      assert.deepEqual(updated.postLogoutRedirectUris, ['https://rp.example/signed-out']);
      assert.equal(updated.idTokenSignedResponseAlg, 'RS256');
      // A form without the algorithm field keeps the client's; an emptied list removes every URI.
      await services.clients.update(updated.id, { idTokenSignedResponseAlg: 'ES256' }, nowSeconds(services.clock));
      const cleared = await dev.submit(`/developer/clients/${clientId}`, `/developer/clients/${clientId}`, { name: 'RP', redirect_uris: 'https://rp.example/cb', post_logout_redirect_uris: '' });
      assert.equal(cleared.status, 303);
      const after = (await services.clients.findByClientId(clientId))!;
      assert.deepEqual(after.postLogoutRedirectUris, []);
      assert.equal(after.idTokenSignedResponseAlg, 'ES256');
      assert.match((await dev.get(`/developer/clients/${clientId}`)).body, /<dt>Post-logout redirect URIs<\/dt><dd>none<\/dd>/);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] organizations: create, invite by e-mail, roles, at least one admin, members only`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const ann = await signUp(server.url, { email: 'ann@example.com', name: 'Ann' });
      const bob = await signUp(server.url, { email: 'bob@example.com', name: 'Bob' });
      const carol = await signUp(server.url, { email: 'carol@example.com', name: 'Carol' });
      const annUser = (await services.users.findByEmail('ann@example.com'))!;
      const bobUser = (await services.users.findByEmail('bob@example.com'))!;

      const blank = await ann.submit('/orgs', '/orgs', { name: '  ' });
      assert.equal(blank.status, 400);
      assert.deepEqual(fieldErrors(blank.body), ['org-name-error: An organization needs a name']);
      const created = await ann.submit('/orgs', '/orgs', { name: 'Acme <Ltd>' });
      assert.equal(created.status, 303);
      const orgId = Number(/^\/orgs\/(\d+)\?done=created$/.exec(created.location ?? '')?.[1]);
      assert.deepEqual(await services.orgs.findMembership(orgId, annUser.id), { organization: { id: orgId, name: 'Acme <Ltd>', integrationsEnabled: true }, role: 'admin' });

      const page = await ann.get(`/orgs/${orgId}`);
      assert.match(page.body, /<h1>Acme &lt;Ltd&gt;<\/h1>/);
      assert.match(page.body, /Third-party integrations: <span class="badge badge-on">On<\/span>/);
      assert.match(page.body, new RegExp(`latchkey org set-integrations --org ${orgId} --enabled true\\|false`));
      assert.match((await ann.get('/orgs')).body, new RegExp(`href="/orgs/${orgId}">Acme &lt;Ltd&gt;</a>`));

      assert.equal((await bob.get(`/orgs/${orgId}`)).status, 404, 'not a member yet');
      assert.equal((await bob.get('/orgs/abc')).status, 404);
      assert.equal((await bob.get('/orgs/99999999999999')).status, 404);

      // Inviting makes no membership (an address without an account is answered alike); the
      // invitee accepts on their own /orgs page.
      const unknown = await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members`, { email: 'nobody@example.com', role: 'member' });
      assert.equal(unknown.status, 200);
      assert.match(unknown.body, /Invitation sent to nobody@example\.com\. It is valid for 7 days; they will see it when they sign in\./);
      const badAddress = await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members`, { email: 'not an address', role: 'member' });
      assert.equal(badAddress.status, 400);
      assert.deepEqual(fieldErrors(badAddress.body), ['invite-email-error: Enter an e-mail address such as name@example.com']);
      const invited = await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members`, { email: 'BOB@example.com', role: 'member' });
      assert.equal(invited.status, 200);
      assert.equal(await services.orgs.findMembership(orgId, bobUser.id), undefined, 'not a member before accepting');
      const bobList = await bob.get('/orgs');
      const accept = /action="(\/orgs\/invitations\/\d+\/accept)"/.exec(bobList.body)?.[1];
      assert.ok(accept, 'Bob sees the invitation');
      assert.equal((await bob.submit('/orgs', accept, {})).status, 303);
      assert.equal((await services.orgs.findMembership(orgId, bobUser.id))?.role, 'member');
      const again = await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members`, { email: 'bob@example.com', role: 'member' });
      assert.match(fieldErrors(again.body).join(), /bob@example\.com is already a member/);

      // A member sees the members but neither the plan nor the admin forms, and cannot use them.
      const bobView = await bob.get(`/orgs/${orgId}`);
      assert.equal(bobView.status, 200);
      assert.match(bobView.body, /Ann/);
      assert.doesNotMatch(bobView.body, /Third-party integrations/);
      assert.doesNotMatch(bobView.body, /Send invitation/);
      assert.doesNotMatch(bobView.body, /nobody@example\.com/, 'pending invitations are for admins');
      assert.equal((await bob.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members`, { email: 'carol@example.com', role: 'admin' })).status, 403);
      assert.equal((await bob.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${bobUser.id}/role`, { role: 'admin' })).status, 403);
      assert.equal((await bob.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${annUser.id}/remove`, {})).status, 403);
      assert.equal((await carol.submit('/orgs', `/orgs/${orgId}/members/${annUser.id}/remove`, {})).status, 404);
      assert.equal((await services.orgs.listMembers(orgId)).length, 2);

      // The last admin can be neither demoted nor removed.
      const demote = await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${annUser.id}/role`, { role: 'member' });
      assert.equal(demote.status, 400);
      assert.match(demote.body, /needs at least one admin/);
      assert.equal((await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${annUser.id}/role`, { role: 'owner' })).status, 400);
      assert.equal((await services.orgs.findMembership(orgId, annUser.id))?.role, 'admin');
      assert.equal((await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${bobUser.id}/role`, { role: 'admin' })).status, 303);
      assert.equal((await services.orgs.findMembership(orgId, bobUser.id))?.role, 'admin');
      assert.equal((await ann.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${annUser.id}/role`, { role: 'member' })).status, 303);

      // The plan as the operator set it.
      await services.orgs.setIntegrations(orgId, false);
      assert.match((await bob.get(`/orgs/${orgId}`)).body, /<span class="badge badge-off">Off<\/span>/);

      // Removing a member ends the apps they connected for the organization.
      const dev = await signUp(server.url, { email: 'dev@example.com' });
      const app = await dev.submit('/developer/clients/new', '/developer/clients/new', { name: 'Tool', redirect_uris: 'https://tool.example/cb' });
      const client = (await services.clients.findByClientId(textById(app.body, 'client-id')))!;
      const now = nowSeconds(services.clock);
      await services.grants.upsertConsent(annUser.id, client.id, orgId, 'profile', now);
      const grantId = await services.grants.insert({ clientId: client.id, userId: annUser.id, organizationId: orgId, scope: 'profile', grantType: 'authorization_code', now });
      const removed = await bob.submit(`/orgs/${orgId}`, `/orgs/${orgId}/members/${annUser.id}/remove`, {});
      assert.equal(removed.status, 303);
      assert.equal(await services.orgs.findMembership(orgId, annUser.id), undefined);
      assert.equal(await services.grants.isRevoked(grantId), true);
      assert.equal(await services.grants.findConsent(annUser.id, client.id, orgId), undefined);
      assert.equal((await ann.get(`/orgs/${orgId}`)).status, 404);
    } finally {
      await server.close();
    }
  });
}
