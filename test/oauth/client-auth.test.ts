import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticateClient, parseBasicAuthorization, type ClientLookup } from '../../src/oauth/client-auth.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { OAuthError } from '../../src/oauth/errors.js';
import type { Client } from '../../src/oauth/model.js';

function client(overrides: Partial<Client>): Client {
  return {
    id: 1, clientId: 'conf', secretHash: sha256Hex('s3cret'), name: 'C', redirectUris: ['https://a/cb'], ownerUserId: null,
    isPublic: false, grantTypes: ['authorization_code', 'refresh_token'], scopes: ['profile', 'email'], refreshWithoutSecret: false, createdAt: 0, trusted: true,
    postLogoutRedirectUris: [], idTokenSignedResponseAlg: 'RS256',
    tokenEndpointAuthMethod: null, jwks: null, jwksUri: null, secretSealed: null, metadata: {}, registration: null, registrationTokenHash: null,
    ...overrides,
  };
}

const clients: Client[] = [
  client({}),
  client({ id: 2, clientId: 'pub', secretHash: null, isPublic: true }),
  client({ id: 3, clientId: 'huddle', secretHash: sha256Hex('h'), refreshWithoutSecret: true }),
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic; this id has a space and a colon.
  client({ id: 4, clientId: 'we ird:id', secretHash: sha256Hex('p@ss word+') }),
];
const lookup: ClientLookup = async (id) => clients.find((c) => c.clientId === id);

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function rejects(promise: Promise<unknown>, code: string, basicAttempted?: boolean): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof OAuthError);
    assert.equal(err.code, code);
    if (basicAttempted !== undefined) assert.equal(err.basicAuthAttempted, basicAttempted);
    return true;
  });
}

test('client_secret_basic authenticates a confidential client', async () => {
  const c = await authenticateClient({ authorization: basic('conf', 's3cret'), params: {} }, lookup);
  assert.equal(c.clientId, 'conf');
});

test('Basic scheme is case-insensitive and the body may repeat the same client_id', async () => {
  const header = basic('conf', 's3cret').replace('Basic', 'bAsIc');
  const c = await authenticateClient({ authorization: header, params: { client_id: 'conf' } }, lookup);
  assert.equal(c.clientId, 'conf');
});

test('Basic credentials are form-urlencoded (RFC 6749 §2.3.1)', async () => {
  const header = basic(encodeURIComponent('we ird:id'), 'p%40ss+word%2B');
  const c = await authenticateClient({ authorization: header, params: {} }, lookup);
  assert.equal(c.id, 4);
});

test('client_secret_post authenticates a confidential client', async () => {
  const c = await authenticateClient({ authorization: undefined, params: { client_id: 'conf', client_secret: 's3cret' } }, lookup);
  assert.equal(c.clientId, 'conf');
});

test('a public client identifies itself by client_id alone', async () => {
  const c = await authenticateClient({ authorization: undefined, params: { client_id: 'pub' } }, lookup);
  assert.equal(c.clientId, 'pub');
  const viaBasic = await authenticateClient({ authorization: basic('pub', ''), params: {} }, lookup);
  assert.equal(viaBasic.clientId, 'pub');
});

test('wrong secret is invalid_client; basicAuthAttempted tells whether Basic was tried', async () => {
  await rejects(authenticateClient({ authorization: basic('conf', 'nope'), params: {} }, lookup), 'invalid_client', true);
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'conf', client_secret: 'nope' } }, lookup), 'invalid_client', false);
});

test('unknown client is invalid_client', async () => {
  await rejects(authenticateClient({ authorization: basic('ghost', 'x'), params: {} }, lookup), 'invalid_client', true);
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'ghost' } }, lookup), 'invalid_client', false);
});

test('a confidential client without its secret is invalid_client', async () => {
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'conf' } }, lookup), 'invalid_client');
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'conf', client_secret: '' } }, lookup), 'invalid_client');
});

test('refresh_without_secret lets the client omit its secret only where the caller allows it', async () => {
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'huddle' } }, lookup), 'invalid_client');
  const c = await authenticateClient({ authorization: undefined, params: { client_id: 'huddle' }, allowRefreshWithoutSecret: true }, lookup);
  assert.equal(c.clientId, 'huddle');
  // The flag does nothing for a client registered without it.
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'conf' }, allowRefreshWithoutSecret: true }, lookup), 'invalid_client');
  // A wrong secret is still wrong even where the secret could have been omitted.
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'huddle', client_secret: 'bad' }, allowRefreshWithoutSecret: true }, lookup), 'invalid_client');
});

test('a public client that sends a secret is refused', async () => {
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'pub', client_secret: 'x' } }, lookup), 'invalid_client');
});

test('two methods at once is invalid_request (RFC 6749 §2.3)', async () => {
  await rejects(authenticateClient({ authorization: basic('conf', 's3cret'), params: { client_secret: 's3cret' } }, lookup), 'invalid_request');
  await rejects(authenticateClient({ authorization: basic('conf', 's3cret'), params: { client_id: 'pub' } }, lookup), 'invalid_request');
});

test('no client at all is invalid_client without a Basic challenge', async () => {
  await rejects(authenticateClient({ authorization: undefined, params: {} }, lookup), 'invalid_client', false);
  await rejects(authenticateClient({ authorization: 'Bearer abc', params: {} }, lookup), 'invalid_client', false);
  await rejects(authenticateClient({ authorization: undefined, params: { client_secret: 'x' } }, lookup), 'invalid_request');
});

test('malformed Basic headers are invalid_client with a Basic challenge', async () => {
  for (const header of ['Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from(':secret').toString('base64')}`, `Basic ${Buffer.from('%zz:x').toString('base64')}`]) {
    await rejects(authenticateClient({ authorization: header, params: {} }, lookup), 'invalid_client', true);
  }
});

test('a client_id with control characters is refused before any lookup', async () => {
  let lookups = 0;
  const counting: ClientLookup = async (id) => {
    lookups += 1;
    return lookup(id);
  };
  await rejects(authenticateClient({ authorization: basic('%00', 'x'), params: {} }, counting), 'invalid_client', true);
  await rejects(authenticateClient({ authorization: undefined, params: { client_id: 'a\nb' } }, counting), 'invalid_client', false);
  assert.equal(lookups, 0);
});

test('parseBasicAuthorization ignores other schemes', () => {
  assert.equal(parseBasicAuthorization(undefined), undefined);
  assert.equal(parseBasicAuthorization('Bearer x'), undefined);
  assert.deepEqual(parseBasicAuthorization(basic('a', 'b:c')), { clientId: 'a', secret: 'b:c' });
});
