// The PostgreSQL store alone, without HTTP: token works (a refresh's consume, revocation and two
// inserts, or a client-credentials grant and its token) through the transaction runner the
// server uses, from a number of callers in a closed loop. Prints works a second, this process's
// CPU per work, and the CPU per work of the PostgreSQL backends serving it (and the WAL writer),
// read from /proc: PostgreSQL on this machine only. docs/PERFORMANCE.md's rows on the
// PostgreSQL machinery were measured with it, alternating builds run by run.
//
//   node --import tsx bench/pg-works.ts [--database-url URL] [--works 3000] [--concurrency 10] [--op refresh|client_credentials]
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';

process.env.LATCHKEY_DEV_CHECKS ??= '0';
const { values } = parseArgs({ options: { 'database-url': { type: 'string' }, works: { type: 'string' }, concurrency: { type: 'string' }, op: { type: 'string' } } });
const APPLICATION = 'latchkey-pg-works';
const base = new URL(values['database-url'] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
// Our backends are told apart from the rest of the server's by their application_name.
base.searchParams.set('application_name', APPLICATION);
process.env.TEST_DATABASE_URL = base.toString();
const N = Number(values.works ?? 3000);
const C = Number(values.concurrency ?? 10);
const op = values.op ?? 'refresh';
if (op !== 'refresh' && op !== 'client_credentials') throw new Error('--op is refresh or client_credentials');

const { openTestStore } = await import('../test/helpers/store.js');
const { registerClient } = await import('../src/accounts/client-registration.js');
const { createUser } = await import('../src/accounts/users.js');
const { nowSeconds } = await import('../src/oauth/clock.js');
const { sha256Hex } = await import('../src/oauth/crypto.js');
const { transactionRunner } = await import('../src/store/transaction.js');

const hash = () => sha256Hex(randomBytes(16).toString('hex'));
const t = await openTestStore('postgres');
try {
  const user = await createUser(t.services, { email: 'works@example.com', name: 'Works', password: 'a long password' });
  const { client } = await registerClient(t.services, { name: 'works', redirectUris: ['https://app.example/cb'], ownerUserId: user.id });
  const now = nowSeconds(t.clock);
  const run = transactionRunner(t.services.store);
  const token = (grantId: number, userId: number | null) => ({ tokenHash: hash(), jti: null, grantId, clientId: client.id, userId, organizationId: null, scope: 'profile', createdAt: now, expiresAt: now + 3600 });
  // N live refresh tokens, each with its access token.
  const refreshTokens: string[] = [];
  for (let i = 0; i < N; i += 200) {
    await run(async (tx) => {
      for (let j = 0; j < 200 && i + j < N; j += 1) {
        const grantId = await tx.grants.insert({ clientId: client.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
        const access = token(grantId, user.id);
        await tx.accessTokens.insert(access);
        const refresh = { ...token(grantId, user.id), expiresAt: null, accessTokenHash: access.tokenHash };
        await tx.refreshTokens.insert(refresh);
        refreshTokens.push(refresh.tokenHash);
      }
    });
  }
  const work = (presented: string) => run(async (tx) => {
    if (op === 'client_credentials') {
      const grantId = await tx.grants.insert({ clientId: client.id, userId: null, organizationId: null, scope: 'profile', grantType: 'client_credentials', now });
      await tx.accessTokens.insert(token(grantId, null));
      return;
    }
    const old = await tx.refreshTokens.consume(presented, client.id, now, null);
    if (!old) throw new Error('a refresh token was not consumed');
    if (old.accessTokenHash !== null) await tx.accessTokens.revoke(old.accessTokenHash, now);
    const access = token(old.grantId, old.userId);
    await tx.accessTokens.insert(access);
    await tx.refreshTokens.insert({ ...token(old.grantId, old.userId), expiresAt: null, accessTokenHash: access.tokenHash });
  });
  let next = 0;
  const loop = async (list: string[]) => {
    next = 0;
    await Promise.all(Array.from({ length: C }, async () => {
      while (next < list.length) await work(list[next++]!);
    }));
  };
  // A tenth warms up (the pool's connections, prepared statements), the rest is measured.
  const warm = refreshTokens.splice(0, Math.floor(N / 10));
  await loop(warm);
  const pids = (await sql<{ pid: number }>`select pid from pg_stat_activity where application_name = ${APPLICATION} or backend_type = 'walwriter'`.execute(t.services.store.db)).rows.map((r) => r.pid);
  /** utime + stime of those processes, in clock ticks (/proc/PID/stat fields 14 and 15). */
  const ticks = () => pids.reduce((sum, pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return sum + Number(fields[11]) + Number(fields[12]);
    } catch {
      return sum;
    }
  }, 0);
  const ticks0 = ticks();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await loop(refreshTokens);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const n = refreshTokens.length;
  // A clock tick is 10 ms (getconf CLK_TCK = 100).
  const backends = ((ticks() - ticks0) * 10_000) / n;
  process.stdout.write(`${op}: ${n} works, ${C} at once: ${(n / seconds).toFixed(0)}/s; this process ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU a work `
    + `(system ${(cpu.system / n).toFixed(1)}); PostgreSQL ${backends.toFixed(1)} µs a work over ${pids.length} processes\n`);
} finally {
  await t.close();
}
