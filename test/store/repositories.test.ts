// Each repository maps its rows to the camelCase model (src/oauth/model.ts) once, where the row
// is read: what goes in as a model object comes back as the same model object, on SQLite and
// on PostgreSQL alike (flags as booleans, absent values as null, no snake_case field left).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/users.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import type { NewAccessToken, NewAuthorizationCode, NewRefreshToken, NewSigningKey } from '../../src/oauth/model.js';
import { SigningKeyStore } from '../../src/store/keys.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

async function scene(t: TestStore) {
  const now = nowSeconds(t.clock);
  const user = await createUser(t.services, { email: 'map@example.com', name: 'Map', password: 'password1' });
  const { client } = await registerClient(t.services, { name: 'Mapper', redirectUris: ['https://m.example/cb'] });
  const org = await t.services.orgs.insert({ name: 'Org', integrationsEnabled: true, now });
  const grantId = await t.services.grants.insert({ clientId: client.id, userId: user.id, organizationId: org.id, scope: 'profile email', grantType: 'authorization_code', now });
  return { now, user, client, org, grantId };
}

function snakeKeys(value: object): string[] {
  return Object.keys(value).filter((k) => k.includes('_'));
}

for (const kind of databaseKinds()) {
  describe(`repositories map rows to the model [${kind}]`, () => {
    test('codes: a code round-trips through insert, find and consume as the camelCase model', async () => {
      await withStore(kind, async (t) => {
        const { now, user, client, org, grantId } = await scene(t);
        const code: NewAuthorizationCode = {
          codeHash: sha256Hex(newSecret()), grantId, clientId: client.id, userId: user.id, organizationId: org.id,
          redirectUri: 'https://m.example/cb', redirectUriSent: false, scope: 'profile email',
          codeChallenge: 'c'.repeat(43), codeChallengeMethod: 'S256', createdAt: now, expiresAt: now + 600, nonce: 'n-0S6_WzA2Mj',
          resources: ['https://notes.example/api', 'urn:example:calendar'],
        };
        await t.services.codes.insert(code);
        assert.deepEqual(await t.services.codes.find(code.codeHash), { ...code, consumedAt: null });
        const consumed = await t.services.transaction((tx) => tx.codes.consume(code.codeHash, client.id, now + 1));
        assert.deepEqual(consumed, { ...code, consumedAt: now + 1 });
        assert.deepEqual(snakeKeys(consumed!), []);
        assert.equal(await t.services.transaction((tx) => tx.codes.consume(code.codeHash, client.id, now + 2)), undefined);
        assert.equal((await t.services.codes.find(code.codeHash))?.consumedAt, now + 1);

        const sent = { ...code, codeHash: sha256Hex(newSecret()), redirectUriSent: true, codeChallenge: null, codeChallengeMethod: null, nonce: undefined, resources: undefined };
        await t.services.codes.insert(sent);
        assert.deepEqual(await t.services.codes.find(sent.codeHash), { ...sent, consumedAt: null, nonce: null, resources: null });
      });
    });

    test('refresh tokens: insert, find, consume, findContext and revokeUnused answer in the model', async () => {
      await withStore(kind, async (t) => {
        const { now, user, client, org, grantId } = await scene(t);
        const token: NewRefreshToken = {
          tokenHash: sha256Hex(newSecret()), grantId, clientId: client.id, userId: user.id, organizationId: org.id,
          scope: 'profile email', createdAt: now, expiresAt: null, accessTokenHash: sha256Hex('at'), resources: ['https://notes.example/api'],
        };
        await t.services.transaction((tx) => tx.refreshTokens.insert(token));
        const stored = { ...token, consumedAt: null, revokedAt: null, successorHash: null };
        assert.deepEqual(await t.services.refreshTokens.find(token.tokenHash), stored);
        assert.deepEqual(await t.services.refreshTokens.findContext(token.tokenHash), {
          token: stored, grantRevokedAt: null, organizationIntegrationsEnabled: true, userEmail: 'map@example.com',
        });

        const successor = sha256Hex(newSecret());
        const used = await t.services.transaction((tx) => tx.refreshTokens.consume(token.tokenHash, client.id, now + 1, successor));
        assert.deepEqual(used, { grantId, userId: user.id, organizationId: org.id, scope: 'profile email', accessTokenHash: sha256Hex('at'), resources: ['https://notes.example/api'] });
        assert.deepEqual(await t.services.refreshTokens.find(token.tokenHash), { ...stored, consumedAt: now + 1, successorHash: successor });
        assert.equal(await t.services.refreshTokens.findConsumed(token.tokenHash), undefined, 'the full row is still there');

        const other: NewRefreshToken = { ...token, tokenHash: sha256Hex(newSecret()), organizationId: null, expiresAt: now + 60, accessTokenHash: null, resources: null };
        await t.services.transaction((tx) => tx.refreshTokens.insert(other));
        const revoked = await t.services.transaction((tx) => tx.refreshTokens.revokeUnused(other.tokenHash, now + 2));
        assert.deepEqual(revoked, { ...other, consumedAt: null, revokedAt: now + 2, successorHash: null });
        assert.equal((await t.services.refreshTokens.findContext(other.tokenHash))?.organizationIntegrationsEnabled, null);
      });
    });

    test('access tokens: what is inserted is found, by hash and by jti, as one context', async () => {
      await withStore(kind, async (t) => {
        const { now, user, client, org, grantId } = await scene(t);
        const token: NewAccessToken = {
          tokenHash: sha256Hex(newSecret()), jti: newSecret(), grantId, clientId: client.id, userId: user.id, organizationId: org.id,
          scope: 'profile', createdAt: now, expiresAt: now + 3600, audience: ['https://notes.example/api', 'urn:example:calendar'],
        };
        await t.services.transaction((tx) => tx.accessTokens.insert(token));
        const context = {
          ...token, clientPublicId: client.clientId, revokedAt: null, grantRevokedAt: null, organizationName: 'Org',
          organizationIntegrationsEnabled: true,
          user: { id: user.id, name: 'Map', email: 'map@example.com', locale: user.locale, subject: user.subject, emailVerified: false, updatedAt: user.updatedAt },
          claimsRequest: null,
        };
        assert.deepEqual(await t.services.accessTokens.find(token.tokenHash), context);
        assert.deepEqual(await t.services.accessTokens.findByJti(token.jti!), context);
      });
    });

    test('grants: an OpenID grant keeps its login and claims request, read back with its user and organization', async () => {
      await withStore(kind, async (t) => {
        const { now, user, client, org, grantId } = await scene(t);
        const login = { authTime: now - 30, sid: 'sid-1', amr: ['pwd'], claims: { userinfo: { name: { essential: true } }, id_token: { email: null } } };
        const oidc = await t.services.grants.insert({ clientId: client.id, userId: user.id, organizationId: org.id, scope: 'openid profile', grantType: 'authorization_code', now, login });
        const expectedUser = { id: user.id, email: 'map@example.com', name: 'Map', locale: user.locale, subject: user.subject, emailVerified: false, updatedAt: user.updatedAt };
        assert.deepEqual(await t.services.grants.findIdTokenContext(oidc), { user: expectedUser, login, organization: { id: org.id, name: 'Org' } });
        // An OAuth-only grant has no login.
        assert.deepEqual(await t.services.grants.findIdTokenContext(grantId), { user: expectedUser, login: null, organization: { id: org.id, name: 'Org' } });
        assert.equal(await t.services.grants.findIdTokenContext(grantId + 1000), undefined);
      });
    });

    test('users: insert and every lookup answer the camelCase User, subject included', async () => {
      await withStore(kind, async (t) => {
        const { user } = await scene(t);
        const expected = { id: user.id, email: 'map@example.com', name: 'Map', locale: user.locale, subject: user.subject, emailVerified: false, updatedAt: user.updatedAt };
        assert.deepEqual(user, expected);
        assert.deepEqual(await t.services.users.findById(user.id), expected);
        assert.deepEqual(await t.services.users.findByEmail('map@example.com'), expected);
        assert.deepEqual(await t.services.users.findBySubject(user.subject), expected);
        const credentials = await t.services.users.findCredentialsById(user.id);
        assert.deepEqual({ ...credentials, passwordHash: undefined }, { ...expected, passwordHash: undefined });
        assert.match(credentials!.passwordHash, /^\$argon2id\$/);
        assert.deepEqual(snakeKeys(credentials!), []);
      });
    });

    test('signing keys and consents come back camelCase', async () => {
      await withStore(kind, async (t) => {
        const { now, user, client, org } = await scene(t);
        const keys = new SigningKeyStore(t.services.store.db);
        const key: NewSigningKey = { kid: 'kid-1', alg: 'ES256', publicJwk: '{"kty":"EC"}', privateJwk: 'plain:{}', createdAt: now };
        await keys.insert(key);
        assert.deepEqual(await keys.listAll(), [{ ...key, retiredAt: null, publishUntil: null }]);
        assert.deepEqual(await keys.rotate({ ...key, kid: 'kid-2', createdAt: now + 1 }, now + 1, now + 100), ['kid-1']);
        assert.deepEqual((await keys.listPublished(now + 2)).map((k) => [k.kid, k.retiredAt, k.publishUntil]), [['kid-2', null, null], ['kid-1', now + 1, now + 100]]);

        await t.services.grants.upsertConsent(user.id, client.id, org.id, 'profile', now);
        assert.deepEqual(await t.services.grants.findConsent(user.id, client.id, org.id), { scope: 'profile', createdAt: now, updatedAt: now });
        assert.equal(await t.services.grants.findConsent(user.id, client.id, null), undefined);
        assert.deepEqual(await t.services.grants.listConnectedApps(user.id), [{
          clientId: client.id, clientPublicId: client.clientId, clientName: 'Mapper', organizationId: org.id, organizationName: 'Org', scope: 'profile', grantedAt: now,
        }]);
      });
    });
  });
}
