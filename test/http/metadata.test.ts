// GET /.well-known/oauth-authorization-server (RFC 8414) and GET /.well-known/jwks.json
// (RFC 7517) over HTTP on each database.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { expectedAuthorizationServerMetadata } from '../helpers/metadata.js';
import { startTestServer } from '../helpers/server.js';

async function getJson(url: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] server metadata and JWKS`, () => {
    test('opaque access tokens: every RFC 8414 field, jwks_uri too, served under the issuer', async () => {
      const server = await startTestServer(kind);
      try {
        const res = await getJson(`${server.url}/.well-known/oauth-authorization-server`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        const issuer = server.url;
        assert.deepEqual(res.body, expectedAuthorizationServerMetadata(issuer, ['openid', 'profile', 'email', 'offline_access']));
        // Every endpoint named there answers (here: not with 404).
        for (const endpoint of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint'] as const) {
          const r = await fetch(String(res.body[endpoint]), { method: 'POST' });
          assert.notEqual(r.status, 404, endpoint);
        }
        assert.notEqual((await fetch(`${issuer}/oauth/userinfo`)).status, 404);
        // Keys exist from the first start whatever the access-token format (ID tokens): one per algorithm.
        const jwks = await getJson(`${server.url}/.well-known/jwks.json`);
        assert.equal(jwks.status, 200);
        assert.deepEqual((jwks.body.keys as Array<{ alg: string }>).map((k) => k.alg).sort(), ['ES256', 'RS256']);
        // …stored in plain here (no LATCHKEY_ENCRYPTION_KEY): SPEC.md says so in one warning.
        assert.equal(server.logs.filter((l) => l.includes('unencrypted')).length, 1);
      } finally {
        await server.close();
      }
    });

    test('an OpenID Provider too (SPEC.md): /.well-known/openid-configuration holds every RFC 8414 field, with the same values', async () => {
      const server = await startTestServer(kind);
      try {
        const oauth = await getJson(`${server.url}/.well-known/oauth-authorization-server`);
        const oidc = await getJson(`${server.url}/.well-known/openid-configuration`);
        assert.equal(oidc.status, 200);
        assert.match(oidc.headers.get('content-type') ?? '', /^application\/json/);
        assert.equal(oidc.headers.get('cache-control'), oauth.headers.get('cache-control'));
        assert.equal(oidc.body.issuer, server.url);
        for (const [field, value] of Object.entries(oauth.body)) assert.deepEqual(oidc.body[field], value, field);
      } finally {
        await server.close();
      }
    });

    test('LATCHKEY_ISSUER names the issuer and every endpoint; config scopes are listed', async () => {
      const server = await startTestServer(kind, { env: { LATCHKEY_ISSUER: 'https://auth.example.com/' }, file: { scopes: ['profile', 'email', 'calendar'] } });
      try {
        const { body } = await getJson(`${server.url}/.well-known/oauth-authorization-server`);
        assert.equal(body.issuer, 'https://auth.example.com');
        assert.equal(body.token_endpoint, 'https://auth.example.com/oauth/token');
        assert.equal(body.authorization_endpoint, 'https://auth.example.com/oauth/authorize');
        assert.deepEqual(body.scopes_supported, ['profile', 'email', 'calendar']);
      } finally {
        await server.close();
      }
    });

    test('JWT access tokens: jwks_uri is listed and publishes one ES256 public key (beside the RS256 one)', async () => {
      const server = await startTestServer(kind, { file: { access_token_format: 'jwt' } });
      try {
        const { body } = await getJson(`${server.url}/.well-known/oauth-authorization-server`);
        assert.equal(body.jwks_uri, `${server.url}/.well-known/jwks.json`);
        const res = await fetch(String(body.jwks_uri));
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^application\/jwk-set\+json/);
        assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
        const all = (await res.json()) as { keys: Array<Record<string, unknown>> };
        assert.deepEqual(all.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
        const jwks = { keys: all.keys.filter((k) => k.alg === 'ES256') };
        assert.equal(jwks.keys.length, 1);
        const key = jwks.keys[0] ?? {};
        assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
        assert.equal(key.kty, 'EC');
        assert.equal(key.crv, 'P-256');
        assert.equal(key.alg, 'ES256');
        assert.equal(key.use, 'sig');
        assert.equal('d' in key, false, 'never the private part');
      } finally {
        await server.close();
      }
    });
  });
}
