// Hover's guide (../shared/seeds/003_6d0fd269179f54a2.txt, "Authenticating with Hover's API"),
// replayed under the `hover` profile: the sample authorization URL as printed
// (/oauth/authorize?response_type=code&redirect_uri=https://hover.to&client_id=…), login and
// consent for an organization, the code exchange with each of the three body formats the guide
// names (multipart/form-data, application/json, application/x-www-form-urlencoded), 2-hour
// access tokens, refresh tokens that never expire but rotate, 401 for a bad refresh or a
// malformed body, consent once per organization, and the plan message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/accounts/users.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import type { Organization } from '../../src/oauth/model.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { hiddenFields, radioOptions } from '../helpers/html.js';
import { DECISION_PATH, LOGIN_PATH } from '../helpers/authorize.js';

const REDIRECT_URI = 'https://hover.to';
const PLAN_MESSAGE = 'Third-party integrations are not available on your plan.';
const PASSWORD = 'correct horse battery staple';
const YEAR = 365 * 86_400;

type BodyFormat = 'multipart/form-data' | 'application/json' | 'application/x-www-form-urlencoded';
const FORMATS: BodyFormat[] = ['multipart/form-data', 'application/json', 'application/x-www-form-urlencoded'];

interface Hover {
  server: TestServer;
  clientId: string;
  clientSecret: string;
}

async function setup(server: TestServer): Promise<Hover> {
  const { client, clientSecret } = await registerClient(server.services, { name: 'Hover integration', redirectUris: [REDIRECT_URI], trusted: true });
  assert.ok(clientSecret);
  return { server, clientId: client.clientId, clientSecret };
}

async function member(server: TestServer, email: string, orgs: Organization[]): Promise<{ id: number; email: string }> {
  const user = await createUser(server.services, { email, name: email.split('@')[0] ?? email, password: PASSWORD, locale: 'en' });
  for (const org of orgs) await server.services.orgs.upsertMember(org.id, user.id, 'member', nowSeconds(server.clock));
  return { id: user.id, email };
}

async function org(server: TestServer, name: string, integrationsEnabled: boolean): Promise<Organization> {
  return server.services.orgs.insert({ name, integrationsEnabled, now: nowSeconds(server.clock) });
}

/** "Here's a sample request URL", as printed (only the client id is ours). */
function sampleAuthorizeUrl(h: Hover): string {
  return `/oauth/authorize?response_type=code&redirect_uri=https://hover.to&client_id=${h.clientId}`;
}

interface Visit {
  /** The consent page, when one was shown. */
  consent: HttpResult | null;
  /** The last response. */
  final: HttpResult;
}

/**
 * A browser on the sample URL: logs in with `email` when the login page comes up, and stops
 * at the consent page (returned) or at the redirect back to the client.
 */
async function visit(h: Hover, jar: CookieJar, email: string): Promise<Visit> {
  let res = await httpRequest(h.server, 'GET', sampleAuthorizeUrl(h), { jar });
  for (let i = 0; i < 5; i++) {
    if (res.status === 303 && res.location !== null && new URL(res.location, h.server.url).pathname === LOGIN_PATH) {
      const login = await httpRequest(h.server, 'GET', res.location, { jar });
      assert.equal(login.status, 200);
      res = await httpRequest(h.server, 'POST', LOGIN_PATH, { jar, form: { ...hiddenFields(login.body, LOGIN_PATH), email, password: PASSWORD } });
      assert.equal(res.status, 303, res.body.slice(0, 300));
      // Back to the authorization request, exactly as it was sent.
      assert.equal(res.location, sampleAuthorizeUrl(h));
      res = await httpRequest(h.server, 'GET', res.location, { jar });
      continue;
    }
    break;
  }
  if (res.status === 200) return { consent: res, final: res };
  return { consent: null, final: res };
}

/** "(by clicking the Allow button)" for `organizationId`, as the consent page's form posts it. */
async function allow(h: Hover, jar: CookieJar, consent: HttpResult, organizationId: number): Promise<HttpResult> {
  return httpRequest(h.server, 'POST', DECISION_PATH, { jar, form: { ...hiddenFields(consent.body, DECISION_PATH), organization_id: String(organizationId), decision: 'allow' } });
}

/** The code from "redirect the user back to your configured redirect_uri with the authorization code appended". */
function codeOf(res: HttpResult): string {
  assert.equal(res.status, 302, res.body.slice(0, 300));
  const location = new URL(res.location ?? '');
  assert.equal(location.origin, REDIRECT_URI);
  assert.equal(location.pathname, '/');
  const code = location.searchParams.get('code');
  assert.ok(code);
  return code;
}

/** POST /oauth/token with `fields` in the given body format. */
async function tokenRequest(h: Hover, format: BodyFormat, fields: Record<string, string>): Promise<Response> {
  let body: string | FormData;
  const headers: Record<string, string> = {};
  if (format === 'multipart/form-data') {
    // fetch writes the boundary into the Content-Type itself.
    body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
  } else if (format === 'application/json') {
    headers['content-type'] = format;
    body = JSON.stringify(fields);
  } else {
    headers['content-type'] = format;
    body = new URLSearchParams(fields).toString();
  }
  return fetch(`${h.server.url}/oauth/token`, { method: 'POST', headers, body });
}

/** "Exchanging the Authorization Code": client_id, client_secret, redirect_uri, grant_type, code. */
function exchange(h: Hover, format: BodyFormat, code: string): Promise<Response> {
  return tokenRequest(h, format, { client_id: h.clientId, client_secret: h.clientSecret, redirect_uri: REDIRECT_URI, grant_type: 'authorization_code', code });
}

/** "Refreshing your API Tokens": client_id, client_secret, grant_type, refresh_token. */
function refresh(h: Hover, format: BodyFormat, refreshToken: string): Promise<Response> {
  return tokenRequest(h, format, { client_id: h.clientId, client_secret: h.clientSecret, grant_type: 'refresh_token', refresh_token: refreshToken });
}

interface Pair {
  access_token: string;
  refresh_token: string;
}

async function assertPair(res: Response): Promise<Pair> {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(body.token_type, 'Bearer');
  // "An access token is valid for 2 hours."
  assert.equal(body.expires_in, 7200);
  assert.equal(typeof body.access_token, 'string');
  assert.equal(typeof body.refresh_token, 'string');
  return { access_token: body.access_token as string, refresh_token: body.refresh_token as string };
}

async function assert401(res: Response, error: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, 401, text);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
}

async function api(h: Hover, accessToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${h.server.url}/api/user`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of databaseKinds()) {
  test(`[${kind}] Hover guide: the sample URL, an organization, the three body formats, 2-hour tokens, rotation, 401s`, async () => {
    const server = await startTestServer(kind, { profile: 'hover' });
    try {
      const h = await setup(server);
      const roofers = await org(server, 'Roofers BV', true);
      const user = await member(server, 'estimator@roofers.example', [roofers]);
      const jar = new CookieJar();

      // "A user of your integration will be sent to Hover to log in … and grant your
      // integration access to the organization in Hover that they belong to."
      const first = await visit(h, jar, user.email);
      assert.ok(first.consent, `expected the consent page, got ${first.final.status}`);
      assert.match(first.consent.body, /Hover integration/);
      assert.deepEqual(radioOptions(first.consent.body, 'organization_id').map((o) => o.value), [String(roofers.id)]);
      assert.match(first.consent.body, /<button type="submit" name="decision" value="allow">/);
      const codes = [codeOf(await allow(h, jar, first.consent, roofers.id))];

      // "it's possible that a user only has to grant application authorization one time per
      // Hover organization": the next requests come straight back with a code.
      for (let i = 1; i < FORMATS.length; i++) {
        const again = await visit(h, jar, user.email);
        assert.equal(again.consent, null, 'consent is asked once per organization');
        codes.push(codeOf(again.final));
      }

      // "send these parameters as body parameters with the content-type set to either
      // multipart/form-data or application/json" — and the form encoding RFC 6749 names.
      const pairs: Pair[] = [];
      for (const [i, format] of FORMATS.entries()) {
        const pair = await assertPair(await exchange(h, format, codes[i] ?? ''));
        pairs.push(pair);
        const me = await api(h, pair.access_token);
        assert.equal(me.status, 200);
        assert.deepEqual(me.body, { id: user.id, name: 'estimator', email: user.email, locale: 'en', organization: { id: roofers.id, name: 'Roofers BV' } });
      }
      // A code is exchanged once: a second try, in any format, is 401 under hover, and revokes
      // what the first exchange got (RFC 6749 §4.1.2).
      for (const format of FORMATS) await assert401(await exchange(h, format, codes[2] ?? ''), 'invalid_grant');
      assert.equal((await api(h, pairs[2]?.access_token ?? '')).status, 401);

      // Every format refreshes the same way: "A successful request will yield a fresh pair of
      // access/refresh tokens", and the refresh token "invalidates when it is exchanged".
      const survivor = pairs[0];
      assert.ok(survivor);
      let current = survivor;
      // Expiry is checked to the second below: the clock moves only when told from here on.
      server.clock.freeze();
      for (const format of FORMATS) {
        const next = await assertPair(await refresh(h, format, current.refresh_token));
        assert.notEqual(next.access_token, current.access_token);
        assert.notEqual(next.refresh_token, current.refresh_token);
        assert.equal((await api(h, next.access_token)).status, 200);
        current = next;
      }

      // "An access token is valid for 2 hours."
      server.clock.advance(7199);
      assert.equal((await api(h, current.access_token)).status, 200);
      server.clock.advance(1);
      assert.equal((await api(h, current.access_token)).status, 401);

      // "A refresh token is valid indefinitely": a year later it still refreshes.
      server.clock.advance(YEAR);
      current = await assertPair(await refresh(h, 'application/json', current.refresh_token));
      assert.equal((await api(h, current.access_token)).status, 200);

      // "a 401 could mean … an invalid refresh token … or you had a malformed body parameter."
      await assert401(await refresh(h, 'multipart/form-data', 'not-a-refresh-token'), 'invalid_grant');
      await assert401(await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type": "refresh_token", ' }), 'invalid_request');
      await assert401(await tokenRequest(h, 'application/x-www-form-urlencoded', { client_id: h.clientId, client_secret: h.clientSecret, grant_type: 'refresh_token' }), 'invalid_request');

      // A refresh token used before: 401, and the whole grant is revoked (RFC 6819 §5.2.2.3).
      const reusedPair = pairs[1];
      assert.ok(reusedPair);
      const rotated = await assertPair(await refresh(h, 'application/x-www-form-urlencoded', reusedPair.refresh_token));
      await assert401(await refresh(h, 'multipart/form-data', reusedPair.refresh_token), 'invalid_grant');
      assert.equal((await api(h, rotated.access_token)).status, 401);
      await assert401(await refresh(h, 'application/json', rotated.refresh_token), 'invalid_grant');
      // Other authorizations of the same user are untouched.
      assert.equal((await api(h, current.access_token)).status, 200);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] Hover guide: "Third-party integrations are not available on your plan.", consent per organization, plans switched later`, async () => {
    const server = await startTestServer(kind, { profile: 'hover' });
    try {
      const h = await setup(server);
      const starter = await org(server, 'Starter Plan Co', false);
      const pro = await org(server, 'Pro Plan Co', true);
      const enterprise = await org(server, 'Enterprise Co', true);

      // A member of an organization whose plan has integrations off only.
      const jane = await member(server, 'jane@starter.example', [starter]);
      const janeJar = new CookieJar();
      const page = await visit(h, janeJar, jane.email);
      assert.ok(page.consent);
      assert.ok(page.consent.body.includes(PLAN_MESSAGE), 'the consent page shows the plan message');
      assert.doesNotMatch(page.consent.body, /name="decision" value="allow">/);
      // "Integrations must be enabled to proceed": not even a hand-made POST gets a code.
      const forced = await allow(h, janeJar, page.consent, starter.id);
      assert.equal(forced.status, 403);
      assert.equal(forced.location, null);
      assert.ok(forced.body.includes(PLAN_MESSAGE));

      // A member of several organizations picks one per authorization; each grant is bound to
      // the one picked, and the plan message marks the one that cannot be picked.
      const max = await member(server, 'max@several.example', [starter, pro, enterprise]);
      const maxJar = new CookieJar();
      const several = await visit(h, maxJar, max.email);
      assert.ok(several.consent);
      assert.ok(several.consent.body.includes(PLAN_MESSAGE));
      const options = radioOptions(several.consent.body, 'organization_id');
      assert.deepEqual(options.map((o) => [o.value, o.disabled]).sort(), [[String(enterprise.id), false], [String(pro.id), false], [String(starter.id), true]].sort());
      const proPair = await assertPair(await exchange(h, 'application/json', codeOf(await allow(h, maxJar, several.consent, pro.id))));
      const other = await visit(h, maxJar, max.email);
      assert.ok(other.consent, 'a member of several organizations picks one each time');
      const entPair = await assertPair(await exchange(h, 'multipart/form-data', codeOf(await allow(h, maxJar, other.consent, enterprise.id))));
      assert.deepEqual((await api(h, proPair.access_token)).body.organization, { id: pro.id, name: 'Pro Plan Co' });
      assert.deepEqual((await api(h, entPair.access_token)).body.organization, { id: enterprise.id, name: 'Enterprise Co' });

      // Turning integrations off later stops that organization's tokens, and only those.
      await server.services.orgs.setIntegrations(pro.id, false);
      assert.equal((await api(h, proPair.access_token)).status, 401);
      await assert401(await refresh(h, 'application/x-www-form-urlencoded', proPair.refresh_token), 'invalid_grant');
      assert.equal((await api(h, entPair.access_token)).status, 200);
    } finally {
      await server.close();
    }
  });
}
