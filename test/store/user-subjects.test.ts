// users.subject, the OpenID Connect `sub` (src/store/migrations/007-user-subjects.ts): made once
// when a user is created, carried by every read of the user (the access-token context too, so a
// later UserInfo or ID token needs no other query), found again by findBySubject, and left alone
// by every change to the account.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerClient } from '../../src/accounts/client-registration.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function newUser(t: TestStore, email: string) {
  return t.services.users.insert({ email, name: 'Sub', locale: 'en', passwordHash: 'x', now: nowSeconds(t.clock) });
}

for (const kind of databaseKinds()) {
  describe(`user subjects [${kind}]`, () => {
    test('a new user gets a random subject of its own, and every lookup of the user carries it', async () => {
      await withStore(kind, async (t) => {
        const ann = await newUser(t, 'ann@example.com');
        const bob = await newUser(t, 'bob@example.com');
        assert.match(ann.subject, UUID_V4);
        assert.match(bob.subject, UUID_V4);
        assert.notEqual(ann.subject, bob.subject);
        assert.notEqual(ann.subject, String(ann.id));

        const { users } = t.services;
        assert.equal((await users.findById(ann.id))?.subject, ann.subject);
        assert.equal((await users.findByEmail('ANN@example.com'))?.subject, ann.subject);
        assert.equal((await users.findCredentialsByEmail('ann@example.com'))?.subject, ann.subject);
        assert.equal((await users.findCredentialsById(ann.id))?.subject, ann.subject);
        assert.deepEqual(await users.findBySubject(ann.subject), ann);
        assert.deepEqual(await users.findBySubject(bob.subject), bob);
      });
    });

    test('findBySubject matches the exact string only', async () => {
      await withStore(kind, async (t) => {
        const ann = await newUser(t, 'ann@example.com');
        const { users } = t.services;
        for (const other of ['', ' ', String(ann.id), 'ann@example.com', ann.subject.toUpperCase(), ` ${ann.subject}`, `${ann.subject} `, ann.subject.slice(0, -1), '00000000-0000-4000-8000-000000000000']) {
          assert.equal(await users.findBySubject(other), undefined, JSON.stringify(other));
        }
      });
    });

    test('changing the e-mail, name, language or password leaves the subject as it was', async () => {
      await withStore(kind, async (t) => {
        const ann = await newUser(t, 'ann@example.com');
        const { users } = t.services;
        const when = nowSeconds(t.clock) + 5;
        await users.update(ann.id, { email: 'ann.b@example.com', name: 'Ann B', locale: 'nl', passwordHash: 'y' }, when);
        const changed = { id: ann.id, email: 'ann.b@example.com', name: 'Ann B', locale: 'nl', subject: ann.subject, emailVerified: false, updatedAt: when };
        assert.deepEqual(await users.findById(ann.id), changed);
        assert.deepEqual(await users.findBySubject(ann.subject), changed);
      });
    });

    test('an access token\'s context carries its user\'s subject, kept or read again after a profile edit', async () => {
      await withStore(kind, async (t) => {
        const now = nowSeconds(t.clock);
        const ann = await newUser(t, 'ann@example.com');
        const { client } = await registerClient(t.services, { name: 'Sub client', redirectUris: ['https://s.example/cb'] });
        const grantId = await t.services.grants.insert({ clientId: client.id, userId: ann.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
        const tokenHash = sha256Hex(newSecret());
        const jti = newSecret();
        await t.services.transaction((tx) => tx.accessTokens.insert({
          tokenHash, jti, grantId, clientId: client.id, userId: ann.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt: now + 3600,
        }));
        const found = await t.services.accessTokens.find(tokenHash);
        assert.deepEqual(found?.user, ann);
        assert.equal((await t.services.accessTokens.find(tokenHash))?.user?.subject, ann.subject, 'a second lookup (kept on SQLite)');
        assert.equal((await t.services.accessTokens.findByJti(jti))?.user?.subject, ann.subject);

        await t.services.users.update(ann.id, { email: 'ann.b@example.com' }, now + 1);
        const after = await t.services.accessTokens.find(tokenHash);
        assert.equal(after?.user?.email, 'ann.b@example.com', 'read again after the edit');
        assert.equal(after?.user?.subject, ann.subject);
      });
    });
  });
}
