// Issue 18 finding 3: the authorization endpoint redirected errors (invalid_scope,
// unsupported_response_type, login_required, …) to any redirect URI registered in the
// developer portal, with no user interaction: an open redirector to https://evil.example/…
// for anyone who registers a client (RFC 9700 §4.11.2). SPEC.md "Authorization endpoint": for
// a client anyone could register, an error found before the user has signed in and seen the
// consent page is an HTML page naming the redirect host; operator-created clients (the CLI)
// redirect as before, and so do errors after the consent page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { migrate, openDatabase } from '../../src/store/db.js';
import { databaseKinds, freshDatabase } from '../helpers/databases.js';
import { createUser, type TestUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { authorize, authorizePath, DECISION_PATH, signIn, type AuthorizeOptions } from '../helpers/authorize.js';
import { signUp, textById } from '../helpers/pages.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = new URL('../../bin/latchkey.js', import.meta.url).pathname;
const EVIL = 'https://evil.example/cb';

/** Errors the endpoint finds before any interaction (each would have redirected). */
const ATTACKS: Array<{ label: string; options: Partial<AuthorizeOptions>; error: string }> = [
  { label: 'scope=bogus', options: { scope: 'bogus' }, error: 'invalid_scope' },
  { label: 'response_type=token', options: { responseType: 'token' }, error: 'unsupported_response_type' },
  { label: 'no response_type', options: { responseType: null }, error: 'invalid_request' },
  { label: 'code_challenge_method=plain', options: { codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', codeChallengeMethod: 'plain' }, error: 'invalid_request' },
  { label: 'prompt=bogus', options: { prompt: 'bogus' }, error: 'invalid_request' },
];

function assertPageNamingHost(res: HttpResult, label: string): void {
  assert.equal(res.status, 400, `${label}: ${res.status} ${res.location ?? ''}`);
  assert.equal(res.location, null, `${label}: no redirect`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/, label);
  assert.match(res.body, /evil\.example/, `${label}: the page names the redirect host`);
}

function assertRedirectedWith(res: HttpResult, redirectUri: string, error: string, label: string): void {
  assert.equal(res.status, 302, `${label}: ${res.status} ${res.body.slice(0, 200)}`);
  const location = new URL(res.location ?? '');
  assert.equal(`${location.origin}${location.pathname}`, redirectUri, label);
  assert.equal(location.searchParams.get('error'), error, label);
  assert.equal(location.searchParams.get('state'), 's', label);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] authorization errors and portal-registered clients (issue 18, finding 3)`, () => {
    let server: TestServer;
    let portalClientId: string;
    let operatorClientId: string;
    let user: TestUser;

    before(async () => {
      server = await startTestServer(kind, { overrides: { loginRateLimit: 0 } });
      // Anyone may sign up and register a client in the developer portal.
      const attacker = await signUp(server.url, { email: 'attacker@example.com' });
      const created = await attacker.submit('/developer/clients/new', '/developer/clients/new', { name: 'Totally legit', redirect_uris: EVIL });
      assert.equal(created.status, 201);
      portalClientId = textById(created.body, 'client-id');
      // An operator's client, made with the admin command line (a real process, same database).
      const run = spawnSync(process.execPath, [BIN, 'client', 'create', '--name', 'Operator app', '--redirect-uris', EVIL, '--database-url', server.db.url],
        { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
      assert.equal(run.status, 0, run.stderr);
      operatorClientId = (JSON.parse(run.stdout) as { client_id: string }).client_id;
      user = await createUser(server);
    });
    after(async () => {
      await server.close();
    });

    test('the portal creates untrusted clients and the command line trusted ones', async () => {
      assert.equal((await server.services.clients.findByClientId(portalClientId))?.trusted, false);
      assert.equal((await server.services.clients.findByClientId(operatorClientId))?.trusted, true);
    });

    test('cookieless requests for a portal client: a 400 page naming evil.example, never a Location', async () => {
      const answers = await Promise.all([...ATTACKS, { label: 'prompt=none', options: { prompt: 'none' }, error: 'login_required' }].map(async (a) => ({
        a, res: await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, redirectUri: EVIL, state: 's', ...a.options })),
      })));
      for (const { a, res } of answers) {
        assertPageNamingHost(res, a.label);
        assert.ok(res.body.includes(a.error), `${a.label}: the page says what was wrong (${a.error})`);
      }
      // Without redirect_uri (the client's only one) too.
      assertPageNamingHost(await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, state: 's', scope: 'bogus' })), 'implicit redirect_uri');
    });

    test('the same requests for an operator-created client redirect with the error, as before', async () => {
      const answers = await Promise.all([...ATTACKS, { label: 'prompt=none', options: { prompt: 'none' }, error: 'login_required' }].map(async (a) => ({
        a, res: await httpRequest(server, 'GET', authorizePath({ clientId: operatorClientId, redirectUri: EVIL, state: 's', ...a.options })),
      })));
      for (const { a, res } of answers) assertRedirectedWith(res, EVIL, a.error, a.label);
    });

    test('a signed-in user who has never consented to the portal client gets the page too (prompt=none consent_required included)', async () => {
      const jar = await signIn(server, user.email, user.password);
      for (const a of ATTACKS) {
        assertPageNamingHost(await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, redirectUri: EVIL, state: 's', ...a.options }), { jar }), a.label);
      }
      const none = await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, redirectUri: EVIL, state: 's', prompt: 'none' }), { jar });
      assertPageNamingHost(none, 'prompt=none consent_required');
      assert.ok(none.body.includes('consent_required'));
      // A valid request still shows the consent page (the user sees the client and where it sends them).
      const consent = await authorize(server, { clientId: portalClientId, redirectUri: EVIL, state: 's', cookies: jar, decision: 'stop' });
      assert.equal(consent.consentShown, true);
    });

    test('after the consent page errors redirect: deny, a failing decision, and later requests once consented', async () => {
      const other = await createUser(server);
      const jar = await signIn(server, other.email, other.password);
      const denied = await authorize(server, { clientId: portalClientId, redirectUri: EVIL, state: 's', cookies: jar, decision: 'deny' });
      assert.equal(denied.consentShown, true);
      assert.equal(denied.error, 'access_denied');
      assert.equal(denied.redirect?.host, 'evil.example');

      // The decision POST re-validates the request; an error found there goes back to the client.
      const page = await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, redirectUri: EVIL, state: 's' }), { jar });
      assert.equal(page.status, 200);
      const fields = hiddenFields(page.body, DECISION_PATH);
      const wire = JSON.parse(Buffer.from(fields.authorization_request ?? '', 'base64url').toString('utf8')) as Record<string, string>;
      const tampered = Buffer.from(JSON.stringify({ ...wire, scope: 'bogus' }), 'utf8').toString('base64url');
      const decided = await httpRequest(server, 'POST', DECISION_PATH, { jar, form: { ...fields, authorization_request: tampered, decision: 'allow' } });
      assertRedirectedWith(decided, EVIL, 'invalid_scope', 'decision POST');

      const allowed = await authorize(server, { clientId: portalClientId, redirectUri: EVIL, state: 's', cookies: jar });
      assert.ok(allowed.code, 'consented: a code');
      for (const a of ATTACKS) {
        const res = await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, redirectUri: EVIL, state: 's', ...a.options }), { jar });
        assertRedirectedWith(res, EVIL, a.error, `consented, ${a.label}`);
      }
      // Signed out again: back to the page.
      const anonymous = await httpRequest(server, 'GET', authorizePath({ clientId: portalClientId, redirectUri: EVIL, state: 's', scope: 'bogus' }), { jar: new CookieJar() });
      assertPageNamingHost(anonymous, 'signed out');
    });
  });

  test(`[${kind}] migration 003: existing clients without an owner become trusted, owned ones stay untrusted`, async () => {
    const fresh = await freshDatabase(kind);
    const store = openDatabase(fresh.url, fresh.schema ? { schema: fresh.schema } : {});
    try {
      await migrate(store);
      // Back to the schema before 003, with one client of each kind, then migrate again.
      await sql`alter table clients drop column trusted`.execute(store.db);
      await sql`delete from latchkey_migrations where name = '003-trusted-clients'`.execute(store.db);
      await sql`insert into users (email, email_normalized, name, locale, password_hash, subject, created_at, updated_at) values ('o@example.com', 'o@example.com', 'O', 'en', 'x', 'subject-o', 1, 1)`.execute(store.db);
      const owner = await store.db.selectFrom('users').select('id').executeTakeFirstOrThrow();
      for (const [clientId, ownerId] of [['operator', null], ['portal', owner.id]] as const) {
        await sql`insert into clients (client_id, secret_hash, name, redirect_uris, owner_user_id, is_public, grant_types, scopes, refresh_without_secret, created_at, updated_at)
          values (${clientId}, null, ${clientId}, '["https://a.example/cb"]', ${ownerId}, 1, 'authorization_code', 'profile', 0, 1, 1)`.execute(store.db);
      }
      assert.deepEqual(await migrate(store), ['003-trusted-clients']);
      const rows = await store.db.selectFrom('clients').select(['client_id', 'trusted']).orderBy('client_id').execute();
      assert.deepEqual(rows.map((r) => [r.client_id, Number(r.trusted)]), [['operator', 1], ['portal', 0]]);
    } finally {
      await store.close();
      await fresh.drop();
    }
  });
}
