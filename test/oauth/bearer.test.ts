import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessTokenState, bearerChallenge, parseBearerAuthorization, parseBodyAccessToken } from '../../src/oauth/bearer.js';
import type { AccessTokenContext } from '../../src/oauth/model.js';

test('Bearer and OAuth2 schemes, case-insensitive (RFC 6750 §2.1, Huddle)', () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'OAuth2', 'oauth2', 'OAUTH2']) {
    assert.deepEqual(parseBearerAuthorization(`${scheme} abc.DEF-_~+/==`), { kind: 'token', token: 'abc.DEF-_~+/==' });
  }
  // Extra white space around the token is tolerated.
  assert.deepEqual(parseBearerAuthorization('  Bearer    tok  '), { kind: 'token', token: 'tok' });
});

test('no header, another scheme, or a scheme without a token: no token was sent', () => {
  assert.deepEqual(parseBearerAuthorization(undefined), { kind: 'absent' });
  assert.deepEqual(parseBearerAuthorization(''), { kind: 'absent' });
  assert.deepEqual(parseBearerAuthorization('Basic dXNlcjpwYXNz'), { kind: 'absent' });
  assert.deepEqual(parseBearerAuthorization('Bearer'), { kind: 'absent' });
  assert.deepEqual(parseBearerAuthorization('Bearer   '), { kind: 'absent' });
  assert.deepEqual(parseBearerAuthorization('Bearerabc'), { kind: 'absent' });
});

test('values that cannot be a b64token are malformed', () => {
  assert.deepEqual(parseBearerAuthorization('Bearer two tokens'), { kind: 'malformed' });
  assert.deepEqual(parseBearerAuthorization('Bearer "quoted"'), { kind: 'malformed' });
  assert.deepEqual(parseBearerAuthorization('Bearer a=b'), { kind: 'malformed' });
  assert.deepEqual(parseBearerAuthorization(`Bearer ${'a'.repeat(5000)}`), { kind: 'malformed' });
});

test('a form body access_token (RFC 6750 §2.2): the same b64token syntax and length, no trimming; empty sends none', () => {
  assert.deepEqual(parseBodyAccessToken('abc.DEF-_~+/=='), { kind: 'token', token: 'abc.DEF-_~+/==' });
  assert.deepEqual(parseBodyAccessToken(''), { kind: 'absent' });
  for (const value of [' tok', 'tok ', 'two tokens', 'tok\u0000', 'tok\r\nX: y', '"q"', 'a=b', '\u2028', 'a'.repeat(5000)]) {
    assert.deepEqual(parseBodyAccessToken(value), { kind: 'malformed' }, JSON.stringify(value));
  }
});

function token(overrides: Partial<AccessTokenContext> = {}): AccessTokenContext {
  return {
    tokenHash: 'h', jti: null, grantId: 1, clientId: 1, clientPublicId: 'c', userId: 1, organizationId: null, scope: 'profile',
    createdAt: 0, expiresAt: 100, revokedAt: null, grantRevokedAt: null, organizationName: null, organizationIntegrationsEnabled: null,
    user: { id: 1, name: 'n', email: 'e', locale: 'l', subject: 's', emailVerified: false, updatedAt: 0 },
    claimsRequest: null,
    ...overrides,
  };
}

test('token state: active until expires_at, revoked before expired', () => {
  assert.equal(accessTokenState(undefined, 0), 'unknown');
  assert.equal(accessTokenState(token(), 99), 'active');
  assert.equal(accessTokenState(token(), 100), 'expired');
  assert.equal(accessTokenState(token({ revokedAt: 5 }), 50), 'revoked');
  assert.equal(accessTokenState(token({ grantRevokedAt: 5 }), 50), 'revoked');
  assert.equal(accessTokenState(token({ revokedAt: 5 }), 500), 'revoked');
  assert.equal(accessTokenState(token({ organizationId: 3, organizationName: 'o', organizationIntegrationsEnabled: false }), 50), 'inactive_organization');
  assert.equal(accessTokenState(token({ organizationId: 3, organizationName: 'o', organizationIntegrationsEnabled: true }), 50), 'active');
});

test('WWW-Authenticate challenges (RFC 6750 §3)', () => {
  assert.equal(bearerChallenge('latchkey'), 'Bearer realm="latchkey"');
  assert.equal(
    bearerChallenge('latchkey', { error: 'invalid_token', description: 'the access token has expired' }),
    'Bearer realm="latchkey", error="invalid_token", error_description="the access token has expired"',
  );
  assert.equal(
    bearerChallenge('latchkey', { error: 'insufficient_scope', description: 'needs "profile"\\', scope: 'profile email' }),
    'Bearer realm="latchkey", error="insufficient_scope", error_description="needs profile", scope="profile email"',
  );
});
