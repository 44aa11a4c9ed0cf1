// The admin command line, run as a real process against both databases: JSON on stdout and
// exit 0 on success, one line on stderr with exit 2 (usage) or 1 (failure), nothing half-written.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../../src/config/load.js';
import { secretMatchesHash, sha256Hex } from '../../src/oauth/crypto.js';
import { verifyPassword } from '../../src/accounts/passwords.js';
import { createServices } from '../../src/services.js';
import { openDatabase } from '../../src/store/db.js';
import { freshDatabase, type DbKind, type FreshDatabase } from '../helpers/databases.js';

const BIN = new URL('../../bin/latchkey.js', import.meta.url).pathname;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

function latchkey(db: FreshDatabase, ...args: string[]): Run {
  return latchkeyWithInput(db, undefined, ...args);
}

/** Runs the binary with `input` on its standard input (undefined: none, the stream closed at once). */
function latchkeyWithInput(db: FreshDatabase, input: string | undefined, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args, '--database-url', db.url], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' }, input: input ?? '' });
  let json: Record<string, unknown> = {};
  if (r.status === 0) json = JSON.parse(r.stdout) as Record<string, unknown>;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

function assertOneLineError(run: Run, status: 1 | 2, pattern: RegExp): void {
  assert.equal(run.status, status, `exit ${status} expected, got ${run.status}: ${run.stderr}`);
  assert.equal(run.stdout, '');
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${run.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

async function counts(db: FreshDatabase): Promise<Record<string, number>> {
  const store = openDatabase(db.url);
  try {
    const out: Record<string, number> = {};
    for (const table of ['users', 'organizations', 'memberships', 'clients'] as const) {
      const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      out[table] = Number(row.n);
    }
    return out;
  } finally {
    await store.close();
  }
}

/** The CLI's tests on one database; cli-sqlite.test.ts and cli-postgres.test.ts run them, each a file (and a time budget) of its own. */
export function cliTests(kind: DbKind): void {
  describe(`latchkey CLI [${kind}]`, () => {
    test('user, org and client commands as SPEC.md lists them', async () => {
      const db = await freshDatabase(kind);
      try {
        const user = latchkey(db, 'user', 'create', '--email', 'john@doe.com', '--name', 'John Doe', '--password', 'hunter2hunter2', '--locale', 'nl');
        assert.equal(user.status, 0, user.stderr);
        assert.deepEqual(user.json, { id: 1, email: 'john@doe.com', name: 'John Doe', locale: 'nl' });

        const org = latchkey(db, 'org', 'create', '--name', 'Acme');
        assert.deepEqual(org.json, { id: 1, name: 'Acme', integrations_enabled: true });
        const off = latchkey(db, 'org', 'create', '--name', 'Free plan', '--no-integrations');
        assert.deepEqual(off.json, { id: 2, name: 'Free plan', integrations_enabled: false });
        assert.equal(latchkey(db, 'org', 'add-member', '--org', '1', '--user', '1', '--role', 'admin').status, 0);
        assert.deepEqual(latchkey(db, 'org', 'set-integrations', '--org', '2', '--enabled', 'true').json, { id: 2, name: 'Free plan', integrations_enabled: true });

        const client = latchkey(db, 'client', 'create', '--name', 'House Check', '--redirect-uris', 'https://a.example/cb,https://b.example/cb', '--owner', '1');
        assert.equal(client.status, 0, client.stderr);
        assert.equal(typeof client.json.client_id, 'string');
        assert.equal(typeof client.json.client_secret, 'string');
        assert.deepEqual(client.json.redirect_uris, ['https://a.example/cb', 'https://b.example/cb']);
        assert.deepEqual(client.json.grant_types, ['authorization_code', 'refresh_token']);
        assert.deepEqual(client.json.scopes, ['openid', 'profile', 'email']);
        assert.deepEqual(client.json.post_logout_redirect_uris, [], 'no post-logout redirect URIs unless given');
        assert.equal(client.json.id_token_signed_response_alg, 'RS256', 'ID tokens are RS256 by default');

        const rp = latchkey(db, 'client', 'create', '--name', 'RP', '--redirect-uris', 'https://rp.example/cb',
          '--post-logout-redirect-uris', 'https://a.example/bye, https://b.example/bye?x=1,https://a.example/bye', '--id-token-alg', 'ES256');
        assert.equal(rp.status, 0, rp.stderr);
        assert.deepEqual(rp.json.post_logout_redirect_uris, ['https://a.example/bye', 'https://b.example/bye?x=1'], 'comma-separated, trimmed, repeats dropped');
        assert.equal(rp.json.id_token_signed_response_alg, 'ES256');

        const pub = latchkey(db, 'client', 'create', '--name', 'SPA', '--redirect-uris', 'http://127.0.0.1:9/cb', '--public');
        assert.equal(pub.status, 0, pub.stderr);
        assert.equal('client_secret' in pub.json, false, 'no secret for a public client');

        const huddle = latchkey(db, 'client', 'create', '--name', 'Huddle', '--redirect-uris', 'https://h.example/cb',
          '--grant-types', 'password,refresh_token', '--scopes', 'profile email', '--refresh-without-secret');
        assert.deepEqual(huddle.json.grant_types, ['password', 'refresh_token']);
        assert.equal(huddle.json.refresh_without_secret, true);

        const oldSecret = client.json.client_secret as string;
        const reset = latchkey(db, 'client', 'reset-secret', '--client-id', client.json.client_id as string);
        assert.equal(reset.status, 0, reset.stderr);
        assert.equal(reset.json.client_id, client.json.client_id);
        const newSecret = reset.json.client_secret as string;
        assert.notEqual(newSecret, oldSecret);

        const store = openDatabase(db.url);
        try {
          const services = createServices(loadConfig({ env: { DATABASE_URL: db.url } }), store);
          const stored = await services.clients.findByClientId(client.json.client_id as string);
          assert.equal(secretMatchesHash(oldSecret, stored?.secretHash ?? ''), false, 'the old secret no longer matches');
          assert.equal(secretMatchesHash(newSecret, stored?.secretHash ?? ''), true);
        } finally {
          await store.close();
        }
      } finally {
        await db.drop();
      }
    });

    test('refusals: one clear line, the right exit code, nothing half-written', async () => {
      const db = await freshDatabase(kind);
      try {
        assert.equal(latchkey(db, 'user', 'create', '--email', 'a@b.c', '--name', 'A', '--password', 'password1').status, 0);
        const before = await counts(db);
        assertOneLineError(latchkey(db, 'user', 'create', '--email', 'A@B.C', '--name', 'A2', '--password', 'password1'), 1, /already exists/);
        assertOneLineError(latchkey(db, 'user', 'create', '--email', 'not-an-email', '--name', 'A2', '--password', 'password1'), 1, /e-mail/);
        assertOneLineError(latchkey(db, 'user', 'create', '--email', 'x@y.z', '--name', 'X'), 2, /--password or --password-stdin is required/);
        assertOneLineError(latchkey(db, 'org', 'add-member', '--org', '42', '--user', '1'), 1, /no organization with id 42/);
        assert.equal(latchkey(db, 'org', 'create', '--name', 'O').status, 0);
        assertOneLineError(latchkey(db, 'org', 'add-member', '--org', '1', '--user', '99'), 1, /no user with id 99/);
        assertOneLineError(latchkey(db, 'org', 'add-member', '--org', '1', '--user', '1', '--role', 'owner'), 2, /--role/);
        assertOneLineError(latchkey(db, 'org', 'set-integrations', '--org', '1', '--enabled', 'maybe'), 2, /true or false/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb,/relative'), 1, /not an absolute URI/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb#frag'), 1, /fragment/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--owner', '77'), 1, /no user with id 77/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--grant-types', 'implicit'), 1, /unknown grant type/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--scopes', 'admin'), 1, /unknown scope/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--post-logout-redirect-uris', 'https://ok.example/bye,/relative'), 1, /^latchkey: Post-logout redirect URI \/relative is not an absolute URI$/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--post-logout-redirect-uris', 'https://ok.example/bye#x'), 1, /^latchkey: Post-logout redirect URI .*fragment/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--post-logout-redirect-uris', 'javascript:alert(1)'), 1, /^latchkey: Post-logout redirect URI .*scheme that is not allowed/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--id-token-alg', 'HS256'), 2, /^latchkey: --id-token-alg must be RS256 or ES256, got "HS256"$/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--id-token-alg', 'none'), 2, /--id-token-alg must be RS256 or ES256/);
        assertOneLineError(latchkey(db, 'client', 'reset-secret', '--client-id', 'nope'), 1, /no client with id nope/);
        // A value may begin with a dash (a generated client id does one time in 64)…
        assertOneLineError(latchkey(db, 'client', 'reset-secret', '--client-id', '-Xy_z'), 1, /no client with id -Xy_z/);
        // …but a forgotten value is still a usage error, not the next flag taken as the value.
        assertOneLineError(latchkey(db, 'client', 'reset-secret', '--client-id'), 2, /--client-id/);
        assertOneLineError(latchkey(db, 'client', 'create', '--name', 'C', '--redirect-uris', 'https://ok.example/cb', '--bogus'), 2, /bogus/);
        assertOneLineError(latchkey(db, 'frobnicate'), 2, /unknown command/);
        const after = await counts(db);
        assert.deepEqual(after, { ...before, organizations: (before.organizations ?? 0) + 1 });
      } finally {
        await db.drop();
      }
    });

    test('registration token create, client list --registered, client delete (dynamic registration, RFC 7591)', async () => {
      const db = await freshDatabase(kind);
      try {
        const plain = latchkey(db, 'registration', 'token', 'create');
        assert.equal(plain.status, 0, plain.stderr);
        assert.deepEqual(Object.keys(plain.json), ['token', 'expires_at']);
        assert.match(String(plain.json.token), /^[A-Za-z0-9_-]{43}$/);
        assert.equal(plain.json.expires_at, null, 'no expiry without --expires-in');
        const startedAt = Math.floor(Date.now() / 1000);
        const limited = latchkey(db, 'registration', 'token', 'create', '--expires-in', '3600', '--max-uses', '2');
        assert.equal(limited.status, 0, limited.stderr);
        assert.ok(Math.abs(Number(limited.json.expires_at) - (startedAt + 3600)) <= 5, JSON.stringify(limited.json));

        const store = openDatabase(db.url);
        try {
          const rows = await store.db.selectFrom('registration_tokens').selectAll().orderBy('id').execute();
          assert.equal(rows.length, 2);
          assert.equal(rows[0]?.token_hash, sha256Hex(String(plain.json.token)), 'stored as its SHA-256 only');
          assert.ok(!JSON.stringify(rows).includes(String(plain.json.token)));
          assert.equal(rows[1]?.max_uses, 2);
          assert.equal(Number(rows[1]?.expires_at), Number(limited.json.expires_at));

          const services = createServices(loadConfig({ env: { DATABASE_URL: db.url } }), store);
          const base = { secretHash: null, redirectUris: ['https://a.example/cb'], ownerUserId: null, isPublic: true, grantTypes: ['authorization_code' as const], scopes: ['profile'], refreshWithoutSecret: false, trusted: false, now: startedAt };
          await services.clients.insert({ ...base, clientId: 'operator-made', name: 'Operator' });
          await services.clients.insert({ ...base, clientId: 'self-registered', name: 'Dynamic', registration: 'open', tokenEndpointAuthMethod: 'none', registrationTokenHash: sha256Hex('x') });
        } finally {
          await store.close();
        }
        const registered = latchkey(db, 'client', 'list', '--registered');
        assert.equal(registered.status, 0, registered.stderr);
        const listed = registered.json.clients as Array<Record<string, unknown>>;
        assert.deepEqual(listed.map((c) => [c.client_id, c.registration, c.token_endpoint_auth_method]), [['self-registered', 'open', 'none']]);
        const all = latchkey(db, 'client', 'list');
        assert.deepEqual((all.json.clients as Array<Record<string, unknown>>).map((c) => c.client_id).sort(), ['operator-made', 'self-registered']);
        assert.ok(!all.stdout.includes('secret_hash') && !all.stdout.includes('registration_token_hash'), 'never a hash');

        const deleted = latchkey(db, 'client', 'delete', '--client-id', 'self-registered');
        assert.equal(deleted.status, 0, deleted.stderr);
        assert.deepEqual(deleted.json, { client_id: 'self-registered', deleted: true });
        assert.deepEqual(latchkey(db, 'client', 'list', '--registered').json, { clients: [] });

        const before = await counts(db);
        assertOneLineError(latchkey(db, 'client', 'delete', '--client-id', 'self-registered'), 1, /no client with id self-registered/);
        assertOneLineError(latchkey(db, 'client', 'delete'), 2, /--client-id is required/);
        for (const [flag, value] of [['--expires-in', '0'], ['--expires-in', 'abc'], ['--expires-in', '1.5'], ['--expires-in', '-5'], ['--max-uses', '0'], ['--max-uses', '99999999999'], ['--max-uses', '']] as const) {
          assertOneLineError(latchkey(db, 'registration', 'token', 'create', flag, value), 2, new RegExp(`${flag}`));
        }
        assertOneLineError(latchkey(db, 'registration', 'token', 'create', '--bogus'), 2, /bogus/);
        assertOneLineError(latchkey(db, 'registration', 'token', 'revoke'), 2, /unknown command "registration token revoke"/);
        assertOneLineError(latchkey(db, 'registration', 'token', 'create', '--owner', '99'), 1, /no user with id 99/);
        assert.deepEqual(await counts(db), before);
        const check = openDatabase(db.url);
        try {
          assert.equal((await check.db.selectFrom('registration_tokens').selectAll().execute()).length, 2, 'no refused command minted a token');
        } finally {
          await check.close();
        }
      } finally {
        await db.drop();
      }
    });

    test('user create --password-stdin: the password from the first line of standard input, never on the command line', async () => {
      const db = await freshDatabase(kind);
      try {
        const created = latchkeyWithInput(db, 'a password with spaces and $ymbols\nsecond line ignored\n', 'user', 'create', '--email', 'stdin@example.com', '--name', 'Stdin', '--password-stdin');
        assert.equal(created.status, 0, created.stderr);
        assert.deepEqual(created.json, { id: 1, email: 'stdin@example.com', name: 'Stdin', locale: 'en' });
        const crlf = latchkeyWithInput(db, 'windows line ending\r\n', 'user', 'create', '--email', 'crlf@example.com', '--name', 'CRLF', '--password-stdin');
        assert.equal(crlf.status, 0, crlf.stderr);
        const noNewline = latchkeyWithInput(db, 'no newline at all', 'user', 'create', '--email', 'bare@example.com', '--name', 'Bare', '--password-stdin');
        assert.equal(noNewline.status, 0, noNewline.stderr);

        const store = openDatabase(db.url);
        try {
          const services = createServices(loadConfig({ env: { DATABASE_URL: db.url } }), store);
          const hashOf = async (email: string) => (await services.users.findCredentialsByEmail(email))?.passwordHash ?? '';
          assert.equal(await verifyPassword(await hashOf('stdin@example.com'), 'a password with spaces and $ymbols'), true, 'the first line, without its newline');
          assert.equal(await verifyPassword(await hashOf('crlf@example.com'), 'windows line ending'), true, 'CR LF stripped');
          assert.equal(await verifyPassword(await hashOf('bare@example.com'), 'no newline at all'), true);
        } finally {
          await store.close();
        }

        const before = await counts(db);
        // Exactly one of the two: both, or neither, is a usage error.
        assertOneLineError(latchkeyWithInput(db, 'another password\n', 'user', 'create', '--email', 'both@example.com', '--name', 'B', '--password', 'another password', '--password-stdin'), 2, /either --password or --password-stdin, not both/);
        assertOneLineError(latchkeyWithInput(db, 'another password\n', 'user', 'create', '--email', 'neither@example.com', '--name', 'N'), 2, /--password or --password-stdin is required/);
        // Nothing on standard input.
        assertOneLineError(latchkeyWithInput(db, '', 'user', 'create', '--email', 'empty@example.com', '--name', 'E', '--password-stdin'), 2, /standard input/);
        assertOneLineError(latchkeyWithInput(db, '\n', 'user', 'create', '--email', 'empty@example.com', '--name', 'E', '--password-stdin'), 2, /standard input/);
        // A password the rules refuse is the command's failure, as with --password.
        assertOneLineError(latchkeyWithInput(db, 'short\n', 'user', 'create', '--email', 'short@example.com', '--name', 'S', '--password-stdin'), 1, /at least/);
        assert.deepEqual(await counts(db), before);
      } finally {
        await db.drop();
      }
    });
  });
}

test('an unreachable database or a malformed URL is one line and exit 1 or 2', () => {
  const unreachable = spawnSync(process.execPath, [BIN, 'org', 'create', '--name', 'X', '--database-url', 'postgres://nobody@127.0.0.1:1/none'], { encoding: 'utf8' });
  assert.equal(unreachable.status, 1);
  assert.equal(unreachable.stderr.trimEnd().split('\n').length, 1);
  assert.match(unreachable.stderr, /cannot reach the database/);
  const malformed = spawnSync(process.execPath, [BIN, 'org', 'create', '--name', 'X', '--database-url', 'mysql://x'], { encoding: 'utf8' });
  assert.equal(malformed.status, 2);
  assert.match(malformed.stderr, /must start with sqlite: or postgres:\/\//);
});

test('serve refuses bad configuration with one line and exit 1', () => {
  for (const [args, pattern] of [
    [['--profile', 'nope'], /unknown profile "nope"/],
    [['--issuer', 'not a url'], /LATCHKEY_ISSUER/],
    [['--port', 'eighty'], /PORT must be a whole number/],
    [['--database-url', 'postgres://nobody@127.0.0.1:1/none'], /cannot open the database/],
    [['--config', '/nonexistent/latchkey.json'], /cannot read config file/],
  ] as const) {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', pattern);
  }
});
