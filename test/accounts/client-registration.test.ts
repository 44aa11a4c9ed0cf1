// Registering API clients (src/accounts/client-registration.ts), as the admin CLI and the
// developer portal do: the rules for names, redirect URIs, grant types, scopes, owners, public
// clients and the trusted flag, and secret resets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientRegistrationError, DEFAULT_GRANT_TYPES, describeClient, registerClient, resetClientSecret, validateClientName, validateRedirectUris,
} from '../../src/accounts/client-registration.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { createUser } from '../helpers/fixtures.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore } from '../helpers/store.js';

const CB = 'https://app.example/cb';

function refusal(fn: () => unknown): ClientRegistrationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ClientRegistrationError, String(err));
    return err;
  }
  assert.fail('accepted');
}

describe('client names and redirect URI lists', () => {
  test('a name is trimmed, required, and at most 200 characters', () => {
    assert.equal(validateClientName('  My App '), 'My App');
    assert.equal(refusal(() => validateClientName('  ')).message, 'a client needs a name');
    const long = refusal(() => validateClientName('x'.repeat(201)));
    assert.equal(long.field, 'name');
    assert.equal(long.message, 'a client name must be at most 200 characters');
  });

  test('one to twenty redirect URIs, repeats folded', () => {
    assert.deepEqual(validateRedirectUris([CB, CB, 'https://app.example/other']), [CB, 'https://app.example/other']);
    assert.equal(refusal(() => validateRedirectUris([])).message, 'a client needs at least one redirect URI');
    const many = Array.from({ length: 21 }, (_, i) => `https://app.example/cb${i}`);
    assert.equal(refusal(() => validateRedirectUris(many)).message, 'a client may have at most 20 redirect URIs');
    assert.equal(validateRedirectUris(many.slice(0, 20)).length, 20);
  });

  test('each redirect URI must be absolute, without fragment, user information, control characters or a dangerous scheme', () => {
    for (const [uri, message] of [
      ['/callback', /is not an absolute URI/],
      ['https://app.example/cb#frag', /must not contain a fragment/],
      ['https://user:pw@app.example/cb', /must not contain user information/],
      ['https://app.example/c\nb', /must not contain control characters/],
      ['https://app.example\\@evil.example/', /backslashes/],
      ['javascript:alert(1)', /scheme that is not allowed/],
      ['data:text/html,hi', /scheme that is not allowed/],
      ['', /must not be empty/],
    ] as const) {
      const err = refusal(() => validateRedirectUris([CB, uri]));
      assert.equal(err.field, 'redirect_uris');
      assert.match(err.message, message, uri);
    }
    // A native app's custom scheme is fine for the operator.
    assert.deepEqual(validateRedirectUris(['com.example.app:/oauth']), ['com.example.app:/oauth']);
  });

  test('the developer portal\'s policy requires https except on loopback', () => {
    const portal = { requireHttps: true };
    assert.deepEqual(validateRedirectUris(['http://localhost:3000/cb', 'http://127.0.0.1/cb', CB], portal), ['http://localhost:3000/cb', 'http://127.0.0.1/cb', CB]);
    assert.match(refusal(() => validateRedirectUris(['http://app.example/cb'], portal)).message, /must use https/);
    assert.match(refusal(() => validateRedirectUris(['com.example.app:/oauth'], portal)).message, /must use https/);
  });
});

for (const kind of databaseKinds()) {
  describe(`registerClient [${kind}]`, () => {
    test('a confidential client gets a secret shown once and stored only as its SHA-256, with the defaults', async () => {
      await withStore(kind, async ({ services }) => {
        const { client, clientSecret } = await registerClient(services, { name: ' App ', redirectUris: [CB] });
        assert.ok(clientSecret !== null && clientSecret.length >= 40);
        assert.equal(client.secretHash, sha256Hex(clientSecret));
        assert.equal(client.name, 'App');
        assert.equal(client.isPublic, false);
        assert.equal(client.trusted, false, 'untrusted unless the operator says so');
        assert.equal(client.refreshWithoutSecret, false);
        assert.deepEqual(client.grantTypes, DEFAULT_GRANT_TYPES);
        assert.deepEqual(client.scopes, services.config.scopes);
        assert.deepEqual(await services.clients.findByClientId(client.clientId), client);
        assert.deepEqual(describeClient(client), {
          client_id: client.clientId, name: 'App', redirect_uris: [CB], grant_types: ['authorization_code', 'refresh_token'], scopes: ['openid', 'profile', 'email'],
          public: false, owner: null, refresh_without_secret: false, trusted: false,
        });
      });
    });

    test('the trusted flag is kept as given', async () => {
      await withStore(kind, async ({ services }) => {
        const { client } = await registerClient(services, { name: 'Operator app', redirectUris: [CB], trusted: true });
        assert.equal((await services.clients.findByClientId(client.clientId))?.trusted, true);
      });
    });

    test('a public client has no secret, and is refused the password and client_credentials grants', async () => {
      await withStore(kind, async ({ services }) => {
        const { client, clientSecret } = await registerClient(services, { name: 'SPA', redirectUris: [CB], isPublic: true });
        assert.equal(clientSecret, null);
        assert.equal(client.secretHash, null);
        assert.equal(client.isPublic, true);
        await assert.rejects(registerClient(services, { name: 'SPA', redirectUris: [CB], isPublic: true, grantTypes: ['password'] }),
          { name: 'ClientRegistrationError', field: 'grant_types', message: 'a public client cannot use the password grant (RFC 9700 §2.4)' });
        await assert.rejects(registerClient(services, { name: 'SPA', redirectUris: [CB], isPublic: true, grantTypes: ['authorization_code', 'client_credentials'] }),
          { name: 'ClientRegistrationError', field: 'grant_types', message: 'a public client cannot use client_credentials (it has no secret)' });
        // A confidential client may have both.
        const { client: backend } = await registerClient(services, { name: 'Backend', redirectUris: [CB], grantTypes: ['password', 'client_credentials'] });
        assert.deepEqual(backend.grantTypes, ['password', 'client_credentials']);
      });
    });

    test('unknown or no grant types, unknown scopes and unknown owners are refused; nothing is stored', async () => {
      await withStore(kind, async ({ services }) => {
        await assert.rejects(registerClient(services, { name: 'A', redirectUris: [CB], grantTypes: ['implicit'] }),
          { field: 'grant_types', message: 'unknown grant type "implicit" (known: authorization_code, refresh_token, password, client_credentials)' });
        await assert.rejects(registerClient(services, { name: 'A', redirectUris: [CB], grantTypes: [] }), { field: 'grant_types', message: 'a client needs at least one grant type' });
        await assert.rejects(registerClient(services, { name: 'A', redirectUris: [CB], scopes: ['profile', 'admin'] }),
          { field: 'scopes', message: 'unknown scope "admin" (the server offers: openid profile email)' });
        await assert.rejects(registerClient(services, { name: 'A', redirectUris: [CB], ownerUserId: 424242 }), { field: 'owner', message: 'no user with id 424242' });
        await assert.rejects(registerClient(services, { name: 'A', redirectUris: ['not a uri'] }), { field: 'redirect_uris' });
        await assert.rejects(registerClient(services, { name: '', redirectUris: [CB] }), { field: 'name' });
        assert.equal((await services.store.db.selectFrom('clients').select('id').execute()).length, 0);
      });
    });

    test('an owned client, repeated grant types and scopes folded, refresh without secret', async () => {
      await withStore(kind, async (t) => {
        const owner = await createUser({ services: t.services, clock: t.clock, config: t.services.config });
        const { client } = await registerClient(t.services, {
          name: 'Mine', redirectUris: [CB], ownerUserId: owner.id, grantTypes: ['authorization_code', 'authorization_code'], scopes: ['email', 'email'], refreshWithoutSecret: true,
        });
        assert.equal(client.ownerUserId, owner.id);
        assert.deepEqual(client.grantTypes, ['authorization_code']);
        assert.deepEqual(client.scopes, ['email']);
        assert.equal(client.refreshWithoutSecret, true);
      });
    });

    test('a secret reset makes the old secret stop working at once; a public or unknown client gets none', async () => {
      await withStore(kind, async ({ services }) => {
        const { client, clientSecret } = await registerClient(services, { name: 'App', redirectUris: [CB] });
        const fresh = await resetClientSecret(services, client.clientId);
        assert.ok(fresh !== undefined && fresh !== clientSecret);
        assert.equal((await services.clients.findByClientId(client.clientId))?.secretHash, sha256Hex(fresh));
        const { client: spa } = await registerClient(services, { name: 'SPA', redirectUris: [CB], isPublic: true });
        assert.equal(await resetClientSecret(services, spa.clientId), undefined);
        assert.equal(await resetClientSecret(services, 'no-such-client'), undefined);
      });
    });
  });
}
