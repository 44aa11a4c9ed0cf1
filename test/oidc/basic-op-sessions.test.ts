// The OpenID Foundation's Basic OP certification plan (oidcc-basic-certification-test-plan),
// continued: the modules that authorize twice in one browser, wait (the server's clock is moved
// instead: WaitForOneSecond, WaitFor2Seconds, WaitFor30Seconds), or use a code or refresh token
// again. One test per module, named after it; the checks are in test/helpers/conformance.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { CookieJar } from '../helpers/browser.js';
import { freezeClock } from '../helpers/server.js';
import {
  callUserInfo, codeFlow, expectErrorResponse, expectInvalidGrant, requestProtectedResource, rpRequest, runAuthorization,
  scopesSupported, serverNow, standardIdTokenChecks, startOp, tokenRequest, exchange, type AuthorizedTokens, type Op,
} from '../helpers/conformance.js';
import type { TestClient } from '../helpers/fixtures.js';

/** CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface. */
const USER_INTERFACE_ERRORS = ['interaction_required', 'login_required', 'account_selection_required', 'consent_required'];

for (const kind of databaseKinds()) {
  describe(`[${kind}] OpenID Connect Basic OP certification plan: sessions, codes and refresh`, () => {
    let op: Op;
    before(async () => {
      op = await startOp(kind);
    });
    after(() => op.close());

    function authTime(flow: AuthorizedTokens): number {
      const value = flow.idToken.payload.auth_time;
      assert.equal(typeof value, 'number', 'auth_time is in the ID token');
      return value as number;
    }

    test('oidcc-prompt-login', async (t) => {
      const cookies = new CookieJar();
      const first = await codeFlow(op, rpRequest(op.client), { cookies, t });
      op.server.clock.advance(1); // WaitForOneSecond
      const second = await codeFlow(op, rpRequest(op.client, { extra: [['prompt', 'login']] }), { cookies });
      // ExpectSecondLoginPage; CheckSecondIdTokenAuthTimeIsLaterIfPresent.
      assert.ok(second.result.loginShown, 'prompt=login asks for the password again');
      assert.ok(authTime(second) > authTime(first));
      assert.equal(second.idToken.payload.sub, first.idToken.payload.sub);
    });

    test('oidcc-prompt-none-not-logged-in', async () => {
      // A 128-character state ending in -._~ must come back unchanged.
      const request = rpRequest(op.client, { stateLength: 128, extra: [['prompt', 'none']] });
      assert.equal(request.state.length, 128);
      const result = await runAuthorization(op, request);
      assert.equal(result.loginShown, false);
      expectErrorResponse(op, request, result, USER_INTERFACE_ERRORS);
    });

    test('oidcc-prompt-none-logged-in', async (t) => {
      const cookies = new CookieJar();
      const first = await codeFlow(op, rpRequest(op.client), { cookies });
      const second = await codeFlow(op, rpRequest(op.client, { extra: [['prompt', 'none']] }), { cookies, t });
      // No page at all; CheckIdTokenAuthTimeClaimsSameIfPresent, CheckIdTokenSubConsistentForSecondAuthorization.
      assert.equal(second.result.loginShown, false);
      assert.equal(second.result.consentShown, false);
      assert.equal(authTime(second), authTime(first));
      assert.equal(second.idToken.payload.sub, first.idToken.payload.sub);
    });

    test('oidcc-max-age-1', async (t) => {
      const cookies = new CookieJar();
      const first = await codeFlow(op, rpRequest(op.client), { cookies });
      op.server.clock.advance(2); // WaitFor2Seconds
      const second = await codeFlow(op, rpRequest(op.client, { extra: [['max_age', '1']] }), { cookies, t });
      // ExpectSecondLoginPage; CheckIdTokenAuthTimeClaimPresentDueToMaxAge,
      // CheckSecondIdTokenAuthTimeIsLaterIfPresent, CheckIdTokenAuthTimeIsRecentIfPresent.
      assert.ok(second.result.loginShown, 'a login older than max_age is asked for again');
      assert.ok(authTime(second) >= authTime(first) + 2);
      assert.ok(authTime(second) >= serverNow(op) - 1 - 300);
    });

    test('oidcc-max-age-10000', async (t) => {
      const cookies = new CookieJar();
      const first = await codeFlow(op, rpRequest(op.client, { extra: [['max_age', '15000']] }), { cookies });
      const second = await codeFlow(op, rpRequest(op.client, { extra: [['max_age', '10000']] }), { cookies, t });
      assert.equal(second.result.loginShown, false, 'a login younger than max_age is kept');
      assert.equal(authTime(second), authTime(first));
      assert.equal(second.idToken.payload.sub, first.idToken.payload.sub);
    });

    test('oidcc-id-token-hint', async (t) => {
      const cookies = new CookieJar();
      const first = await codeFlow(op, rpRequest(op.client), { cookies });
      // AddPromptNoneToAuthorizationEndpointRequest, AddIdTokenHintFromFirstLoginToAuthorizationEndpointRequest.
      const second = await codeFlow(op, rpRequest(op.client, { extra: [['prompt', 'none'], ['id_token_hint', first.tokens.idToken]] }), { cookies, t });
      assert.equal(second.result.loginShown, false);
      assert.equal(second.result.consentShown, false);
      assert.equal(authTime(second), authTime(first));
      assert.equal(second.idToken.payload.sub, first.idToken.payload.sub);
    });

    test('oidcc-codereuse', async (t) => {
      const flow = await codeFlow(op, rpRequest(op.client), { t });
      expectInvalidGrant(await exchange(op, flow.request, flow.code));
    });

    test('oidcc-codereuse-30seconds', async () => {
      const flow = await codeFlow(op, rpRequest(op.client));
      op.server.clock.advance(30); // WaitFor30Seconds
      expectInvalidGrant(await exchange(op, flow.request, flow.code));
      // The access token issued from the code is revoked (RFC 6749 §4.1.2; the suite warns
      // otherwise), and so is the refresh token (SPEC.md: every token issued from the code).
      const resource = await callUserInfo(op, flow.tokens.accessToken);
      assert.equal(resource.status, 401);
      assert.equal(resource.body.error, 'invalid_token');
      expectInvalidGrant(await tokenRequest(op, op.client, { grant_type: 'refresh_token', refresh_token: flow.tokens.refreshToken }));
    });

    test('oidcc-refresh-token', async (t) => {
      // SetScopeInClientConfigurationToOpenIdOfflineAccessIfServerSupportsOfflineAccess and
      // AddPromptConsentToAuthorizationEndpointRequestIfScopeContainsOfflineAccess: Latchkey
      // accepts offline_access beside openid (SPEC.md), so the suite asks for it.
      const scope = 'openid offline_access';
      assert.ok(await scopesSupported(op, 'offline_access'));
      async function clientRun(client: TestClient, nonceLength: number) {
        const first = await codeFlow(op, rpRequest(client, { scope, nonce: nonceLength, extra: [['prompt', 'consent']] }));
        assert.ok(first.result.consentShown, 'prompt=consent shows the consent page');
        op.server.clock.advance(1); // WaitForOneSecond: the iat values differ
        const res = await tokenRequest(op, client, { grant_type: 'refresh_token', refresh_token: first.tokens.refreshToken, scope });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        assert.ok((res.headers.get('cache-control') ?? '').includes('no-store'));
        assert.equal(String(res.body.token_type).toLowerCase(), 'bearer');
        assert.ok(typeof res.body.expires_in === 'number' && res.body.expires_in > 0);
        assert.notEqual(res.body.access_token, first.tokens.accessToken);
        assert.equal(typeof res.body.refresh_token, 'string');
        // CompareIdTokenClaims (OIDC Core §12.2): same iss, sub, aud and auth_time, a new iat, no azp.
        const refreshed = await standardIdTokenChecks(op, client, String(res.body.id_token), null);
        for (const claim of ['iss', 'sub', 'aud', 'auth_time'] as const) assert.deepEqual(refreshed.payload[claim], first.idToken.payload[claim], claim);
        assert.notEqual(refreshed.payload.iat, first.idToken.payload.iat);
        assert.equal(refreshed.payload.azp, undefined);
        await requestProtectedResource(t, op, String(res.body.access_token), String(refreshed.payload.sub), scope);
        return String(res.body.refresh_token);
      }
      await clientRun(op.client, 10);
      // The second client, with a 43-character nonce ending in -._~.
      const secondRefreshToken = await clientRun(op.client2, 43);
      // performSecondClientTests: client 2's refresh token presented by client 1.
      expectInvalidGrant(await tokenRequest(op, op.client, { grant_type: 'refresh_token', refresh_token: secondRefreshToken, scope }));
    });

    test('max_age=0 asks for the password again even within the second of the sign-in (OIDC Core 3.1.2.1: max_age=0 is prompt=login)', async () => {
      // Frozen: both sign-ins fall in one second, where `now - auth_time > 0` would not hold.
      const unfreeze = freezeClock(op.server);
      try {
        const cookies = new CookieJar();
        const first = await codeFlow(op, rpRequest(op.client), { cookies });
        const second = await codeFlow(op, rpRequest(op.client, { extra: [['max_age', '0']] }), { cookies });
        assert.ok(second.result.loginShown, 'max_age=0 shows the login page');
        assert.equal(authTime(second), authTime(first));
        // Under prompt=none it cannot be satisfied: login_required.
        const none = rpRequest(op.client, { extra: [['max_age', '0'], ['prompt', 'none']] });
        expectErrorResponse(op, none, await runAuthorization(op, none, { cookies }), ['login_required']);
      } finally {
        unfreeze();
      }
    });
  });
}
