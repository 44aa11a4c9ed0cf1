// Client ID metadata documents (config client_id_metadata_documents; the MCP draft): a client
// whose client_id is the URL of its JSON document, served on loopback (LATCHKEY_ALLOW_LOOPBACK_FETCH),
// signs a user in with the authorization code + PKCE flow as a public client, and as a
// private_key_jwt client with a jwks_uri; documents that lie about their client_id or lack
// redirect_uris, hostile document servers, and the switch off by default. SQLite and PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, type TestUser } from '../helpers/fixtures.js';
import { followAuthorizationUrl } from '../helpers/authorize.js';
import { newKeyPair, startLoopbackServer, type KeyPair, type LoopbackServer } from '../helpers/assertion-clients.js';

const REDIRECT_URI = 'https://mcp-client.example/cb';
const http = { [oauth.allowInsecureRequests]: true };

for (const kind of databaseKinds()) {
  describe(`[${kind}] client ID metadata documents`, () => {
    let server: TestServer;
    let off: TestServer;
    let user: TestUser;
    let docs: LoopbackServer;
    let base: string;
    let key: KeyPair;
    const documents = new Map<string, () => { status?: number; type?: string; body: string }>();

    before(async () => {
      server = await startTestServer(kind, { env: { LATCHKEY_ALLOW_LOOPBACK_FETCH: '1' }, file: { client_id_metadata_documents: true } });
      off = await startTestServer(kind, { env: { LATCHKEY_ALLOW_LOOPBACK_FETCH: '1' } });
      user = await createUser(server, { locale: 'en' });
      key = await newKeyPair('ES256');
      docs = await startLoopbackServer((req, res) => {
        const doc = documents.get(req.url ?? '');
        if (req.url === '/jwks.json') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ keys: [key.publicJwk] }));
          return;
        }
        if (!doc) {
          res.writeHead(404);
          res.end();
          return;
        }
        const d = doc();
        if (d.status === 0) return; // never answers
        res.writeHead(d.status ?? 200, { 'content-type': d.type ?? 'application/json' });
        res.end(d.body);
      });
      base = docs.url.replace('/jwks.json', '');
    });
    after(async () => {
      await docs.close();
      await server.close();
      await off.close();
    });

    function serve(path: string, doc: Record<string, unknown> | (() => { status?: number; type?: string; body: string })): string {
      documents.set(path, typeof doc === 'function' ? doc : () => ({ body: JSON.stringify(doc) }));
      return `${base}${path}`;
    }

    async function codeFlow(target: TestServer, clientId: string, auth: oauth.ClientAuth): Promise<oauth.TokenEndpointResponse> {
      const issuer = new URL(target.url);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
      const c: oauth.Client = { client_id: clientId };
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(String(as.authorization_endpoint));
      for (const [k, v] of Object.entries({
        client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'profile', state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      })) url.searchParams.set(k, v);
      const { redirect } = await followAuthorizationUrl(target, url, user);
      assert.ok(redirect, 'the authorization request reached the redirect URI');
      const params = oauth.validateAuthResponse(as, c, redirect, state);
      return oauth.processAuthorizationCodeResponse(as, c, await oauth.authorizationCodeGrantRequest(as, c, auth, params, REDIRECT_URI, verifier, http));
    }

    test('metadata says so only when on', async () => {
      const on = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
      assert.equal(on.client_id_metadata_document_supported, true);
      const offDoc = await (await fetch(`${off.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
      assert.equal(offDoc.client_id_metadata_document_supported, undefined);
    });

    test('a public client described by its document: code + PKCE, stored once as registration "document"', async () => {
      const clientId = serve('/public-client.json', { client_id: `${base}/public-client.json`, client_name: 'MCP Inspector', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
      const tokens = await codeFlow(server, clientId, oauth.None());
      assert.equal(typeof tokens.access_token, 'string');
      const stored = await server.services.clients.findByClientId(clientId);
      assert.equal(stored?.registration, 'document');
      assert.equal(stored?.name, 'MCP Inspector');
      assert.equal(stored?.isPublic, true);
      const hits = docs.hits;
      await codeFlow(server, clientId, oauth.None());
      assert.equal(docs.hits, hits, 'the stored client answers; the document is not fetched again');
    });

    test('a private_key_jwt client with a jwks_uri in its document', async () => {
      const clientId = serve('/pkj-client.json', { client_id: `${base}/pkj-client.json`, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${base}/jwks.json` });
      // The fetcher's rules hold for the jwks_uri too (https except loopback with the flag): the document names an http loopback one.
      const tokens = await codeFlow(server, clientId, oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }));
      assert.equal(typeof tokens.access_token, 'string');
      const stored = await server.services.clients.findByClientId(clientId);
      assert.equal(stored?.tokenEndpointAuthMethod, 'private_key_jwt');
    });

    test('refused documents: another client_id, no redirect_uris, a secret method, not JSON, slow, huge, redirecting, at a private address; off by default', async () => {
      const cases: Array<[string, Parameters<typeof serve>[1]]> = [
        ['/liar.json', { client_id: 'https://other.example/client.json', redirect_uris: [REDIRECT_URI] }],
        ['/no-uris.json', { client_id: `${base}/no-uris.json` }],
        ['/secret.json', { client_id: `${base}/secret.json`, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic' }],
        ['/bad-uri.json', { client_id: `${base}/bad-uri.json`, redirect_uris: ['http://evil.example/cb'] }],
        ['/html.json', () => ({ type: 'text/html', body: '<html>' })],
        ['/huge.json', () => ({ body: `{"pad":"${'x'.repeat(1024 * 1024)}"}` })],
        ['/slow.json', () => ({ status: 0, body: '' })],
        ['/redirect.json', () => ({ status: 302, body: '' })],
      ];
      // Documents at addresses that are not public: refused before any connection (net/fetch-json.ts).
      const privateIds = ['https://10.1.2.3/client.json', 'https://169.254.169.254/latest/meta-data.json', 'https://[fd00::1]/client.json', 'https://192.168.1.1:8443/c.json'];
      for (const [path, doc] of [...cases, ...privateIds.map((id) => [id, null] as const)]) {
        const clientId = doc === null ? path : serve(path, doc);
        const started = Date.now();
        const res = await fetch(`${server.url}/oauth/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`, { redirect: 'manual' });
        assert.equal(res.status, 400, `${path}: ${res.status}`);
        assert.ok(Date.now() - started < 10_000, `${path} took ${Date.now() - started} ms`);
        assert.equal(await server.services.clients.findByClientId(clientId), undefined, `${path}: no client stored`);
      }
      // Off (the default): an https client_id is just an unknown client, never fetched.
      const clientId = serve('/never.json', { client_id: `${base}/never.json`, redirect_uris: [REDIRECT_URI] });
      const hits = docs.hits;
      const res = await fetch(`${off.url}/oauth/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code' })}`, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(docs.hits, hits);
    });
  });
}
