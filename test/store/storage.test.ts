// The storage contract: the same suite on SQLite and on PostgreSQL, each test on a fresh
// database (a new file or a new schema).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/users.js';
import { registerClient, resetClientSecret } from '../../src/accounts/client-registration.js';
import { newSecret, secretMatchesHash, sha256Hex } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { migrate } from '../../src/store/db.js';
import { DuplicateEmailError } from '../../src/store/users.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore } from '../helpers/store.js';

for (const kind of databaseKinds()) {
  describe(`storage [${kind}]`, () => {
    test('migrations are idempotent: a second run applies nothing', async () => {
      await withStore(kind, async ({ services }) => {
        assert.deepEqual(await migrate(services.store), []);
      });
    });

    test('users: integer ids from 1, e-mail unique case-insensitively, password stored only as argon2id', async () => {
      await withStore(kind, async ({ services }) => {
        const john = await createUser(services, { email: 'john@doe.com', name: 'John Doe', password: 'correct horse', locale: 'nl' });
        assert.deepEqual(john, { id: 1, email: 'john@doe.com', name: 'John Doe', locale: 'nl', subject: john.subject, emailVerified: false, updatedAt: john.updatedAt });
        await assert.rejects(createUser(services, { email: 'JOHN@Doe.com', name: 'Other', password: 'another one' }), DuplicateEmailError);
        const found = await services.users.findByEmail('John@DOE.com');
        assert.equal(found?.id, 1);
        const creds = await services.users.findCredentialsByEmail('john@doe.com');
        assert.match(creds?.passwordHash ?? '', /^\$argon2id\$/);
        assert.ok(!(creds?.passwordHash ?? '').includes('correct horse'));
      });
    });

    test('organizations and memberships with roles', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 'a@b.c', name: 'A', password: 'password1' });
        const acme = await services.orgs.insert({ name: 'Acme', integrationsEnabled: true, now });
        const basic = await services.orgs.insert({ name: 'Basic plan', integrationsEnabled: false, now });
        await services.orgs.upsertMember(acme.id, user.id, 'admin', now);
        await services.orgs.upsertMember(basic.id, user.id, 'member', now);
        await services.orgs.upsertMember(basic.id, user.id, 'admin', now); // role change, not a second row
        const memberships = await services.orgs.listForUser(user.id);
        assert.deepEqual(memberships.map((m) => [m.organization.name, m.role, m.organization.integrationsEnabled]), [
          ['Acme', 'admin', true],
          ['Basic plan', 'admin', false],
        ]);
        assert.equal(await services.orgs.setIntegrations(basic.id, true), true);
        assert.equal((await services.orgs.findById(basic.id))?.integrationsEnabled, true);
        assert.equal(await services.orgs.setIntegrations(999, true), false);
      });
    });

    test('clients: secret shown once and stored as SHA-256; reset makes the old one stop matching', async () => {
      await withStore(kind, async ({ services }) => {
        const { client, clientSecret } = await registerClient(services, { name: 'House Check', redirectUris: ['https://a.example/cb', 'https://b.example/cb'] });
        assert.ok(clientSecret && clientSecret.length >= 43, 'a 256-bit secret');
        assert.deepEqual(client.grantTypes, ['authorization_code', 'refresh_token']);
        assert.deepEqual(client.scopes, ['openid', 'profile', 'email']);
        assert.deepEqual(client.redirectUris, ['https://a.example/cb', 'https://b.example/cb']);
        const stored = await services.clients.findByClientId(client.clientId);
        assert.equal(stored?.secretHash, sha256Hex(clientSecret));
        assert.ok(secretMatchesHash(clientSecret, stored?.secretHash ?? ''));
        const fresh = await resetClientSecret(services, client.clientId);
        assert.ok(fresh && fresh !== clientSecret);
        const after = await services.clients.findByClientId(client.clientId);
        assert.equal(secretMatchesHash(clientSecret, after?.secretHash ?? ''), false, 'old secret no longer matches');
        assert.equal(secretMatchesHash(fresh, after?.secretHash ?? ''), true);
      });
    });

    test('public clients have no secret; client options are kept', async () => {
      await withStore(kind, async ({ services }) => {
        const { client, clientSecret } = await registerClient(services, {
          name: 'SPA', redirectUris: ['http://127.0.0.1:3000/cb'], isPublic: true, grantTypes: ['authorization_code', 'refresh_token'], scopes: ['profile'],
        });
        assert.equal(clientSecret, null);
        assert.equal(client.secretHash, null);
        assert.equal(client.isPublic, true);
        assert.deepEqual(client.scopes, ['profile']);
        assert.equal(await resetClientSecret(services, client.clientId), undefined);
        const huddle = await registerClient(services, { name: 'Huddle', redirectUris: ['https://h.example/cb'], grantTypes: ['password', 'refresh_token'], refreshWithoutSecret: true });
        assert.equal(huddle.client.refreshWithoutSecret, true);
        assert.deepEqual(huddle.client.grantTypes, ['password', 'refresh_token']);
      });
    });

    test('grants.insert answers the id of the row it wrote, inside a transaction too (SQLite: without RETURNING)', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 'g@h.i', name: 'G', password: 'password1' });
        const { client } = await registerClient(services, { name: 'G', redirectUris: ['https://g.example/cb'] });
        const first = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
        const [second, third] = await services.transaction(async (tx) => [
          await tx.grants.insert({ clientId: client.id, userId: null, organizationId: null, scope: 'email', grantType: 'client_credentials', now }),
          await tx.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope: 'profile email', grantType: 'password', now: now + 1 }),
        ]);
        assert.ok(first < second && second < third, `${first} < ${second} < ${third}`);
        const rows = await services.store.db.selectFrom('grants').select(['id', 'user_id', 'scope', 'grant_type']).orderBy('id').execute();
        assert.deepEqual(rows, [
          { id: first, user_id: user.id, scope: 'profile', grant_type: 'authorization_code' },
          { id: second, user_id: null, scope: 'email', grant_type: 'client_credentials' },
          { id: third, user_id: user.id, scope: 'profile email', grant_type: 'password' },
        ]);
      });
    });

    test('codes and refresh tokens are consumed exactly once, by one statement', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 'c@d.e', name: 'C', password: 'password1' });
        const { client } = await registerClient(services, { name: 'C', redirectUris: ['https://c.example/cb'] });
        const grantId = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
        const codeHash = sha256Hex(newSecret());
        await services.codes.insert({
          codeHash: codeHash, grantId: grantId, clientId: client.id, userId: user.id, organizationId: null, redirectUri: 'https://c.example/cb',
          redirectUriSent: true, scope: 'profile', codeChallenge: null, codeChallengeMethod: null, createdAt: now, expiresAt: now + 600,
        });
        const results = await Promise.all(Array.from({ length: 20 }, () => services.codes.consume(codeHash, client.id, now)));
        assert.equal(results.filter(Boolean).length, 1, 'exactly one consumer wins');

        const rtHash = sha256Hex(newSecret());
        await services.refreshTokens.insert({
          tokenHash: rtHash, grantId: grantId, clientId: client.id, userId: user.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt: null, accessTokenHash: null,
        });
        assert.equal(await services.refreshTokens.consume(rtHash, client.id + 1, now), undefined, "another client's attempt does not burn it");
        const spent = await Promise.all(Array.from({ length: 20 }, () => services.refreshTokens.consume(rtHash, client.id, now)));
        assert.equal(spent.filter(Boolean).length, 1);
      });
    });

    test('revoking a grant is seen by every access token of it, in the one lookup query', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 'e@f.g', name: 'E', password: 'password1', locale: 'nl' });
        const org = await services.orgs.insert({ name: 'Org', integrationsEnabled: true, now });
        const { client } = await registerClient(services, { name: 'E', redirectUris: ['https://e.example/cb'] });
        const grantId = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: org.id, scope: 'profile email', grantType: 'authorization_code', now });
        const atHash = sha256Hex(newSecret());
        await services.accessTokens.insert({
          tokenHash: atHash, jti: null, grantId: grantId, clientId: client.id, userId: user.id, organizationId: org.id, scope: 'profile email', createdAt: now, expiresAt: now + 3600,
        });
        const ctx = await services.accessTokens.find(atHash);
        assert.equal(ctx?.user?.email, 'e@f.g');
        assert.equal(ctx?.clientPublicId, client.clientId);
        assert.equal(ctx?.organizationName, 'Org');
        assert.equal(ctx?.organizationIntegrationsEnabled, true);
        assert.equal(ctx?.grantRevokedAt, null);
        await services.grants.revoke(grantId, now + 1);
        assert.equal((await services.accessTokens.find(atHash))?.grantRevokedAt, now + 1);
        await services.orgs.setIntegrations(org.id, false);
        assert.equal((await services.accessTokens.find(atHash))?.organizationIntegrationsEnabled, false);
        assert.equal(await services.accessTokens.find(sha256Hex('unknown')), undefined);
      });
    });

    test('consent is remembered per user, client and organization; connected apps list it', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 'k@l.m', name: 'K', password: 'password1' });
        const org = await services.orgs.insert({ name: 'Hover Org', integrationsEnabled: true, now });
        const { client } = await registerClient(services, { name: 'Hover app', redirectUris: ['https://hover.to'] });
        await services.grants.upsertConsent(user.id, client.id, null, 'profile', now);
        await services.grants.upsertConsent(user.id, client.id, org.id, 'profile email', now);
        await services.grants.upsertConsent(user.id, client.id, org.id, 'profile email', now + 5);
        assert.equal((await services.grants.findConsent(user.id, client.id, null))?.scope, 'profile');
        assert.equal((await services.grants.findConsent(user.id, client.id, org.id))?.scope, 'profile email');
        const apps = await services.grants.listConnectedApps(user.id);
        assert.deepEqual(apps.map((a) => [a.clientName, a.organizationName, a.scope]), [
          ['Hover app', 'Hover Org', 'profile email'],
          ['Hover app', null, 'profile'],
        ]);
        await services.grants.deleteConsent(user.id, client.id, org.id);
        assert.equal(await services.grants.findConsent(user.id, client.id, org.id), undefined);
      });
    });

    test('sessions are found by id hash until they expire', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 's@t.u', name: 'S', password: 'password1' });
        const idHash = sha256Hex(newSecret());
        await services.sessions.insert({ idHash, userId: user.id, csrfToken: 'x', authTime: now, expiresAt: now + 60, now });
        const limits = { idleTimeout: 3600, lifetime: 86_400 };
        assert.equal((await services.sessions.find(idHash, now, limits))?.userId, user.id);
        assert.equal(await services.sessions.find(idHash, now + 61, limits), undefined);
        await services.sessions.delete(idHash);
        assert.equal(await services.sessions.find(idHash, now, limits), undefined);
      });
    });

    test('deleting a client removes its grants and tokens', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const now = nowSeconds(clock);
        const user = await createUser(services, { email: 'x@y.z', name: 'X', password: 'password1' });
        const { client } = await registerClient(services, { name: 'Doomed', redirectUris: ['https://d.example/cb'] });
        const grantId = await services.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'password', now });
        const atHash = sha256Hex(newSecret());
        await services.accessTokens.insert({ tokenHash: atHash, jti: null, grantId: grantId, clientId: client.id, userId: user.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt: now + 60 });
        await services.clients.delete(client.id);
        assert.equal(await services.accessTokens.find(atHash), undefined);
        assert.equal(await services.clients.findByClientId(client.clientId), undefined);
      });
    });
  });
}

test('a password that begins or ends with a space is refused (the token endpoint trims values)', async () => {
  const { openTestStore: open } = await import('../helpers/store.js');
  const t = await open('sqlite');
  try {
    const { createUser: create, AccountError } = await import('../../src/accounts/users.js');
    await assert.rejects(create(t.services, { email: 'sp@ace.x', name: 'S', password: ' leading-space' }), AccountError);
    await assert.rejects(create(t.services, { email: 'sp@ace.x', name: 'S', password: 'trailing-space ' }), AccountError);
    assert.equal((await create(t.services, { email: 'sp@ace.x', name: 'S', password: 'inner space ok' })).email, 'sp@ace.x');
  } finally {
    await t.close();
  }
});
