// The OpenID Foundation's Basic OP certification plan (oidcc-basic-certification-test-plan,
// OIDCCBasicTestPlan in openid-certification/conformance-suite) against a started server, one
// test per module, named after it: the single-authorization modules. The modules that sign in
// twice, move the clock or reuse codes and tokens are in basic-op-sessions.test.ts.
//
// Variant: static clients (operator-created), discovery, response_type code, client_secret_basic
// (client_secret_post for oidcc-server-client-secret-post); every module also calls UserInfo
// with its access token (requestProtectedResource). What each module checks is in
// test/helpers/conformance.ts, condition by condition. Where the suite only warns and SPEC.md
// chose otherwise (user claims in the ID token), the test asserts SPEC.md and says so.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds } from '../helpers/databases.js';
import { createClient } from '../helpers/fixtures.js';
import { unescapeHtml } from '../helpers/html.js';
import type { IdTokenAlg } from '../../src/oauth/model.js';
import { s256Challenge } from '../../src/oauth/pkce.js';
import {
  RP_REDIRECT_URI, assertOnlyRequestedClaims, callUserInfo, codeFlow, discovery, expectErrorResponse, expectOidcUserInfo, rpRequest,
  runAuthorization, scopesSupported, serverJwks, startOp, type Op,
} from '../helpers/conformance.js';

/** An unsigned request object (SerializeRequestObjectWithNullAlgorithm) of these parameters. */
function unsignedRequestObject(params: Array<[string, string]>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(Object.fromEntries(params))}.`;
}

/** What the suite sends beside a request object (AbstractBuildRequestObjectRedirectToAuthorizationEndpoint): the required duplicates, sorted. */
function requestObjectDuplicates(params: Array<[string, string]>): Array<[string, string]> {
  return params.filter(([name]) => ['response_type', 'client_id', 'scope', 'redirect_uri'].includes(name)).sort(([a], [b]) => a.localeCompare(b));
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] OpenID Connect Basic OP certification plan`, () => {
    let op: Op;
    before(async () => {
      op = await startOp(kind);
    });
    after(() => op.close());

    test('oidcc-server', async (t) => {
      const request = rpRequest(op.client);
      const flow = await codeFlow(op, request, { t });
      assert.equal(flow.idToken.header.alg, 'RS256');
      // EnsureIdTokenDoesNotContainNonRequestedClaims and EnsureIdTokenDoesNotContainName (warnings
      // in the suite): scope=openid alone brings no user claims.
      assertOnlyRequestedClaims(flow.idToken, request.scope);
      assert.equal(flow.idToken.payload.name, undefined);
      assert.equal(flow.idToken.payload.c_hash, undefined);
    });

    test('oidcc-response-type-missing', async () => {
      const request = rpRequest(op.client, { omit: ['response_type'] });
      const result = await runAuthorization(op, request);
      expectErrorResponse(op, request, result, ['invalid_request', 'unsupported_response_type']);
    });

    test('oidcc-idtoken-signature', async (t) => {
      const flow = await codeFlow(op, rpRequest(op.client), { t });
      // EnsureIdTokenContainsKid, EnsureIdTokenSignatureIsRS256; the signature was verified
      // against the JWKS alone, by the key the kid names.
      assert.equal(flow.idToken.header.alg, 'RS256');
      assert.ok(typeof flow.idToken.header.kid === 'string' && flow.idToken.header.kid !== '');
      const key = (await serverJwks(op)).keys.find((k) => k.kid === flow.idToken.header.kid);
      assert.equal(key?.kty, 'RSA');
    });

    test('oidcc-idtoken-unsigned', async () => {
      // OIDCCCheckIdTokenSigningAlgValuesSupportedAlgNone: none is not offered (SPEC.md: never),
      // so the suite skips the module. A client row asking for none still gets RS256.
      const algs = (await discovery(op)).id_token_signing_alg_values_supported;
      assert.ok(Array.isArray(algs) && algs.includes('RS256') && !algs.includes('none'));
      // A value the type forbids, on purpose: what a row saying none would hold.
      const unsigned = await createClient(op.server, { name: 'Wants none', redirectUris: [RP_REDIRECT_URI], idTokenSignedResponseAlg: 'none' as unknown as IdTokenAlg });
      const flow = await codeFlow(op, rpRequest(unsigned));
      assert.equal(flow.idToken.header.alg, 'RS256');
    });

    for (const [module, how] of [['oidcc-userinfo-get', 'get'], ['oidcc-userinfo-post-header', 'post-header'], ['oidcc-userinfo-post-body', 'post-body']] as const) {
      test(module, async (t) => {
        const request = rpRequest(op.client);
        const flow = await codeFlow(op, request);
        await t.test(`UserInfo (${how}): 200 JSON with the ID token's sub`, async () => {
          expectOidcUserInfo(op, await callUserInfo(op, flow.tokens.accessToken, how), String(flow.idToken.payload.sub), request.scope);
        });
      });
    }

    test('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async (t) => {
      const request = rpRequest(op.client, { nonce: false });
      const flow = await codeFlow(op, request, { t });
      assert.equal(flow.idToken.payload.nonce, undefined);
    });

    /** AbstractOIDCCReturnedClaimsServerTest: run only when discovery lists the scopes, then the flow and UserInfo. */
    async function scopeModule(t: TestContext, scope: string) {
      assert.ok(await scopesSupported(op, scope));
      return codeFlow(op, rpRequest(op.client, { scope }), { t });
    }

    test('oidcc-scope-profile', async (t) => {
      const flow = await scopeModule(t, 'openid profile');
      // SPEC.md, beyond Core §5.4: the granted scopes' claims are in the ID token too.
      assert.equal(flow.idToken.payload.name, op.user.name);
      assert.equal(flow.idToken.payload.locale, 'en');
      assert.equal(flow.idToken.payload.email, undefined);
    });

    test('oidcc-scope-email', async (t) => {
      const flow = await scopeModule(t, 'openid email');
      // EnsureIdTokenDoesNotContainEmailForScopeEmail warns here: SPEC.md puts email in the ID
      // token on purpose. EnsureIdTokenDoesNotContainName holds.
      assert.equal(flow.idToken.payload.email, op.user.email);
      assert.equal(flow.idToken.payload.email_verified, false);
      assert.equal(flow.idToken.payload.name, undefined);
    });

    // The suite skips these when scopes_supported lacks the scope (OIDCCCheckScopesSupportedContainScopeTest).
    // Latchkey has no address or phone claims: asked for anyway, the request is refused with
    // invalid_scope at the redirect URI (RFC 6749 §4.1.2.1), as for any scope the client may not have.
    for (const [module, scope, refused] of [
      ['oidcc-scope-address', 'openid address', ['address']],
      ['oidcc-scope-phone', 'openid phone', ['phone']],
      ['oidcc-scope-all', 'openid email phone address profile', ['phone', 'address']],
    ] as const) {
      test(module, async () => {
        assert.equal(await scopesSupported(op, scope), false, `the suite skips ${module}`);
        const request = rpRequest(op.client, { scope });
        const result = await runAuthorization(op, request);
        expectErrorResponse(op, request, result, ['invalid_scope']);
        const description = result.redirect?.searchParams.get('error_description') ?? '';
        for (const s of refused) assert.match(description, new RegExp(s));
      });
    }

    test('oidcc-alternate-happy-flow', async (t) => {
      // ReverseScopeOrderInAuthorizationEndpointRequest, BuildPlainRedirectToAuthorizationEndpointReorderedParams.
      const request = rpRequest(op.client, { scope: 'email openid', reversed: true });
      assert.equal(request.params[0]?.[0], 'response_type');
      const flow = await codeFlow(op, request, { t });
      assert.equal(flow.idToken.payload.email, op.user.email);
    });

    for (const display of ['page', 'popup']) {
      test(`oidcc-display-${display}`, async (t) => {
        const flow = await codeFlow(op, rpRequest(op.client, { extra: [['display', display]] }), { t });
        assert.ok(flow.result.loginShown, 'a fresh browser gets the login page');
      });
    }

    test('oidcc-ensure-request-with-unknown-parameter-succeeds', async (t) => {
      await codeFlow(op, rpRequest(op.client, { extra: [['extra', 'foobar']] }), { t });
    });

    test('oidcc-login-hint', async (t) => {
      // AddLoginHintFromConfigurationToAuthorizationEndpointRequest: buffy@<issuer host>. SPEC.md:
      // it pre-fills the e-mail; signing in as someone else is still possible.
      const hint = `buffy@${new URL(op.server.config.issuer).hostname}`;
      const flow = await codeFlow(op, rpRequest(op.client, { extra: [['login_hint', hint]] }), { t });
      assert.ok(flow.result.loginShown);
      const field = /<input[^>]*name="email"[^>]*value="([^"]*)"/.exec(flow.result.loginPage ?? '');
      assert.equal(unescapeHtml(field?.[1] ?? ''), hint);
    });

    test('oidcc-ui-locales', async (t) => {
      const flow = await codeFlow(op, rpRequest(op.client, { extra: [['ui_locales', 'se']] }), { t });
      assert.ok(flow.result.loginShown);
    });

    test('oidcc-claims-locales', async (t) => {
      await codeFlow(op, rpRequest(op.client, { extra: [['claims_locales', 'se']] }), { t });
    });

    test('oidcc-ensure-request-with-acr-values-succeeds', async (t) => {
      // acr_values_supported is published, so the suite asks for those values (voluntary, Core
      // §3.1.2.1); ValidateIdTokenACRClaimAgainstAcrValuesRequest wants the ID token's acr among them.
      const published = (await discovery(op)).acr_values_supported as string[];
      assert.deepEqual(published, ['urn:latchkey:acr:pwd', 'urn:latchkey:acr:mfa', 'phr']);
      const flow = await codeFlow(op, rpRequest(op.client, { extra: [['acr_values', published.join(' ')]] }), { t });
      assert.ok(published.includes(flow.idToken.payload.acr as string), `acr ${String(flow.idToken.payload.acr)}`);
      assert.equal(flow.idToken.payload.acr, 'urn:latchkey:acr:pwd');
    });

    test('oidcc-ensure-registered-redirect-uri', async () => {
      // CreateBadRedirectUriByAppending: the error page, never a redirect to either URI.
      const bad = `https://rp.example/callback/${randomBytes(5).toString('hex')}`;
      const request = rpRequest(op.client, { redirectUri: bad });
      const result = await runAuthorization(op, request);
      assert.equal(result.status, 400);
      assert.equal(result.location, null);
      assert.match(result.final.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(result.final.body, /redirect_uri/);
    });

    test('oidcc-ensure-post-request-succeeds', async (t) => {
      const flow = await codeFlow(op, rpRequest(op.client), { method: 'POST', t });
      assert.ok(flow.result.loginShown);
    });

    test('oidcc-server-client-secret-post', async (t) => {
      await codeFlow(op, rpRequest(op.postClient), { auth: 'post', t });
    });

    test('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported', async () => {
      // CreateRandomRequestUriWithFragment; BuildRequestObjectByReferenceRedirectToAuthorizationEndpoint.
      // The state travels only inside the request object, so none comes back.
      const request = rpRequest(op.client);
      const params: Array<[string, string]> = [...requestObjectDuplicates(request.params), ['request_uri', `https://rp.example/requests/${randomBytes(8).toString('hex')}#frag`]];
      const result = await runAuthorization(op, { ...request, params });
      expectErrorResponse(op, { state: null }, result, ['request_uri_not_supported']);
    });

    test('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async () => {
      const request = rpRequest(op.client);
      const params: Array<[string, string]> = [...requestObjectDuplicates(request.params), ['request', unsignedRequestObject(request.params)]];
      const result = await runAuthorization(op, { ...request, params });
      expectErrorResponse(op, { state: null }, result, ['request_not_supported']);
    });

    test('oidcc-ensure-request-object-with-redirect-uri', async () => {
      // AddInvalidRedirectUriToAuthorizationRequest: the request object holds the registered URI,
      // the query an unregistered one. Either the object is used, or the invalid redirect_uri is
      // shown as an error page; redirecting request_not_supported to the registered URI would fail.
      const request = rpRequest(op.client);
      const object = unsignedRequestObject(request.params);
      const invalid = 'https://rp.example/callback_invalid?dummy1=lorem&dummy2=ipsum';
      const params: Array<[string, string]> = [...requestObjectDuplicates(request.params).map(([k, v]): [string, string] => [k, k === 'redirect_uri' ? invalid : v]), ['request', object]];
      const result = await runAuthorization(op, { ...request, params });
      assert.equal(result.status, 400);
      assert.equal(result.location, null);
      assert.match(result.final.body, /redirect_uri/);
    });

    test('oidcc-claims-essential', async (t) => {
      // AddUserInfoEssentialNameClaimToAuthorizationEndpointRequest.
      const request = rpRequest(op.client, { extra: [['claims', JSON.stringify({ userinfo: { name: { essential: true } } })]] });
      const flow = await codeFlow(op, request);
      // EnsureIdTokenDoesNotContainName: asked for in userinfo only.
      assert.equal(flow.idToken.payload.name, undefined);
      await t.test('UserInfo holds the essential name (EnsureUserInfoContainsName)', async () => {
        expectOidcUserInfo(op, await callUserInfo(op, flow.tokens.accessToken), String(flow.idToken.payload.sub), request.scope, ['name']);
      });
    });

    test('oidcc-ensure-request-with-valid-pkce-succeeds', async (t) => {
      const verifier = randomBytes(32).toString('base64url');
      const request = rpRequest(op.client, { extra: [['code_challenge', s256Challenge(verifier)], ['code_challenge_method', 'S256']] });
      await codeFlow(op, request, { t, tokenExtra: { code_verifier: verifier } });
    });
  });
}
