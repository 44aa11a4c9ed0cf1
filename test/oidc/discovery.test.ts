// OpenID Connect Discovery 1.0 (§3, §4) over HTTP, on each database. The first test is the
// conformance suite's Config OP plan, whose one module, oidcc-discovery-endpoint-verification,
// makes the checks listed beside each assertion (the suite's condition classes, in its order);
// the others hold the document to SPEC.md field by field and to the RFC 8414 document.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import * as oidcClient from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { expectedOpenIdConfiguration } from '../helpers/metadata.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SCOPES = ['openid', 'profile', 'email'];
const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** The OpenID response types (OIDCCCheckDiscEndpointResponseTypesSupported). */
const OIDC_RESPONSE_TYPES = ['code', 'code id_token', 'id_token', 'token id_token', 'code id_token token', 'code token'];
/** RFC 6749 Appendix A.4 scope-token (CheckDiscEndpointScopesSupportedSyntax). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** Unpadded base64url (JWKUtil.findStructurallyInvalidKeys). */
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** JWK members that hold private or symmetric key material (EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

interface Fetched {
  status: number;
  headers: Headers;
  text: string;
  // Tests read fields freely and assert on them.
  body: Record<string, unknown>;
}

/**
 * Fetches a URL the document names. The server listens on loopback, so a URL under a public
 * https issuer (LATCHKEY_ISSUER) is sent to the listening address, as a TLS-terminating proxy would.
 */
async function fetchAt(server: TestServer, url: string, init: RequestInit = {}): Promise<Fetched> {
  const issuer = server.config.issuer;
  assert.ok(url.startsWith(`${issuer}/`), `${url} is not under the issuer ${issuer}`);
  const res = await fetch(`${server.url}${url.slice(issuer.length)}`, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** A URL the suite accepts for an endpoint (AbstractJsonUriIsValidAndHttps): a string, parsable, https. */
function assertHttpsUrl(value: unknown, field: string): URL {
  assert.equal(typeof value, 'string', `${field} is a string`);
  const url = new URL(value as string);
  assert.equal(url.protocol, 'https:', `${field} uses https`);
  return url;
}

/** An array of strings (AbstractValidateJsonArray). */
function stringArray(value: unknown, field: string): string[] {
  assert.ok(Array.isArray(value), `${field} is an array`);
  for (const v of value) assert.equal(typeof v, 'string', `${field} holds strings`);
  return value as string[];
}

const DEFAULT_SCOPES_SUPPORTED = ['openid', 'profile', 'email', 'offline_access'];

for (const kind of databaseKinds()) {
  describe(`[${kind}] OpenID Connect Discovery`, () => {
    test('oidcc-discovery-endpoint-verification (Config OP plan): every check the suite makes on the document and its keys', async () => {
      const issuer = 'https://op.example.test';
      const server = await startTestServer(kind, { env: { LATCHKEY_ISSUER: issuer }, file: { scopes: SCOPES } });
      try {
        // CheckDiscEndpointDiscoveryUrl: https, ending in /.well-known/openid-configuration (OIDCD-4).
        const discoveryUrl = `${issuer}${DISCOVERY_PATH}`;
        assert.equal(new URL(discoveryUrl).protocol, 'https:');
        // GetDynamicServerConfiguration, EnsureDiscoveryEndpointResponseStatusCodeIs200,
        // CheckDiscoveryEndpointReturnedJsonContentType (OIDCD-4).
        const res = await fetchAt(server, discoveryUrl);
        assert.equal(res.status, 200);
        assert.equal((res.headers.get('content-type') ?? '').split(';')[0]?.trim(), 'application/json');
        const doc = res.body;

        // OIDCCCheckDiscEndpointResponseTypesSupported (OIDCD-3, OIDCC-3): at least one OpenID response type.
        assert.ok(stringArray(doc.response_types_supported, 'response_types_supported').some((t) => OIDC_RESPONSE_TYPES.includes(t)));
        // CheckDiscEndpointIssuer (OIDCD-4.3, 7.2): the discovery URL less the well-known suffix, trailing slash aside.
        const strip = (u: string) => (u.endsWith('/') ? u.slice(0, -1) : u);
        const suffix = '.well-known/openid-configuration';
        assert.ok(discoveryUrl.endsWith(suffix));
        assert.equal(strip(String(doc.issuer)), strip(discoveryUrl.slice(0, -suffix.length)));
        // CheckDiscEndpointIssuerIsValidUrl (RFC 8414 §2): https, a host, no query, fragment or userinfo.
        const issuerUrl = assertHttpsUrl(doc.issuer, 'issuer');
        assert.notEqual(issuerUrl.hostname, '');
        assert.equal(issuerUrl.search, '');
        assert.equal(issuerUrl.hash, '');
        assert.ok(!String(doc.issuer).includes('?') && !String(doc.issuer).includes('#'));
        assert.equal(issuerUrl.username + issuerUrl.password, '');
        // CheckDiscEndpointSubjectTypesSupported (OIDCD-3): public or pairwise.
        assert.ok(stringArray(doc.subject_types_supported, 'subject_types_supported').some((t) => t === 'public' || t === 'pairwise'));
        // OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported (OIDCD-3): RS256 — and never `none` (SPEC.md).
        const algs = stringArray(doc.id_token_signing_alg_values_supported, 'id_token_signing_alg_values_supported');
        assert.ok(algs.includes('RS256'));
        assert.ok(!algs.includes('none'));
        // OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported: skipped when absent (no signed UserInfo).
        assert.equal(doc.userinfo_signing_alg_values_supported, undefined);
        // CheckDiscEndpointAuthorizationEndpoint, …TokenEndpoint, …UserinfoEndpoint (OIDCD-3).
        for (const field of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint']) assertHttpsUrl(doc[field], field);
        // CheckDiscEndpointRegistrationEndpoint: skipped when absent (no dynamic registration yet).
        assert.equal(doc.registration_endpoint, undefined);

        // CheckJwksUri, FetchServerKeys, ValidateServerJWKs (OIDCD-3),
        // EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys (RFC 7518 §6.3.2.1).
        assertHttpsUrl(doc.jwks_uri, 'jwks_uri');
        const jwks = await fetchAt(server, String(doc.jwks_uri));
        assert.equal(jwks.status, 200);
        const keys = jwks.body.keys as Array<Record<string, unknown>>;
        assert.ok(Array.isArray(keys) && keys.length > 0, 'a keys array');
        for (const key of keys) {
          const required = key.kty === 'RSA' ? ['n', 'e'] : key.kty === 'EC' ? ['x', 'y', 'crv'] : assert.fail(`kty ${String(key.kty)}`);
          for (const member of required) assert.equal(typeof key[member], 'string', `${String(key.kid)}: ${member}`);
          for (const member of key.kty === 'RSA' ? ['n', 'e'] : ['x', 'y']) assert.match(String(key[member]), BASE64URL);
          for (const member of PRIVATE_MEMBERS) assert.equal(member in key, false, `${String(key.kid)} holds ${member}`);
          // Usable: the JOSE library imports it for its algorithm, and its kid is its RFC 7638 thumbprint.
          assert.equal(key.use, 'sig');
          await importJWK(key as JWK, String(key.alg));
          assert.equal(key.kid, await calculateJwkThumbprint(key as JWK));
        }
        // Every ID-token algorithm has a published key to verify it with.
        for (const alg of algs) assert.ok(keys.some((k) => k.alg === alg), `a key for ${alg}`);

        // CheckDiscEndpointRequestParameterSupported, …RequestUriParameterSupported (INFO): booleans, as implemented.
        assert.equal(doc.request_parameter_supported, false);
        assert.equal(doc.request_uri_parameter_supported, false);
        // CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256: skipped when absent.
        assert.equal(doc.request_object_signing_alg_values_supported, undefined);
        // CheckDiscEndpointClaimsParameterSupported (OIDCD-3).
        assert.equal(doc.claims_parameter_supported, true);
        // OIDCCCheckDiscEndpointClaimsSupported (OIDCD-3): an array; ours names sub and every UserInfo claim.
        const claims = stringArray(doc.claims_supported, 'claims_supported');
        for (const claim of ['sub', 'name', 'locale', 'updated_at', 'email', 'email_verified']) assert.ok(claims.includes(claim), claim);
        // OIDCCCheckDiscEndpointGrantTypesSupported (OIDCD-3): a non-empty array.
        assert.ok(stringArray(doc.grant_types_supported, 'grant_types_supported').length > 0);
        // CheckDiscEndpointScopesSupportedContainsOpenId (OIDCD-3), …ScopesSupportedSyntax (RFC 6749 §3.3).
        const scopes = stringArray(doc.scopes_supported, 'scopes_supported');
        assert.ok(scopes.includes('openid'));
        for (const scope of scopes) assert.match(scope, SCOPE_TOKEN);
        // CheckDiscEndpointLocalesSyntax: no ui_locales_supported or claims_locales_supported to check.
        assert.equal(doc.ui_locales_supported, undefined);
        assert.equal(doc.claims_locales_supported, undefined);
        // CheckDiscEndpointAllEndpointsAreHttps: every *_endpoint field.
        const endpoints = Object.keys(doc).filter((k) => k.endsWith('_endpoint'));
        assert.deepEqual(endpoints.sort(), ['authorization_endpoint', 'end_session_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'token_endpoint', 'userinfo_endpoint']);
        for (const field of endpoints) assertHttpsUrl(doc[field], field);
        // EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray (RFC 8414 §2, RFC 7636 §4.3).
        assert.ok(stringArray(doc.code_challenge_methods_supported, 'code_challenge_methods_supported').includes('S256'));

        // Beyond the suite: the endpoints named are served here (end_session_endpoint comes with
        // RP-initiated logout), and the protected ones answer as RFC 6750 says.
        assert.notEqual((await fetchAt(server, String(doc.authorization_endpoint))).status, 404);
        for (const field of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
          assert.notEqual((await fetchAt(server, String(doc[field]), { method: 'POST' })).status, 404, field);
        }
        const userinfo = await fetchAt(server, String(doc.userinfo_endpoint));
        assert.equal(userinfo.status, 401);
        // RFC 9728 §5.1: the realm, then where the protected-resource metadata is.
        assert.equal(userinfo.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${String(doc.issuer)}/.well-known/oauth-protected-resource"`);
      } finally {
        await server.close();
      }
    });

    test('the whole document for the default configuration, its headers, and HEAD', async () => {
      const server = await startTestServer(kind, { file: { scopes: SCOPES } });
      try {
        const res = await fetchAt(server, `${server.url}${DISCOVERY_PATH}`);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body, expectedOpenIdConfiguration(server.url, DEFAULT_SCOPES_SUPPORTED));
        // Where it was fetched from names its issuer (Discovery §4.3): here, the listening address.
        assert.equal(res.body.issuer, server.url);
        assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
        const head = await fetch(`${server.url}${DISCOVERY_PATH}`, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(await head.text(), '');
        assert.equal(head.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.equal(head.headers.get('cache-control'), 'public, max-age=300');
        const oauthHead = await fetch(`${server.url}/.well-known/oauth-authorization-server`, { method: 'HEAD' });
        assert.equal(oauthHead.status, 200);
      } finally {
        await server.close();
      }
    });

    test('one source: the RFC 8414 document is the OpenID one less the OpenID Provider fields, with the same issuer and values', async () => {
      const server = await startTestServer(kind, { env: { LATCHKEY_ISSUER: 'https://auth.example.com/' }, file: { scopes: SCOPES } });
      try {
        const oidc = await fetchAt(server, `https://auth.example.com${DISCOVERY_PATH}`);
        const oauth = await fetchAt(server, 'https://auth.example.com/.well-known/oauth-authorization-server');
        // A trailing slash in LATCHKEY_ISSUER is not part of the issuer, in either document.
        assert.equal(oidc.body.issuer, 'https://auth.example.com');
        assert.equal(oauth.body.issuer, oidc.body.issuer);
        for (const [field, value] of Object.entries(oauth.body)) assert.deepEqual(oidc.body[field], value, field);
        const oidcOnly = Object.keys(oidc.body).filter((k) => !(k in oauth.body)).sort();
        assert.deepEqual(oidcOnly, [
          'acr_values_supported', 'claim_types_supported', 'claims_parameter_supported', 'claims_supported', 'display_values_supported', 'end_session_endpoint',
          'id_token_signing_alg_values_supported', 'prompt_values_supported', 'request_parameter_supported', 'request_uri_parameter_supported',
          'subject_types_supported',
        ]);
        assert.deepEqual(oidc.body, expectedOpenIdConfiguration('https://auth.example.com', DEFAULT_SCOPES_SUPPORTED));
        assert.equal(oauth.headers.get('cache-control'), oidc.headers.get('cache-control'));
      } finally {
        await server.close();
      }
    });

    test('scopes_supported: the configured scopes, and offline_access beside openid only', async () => {
      for (const [scopes, expected] of [
        [['profile', 'email', 'calendar'], ['profile', 'email', 'calendar']],
        [['openid', 'calendar'], ['openid', 'calendar', 'offline_access']],
        [['openid', 'offline_access', 'profile'], ['openid', 'offline_access', 'profile']],
      ] as const) {
        const server = await startTestServer(kind, { file: { scopes } });
        try {
          for (const path of [DISCOVERY_PATH, '/.well-known/oauth-authorization-server']) {
            assert.deepEqual((await fetchAt(server, `${server.url}${path}`)).body.scopes_supported, expected, `${scopes.join(' ')} at ${path}`);
          }
        } finally {
          await server.close();
        }
      }
    });

    test('a relying-party library discovers the provider: openid-client (OpenID mode) checks the issuer against where it fetched', async () => {
      const server = await startTestServer(kind, { file: { scopes: SCOPES } });
      try {
        const config = await oidcClient.discovery(new URL(server.url), 'some-client', undefined, undefined, { execute: [oidcClient.allowInsecureRequests] });
        const metadata = config.serverMetadata();
        assert.equal(metadata.issuer, server.url);
        assert.equal(metadata.end_session_endpoint, `${server.url}/oauth/logout`);
        assert.deepEqual(metadata.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
        assert.equal(metadata.authorization_response_iss_parameter_supported, true);
        // Under another issuer than the address it was fetched from, the library refuses the document (Discovery §4.3).
        const elsewhere = await startTestServer(kind, { env: { LATCHKEY_ISSUER: 'https://impostor.example' } });
        try {
          await assert.rejects(oidcClient.discovery(new URL(elsewhere.url), 'some-client', undefined, undefined, { execute: [oidcClient.allowInsecureRequests] }));
        } finally {
          await elsewhere.close();
        }
      } finally {
        await server.close();
      }
    });
  });
}
