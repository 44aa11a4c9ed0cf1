// OpenID Connect pages in a real browser (Debian's Chromium driven by playwright-core),
// against a tiny relying party started here (node:http on loopback) that records what reaches
// its redirect URI:
// - response_mode=form_post: the self-submitting page's own CSP lets its script run and its
//   form reach the RP, after consent, on a remembered consent, for an error (Deny), and without
//   JavaScript (its button); the RP receives code (or error), state byte for byte, and iss;
//   no CSP violation is reported (securitypolicyviolation events and console errors).
// - prompt=select_account: the page says who is signed in, and both of its controls, found by
//   their accessible names, work: "Continue as …" keeps the account, "Use another account"
//   goes through the login page and the ID token names the other user.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode } from '../helpers/token.js';
import { launchChromium } from '../helpers/chromium.js';

interface Arrival {
  method: string;
  path: string;
  contentType: string | undefined;
  /** The query of a GET, the form body of a POST. */
  params: URLSearchParams;
}

/** The relying party: records every request to its redirect URI and answers a small page. */
async function startRelyingParty(): Promise<{ server: Server; base: string; arrivals: Arrival[] }> {
  const arrivals: Arrival[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      arrivals.push({
        method: req.method ?? '', path: url.pathname, contentType: req.headers['content-type'],
        params: req.method === 'POST' ? new URLSearchParams(body) : url.searchParams,
      });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>Relying party</title><p>Signed in at the relying party.</p>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals };
}

// Written as strings: the test project is typed without the DOM library. The init script runs
// in every page before its own scripts, outside the page's CSP (DevTools injects it).
const REPORT_VIOLATIONS = `document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolation({ directive: e.violatedDirective, blocked: e.blockedURI, page: location.href });
});`;
const INJECT_INLINE_SCRIPT = "(() => { const s = document.createElement('script'); s.textContent = 'void 0'; document.body.append(s); })()";

for (const kind of databaseKinds()) {
  describe(`[${kind}] OpenID Connect in Chromium with a loopback relying party`, () => {
    let server: TestServer;
    let rp: Awaited<ReturnType<typeof startRelyingParty>>;
    let browser: Browser;
    let ida: TestUser;
    let olaf: TestUser;
    let redirectUri: string;

    before(async () => {
      server = await startTestServer(kind);
      rp = await startRelyingParty();
      redirectUri = `${rp.base}/cb`;
      browser = await launchChromium();
      ida = await createUser(server, { email: 'ida@example.com', name: 'Ida Jansen', locale: 'en' });
      olaf = await createUser(server, { email: 'olaf@example.com', name: 'Olaf Berg', locale: 'en' });
    });
    after(async () => {
      await browser?.close();
      await new Promise((resolve) => rp?.server.close(resolve));
      await server?.close();
    });

    /** A browser context that reports CSP violations and console errors into `problems`. */
    async function newContext(problems: string[], options: { javaScriptEnabled?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
      const context = await browser.newContext(options);
      await context.exposeBinding('__cspViolation', (_source, violation: unknown) => {
        problems.push(`securitypolicyviolation ${JSON.stringify(violation)}`);
      });
      await context.addInitScript({ content: REPORT_VIOLATIONS });
      const page = await context.newPage();
      page.on('console', (msg) => {
        // A 404 for the RP's favicon is not ours; anything else in red (a CSP refusal is one) is.
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console ${page.url()}: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`pageerror ${page.url()}: ${err.message}`));
      return { context, page };
    }

    function authorizeUrl(client: TestClient, params: Record<string, string>): string {
      return `${server.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.clientId, redirect_uri: client.redirectUri, ...params })}`;
    }

    const atRp = (url: URL) => url.href.startsWith(redirectUri);

    /**
     * The next request the RP receives (recorded before the browser gets the page). A CSP
     * refusal or console error on the way fails at once, naming it, rather than by timeout.
     */
    async function arrival(page: Page, before: number, problems: readonly string[]): Promise<Arrival> {
      const deadline = Date.now() + 20_000;
      while (rp.arrivals.length === before) {
        assert.deepEqual(problems, [], 'nothing stopped the browser on its way to the RP');
        assert.ok(Date.now() < deadline, `nothing reached the RP; the browser is at ${page.url()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await page.waitForURL(atRp);
      await page.getByText('Signed in at the relying party.').waitFor();
      assert.equal(rp.arrivals.length, before + 1, 'exactly one request reached the RP');
      return rp.arrivals.at(-1)!;
    }

    async function signInOnPage(page: Page, user: TestUser): Promise<void> {
      await page.waitForURL(/\/login\?/);
      await page.getByLabel('E-mail address').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    }

    async function jwks(): Promise<JSONWebKeySet> {
      return (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    }

    /** Exchanges the code the RP received and verifies the ID token with the JWK Set alone. */
    async function idTokenClaims(client: TestClient, code: string) {
      const res = await exchangeCode(server, client, code);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const { payload } = await jwtVerify(String(res.body.id_token), createLocalJWKSet(await jwks()), { issuer: server.config.issuer, audience: client.clientId });
      return payload;
    }

    test('response_mode=form_post: the page\'s own CSP lets its script post code, state and iss to the RP — after consent, on remembered consent, for a denial, and by its button without JavaScript; no CSP violation', async () => {
      const client = await createClient(server, { name: 'Form-post RP', redirectUris: [redirectUri] });
      const problems: string[] = [];
      const { context, page } = await newContext(problems);
      try {
        // The violation detector works: an injected inline script on one of our pages is reported.
        await page.goto(`${server.url}/login`);
        await page.evaluate(INJECT_INLINE_SCRIPT);
        const reported = () => problems.some((p) => p.startsWith('securitypolicyviolation') && p.includes('script-src'));
        for (let i = 0; i < 100 && !reported(); i++) await new Promise((r) => setTimeout(r, 20));
        assert.ok(reported(), problems.join('\n'));
        problems.length = 0;

        // The form-post pages' headers, as the browser got them.
        const formPostPolicies: string[][] = [];
        page.on('response', async (response) => {
          const headers = await response.headersArray();
          const csp = headers.filter((h) => h.name.toLowerCase() === 'content-security-policy').map((h) => h.value);
          if (csp.some((v) => v.includes('form-action'))) formPostPolicies.push(csp);
        });

        // 1. Sign in, consent, and the decision answers the self-submitting page.
        const state = 'st "<&>\' é';
        let count = rp.arrivals.length;
        await page.goto(authorizeUrl(client, { scope: 'openid profile', state, nonce: 'n-1', response_mode: 'form_post' }));
        await signInOnPage(page, ida);
        await page.getByRole('button', { name: 'Allow' }).click();
        const first = await arrival(page, count, problems);
        assert.equal(first.method, 'POST');
        assert.equal(first.path, '/cb');
        assert.match(first.contentType ?? '', /^application\/x-www-form-urlencoded/);
        assert.deepEqual([...first.params.keys()].sort(), ['code', 'iss', 'state']);
        assert.equal(first.params.get('state'), state, 'state byte for byte');
        assert.equal(first.params.get('iss'), server.config.issuer);
        const claims = await idTokenClaims(client, first.params.get('code') ?? '');
        assert.equal(claims.nonce, 'n-1');

        // 2. Remembered consent: the authorization endpoint answers the page itself.
        count = rp.arrivals.length;
        await page.goto(authorizeUrl(client, { scope: 'openid profile', state: 'again', nonce: 'n-2', response_mode: 'form_post' }), { waitUntil: 'commit' });
        const second = await arrival(page, count, problems);
        assert.equal(second.method, 'POST');
        assert.equal(second.params.get('state'), 'again');
        assert.equal(second.params.get('iss'), server.config.issuer);
        assert.equal((await idTokenClaims(client, second.params.get('code') ?? '')).nonce, 'n-2');

        // 3. An error goes the same way: asked again (prompt=consent), the user denies.
        count = rp.arrivals.length;
        await page.goto(authorizeUrl(client, { scope: 'openid profile', state: 'no', prompt: 'consent', response_mode: 'form_post' }));
        await page.getByRole('button', { name: 'Deny' }).click();
        const denied = await arrival(page, count, problems);
        assert.equal(denied.method, 'POST');
        assert.equal(denied.params.get('error'), 'access_denied');
        assert.equal(denied.params.get('state'), 'no');
        assert.equal(denied.params.get('iss'), server.config.issuer);
        assert.equal(denied.params.get('code'), null);

        assert.ok(formPostPolicies.length >= 3, `saw ${formPostPolicies.length} form_post pages`);
        for (const policies of formPostPolicies) {
          assert.equal(policies.length, 1, `one CSP header, not the default one beside it: ${JSON.stringify(policies)}`);
          assert.match(policies[0]!, new RegExp(`form-action ${rp.base.replace(/[.]/g, '\\.')}(;|$)`));
        }
        assert.deepEqual(problems, [], 'no CSP violation, no console error');
      } finally {
        await context.close();
      }

      // 4. Without JavaScript the page's button posts the form, under the same CSP.
      const noJsProblems: string[] = [];
      const noJs = await newContext(noJsProblems, { javaScriptEnabled: false });
      try {
        const count = rp.arrivals.length;
        await noJs.page.goto(authorizeUrl(client, { scope: 'openid profile', state: 'nojs', response_mode: 'form_post' }));
        await signInOnPage(noJs.page, ida);
        await noJs.page.getByRole('button', { name: 'Continue' }).click();
        const posted = await arrival(noJs.page, count, noJsProblems);
        assert.equal(posted.method, 'POST');
        assert.equal(posted.params.get('state'), 'nojs');
        assert.ok(posted.params.get('code'));
        assert.deepEqual(noJsProblems, []);
      } finally {
        await noJs.context.close();
      }
    });

    test('prompt=select_account: shows who is signed in; "Continue as …" keeps the account, "Use another account" signs in another one; no CSP violation', async () => {
      const client = await createClient(server, { name: 'Account-choosing RP', redirectUris: [redirectUri] });
      const problems: string[] = [];
      const { context, page } = await newContext(problems);
      try {
        const request = (state: string) => authorizeUrl(client, { scope: 'openid profile email', state, prompt: 'select_account' });
        // Nobody is signed in yet: select_account is answered by the login page.
        let count = rp.arrivals.length;
        await page.goto(request('first'));
        await signInOnPage(page, ida);
        await page.getByRole('button', { name: 'Allow' }).click();
        const first = await arrival(page, count, problems);
        assert.equal(first.method, 'GET');
        assert.equal(first.params.get('state'), 'first');
        assert.equal(first.params.get('iss'), server.config.issuer);
        assert.equal((await idTokenClaims(client, first.params.get('code') ?? '')).sub, ida.subject);

        // Signed in: the page names the account and offers both ways on.
        count = rp.arrivals.length;
        await page.goto(request('keep'));
        await page.getByRole('heading', { name: 'Choose an account' }).waitFor();
        assert.match((await page.locator('main').textContent()) ?? '', /signed in as\s+Ida Jansen\s+\(ida@example\.com\)/);
        const other = page.getByRole('link', { name: 'Use another account' });
        assert.equal(await other.count(), 1);
        await page.getByRole('link', { name: 'Continue as Ida Jansen' }).click();
        // Consent is remembered: straight back to the RP, as Ida.
        const kept = await arrival(page, count, problems);
        assert.equal(kept.params.get('state'), 'keep');
        const keptClaims = await idTokenClaims(client, kept.params.get('code') ?? '');
        assert.equal(keptClaims.sub, ida.subject);
        assert.equal(keptClaims.email, 'ida@example.com');

        // "Use another account": the login page with an empty e-mail field, then Olaf's consent.
        count = rp.arrivals.length;
        await page.goto(request('switch'));
        await page.getByRole('link', { name: 'Use another account' }).click();
        await page.waitForURL(/\/login\?/);
        assert.equal(await page.getByLabel('E-mail address').inputValue(), '');
        await signInOnPage(page, olaf);
        await page.getByRole('button', { name: 'Allow' }).click();
        const switched = await arrival(page, count, problems);
        assert.equal(switched.params.get('state'), 'switch');
        const switchedClaims = await idTokenClaims(client, switched.params.get('code') ?? '');
        assert.equal(switchedClaims.sub, olaf.subject);
        assert.notEqual(switchedClaims.sub, ida.subject);
        assert.equal(switchedClaims.email, 'olaf@example.com');

        // The browser now holds Olaf's session.
        await page.goto(request('who'));
        await page.getByRole('link', { name: 'Continue as Olaf Berg' }).waitFor();
        assert.deepEqual(problems, [], 'no CSP violation, no console error');
      } finally {
        await context.close();
      }
    });
  });
}
