// `latchkey serve --workers 2` as real processes (a primary and two workers sharing one port),
// on SQLite and on PostgreSQL: exactly-once single use under 200 racing refreshes and 200
// racing code exchanges, each request on a connection of its own so that both workers answer
// (their pids are in the audit lines); a revocation seen at once by the other worker; the
// per-address rate limit and the brute-force back-off shared without Redis; /metrics summed
// over the workers; a worker killed with SIGKILL restarted while the server keeps answering.
// Then, once: SIGTERM drains a request under way, and bad --workers values stop start-up with
// one line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createServices, type Services } from '../../src/services.js';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import { databaseKinds, freshDatabase, type DbKind, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createUser, mintCode, type FixtureHost, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { runCli, startServerProcess, type ServerProcess } from './process.js';

const N = 200;
const LOGIN_LIMIT = 20;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One request on a connection of its own (no agent: `Connection: close`), so the primary hands each to a worker in turn. */
function fresh(base: string, method: string, path: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, base), {
      method,
      agent: false,
      headers: { ...options.headers, ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function tally(answers: Answer[]): Record<number, number> {
  return answers.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
}

/** The parsed log lines from `from` on. */
function lines(p: ServerProcess, from = 0): Array<Record<string, unknown>> {
  return p.logs.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The pids of the workers that wrote an audit line of one of `events` since log line `from`. */
function pidsOf(p: ServerProcess, events: string[], from: number): Set<number> {
  return new Set(lines(p, from).filter((l) => events.includes(String(l.event)) && l.worker !== undefined).map((l) => Number(l.pid)));
}

function workerPids(p: ServerProcess): number[] {
  return lines(p).filter((l) => l.event === 'worker.listening').map((l) => Number(l.worker_pid));
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const secret = (client: TestClient) => ({ client_id: client.clientId, client_secret: client.clientSecret ?? '' });

/** The test's own view of the database (fixtures are written through it), beside the server. */
async function localServices(db: FreshDatabase): Promise<{ store: Store; host: FixtureHost & { services: Services } }> {
  const store = openDatabase(db.url);
  await migrate(store);
  const config = loadConfig({ env: { DATABASE_URL: db.url } });
  const services = createServices(config, store, { logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })) });
  return { store, host: { services, clock: new MovableClock(), config } };
}

for (const kind of databaseKinds()) {
  describe(`serve --workers 2 on ${kind}`, () => {
    let db: FreshDatabase;
    let store: Store;
    let host: FixtureHost & { services: Services };
    let server: ServerProcess;
    let client: TestClient;
    let user: TestUser;

    before(async () => {
      db = await freshDatabase(kind as DbKind);
      server = await startServerProcess({
        DATABASE_URL: db.url,
        LATCHKEY_WORKERS: '2',
        LATCHKEY_TOKEN_RATE_LIMIT: '1000000',
        LATCHKEY_LOGIN_RATE_LIMIT: String(LOGIN_LIMIT),
      }, { untilLogged: 'server.started' });
      ({ store, host } = await localServices(db));
      client = await createClient(host, { grantTypes: ['authorization_code', 'refresh_token', 'password', 'client_credentials'] });
      user = await createUser(host);
    });

    after(async () => {
      await server?.stop();
      await store?.close();
      await db?.drop();
    });

    test('a primary and two workers: the primary migrated and forked, each worker listens on the one port', () => {
      const started = lines(server).find((l) => l.event === 'server.started');
      assert.equal(started?.workers, 2);
      assert.equal(started?.role, 'primary');
      assert.equal(started?.pid, server.pid);
      const pids = workerPids(server);
      assert.equal(new Set(pids).size, 2, JSON.stringify(pids));
      assert.ok(!pids.includes(server.pid), 'the primary serves no HTTP');
    });

    test(`${N} racing refreshes of one refresh token, each on its own connection: exactly one success, both workers answered`, async () => {
      const { code, grantId } = await mintCode(host, { client, userId: user.id });
      const first = await fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, ...secret(client) } });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const from = server.logs.length;
      const answers = await Promise.all(Array.from({ length: N }, () =>
        fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'refresh_token', refresh_token: String(first.body.refresh_token), ...secret(client) } })));
      process.stdout.write(`# ${N} racing refreshes across 2 workers (${kind}): ${JSON.stringify(tally(answers))}\n`);
      assert.equal(answers.filter((r) => r.status === 200).length, 1, JSON.stringify(tally(answers)));
      for (const r of answers) if (r.status !== 200) assert.equal(r.body.error, 'invalid_grant', JSON.stringify(r.body));
      assert.equal(await host.services.grants.isRevoked(grantId), true, 'the replays revoked the grant');
      await until('the audit lines', () => pidsOf(server, ['token.issued', 'refresh.reuse_detected'], from).size >= 2, 5000).catch(() => undefined);
      assert.deepEqual([...pidsOf(server, ['token.issued', 'refresh.reuse_detected'], from)].sort(), workerPids(server).sort(), 'both workers answered');
    });

    test(`${N} racing exchanges of one code, each on its own connection: exactly one success, both workers answered`, async () => {
      const { code, grantId } = await mintCode(host, { client, userId: user.id });
      const from = server.logs.length;
      const answers = await Promise.all(Array.from({ length: N }, () =>
        fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, ...secret(client) } })));
      process.stdout.write(`# ${N} racing code exchanges across 2 workers (${kind}): ${JSON.stringify(tally(answers))}\n`);
      assert.equal(answers.filter((r) => r.status === 200).length, 1, JSON.stringify(tally(answers)));
      for (const r of answers) if (r.status !== 200) assert.equal(r.body.error, 'invalid_grant', JSON.stringify(r.body));
      assert.equal(await host.services.grants.isRevoked(grantId), true);
      await until('the audit lines', () => pidsOf(server, ['token.issued', 'code.reuse_detected'], from).size >= 2, 5000).catch(() => undefined);
      assert.deepEqual([...pidsOf(server, ['token.issued', 'code.reuse_detected'], from)].sort(), workerPids(server).sort(), 'both workers answered');
    });

    test('a token revoked through one worker is refused by every worker at once, though both had it in memory', async () => {
      const { code } = await mintCode(host, { client, userId: user.id });
      const tokens = await fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, ...secret(client) } });
      const bearer = { authorization: `Bearer ${String(tokens.body.access_token)}` };
      // Both workers read the token (and, on SQLite, keep its row: store/sqlite/kept-rows.ts).
      const warm = await Promise.all(Array.from({ length: 20 }, () => fresh(server.url, 'GET', '/api/user', { headers: bearer })));
      assert.deepEqual(tally(warm), { 200: 20 });
      const revoked = await fresh(server.url, 'POST', '/oauth/revoke', { form: { token: String(tokens.body.access_token), ...secret(client) } });
      assert.equal(revoked.status, 200);
      // The revocation answered: no worker may accept the token any more, not even once.
      const after = await Promise.all(Array.from({ length: 20 }, () => fresh(server.url, 'GET', '/api/user', { headers: bearer })));
      assert.deepEqual(tally(after), { 401: 20 });
    });

    test(`the per-address /login rate limit (${LOGIN_LIMIT} a minute) is one budget across the workers: a burst gets exactly ${LOGIN_LIMIT}`, async () => {
      const burst = await Promise.all(Array.from({ length: 3 * LOGIN_LIMIT }, () => fresh(server.url, 'GET', '/login')));
      assert.deepEqual(tally(burst), { 200: LOGIN_LIMIT, 429: 2 * LOGIN_LIMIT }, 'one limit, not one per worker');
    });

    test('the brute-force back-off is shared: failed password grants spread over the workers lock the account on all of them', async (t) => {
      const victim = await createUser(host);
      const from = server.logs.length;
      const attempt = (password: string) => fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: victim.email, password, ...secret(client) } });
      const statuses: number[] = [];
      // One at a time (two at once per account is the most the guard verifies), each on a new connection.
      for (let i = 0; i < 5; i += 1) statuses.push((await attempt('wrong password')).status);
      assert.deepEqual(statuses, [400, 400, 400, 400, 429], 'the fifth failure counts the four before it, whichever worker saw them');
      const right = await attempt(victim.password);
      assert.equal(right.status, 429, 'every worker holds the lockout');
      assert.ok(Number(right.headers['retry-after']) >= 1);
      // Round robin usually spreads the five connections over both workers; a loaded machine can
      // hand them all to one, and then this run proves less (the counters' own test covers two workers).
      const seenBy = pidsOf(server, ['login.failed'], from).size;
      if (seenBy < 2) t.diagnostic('every failure reached one worker this time');
      assert.ok(seenBy >= 1);
    });

    test('failed client authentication counts across the workers: ten wrong secrets at once lock the client for the right one', async () => {
      const target = await createClient(host, { grantTypes: ['client_credentials'] });
      const wrong = await Promise.all(Array.from({ length: 10 }, () =>
        fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'client_credentials', client_id: target.clientId, client_secret: 'not the secret' } })));
      assert.ok(wrong.every((r) => r.status === 401 || r.status === 429), JSON.stringify(tally(wrong)));
      const right = await fresh(server.url, 'POST', '/oauth/token', { form: { grant_type: 'client_credentials', ...secret(target) } });
      assert.equal(right.status, 429, `ten failures split over two workers still reach the threshold: ${JSON.stringify(right.body)}`);
    });

    test('/metrics answers the sum over the workers, whichever worker is asked', async () => {
      const count = (text: string) => Number(/^latchkey_http_requests_total\{method="GET",route="\/healthz",status="200"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      const before = count(String((await fresh(server.url, 'GET', '/metrics')).body.text));
      const hits = await Promise.all(Array.from({ length: 30 }, () => fresh(server.url, 'GET', '/healthz')));
      assert.deepEqual(tally(hits), { 200: 30 });
      // Scraped ten times on new connections: every scrape, on either worker, sees all 30.
      const scrapes = await Promise.all(Array.from({ length: 10 }, () => fresh(server.url, 'GET', '/metrics')));
      for (const s of scrapes) {
        assert.equal(s.status, 200);
        assert.equal(count(String(s.body.text)), before + 30, 'the 30 requests, whichever worker answered each');
        assert.match(String(s.body.text), /^latchkey_token_requests_total\{grant_type="refresh_token",outcome="success"\} \d+$/m, 'the existing metric names');
        assert.match(String(s.body.text), /^process_cpu_seconds_total \d/m);
      }
    });

    test('/metrics keeps its protection: a forwarded request is not answered', async () => {
      const forwarded = await fresh(server.url, 'GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(forwarded.status, 404);
    });

    test('a worker killed with SIGKILL is restarted, and the server keeps answering meanwhile', async () => {
      const [victim, survivor] = workerPids(server);
      assert.ok(victim && survivor);
      process.kill(victim, 'SIGKILL');
      await until('the primary to notice', () => lines(server).some((l) => l.event === 'worker.exited' && l.worker_pid === victim));
      // The survivor answers alone until the new worker listens.
      const meanwhile = await Promise.all(Array.from({ length: 20 }, () => fresh(server.url, 'GET', '/healthz')));
      assert.deepEqual(tally(meanwhile), { 200: 20 });
      await until('a new worker', () => workerPids(server).length === 3);
      const exited = lines(server).find((l) => l.event === 'worker.exited' && l.worker_pid === victim);
      assert.equal(exited?.signal, 'SIGKILL');
      // A worker that died young (under 30 s) waits before its restart; one that lived longer is
      // restarted at once (a slow machine can get this far past 30 s). The delays themselves are
      // test/cluster/shared-state.test.ts's "restarting a worker that died".
      if (Number(exited?.lived_ms) < 30_000) assert.ok(Number(exited?.restart_in_ms) > 0, 'a worker that died young waits before its restart');
      else assert.equal(Number(exited?.restart_in_ms), 0, 'a worker that lived long is restarted at once');
      const replacement = workerPids(server)[2]!;
      assert.ok(![victim, survivor].includes(replacement));
      const afterwards = await Promise.all(Array.from({ length: 20 }, () => fresh(server.url, 'GET', '/healthz')));
      assert.deepEqual(tally(afterwards), { 200: 20 });
      const metrics = await fresh(server.url, 'GET', '/metrics');
      assert.match(String(metrics.body.text), /^latchkey_worker_restarts_total\{reason="signal"\} 1$/m);
    });
  });
}

const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;

describe('serve --workers 2 with REDIS_URL: the limits stay in Redis', { skip: REDIS_URL ? false : 'TEST_REDIS_URL is not set' }, () => {
  test(`a burst at /login gets exactly ${LOGIN_LIMIT} across the workers, counted in Redis under the prefix`, async () => {
    const db = await freshDatabase('sqlite');
    const prefix = `latchkey-workers-${Date.now().toString(36)}:`;
    const server = await startServerProcess({
      DATABASE_URL: db.url, LATCHKEY_WORKERS: '2', LATCHKEY_LOGIN_RATE_LIMIT: String(LOGIN_LIMIT), REDIS_URL: REDIS_URL ?? '', LATCHKEY_REDIS_PREFIX: prefix,
    }, { untilLogged: 'server.started' });
    const { openRedis } = await import('../../src/accounts/backoff.js');
    const redis = openRedis(REDIS_URL ?? '');
    try {
      const burst = await Promise.all(Array.from({ length: 3 * LOGIN_LIMIT }, () => fresh(server.url, 'GET', '/login')));
      assert.deepEqual(tally(burst), { 200: LOGIN_LIMIT, 429: 2 * LOGIN_LIMIT });
      const keys = await redis.keys(`${prefix}rl:*`);
      assert.ok(keys.length >= 1, 'the windows are Redis keys, not the primary\'s');
    } finally {
      await server.stop();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await db.drop();
    }
  });
});

describe('serve --workers 2: stopping, and bad values', () => {
  test('SIGTERM to the primary drains: a request under way is answered, idle keep-alive connections close, exit 0', async () => {
    const db = await freshDatabase('sqlite');
    const server = await startServerProcess({ DATABASE_URL: db.url, LATCHKEY_WORKERS: '2' }, { untilLogged: 'server.started' });
    try {
      // An idle keep-alive connection: it must be closed, not left open.
      const idle = connect(Number(new URL(server.url).port), '127.0.0.1');
      const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
      idle.on('error', () => undefined);
      await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
      idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise<void>((resolve) => idle.once('data', () => resolve()));
      // A request under way: its head sent, its body not yet.
      const body = 'grant_type=client_credentials&client_id=nobody&client_secret=nothing';
      const slow = connect(Number(new URL(server.url).port), '127.0.0.1');
      let answer = '';
      slow.setEncoding('utf8');
      slow.on('data', (c: string) => (answer += c));
      const slowClosed = new Promise<void>((resolve) => slow.once('close', () => resolve()));
      await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
      slow.write(`POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
      server.child.kill('SIGTERM');
      await until('the workers to start draining', () => lines(server).filter((l) => l.event === 'worker.stopping').length === 2);
      await idleClosed;
      await new Promise((r) => setTimeout(r, 300));
      slow.write(body.slice(10));
      await slowClosed;
      assert.match(answer, /^HTTP\/1\.1 401 /, `the request under way got its answer: ${answer.slice(0, 200)}`);
      assert.match(answer, /\r\nconnection: close\r\n/i, 'and was told the connection closes');
      assert.equal(await exited, 0);
    } finally {
      await server.kill9();
      await db.drop();
    }
  });

  test('bad --workers and LATCHKEY_WORKERS values stop start-up with one line, before any worker starts', async () => {
    for (const value of ['0', '-1', 'abc', '65', '99999999999999999999', '1.5', '2 ', ' 2', 'AUTO', '\u001b[31m2', '2\u0085', '2\u202e', '']) {
      const run = await runCli(['serve', '--port', '0', '--database-url', 'sqlite::memory:', '--workers', value]);
      assert.equal(run.code, 1, `--workers ${JSON.stringify(value)}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      const out = run.stderr.trimEnd().split('\n');
      assert.equal(out.length, 1, run.stderr);
      assert.match(out[0] ?? '', /^latchkey: LATCHKEY_WORKERS \(--workers\) must be auto or a whole number from 1 to 64, got "/);
      // eslint-disable-next-line no-control-regex -- control characters must arrive escaped
      assert.doesNotMatch(run.stderr.trimEnd(), /[\u0000-\u001f\u007f-\u009f\u2028-\u202e]/);
    }
    const huge = await runCli(['serve', '--port', '0', '--workers', '1000']);
    assert.match(huge.stderr, /at most|each worker is a process of its own/);
    const env = await runCli(['serve', '--port', '0', '--database-url', 'sqlite::memory:'], { LATCHKEY_WORKERS: 'many' });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /^latchkey: LATCHKEY_WORKERS \(--workers\) must be auto or a whole number from 1 to 64, got "many"\n$/);
    const missing = await runCli(['serve', '--port', '0', '--workers']);
    assert.equal(missing.code, 2, 'a flag without its value is a usage error');
    assert.equal(missing.stderr.trimEnd().split('\n').length, 1);
    const memory = await runCli(['serve', '--port', '0', '--database-url', 'sqlite::memory:', '--workers', '2']);
    assert.equal(memory.code, 1);
    assert.match(memory.stderr, /^latchkey: --workers 2 needs a database the workers share, and sqlite::memory: is one per process/);
    assert.equal(memory.stderr.trimEnd().split('\n').length, 1);
  });

  test('a worker that cannot start stops the whole start with its one line (exit 1), not a crash loop', async () => {
    const db = await freshDatabase('sqlite');
    try {
      // A port already taken: every worker's listen fails.
      const holder = await startServerProcess({ DATABASE_URL: db.url });
      try {
        const port = new URL(holder.url).port;
        const run = await runCli(['serve', '--port', port, '--host', '127.0.0.1', '--database-url', db.url, '--workers', '2']);
        assert.equal(run.code, 1, run.stderr);
        const out = run.stderr.trimEnd().split('\n');
        assert.equal(out.length, 1, run.stderr);
        assert.match(out[0] ?? '', /^latchkey: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
      } finally {
        await holder.stop();
      }
    } finally {
      await db.drop();
    }
  });
});
