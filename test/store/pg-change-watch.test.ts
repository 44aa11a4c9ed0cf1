// PostgreSQL's change watch (src/store/postgres/changes.ts, own-writes.ts), within one process:
// two stores opened with watchChanges on one schema are two peers, each with its own listener
// and pool, exactly as two servers are. What one keeps, a change made through the other (or
// by any other writer) takes away — through the other store, before its write returns; by a
// writer outside Latchkey (psql), as soon as the notification arrives; and nothing is trusted
// while the listener is gone, or after the event loop was blocked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { createServices, type Services } from '../../src/services.js';
import { migrate, openDatabase, type OpenOptions, type Store } from '../../src/store/db.js';
import type { PgChangeWatch } from '../../src/store/postgres/changes.js';
import { freshDatabase, TEST_DATABASE_URL, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';

process.env.LATCHKEY_DEV_CHECKS ??= '1';

interface Peer {
  store: Store;
  services: Services;
  watch: PgChangeWatch;
  warnings: string[];
}

const clock = new MovableClock();

function openPeer(db: FreshDatabase, options: OpenOptions = {}): Peer {
  const warnings: string[] = [];
  const store = openDatabase(db.url, { watchChanges: true, warn: (event, details) => warnings.push(`${event} ${JSON.stringify(details)}`), ...options });
  const services = createServices(loadConfig({ env: { DATABASE_URL: db.url } }), store, { clock });
  return { store, services, watch: store.changes as PgChangeWatch, warnings };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Both watches live, trusting the five tables, and knowing each other. */
async function bothReady(a: Peer, b: Peer): Promise<void> {
  await until('both watches live', () => a.watch.version(['access_tokens', 'clients', 'grants', 'organizations', 'users']) !== undefined
    && b.watch.version(['access_tokens', 'clients', 'grants', 'organizations', 'users']) !== undefined
    && a.watch.peerIds.includes(b.watch.id) && b.watch.peerIds.includes(a.watch.id));
}

/** A grant and `n` access tokens of it; returns their hashes. */
async function tokens(services: Services, client: TestClient, user: TestUser, n: number): Promise<{ grantId: number; hashes: string[] }> {
  const now = nowSeconds(clock);
  const grantId = await services.grants.insert({ clientId: client.client.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
  const hashes = Array.from({ length: n }, () => sha256Hex(newSecret()));
  await Promise.all(hashes.map((tokenHash) => services.accessTokens.insert({
    tokenHash, jti: null, grantId, clientId: client.client.id, userId: user.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt: now + 3600,
  })));
  return { grantId, hashes };
}

/** A backend's pid by its application_name prefix (the listener of a watch). */
async function listenerPid(watch: PgChangeWatch): Promise<number | undefined> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>(`select pid from pg_stat_activity where application_name like $1`, [`latchkey-listen:%:${watch.id}`]);
    return rows[0]?.pid;
  } finally {
    await c.end();
  }
}

/** Runs SQL through psql: a writer that is not Latchkey (and, being synchronous, a blocked event loop). */
function psql(db: FreshDatabase, statement: string): void {
  const result = spawnSync('psql', [TEST_DATABASE_URL ?? '', '-v', 'ON_ERROR_STOP=1', '-qAtc', statement],
    { encoding: 'utf8', env: { ...process.env, PGOPTIONS: `-c search_path=${db.schema ?? ''}` } });
  assert.equal(result.status, 0, result.stderr);
}

describe('the PostgreSQL change watch, two peers in one process', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  let db: FreshDatabase;
  let a: Peer;
  let b: Peer;
  let client: TestClient;
  let user: TestUser;
  const host = () => ({ services: a.services, clock, config: loadConfig({ env: { DATABASE_URL: db.url } }) });

  before(async () => {
    db = await freshDatabase('postgres');
    // A opens the database before it is migrated, as `serve` does: it finds the triggers once they exist.
    a = openPeer(db);
    await migrate(a.store);
    b = openPeer(db);
    await bothReady(a, b);
    client = await createClient(host());
    user = await createUser(host());
  });

  after(async () => {
    await a?.store.close();
    await b?.store.close();
    await db?.drop();
  });

  test('a context kept by A is gone the moment B\'s revocation returns: 50 revoked at once, each looked up at A as its revocation returns', async () => {
    const { hashes } = await tokens(a.services, client, user, 50);
    for (const hash of hashes) assert.equal((await a.services.accessTokens.find(hash))?.revokedAt, null);
    const kept = await a.services.accessTokens.find(hashes[0]!);
    assert.equal(await a.services.accessTokens.find(hashes[0]!), kept, 'kept: the same object again');
    const now = nowSeconds(clock);
    const t0 = performance.now();
    const seen = await Promise.all(hashes.map((hash) =>
      b.services.transaction((tx) => tx.accessTokens.revoke(hash, now)).then(() => a.services.accessTokens.find(hash))));
    process.stdout.write(`# burst ${(performance.now() - t0).toFixed(0)} ms\n`);
    assert.deepEqual(seen.map((s) => s?.revokedAt), hashes.map(() => now));
    assert.deepEqual(a.warnings, []);
    assert.deepEqual(b.warnings, []);
  });

  test('a client kept by B: a secret reset through A is seen by B as soon as A\'s write returns; a deletion too', async () => {
    const mine = await createClient(host());
    const before = await b.services.clients.findByClientId(mine.clientId);
    assert.equal(await b.services.clients.findByClientId(mine.clientId), before, 'kept');
    assert.equal(await a.services.clients.updateSecretHash(mine.clientId, sha256Hex('rotated'), nowSeconds(clock)), true);
    assert.equal((await b.services.clients.findByClientId(mine.clientId))?.secretHash, sha256Hex('rotated'));
    await b.services.clients.findByClientId(mine.clientId);
    await a.services.clients.delete(mine.client.id);
    assert.equal(await b.services.clients.findByClientId(mine.clientId), undefined);
  });

  test('a grant revoked, a user renamed, an organization switched off: each seen by the other at once', async () => {
    const org = await a.services.orgs.insert({ name: 'Org', integrationsEnabled: true, now: nowSeconds(clock) });
    const now = nowSeconds(clock);
    const grantId = await a.services.grants.insert({ clientId: client.client.id, userId: user.id, organizationId: org.id, scope: 'profile', grantType: 'authorization_code', now });
    const hash = sha256Hex(newSecret());
    await a.services.accessTokens.insert({ tokenHash: hash, jti: null, grantId, clientId: client.client.id, userId: user.id, organizationId: org.id, scope: 'profile', createdAt: now, expiresAt: now + 3600 });
    assert.equal((await b.services.accessTokens.find(hash))?.organizationIntegrationsEnabled, true);
    await a.services.orgs.setIntegrations(org.id, false);
    assert.equal((await b.services.accessTokens.find(hash))?.organizationIntegrationsEnabled, false);
    await a.services.users.update(user.id, { name: 'Renamed' }, now);
    assert.equal((await b.services.accessTokens.find(hash))?.user?.name, 'Renamed');
    await a.services.grants.revoke(grantId, now + 1);
    assert.equal((await b.services.accessTokens.find(hash))?.grantRevokedAt, now + 1);
  });

  test('an insert drops nothing and waits for nobody: issuing tokens keeps what the other kept', async () => {
    const { hashes } = await tokens(a.services, client, user, 1);
    const kept = await b.services.accessTokens.find(hashes[0]!);
    const versionBefore = b.watch.version(['access_tokens', 'grants']);
    await tokens(a.services, client, user, 5);
    assert.equal(b.watch.version(['access_tokens', 'grants']), versionBefore);
    assert.equal(await b.services.accessTokens.find(hashes[0]!), kept);
  });

  test('a writer that is not Latchkey (psql) is heard too: the kept context is dropped once its notification arrives', async () => {
    const { hashes } = await tokens(a.services, client, user, 1);
    const hash = hashes[0]!;
    assert.equal((await a.services.accessTokens.find(hash))?.revokedAt, null);
    psql(db, `update access_tokens set revoked_at = 42 where token_hash = '${hash}'`);
    await until('A hears psql', async () => (await a.services.accessTokens.find(hash))?.revokedAt === 42);
    // And a TRUNCATE (of a table whose rows are kept) drops everything.
    const kept = await a.services.accessTokens.find(hash);
    psql(db, 'truncate consumed_refresh_tokens, access_tokens');
    await until('A hears the truncate', async () => (await a.services.accessTokens.find(hash)) === undefined);
    assert.ok(kept);
  });

  test('the event loop blocked past the lease while psql revokes (spawnSync): the first lookup afterwards reads the database, not the kept context', async () => {
    const { hashes } = await tokens(a.services, client, user, 1);
    const hash = hashes[0]!;
    assert.equal((await a.services.accessTokens.find(hash))?.revokedAt, null);
    assert.equal((await b.services.accessTokens.find(hash))?.revokedAt, null);
    // psql commits the revocation and sleeps past the lease; this process hears nothing meanwhile.
    psql(db, `update access_tokens set revoked_at = 7 where token_hash = '${hash}'; select pg_sleep(1.2)`);
    assert.equal((await a.services.accessTokens.find(hash))?.revokedAt, 7, 'A');
    assert.equal((await b.services.accessTokens.find(hash))?.revokedAt, 7, 'B');
    await until('live again', () => a.watch.live && b.watch.live);
    // Caught up: kept again.
    const kept = await a.services.accessTokens.find(hash);
    assert.equal(await a.services.accessTokens.find(hash), kept);
  });

  test('A\'s listener killed (pg_terminate_backend): nothing kept while it is down, a revocation through B meanwhile is seen, then A keeps again', async () => {
    const { hashes } = await tokens(a.services, client, user, 2);
    const [first, second] = hashes as [string, string];
    assert.equal((await a.services.accessTokens.find(first))?.revokedAt, null);
    const pid = await listenerPid(a.watch);
    assert.ok(pid);
    psql(db, `select pg_terminate_backend(${pid})`);
    await until('A notices', () => !a.watch.live);
    const now = nowSeconds(clock);
    // B still counts A as a peer until it sees A gone from pg_stat_activity (or A says hello again).
    await b.services.accessTokens.revoke(first, now);
    assert.equal((await a.services.accessTokens.find(first))?.revokedAt, now);
    if (!a.watch.live) {
      const one = await a.services.accessTokens.find(second);
      assert.notEqual(await a.services.accessTokens.find(second), one, 'nothing kept while the listener is down');
    }
    await bothReady(a, b);
    assert.notEqual(await listenerPid(a.watch), pid, 'a new listener connection');
    const kept = await a.services.accessTokens.find(second);
    assert.equal(await a.services.accessTokens.find(second), kept, 'kept again');
    await b.services.accessTokens.revoke(second, now);
    assert.equal((await a.services.accessTokens.find(second))?.revokedAt, now);
    assert.ok(a.warnings.some((w) => w.startsWith('store.listener_lost')), a.warnings.join('\n'));
    a.warnings.length = 0;
  });

  test('a change missed while A\'s listener was down (psql, no wait): once A trusts again, its first lookup does not answer from before', async () => {
    const { hashes } = await tokens(a.services, client, user, 1);
    const hash = hashes[0]!;
    const kept = await a.services.accessTokens.find(hash);
    assert.equal(await a.services.accessTokens.find(hash), kept);
    const pid = await listenerPid(a.watch);
    // Two psql runs, back to back: the event loop is blocked throughout, so the revocation commits
    // while A's listener is dead and before A can even notice.
    psql(db, `select pg_terminate_backend(${pid})`);
    psql(db, `select pg_sleep(0.05); update access_tokens set revoked_at = 77 where token_hash = '${hash}'`);
    await until('A notices', () => !a.watch.live);
    await until('A trusts again', () => a.watch.live);
    assert.equal((await a.services.accessTokens.find(hash))?.revokedAt, 77);
    a.warnings.length = 0;
  });

  test('a transaction that changes a kept table returns only after the peer dropped it', async () => {
    const { hashes } = await tokens(a.services, client, user, 1);
    const hash = hashes[0]!;
    assert.equal((await b.services.accessTokens.find(hash))?.revokedAt, null);
    const now = nowSeconds(clock);
    await a.services.transaction((tx) => tx.accessTokens.revoke(hash, now));
    assert.equal((await b.services.accessTokens.find(hash))?.revokedAt, now);
  });

  test('a third peer joins and leaves: the others wait for it while it is there, and not after its bye', async () => {
    const c = openPeer(db);
    try {
      await until('C joined', () => c.watch.live && a.watch.peerIds.includes(c.watch.id) && b.watch.peerIds.includes(c.watch.id) && c.watch.peerIds.length === 2);
      const { hashes } = await tokens(a.services, client, user, 1);
      const hash = hashes[0]!;
      assert.equal((await c.services.accessTokens.find(hash))?.revokedAt, null);
      await a.services.accessTokens.revoke(hash, 5);
      assert.equal((await c.services.accessTokens.find(hash))?.revokedAt, 5);
    } finally {
      await c.store.close();
    }
    assert.equal(a.watch.peerIds.includes(c.watch.id), false, 'C said bye');
    assert.deepEqual(c.warnings, []);
  });

  test('a peer gone without a bye (a crash): a writer waits out the lease once, says so, and forgets the peer 1.1 leases later', async () => {
    const fake = await fakePeer(db);
    await until('both know the newcomer', () => a.watch.peerIds.includes(fake.id) && b.watch.peerIds.includes(fake.id));
    await fake.client.end();
    const { hashes } = await tokens(a.services, client, user, 2);
    const started = performance.now();
    await a.services.accessTokens.revoke(hashes[0]!, 9);
    const waited = performance.now() - started;
    // A may already have found its listener gone (then it is forgotten 1.1 leases after that).
    assert.ok(waited >= 900 && waited < 3000, `waited ${waited} ms`);
    assert.ok(a.warnings.some((w) => /^store\.(peer_silent|peers_unconfirmed) /.test(w) && w.includes(fake.id)), a.warnings.join('\n'));
    await until('A forgets it', () => !a.watch.peerIds.includes(fake.id), 5000);
    const again = performance.now();
    await a.services.accessTokens.revoke(hashes[1]!, 9);
    assert.ok(performance.now() - again < 900, `then waited ${performance.now() - again} ms`);
    a.warnings.length = 0;
    // B, which wrote nothing meanwhile, finds it gone by itself (pg_stat_activity, every few seconds).
    await until('B forgets it', () => !b.watch.peerIds.includes(fake.id), 10_000);
  });

  test('A\'s listener and a peer\'s killed together: A, back first, does not forget the peer (which may not know yet and still trust), so A\'s next revocation waits for its lease', async () => {
    const fake = await fakePeer(db);
    await until('A knows the newcomer', () => a.watch.peerIds.includes(fake.id));
    const { hashes } = await tokens(a.services, client, user, 1);
    const pid = await listenerPid(a.watch);
    // The peer's connection stays open to us but its backend is gone: a server whose socket has
    // not told it yet, still answering from what it kept until its lease ends.
    psql(db, `select pg_terminate_backend(pid) from pg_stat_activity where pid = ${pid} or application_name like '%:${fake.id}'`);
    await until('A notices', () => !a.watch.live);
    await until('A trusts again', () => a.watch.live);
    assert.ok(a.watch.peerIds.includes(fake.id), 'still counted until its lease has certainly ended');
    const started = performance.now();
    await a.services.accessTokens.revoke(hashes[0]!, 13);
    const waited = performance.now() - started;
    assert.ok(waited >= 500, `answered after ${waited} ms, while the peer could still trust what it kept`);
    await until('A forgets it', () => !a.watch.peerIds.includes(fake.id), 5000);
    const again = performance.now();
    await a.services.accessTokens.revoke(hashes[0]!, 14);
    assert.ok(performance.now() - again < 900);
    a.warnings.length = 0;
    b.warnings.length = 0;
  });

  test('a peer that never acks: the writer answers after the ack timeout, says so, and cuts the peer\'s listener off', async () => {
    const fake = await fakePeer(db);
    const ended = new Promise<void>((resolve) => fake.client.once('end', resolve));
    await until('A knows the newcomer', () => a.watch.peerIds.includes(fake.id));
    const { hashes } = await tokens(a.services, client, user, 1);
    const started = performance.now();
    await a.services.accessTokens.revoke(hashes[0]!, 11);
    const waited = performance.now() - started;
    assert.ok(waited >= 1000 && waited < 3000, `waited ${waited} ms`);
    assert.ok(a.warnings.some((w) => w.startsWith('store.peer_silent') && w.includes(fake.id)), a.warnings.join('\n'));
    await ended;
    await until('A forgets it', () => !a.watch.peerIds.includes(fake.id), 5000);
    a.warnings.length = 0;
    b.warnings.length = 0;
    // The others answer promptly again.
    const again = performance.now();
    await a.services.accessTokens.revoke(hashes[0]!, 12);
    assert.ok(performance.now() - again < 900);
  });

  test('garbage on the peer channel (anyone who may connect can notify) is ignored', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const tag = (await c.query<{ tag: string }>('select left(md5(current_schema()), 16) as tag')).rows[0]!.tag;
      const channel = `latchkey_peers_${tag}`;
      for (const payload of ['', 'sync', 'ack', `ack ${a.watch.id}`, `ack ${a.watch.id} 1e9 ${b.watch.id}`, `ack ${a.watch.id} 99999999999999999999 ${b.watch.id}`,
        'hello ZZZZZZZZZZZZZZZZ', `hello ${a.watch.id}`, `welcome ${a.watch.id} \u0001\u0002`, `sync ${'0'.repeat(16)} -1`, `echo ${a.watch.id} 0`,
        'bye', `sync ${b.watch.id} 1\nack`, 'x'.repeat(7000), '\u202e\u0007\t']) {
        await c.query('select pg_notify($1, $2)', [channel, payload]);
      }
    } finally {
      await c.end();
    }
    const { hashes } = await tokens(a.services, client, user, 1);
    assert.equal((await b.services.accessTokens.find(hashes[0]!))?.revokedAt, null);
    await a.services.accessTokens.revoke(hashes[0]!, 13);
    assert.equal((await b.services.accessTokens.find(hashes[0]!))?.revokedAt, 13);
    assert.deepEqual(a.watch.peerIds, [b.watch.id]);
    assert.ok(a.watch.live && b.watch.live);
  });
});

/** A listener that joins as a peer (hello) and then does nothing: it never acks. */
async function fakePeer(db: FreshDatabase): Promise<{ id: string; client: pg.Client }> {
  const c = new pg.Client({ connectionString: db.url });
  c.on('error', () => undefined);
  await c.connect();
  const tag = (await c.query<{ tag: string }>('select left(md5(current_schema()), 16) as tag')).rows[0]!.tag;
  const id = randomBytes(8).toString('hex');
  await c.query(`listen "latchkey_peers_${tag}"; set application_name = 'latchkey-listen:${tag}:${id}'`);
  await c.query('select pg_notify($1, $2)', [`latchkey_peers_${tag}`, `hello ${id}`]);
  return { id, client: c };
}
