// RP-Initiated Logout 1.0 at /oauth/logout (SPEC.md "Logout"), over HTTP on both databases.
// The tests named `oidcc-rp-initiated-logout…` mirror the OpenID conformance suite's modules of
// the "RP-Initiated OP" plan (openid-certification/conformance-suite, OIDCCRpInitiatedLogout*):
// each sends what the module sends (a 128-character state of RFC 6749 VSCHARs, the hint of
// the user's login, a post_logout_redirect_uri that replaces the redirect URI's path) and
// checks what the module checks — a redirect back with exactly `state`, and the user signed
// out (a prompt=none request then answers login_required); or no redirect back at all, with
// an error page or a confirmation page instead. The attacks after them try to turn the
// endpoint into an open redirect or into a way to sign someone out without asking.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, importJWK, type JWK } from 'jose';
import { sessionSid } from '../../src/http/session.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { databaseKinds } from '../helpers/databases.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { authorize, signIn } from '../helpers/authorize.js';
import { exchangeCode } from '../helpers/token.js';
import { formMarkup, hiddenFields } from '../helpers/html.js';
import { hostileRedirectUris, RAW_IN_LOCATION } from '../helpers/hostile-values.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LOGOUT = '/oauth/logout';
const CONFIRM = '/oauth/logout/confirm';
const RP = 'https://rp.example';
const BYE = `${RP}/post_logout_redirect`;

/** A state as the conformance suite makes it: RFC 6749 VSCHARs less `+`, space and `;`, here 128 long. */
function conformanceState(): string {
  const chars: string[] = [];
  for (let c = 0x21; c <= 0x7e; c++) if (c !== 0x2b && c !== 0x3b) chars.push(String.fromCharCode(c));
  let out = '';
  for (let i = 0; out.length < 128; i++) out += chars[(i * 37) % chars.length];
  return out;
}

function logoutPath(params: Record<string, string>): string {
  return `${LOGOUT}?${new URLSearchParams(params).toString()}`;
}

interface HintOptions {
  alg?: 'RS256' | 'ES256';
  /** Claims to add or replace (undefined removes one). */
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** Seconds from now. */
  exp?: number;
}

/** The public id of the session in `jar` (what the ID token of its login carries as `sid`). */
function sidOf(server: TestServer, jar: CookieJar): string | null {
  const cookie = jar.cookies.get('lk_session');
  return cookie === undefined ? null : sessionSid({ idHash: sha256Hex(cookie) });
}

/**
 * An ID token as the server issues them (lead's id-token.ts): signed by the server's own key
 * of `alg`, header {alg, kid, typ: JWT}, claims iss, sub, aud, exp, iat, auth_time, sid, amr.
 */
async function mintHint(server: TestServer, user: TestUser & { subject: string }, client: TestClient, jar: CookieJar | null, o: HintOptions = {}): Promise<string> {
  const { kid, privateKey, alg } = await server.services.signingKeys.signingKey(o.alg ?? 'RS256');
  const now = nowSeconds(server.clock);
  const claims: Record<string, unknown> = {
    iss: server.config.issuer, sub: user.subject, aud: client.clientId, iat: now, exp: now + (o.exp ?? 3600), auth_time: now,
    amr: ['pwd'], at_hash: 'x'.repeat(22), ...(jar ? { sid: sidOf(server, jar) } : {}), ...o.claims,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...o.header }).sign(privateKey);
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The same token with `alg: none` and no signature (ChangeIdTokenToAlgNone). */
function algNone(token: string, header: Record<string, unknown> = { alg: 'none' }): string {
  return `${b64(header)}.${token.split('.')[1]}.`;
}

function assertNoRedirectOut(res: HttpResult, label: string): void {
  assert.ok(res.status < 500, `${label}: status ${res.status}`);
  if (res.location !== null) assert.ok(res.location.startsWith('/'), `${label}: Location ${res.location}`);
}

function assertConfirmation(res: HttpResult, label: string): Record<string, string> {
  assert.equal(res.status, 200, `${label}: ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.location, null, label);
  assert.match(res.body, /<button type="submit">Sign out<\/button>/, label);
  return hiddenFields(res.body, CONFIRM);
}

function cspOf(res: HttpResult): string {
  return res.headers.get('content-security-policy') ?? '';
}

/** Signed in: the account page answers 200; signed out: it sends to the login page. */
async function isSignedIn(server: TestServer, jar: CookieJar): Promise<boolean> {
  const res = await httpRequest(server, 'GET', '/account', { jar });
  return res.status === 200;
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] RP-initiated logout`, () => {
    let server: TestServer;
    let rp: TestClient;
    let other: TestClient;

    before(async () => {
      server = await startTestServer(kind, { overrides: { loginRateLimit: 0 } });
      rp = await createClient(server, {
        name: 'Relying Party', redirectUris: [`${RP}/callback`],
        postLogoutRedirectUris: [BYE, `${RP}/bye?from=latchkey`, 'com.example.app:/bye'],
      });
      other = await createClient(server, { name: 'Other App', redirectUris: ['https://other.example/cb'], postLogoutRedirectUris: ['https://other.example/bye'] });
    });
    after(async () => {
      await server.close();
    });

    /** A user signed in through the login page, with a hint from that login. */
    async function signedInUser(o: HintOptions = {}, client = rp): Promise<{ user: TestUser & { subject: string }; jar: CookieJar; hint: string }> {
      // English pages: the fixture's default account is Dutch, and the pages speak the account's language.
      const user = await createUser(server, { locale: 'en' }) as TestUser & { subject: string };
      const jar = await signIn(server, user.email, user.password);
      return { user, jar, hint: await mintHint(server, user, client, jar, o) };
    }

    /** prompt=none after logout must not find a session (what the conformance module checks next). */
    async function assertPromptNoneLoginRequired(jar: CookieJar): Promise<void> {
      const res = await authorize(server, { clientId: rp.clientId, redirectUri: `${RP}/callback`, prompt: 'none', state: 's2', cookies: jar });
      assert.equal(res.error, 'login_required', `prompt=none after logout: ${res.status} ${res.location}`);
    }

    test('oidcc-rp-initiated-logout: a valid hint ends the session without asking and redirects with exactly state', async () => {
      const { jar, hint } = await signedInUser();
      const stolenCookie = jar.cookies.get('lk_session');
      const state = conformanceState();
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, state }), { jar });
      assert.equal(res.status, 303, res.body.slice(0, 300));
      const location = new URL(res.location ?? '');
      assert.equal(`${location.origin}${location.pathname}`, BYE);
      assert.deepEqual([...location.searchParams.keys()], ['state'], 'only state comes back (CheckForUnexpectedParametersInPostLogoutRedirect)');
      assert.equal(location.searchParams.get('state'), state, 'the 128-character state comes back unchanged');
      assert.doesNotMatch(res.location ?? '', RAW_IN_LOCATION);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(jar.cookies.has('lk_session'), false, 'the session cookie is cleared');
      assert.equal(await isSignedIn(server, jar), false);
      await assertPromptNoneLoginRequired(jar);
      // The old cookie is dead on the server too, not just forgotten by the browser.
      const replay = new CookieJar();
      replay.cookies.set('lk_session', stolenCookie ?? '');
      assert.equal(await isSignedIn(server, replay), false, 'the ended session cannot be replayed');
      const line = server.logs.find((l) => l.includes('"logout.rp_initiated"') && l.includes(rp.clientId));
      assert.ok(line, 'the logout is audited with the client');
    });

    test('oidcc-rp-initiated-logout end to end: the ID token of a real code flow (RS256; ES256 for a client that chose it) is the hint', async () => {
      const es = await createClient(server, { name: 'ES RP', redirectUris: [`${RP}/es-callback`], postLogoutRedirectUris: [BYE], idTokenSignedResponseAlg: 'ES256' });
      for (const [client, alg] of [[rp, 'RS256'], [es, 'ES256']] as const) {
        const user = await createUser(server);
        const jar = await signIn(server, user.email, user.password);
        const flow = await authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid profile', state: 's1', extra: [['nonce', 'n-0S6_WzA2Mj']], cookies: jar });
        assert.ok(flow.code, `${alg}: a code (${flow.status} ${flow.location})`);
        const tokens = await exchangeCode(server, client, flow.code);
        assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
        const idToken = String(tokens.body.id_token);
        assert.equal(decodeProtectedHeader(idToken).alg, alg);
        const claims = decodeJwt(idToken);
        assert.equal(claims.aud, client.clientId);
        assert.equal(claims.sid, sidOf(server, jar), 'the ID token names this browser session');

        const state = conformanceState();
        const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state }), { jar });
        assert.equal(res.status, 303, `${alg}: ${res.status} ${res.body.slice(0, 300)}`);
        const location = new URL(res.location ?? '');
        assert.equal(`${location.origin}${location.pathname}`, BYE);
        assert.deepEqual([...location.searchParams.entries()], [['state', state]]);
        const again = await authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid', prompt: 'none', state: 's2', cookies: jar });
        assert.equal(again.error, 'login_required', `${alg}: prompt=none after logout (${again.status} ${again.location})`);
        // The same ID token, now expired and the session gone, still lets the client's logout through.
        server.clock.advance(2 * 3600);
        const later = await httpRequest(server, 'GET', logoutPath({ id_token_hint: idToken, post_logout_redirect_uri: BYE }), { jar });
        server.clock.advance(-2 * 3600);
        assert.equal(later.status, 303);
        assert.equal(later.location, BYE);
      }
    });

    test('oidcc-rp-initiated-logout (POST form body, ES256 hint): the same', async () => {
      const { jar, hint } = await signedInUser({ alg: 'ES256' });
      const res = await httpRequest(server, 'POST', LOGOUT, { jar, form: { id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'st&=?#%' } });
      assert.equal(res.status, 303);
      assert.equal(res.location, `${BYE}?state=${encodeURIComponent('st&=?#%')}`);
      assert.equal(await isSignedIn(server, jar), false);
    });

    test('oidcc-rp-initiated-logout-no-state: the redirect carries no state', async () => {
      const { jar, hint } = await signedInUser();
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE }), { jar });
      assert.equal(res.status, 303);
      assert.equal(res.location, BYE, 'exactly the registered URI, no state (CheckNoPostLogoutState)');
      await assertPromptNoneLoginRequired(jar);
    });

    test('a registered URI with a query of its own keeps it; state is added after it', async () => {
      const { jar, hint } = await signedInUser();
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: `${RP}/bye?from=latchkey`, state: 'a b' }), { jar });
      assert.equal(res.status, 303);
      assert.equal(res.location, `${RP}/bye?from=latchkey&state=a%20b`);
      const app = await signedInUser();
      const native = await httpRequest(server, 'GET', logoutPath({ id_token_hint: app.hint, post_logout_redirect_uri: 'com.example.app:/bye', state: 'n' }), { jar: app.jar });
      assert.equal(native.location, 'com.example.app:/bye?state=n', 'an app\'s own scheme');
    });

    test('oidcc-rp-initiated-logout-no-post-logout-redirect-uri: a valid hint alone signs out and shows the signed-out page', async () => {
      const { jar, hint } = await signedInUser();
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, state: 'ignored' }), { jar });
      assert.equal(res.status, 200);
      assert.equal(res.location, null);
      assert.match(res.body, /<h1>You are signed out<\/h1>/);
      assert.equal(await isSignedIn(server, jar), false);
      await assertPromptNoneLoginRequired(jar);
    });

    test('an expired hint is still a valid hint (RP-Initiated Logout §2)', async () => {
      const { jar, hint } = await signedInUser({ exp: -86_400 });
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'old' }), { jar });
      assert.equal(res.status, 303);
      assert.equal(res.location, `${BYE}?state=old`);
    });

    test('nobody signed in: a valid hint still redirects (nothing to end)', async () => {
      const user = await createUser(server) as TestUser & { subject: string };
      const hint = await mintHint(server, user, rp, null);
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'gone' }));
      assert.equal(res.status, 303);
      assert.equal(res.location, `${BYE}?state=gone`);
      // And without a hint but with client_id (the URI is the client's): back there too, nothing to confirm.
      const byClient = await httpRequest(server, 'GET', logoutPath({ client_id: rp.clientId, post_logout_redirect_uri: BYE, state: 'c' }));
      assert.equal(byClient.status, 303);
      assert.equal(byClient.location, `${BYE}?state=c`);
      // Nothing to attribute the URI to: the signed-out page.
      const bare = await httpRequest(server, 'GET', logoutPath({ post_logout_redirect_uri: BYE }));
      assert.equal(bare.status, 200);
      assert.equal(bare.location, null);
    });

    for (const [name, variant] of [
      ['oidcc-rp-initiated-logout-bad-post-logout-redirect-uri', 'https://rp.example/bad_post_logout_redirect_uri'],
      ['oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri', `${BYE}?foo=bar`],
    ] as const) {
      test(`${name}: a 400 page, no redirect, still signed in`, async () => {
        const { jar, hint } = await signedInUser();
        const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: variant, state: conformanceState() }), { jar });
        assert.equal(res.status, 400);
        assert.equal(res.location, null);
        assert.match(res.headers.get('content-type') ?? '', /text\/html/);
        assert.match(res.body, /Relying Party asked to send you to an address it has not registered/);
        assert.equal(await isSignedIn(server, jar), true, 'nothing was ended');
      });
    }

    test('oidcc-rp-initiated-logout-modified-id-token-hint: alg none is no hint; confirmation without a way back', async () => {
      const { jar, hint } = await signedInUser();
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: algNone(hint), post_logout_redirect_uri: BYE, state: 's' }), { jar });
      const fields = assertConfirmation(res, 'alg none');
      assert.deepEqual(Object.keys(fields), ['csrf_token'], 'the form carries no URI to go back to');
      assert.match(res.body, /could not be verified/);
      assert.match(cspOf(res), /form-action 'self'$/, 'the page may post only to itself');
      assert.equal(await isSignedIn(server, jar), true, 'nothing ended before the user says so');
      const done = await httpRequest(server, 'POST', CONFIRM, { jar, form: fields });
      assert.equal(done.status, 200, 'the signed-out page, not a redirect');
      assert.equal(done.location, null);
      assert.match(done.body, /You are signed out/);
      assert.equal(await isSignedIn(server, jar), false);
    });

    test('oidcc-rp-initiated-logout-bad-id-token-hint: a hint signed by the RP (HS256, iss/aud swapped) gets the confirmation, never a redirect', async () => {
      const { jar, user } = await signedInUser();
      const now = nowSeconds(server.clock);
      const fake = await new SignJWT({ iss: rp.clientId, sub: 'SubjectID', aud: server.config.issuer, nonce: 'flibble', iat: now, exp: now + 300 })
        .setProtectedHeader({ alg: 'HS256' }).sign(createHash('sha256').update(rp.clientSecret ?? '').digest());
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: fake, post_logout_redirect_uri: BYE, state: 's' }), { jar });
      assert.deepEqual(Object.keys(assertConfirmation(res, 'fake hint')), ['csrf_token']);
      // Even with our claims and client_id naming the client, an HS256 token is no hint of ours.
      const hs = await new SignJWT({ iss: server.config.issuer, sub: user.subject, aud: rp.clientId }).setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(rp.clientSecret ?? 'x'));
      const withClient = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hs, client_id: rp.clientId, post_logout_redirect_uri: BYE }), { jar });
      assert.deepEqual(Object.keys(assertConfirmation(withClient, 'HS256 + client_id')), ['csrf_token']);
    });

    test('oidcc-rp-initiated-logout-no-id-token-hint: a URI without hint or client_id is asked about and never followed', async () => {
      const { jar } = await signedInUser();
      const res = await httpRequest(server, 'GET', logoutPath({ post_logout_redirect_uri: BYE, state: conformanceState() }), { jar });
      const fields = assertConfirmation(res, 'no hint');
      assert.deepEqual(Object.keys(fields), ['csrf_token']);
      const done = await httpRequest(server, 'POST', CONFIRM, { jar, form: fields });
      assert.equal(done.status, 200);
      assert.equal(done.location, null);
      await assertPromptNoneLoginRequired(jar);
    });

    for (const [name, params] of [
      ['oidcc-rp-initiated-logout-no-params', {}],
      ['oidcc-rp-initiated-logout-only-state', { state: conformanceState() }],
    ] as const) {
      test(`${name}: the user confirms, is signed out and sees the signed-out page`, async () => {
        const { jar } = await signedInUser();
        const res = await httpRequest(server, 'GET', logoutPath(params), { jar });
        const fields = assertConfirmation(res, name);
        assert.equal(await isSignedIn(server, jar), true);
        const done = await httpRequest(server, 'POST', CONFIRM, { jar, form: fields });
        assert.equal(done.status, 200);
        assert.match(done.body, /<h1>You are signed out<\/h1>/);
        assert.equal(await isSignedIn(server, jar), false);
        await assertPromptNoneLoginRequired(jar);
      });
    }

    test('client_id without a hint: confirmation, then back to that client\'s registered URI with state; the page\'s CSP lets the form lead there', async () => {
      const { jar } = await signedInUser();
      const state = conformanceState();
      const res = await httpRequest(server, 'GET', logoutPath({ client_id: rp.clientId, post_logout_redirect_uri: BYE, state }), { jar });
      const fields = assertConfirmation(res, 'client_id');
      assert.deepEqual(fields, { csrf_token: fields.csrf_token, client_id: rp.clientId, post_logout_redirect_uri: BYE, state });
      assert.match(res.body, /<strong>Relying Party<\/strong> asks to sign you out/);
      assert.match(res.body, /you go back to <code>rp\.example<\/code>/);
      assert.match(cspOf(res), /; form-action 'self' https:\/\/rp\.example$/);
      assert.match(cspOf(res), /script-src 'self'/, 'the rest of the policy is the default one');
      const done = await httpRequest(server, 'POST', CONFIRM, { jar, form: fields });
      assert.equal(done.status, 303);
      const location = new URL(done.location ?? '');
      assert.equal(`${location.origin}${location.pathname}`, BYE);
      assert.equal(location.searchParams.get('state'), state);
      assert.equal(await isSignedIn(server, jar), false);
    });

    test('a valid hint for someone else than the signed-in user is asked about; its client\'s URI is then allowed', async () => {
      const { jar } = await signedInUser();
      const someoneElse = await createUser(server) as TestUser & { subject: string };
      const hint = await mintHint(server, someoneElse, rp, null);
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'x' }), { jar });
      const fields = assertConfirmation(res, 'other user');
      assert.match(res.body, /sign out someone else/);
      assert.equal(await isSignedIn(server, jar), true);
      const done = await httpRequest(server, 'POST', CONFIRM, { jar, form: fields });
      assert.equal(done.status, 303);
      assert.equal(done.location, `${BYE}?state=x`);
    });

    test('a valid hint from an earlier sign-in of the same user (another sid) is asked about (§2: suspect); its client\'s URI is then allowed', async () => {
      const { user, jar: earlier, hint } = await signedInUser();
      const now = await signIn(server, user.email, user.password);
      assert.notEqual(sidOf(server, now), sidOf(server, earlier));
      const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'old-session' }), { jar: now });
      const fields = assertConfirmation(res, 'earlier session');
      assert.match(res.body, /from an earlier sign-in than this one/);
      assert.equal(await isSignedIn(server, now), true);
      const done = await httpRequest(server, 'POST', CONFIRM, { jar: now, form: fields });
      assert.equal(done.status, 303);
      assert.equal(done.location, `${BYE}?state=old-session`);
      // A hint without sid (not ours to issue, but valid) for the signed-in user is taken as the current session's.
      const { user: other, jar } = await signedInUser();
      const noSid = await mintHint(server, other, rp, null);
      const ended = await httpRequest(server, 'GET', logoutPath({ id_token_hint: noSid, post_logout_redirect_uri: BYE }), { jar });
      assert.equal(ended.status, 303);
      assert.equal(await isSignedIn(server, jar), false);
    });

    test('no open redirect: another client\'s URI, control characters, encodings, javascript: — a 400 page and still signed in', async () => {
      const { jar, hint } = await signedInUser();
      const variants = [
        'https://other.example/bye', ...hostileRedirectUris(BYE), 'javascript:alert(1)', 'JaVaScRiPt:alert(document.domain)//', 'data:text/html,<script>alert(1)</script>',
        `${BYE}/`, `${BYE}?`, `${BYE}#x`, `${BYE}%00`, BYE.toUpperCase(), BYE.replace('https', 'http'), BYE.replace('/post', '/./post'), `${RP}/x/../post_logout_redirect`,
        `${RP}:443/post_logout_redirect`, BYE.replace('rp.example', 'rp.example.'), '//rp.example/post_logout_redirect', 'https://evil.example', `${BYE}@evil.example`,
      ];
      await Promise.all(variants.map(async (uri) => {
        const label = JSON.stringify(uri);
        const clean = uri.replace(/[\uD800-\uDFFF]/g, '\uFFFD');
        for (const params of [{ id_token_hint: hint, post_logout_redirect_uri: clean }, { client_id: rp.clientId, post_logout_redirect_uri: clean }] as Array<Record<string, string>>) {
          const res = await httpRequest(server, 'GET', logoutPath({ ...params, state: 's' }), { jar });
          assert.ok(res.status === 400, `${label}: ${res.status} ${res.location}`);
          assert.equal(res.location, null, label);
        }
        // A hand-made confirmation (our CSRF token, a URI not the client's) is refused the same way.
        const page = await httpRequest(server, 'GET', logoutPath({}), { jar });
        const posted = await httpRequest(server, 'POST', CONFIRM, { jar, form: { ...hiddenFields(page.body, CONFIRM), client_id: rp.clientId, post_logout_redirect_uri: clean } });
        assert.equal(posted.status, 400, `confirm ${label}`);
        assert.equal(posted.location, null);
      }));
      assert.equal(await isSignedIn(server, jar), true, 'nothing was ended');
      // Without a client to attribute them to, the same values lead nowhere but the confirmation.
      for (const uri of ['javascript:alert(1)', 'https://evil.example/', 'https://other.example/bye']) {
        const res = await httpRequest(server, 'GET', logoutPath({ post_logout_redirect_uri: uri, state: 's' }), { jar });
        assert.deepEqual(Object.keys(assertConfirmation(res, uri)), ['csrf_token']);
        assert.doesNotMatch(res.body, /evil\.example|javascript:|other\.example/, 'the page does not repeat it');
      }
    });

    test('a hint for client A with client_id B is refused (400); A\'s hint with B\'s URI too', async () => {
      const { jar, hint } = await signedInUser();
      const mismatch = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, client_id: other.clientId, post_logout_redirect_uri: 'https://other.example/bye' }), { jar });
      assert.equal(mismatch.status, 400);
      assert.equal(mismatch.location, null);
      assert.match(mismatch.body, /names one application in client_id and another in its ID token/);
      const foreignUri = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: 'https://other.example/bye' }), { jar });
      assert.equal(foreignUri.status, 400);
      assert.equal(await isSignedIn(server, jar), true);
      // The matching client_id is fine.
      const same = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, client_id: rp.clientId, post_logout_redirect_uri: BYE }), { jar });
      assert.equal(same.status, 303);
    });

    test('hints that are not ours: another key (even with our kid), alg none with our kid, HS256 over our public key, altered claims, foreign iss, unknown aud, an access token', async () => {
      const { user, jar, hint } = await signedInUser();
      const [header, payload, signature] = hint.split('.') as [string, string, string];
      const kid = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }).kid;
      const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const strangerKey = await importJWK((await exportJWK(stranger.privateKey)) as JWK, 'RS256');
      const now = nowSeconds(server.clock);
      const claims = { iss: server.config.issuer, sub: user.subject, aud: rp.clientId, iat: now, exp: now + 600, sid: sidOf(server, jar) };
      const ourJwk = (await server.services.signingKeys.publishedJwks()).keys.find((k) => k.kid === kid);
      const altered = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      altered.sub = 'someone-else';
      const bad: Record<string, string> = {
        'another key, our kid': await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(strangerKey),
        'another key, no kid': await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(strangerKey),
        'alg none, our kid': algNone(hint, { alg: 'none', kid, typ: 'JWT' }),
        'alg NONE': algNone(hint, { alg: 'NONE', kid }),
        'HS256 keyed with our public key': await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new TextEncoder().encode(JSON.stringify(ourJwk))),
        'altered payload': `${header}.${b64(altered)}.${signature}`,
        'signature dropped': `${header}.${payload}.`,
        'RS256 signature under an ES256 header': `${b64({ alg: 'ES256', kid, typ: 'JWT' })}.${payload}.${signature}`,
        'foreign iss': await mintHint(server, user, rp, jar, { claims: { iss: 'https://evil.example' } }),
        'unknown aud': await mintHint(server, user, rp, jar, { claims: { aud: 'no-such-client' } }),
        'no sub': await mintHint(server, user, rp, jar, { claims: { sub: undefined } }),
        'an access token (typ at+jwt)': await mintHint(server, user, rp, jar, { alg: 'ES256', header: { typ: 'at+jwt' } }),
        garbage: 'not-a-jwt',
        'JWE-shaped': 'a.b.c.d.e',
        huge: `${header}.${'A'.repeat(10_000)}.${signature}`,
      };
      for (const [label, token] of Object.entries(bad)) {
        const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: token, post_logout_redirect_uri: BYE, state: 's' }), { jar });
        assertNoRedirectOut(res, label);
        assert.deepEqual(Object.keys(assertConfirmation(res, label)), ['csrf_token'], `${label}: no way back`);
      }
      assert.equal(await isSignedIn(server, jar), true, 'none of them signed the user out');
      // And with nobody signed in they lead to the signed-out page, not to the URI.
      for (const [label, token] of Object.entries(bad)) {
        const res = await httpRequest(server, 'GET', logoutPath({ id_token_hint: token, post_logout_redirect_uri: BYE, state: 's' }));
        assert.equal(res.status, 200, label);
        assert.equal(res.location, null, label);
      }
    });

    test('CSRF: the confirmation POST without, with a wrong, or with another session\'s token is 403 and ends nothing', async () => {
      const victim = await signedInUser();
      const attacker = await signedInUser();
      const attackerPage = await httpRequest(server, 'GET', logoutPath({ client_id: rp.clientId, post_logout_redirect_uri: BYE }), { jar: attacker.jar });
      const attackerFields = assertConfirmation(attackerPage, 'attacker');
      const victimToken = hiddenFields((await httpRequest(server, 'GET', logoutPath({}), { jar: victim.jar })).body, CONFIRM).csrf_token ?? '';
      for (const [label, form] of [
        ['no token', { client_id: rp.clientId, post_logout_redirect_uri: BYE }],
        ['empty token', { csrf_token: '', client_id: rp.clientId, post_logout_redirect_uri: BYE }],
        ['wrong token', { csrf_token: 'x'.repeat(43), client_id: rp.clientId, post_logout_redirect_uri: BYE }],
        ['another session\'s token', attackerFields],
        ['the token with one character changed', { csrf_token: `${victimToken.slice(0, -1)}${victimToken.endsWith('A') ? 'B' : 'A'}` }],
      ] as const) {
        const res = await httpRequest(server, 'POST', CONFIRM, { jar: victim.jar, form: { ...form } });
        assert.equal(res.status, 403, label);
        assert.equal(res.location, null, label);
      }
      // A burst of forged confirmations at once changes nothing either.
      const burst = await Promise.all(Array.from({ length: 12 }, () => httpRequest(server, 'POST', CONFIRM, { jar: victim.jar, form: attackerFields })));
      assert.ok(burst.every((r) => r.status === 403));
      assert.equal(await isSignedIn(server, victim.jar), true);
      // The real confirmation works, once.
      const ok = await httpRequest(server, 'POST', CONFIRM, { jar: victim.jar, form: { csrf_token: victimToken } });
      assert.equal(ok.status, 200);
      assert.equal(await isSignedIn(server, victim.jar), false);
      const again = await httpRequest(server, 'POST', CONFIRM, { jar: victim.jar, form: { csrf_token: victimToken } });
      assert.equal(again.status, 403, 'the ended session\'s token is no good any more');
    });

    test('a burst of logouts with the same hint and cookie: every answer a redirect back, never a 5xx', async () => {
      const { jar, hint } = await signedInUser();
      const results = await Promise.all(Array.from({ length: 16 }, (_v, i) => httpRequest(server, i % 2 === 0 ? 'GET' : 'POST',
        i % 2 === 0 ? logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, state: String(i) }) : LOGOUT,
        { jar, ...(i % 2 === 1 ? { form: { id_token_hint: hint, post_logout_redirect_uri: BYE, state: String(i) } } : {}) })));
      for (const [i, res] of results.entries()) {
        assert.equal(res.status, 303, `request ${i}: ${res.status}`);
        assert.equal(res.location, `${BYE}?state=${i}`);
      }
      assert.equal(await isSignedIn(server, jar), false);
    });

    test('malformed requests: repeated parameters, a parameter in query and body, unknown client_id — readable 400 pages', async () => {
      const { jar, hint } = await signedInUser();
      const repeated = await httpRequest(server, 'GET', `${LOGOUT}?post_logout_redirect_uri=${encodeURIComponent(BYE)}&post_logout_redirect_uri=https%3A%2F%2Fevil.example&id_token_hint=${hint}`, { jar });
      assert.equal(repeated.status, 400);
      assert.match(repeated.body, /names post_logout_redirect_uri more than once/);
      const both = await httpRequest(server, 'POST', `${LOGOUT}?state=a`, { jar, form: { id_token_hint: hint, post_logout_redirect_uri: BYE, state: 'b' } });
      assert.equal(both.status, 400);
      const unknown = await httpRequest(server, 'GET', logoutPath({ client_id: 'no-such-client', post_logout_redirect_uri: BYE }), { jar });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body, /not registered here/);
      const nul = await httpRequest(server, 'GET', `${LOGOUT}?client_id=%00&post_logout_redirect_uri=${encodeURIComponent(BYE)}`, { jar });
      assert.equal(nul.status, 400);
      for (const res of [repeated, both, unknown, nul]) assert.equal(res.location, null);
      assert.equal(await isSignedIn(server, jar), true);
      // ui_locales and logout_hint are accepted.
      const accepted = await httpRequest(server, 'GET', logoutPath({ id_token_hint: hint, post_logout_redirect_uri: BYE, ui_locales: 'nl de', logout_hint: 'x' }), { jar });
      assert.equal(accepted.status, 303);
    });

    test('the confirmation page is a page of ours: escaped client name, CSRF field, no inline script', async () => {
      const hostile = await createClient(server, { name: '<script>alert(1)</script>"', redirectUris: ['https://h.example/cb'], postLogoutRedirectUris: ['https://h.example/bye?a=1&b="2"'] });
      const { jar } = await signedInUser();
      const res = await httpRequest(server, 'GET', logoutPath({ client_id: hostile.clientId, post_logout_redirect_uri: 'https://h.example/bye?a=1&b="2"', state: '"><script>' }), { jar });
      const fields = assertConfirmation(res, 'hostile name');
      assert.ok(!res.body.includes('<script>alert(1)'), 'the name is escaped');
      assert.equal(fields.post_logout_redirect_uri, 'https://h.example/bye?a=1&b="2"');
      assert.equal(fields.state, '"><script>');
      assert.ok(formMarkup(res.body, CONFIRM)?.includes('method="post"'));
      assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)/, 'no inline script');
      const done = await httpRequest(server, 'POST', CONFIRM, { jar, form: fields });
      assert.equal(done.status, 303);
      assert.equal(done.location, `https://h.example/bye?a=1&b="2"&state=${encodeURIComponent('"><script>')}`, 'the registered URI as registered, state encoded');
      assert.doesNotMatch(done.location ?? '', RAW_IN_LOCATION);
      // A host the URL parser lets through with `;` must not write a directive into the policy.
      const semicolon = await createClient(server, { name: 'Semi', redirectUris: ['https://s.example/cb'], postLogoutRedirectUris: ['https://s;sandbox.example/bye'] });
      const again = await signedInUser();
      const semiPage = await httpRequest(server, 'GET', logoutPath({ client_id: semicolon.clientId, post_logout_redirect_uri: 'https://s;sandbox.example/bye' }), { jar: again.jar });
      assertConfirmation(semiPage, 'semicolon host');
      assert.doesNotMatch(cspOf(semiPage), /sandbox|s;/, `the policy is not extended: ${cspOf(semiPage)}`);
    });
  });
}
