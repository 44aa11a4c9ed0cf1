// `npm run bench`: Latchkey's hot paths under load, side by side with node-oidc-provider and a
// bare node:http ceiling, each server its own process and the load generator another one.
// See bench/README.md for what is measured and how; `npm run bench -- --help` for the flags.
//
// Exit code: 0 whenever the harness worked, whatever the numbers (targets print PASS/MISS
// and an operation whose endpoint is missing prints n/a); 1 only when the harness itself is
// broken (the peer, the ceiling or the load generator fails, or a bug here); 2 for bad flags.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { LoadResult } from './load/jobs.js';
import { parseBenchArgs, USAGE, type BenchOptions } from './lib/args.js';
import { closeAgent } from './lib/http.js';
import { CliError, buildLatchkey, existingBuild, type Build, createFixtures, freshDatabase, serveLatchkey, startLatchkey, type DatabaseSpec, type LatchkeyInstance } from './lib/latchkey.js';
import { startCeiling, startPeer } from './lib/peer.js';
import { HarnessError, LoadGenerator, ProcSampler, quiesce, transpile, type ProcUsage, type StartedServer } from './lib/proc.js';
import { judge, median, summarize, unavailable, type RunRecord, type Summary } from './lib/stats.js';
import { OP_TITLES, PASSWORD_CONNECTIONS, ServerBehaviour, Unavailable, toLoadJob, type JobShape, type OAuthTarget, type OpName } from './lib/targets.js';
import { dropSchemas, fillPostgres, fillSqlite } from './lib/growth.js';
import { machineInfo, writeReport, type BenchReport } from './lib/report.js';
import { profileOperation } from './lib/profile.js';
import { acquireBenchLock } from './lib/lock.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** One server taking part in an operation's rounds. */
interface Participant {
  key: string;
  server: StartedServer;
  /** Builds the job for one run; `count` single-use values are needed. */
  shape(count: number): Promise<JobShape>;
  /** Reusable shapes (no single-use values) are built once. */
  reusable: boolean;
  /** Latchkey's failures are results (n/a); anyone else's break the harness. */
  underTest: boolean;
  /** Called after every run with the shape it used (takes back harvested refresh tokens). */
  afterRun?(shape: JobShape): void;
}

interface Context {
  o: BenchOptions;
  lg: LoadGenerator;
  tmpDir: string;
  records: RunRecord[];
  summaries: Summary[];
}

/** Requests a second assumed before a server's first warm-up, to size its first pool. */
const FIRST_GUESS = 3000;
const MAX_POOL = 300_000;
/**
 * Pools hold this much more than the estimated rate needs. A run whose pool still runs dry
 * before 70% of its time is redone with a larger one; later is fine (the rate is ok/elapsed).
 */
const POOL_MARGIN = 1.2;

/** Errors that mean "the server under test could not do this", not "the bench is broken". */
function isServerSide(err: unknown): boolean {
  return err instanceof Unavailable || err instanceof ServerBehaviour || err instanceof CliError
    || (err instanceof Error && /ECONNREFUSED|ECONNRESET|socket hang up|timeout/.test(err.message));
}

function describe(err: unknown): string {
  if (err instanceof Unavailable) return err.message;
  return err instanceof Error ? err.message.split('\n')[0] ?? String(err) : String(err);
}

async function measure(ctx: Context, p: Participant, shape: JobShape, label: string, seconds: number): Promise<{ result: LoadResult; usage: ProcUsage }> {
  const job = toLoadJob(shape, label, p.server.origin, ctx.o.connections, seconds * 1000);
  await quiesce(p.server.pid);
  const sampler = new ProcSampler(p.server.pid);
  try {
    const [result] = (await ctx.lg.run([job])) as [LoadResult];
    return { result, usage: sampler.stop() };
  } catch (err) {
    sampler.stop();
    throw err;
  } finally {
    p.afterRun?.(shape);
  }
}

/**
 * Runs one operation on every participant, interleaved (A, B, C, A, B, C …), a warm-up first
 * for each, and records a summary per participant.
 */
async function runRounds(ctx: Context, op: string, participants: Participant[], opts: { title: string } = { title: op }): Promise<Map<string, Summary>> {
  const { o } = ctx;
  const out = new Map<string, Summary>();
  const estimate = new Map<string, number>();
  const cached = new Map<string, JobShape>();
  const failed = new Map<string, Summary>();
  const runs = new Map<string, RunRecord[]>();

  const shapeFor = async (p: Participant, seconds: number): Promise<JobShape> => {
    const hit = cached.get(p.key);
    if (hit) return hit;
    const rate = estimate.get(p.key) ?? FIRST_GUESS;
    const count = Math.min(MAX_POOL, Math.ceil(rate * seconds * POOL_MARGIN) + o.connections);
    const t0 = performance.now();
    const shape = await p.shape(count);
    const took = (performance.now() - t0) / 1000;
    if (took > 2) log(`  ${p.key}: prepared ${count} for ${op} in ${took.toFixed(1)} s`);
    if (p.reusable) cached.set(p.key, shape);
    return shape;
  };

  for (let round = 1; round <= o.runs; round++) {
    for (const p of participants) {
      if (failed.has(p.key)) continue;
      try {
        if (round === 1) {
          const w = await measure(ctx, p, await shapeFor(p, o.warmup), `${p.key}:${op}:warmup`, o.warmup);
          if (w.result.ok > 0) estimate.set(p.key, w.result.rate);
        }
        let { result, usage } = await measure(ctx, p, await shapeFor(p, o.duration), `${p.key}:${op}:${round}`, o.duration);
        if (result.poolExhausted && result.elapsedMs < o.duration * 700 && result.ok > 0) {
          // The pool was sized on a low estimate and ran dry early: size it again and redo the run.
          estimate.set(p.key, Math.max(result.rate, estimate.get(p.key) ?? 0) * 1.3);
          ({ result, usage } = await measure(ctx, p, await shapeFor(p, o.duration), `${p.key}:${op}:${round}`, o.duration));
        }
        const verdict = judge(result);
        const record: RunRecord = { participant: p.key, op, round, result, usage, valid: verdict.valid, ...(verdict.problem ? { problem: verdict.problem } : {}) };
        ctx.records.push(record);
        runs.set(p.key, [...(runs.get(p.key) ?? []), record]);
        if (result.ok > 0) estimate.set(p.key, Math.max(result.rate, estimate.get(p.key) ?? 0));
        log(`  ${opts.title} · ${p.key} · run ${round}: ${result.rate.toFixed(0)}/s p50 ${result.p50.toFixed(2)} ms p99 ${result.p99.toFixed(2)} ms, server CPU ${usage.cpuPercent.toFixed(0)}%${verdict.valid ? '' : ` — INVALID: ${verdict.problem ?? ''}`}${result.poolExhausted ? ' (pool ran out early)' : ''}`);
      } catch (err) {
        if (!p.underTest || !isServerSide(err)) throw err;
        if (p.server.child.exitCode !== null || p.server.child.signalCode !== null) {
          failed.set(p.key, unavailable(p.key, op, `server exited (${p.server.child.exitCode ?? p.server.child.signalCode ?? '?'}); see ${p.server.logFile}`, 'failed'));
        } else {
          failed.set(p.key, unavailable(p.key, op, describe(err), err instanceof Unavailable ? 'n/a' : 'failed'));
        }
        log(`  ${opts.title} · ${p.key}: ${failed.get(p.key)?.reason ?? ''}`);
      }
    }
  }
  for (const p of participants) {
    const s = failed.get(p.key) ?? summarize(p.key, op, runs.get(p.key) ?? []);
    out.set(p.key, s);
    ctx.summaries.push(s);
  }
  return out;
}

function targetParticipant(key: string, target: OAuthTarget, op: OpName, underTest: boolean): Participant {
  return {
    key,
    server: target.o.server,
    shape: (count) => target.job(op, count),
    reusable: ['client_credentials', 'user_opaque', 'user_jwt', 'userinfo_openid', 'introspect', 'flow', 'password'].includes(op),
    underTest,
    afterRun: (shape) => {
      target.collectHarvest(shape);
    },
  };
}

/** The ceiling's two request shapes: a GET with a bearer token, a POST with a form body. */
function ceilingParticipant(server: StartedServer, tmpDir: string, kind: 'get' | 'post'): Participant {
  const file = join(tmpDir, `ceiling-${kind}.txt`);
  writeFileSync(file, Array.from({ length: 2000 }, () => randomBytes(32).toString('base64url')).join('\n'));
  const shape: JobShape = kind === 'get'
    ? { mode: 'cycle', request: { method: 'GET', path: '/api/user', headers: { authorization: 'Bearer {v}' } }, valuesFile: file }
    : {
      mode: 'cycle',
      request: { method: 'POST', path: '/oauth/token', headers: { authorization: `Basic ${Buffer.from('client-id-0123456789:secret-0123456789abcdef').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token={v}' },
      valuesFile: file,
    };
  return { key: `ceiling-${kind}`, server, shape: async () => shape, reusable: true, underTest: false };
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    const msg = (err as Error).message;
    if (msg) process.stderr.write(`bench: ${msg}\n`);
    process.stderr.write(`${USAGE}\n`);
    return msg ? 2 : 0;
  }

  const release = await acquireBenchLock(log);
  const started = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const tmpDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const cacheDir = join(ROOT, 'node_modules', '.cache', 'latchkey-bench', String(process.pid));
  const servers: StartedServer[] = [];
  // Interrupted (Ctrl-C, CI timeout): stop the servers and give the lock back before leaving.
  const onSignal = (signal: NodeJS.Signals) => {
    for (const s of servers) s.child.kill('SIGKILL');
    release();
    process.stderr.write(`bench: interrupted (${signal})\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const schemas: string[] = [];
  let lg: LoadGenerator | undefined;
  try {
    log(`scratch directory ${tmpDir}`);
    const workerFile = transpile(join(ROOT, 'bench', 'load', 'worker.ts'), cacheDir, 'worker.mjs');
    const peerFile = transpile(join(ROOT, 'bench', 'servers', 'peer.ts'), cacheDir, 'peer.mjs');
    const ceilingFile = transpile(join(ROOT, 'bench', 'servers', 'ceiling.ts'), cacheDir, 'ceiling.mjs');
    // The commit and whether src/ differs from it, read now: it is what gets built.
    const machine = await machineInfo(ROOT);
    let build: Build;
    if (o.dist !== undefined || o.useDist) {
      build = existingBuild(resolve(o.dist ?? join(ROOT, 'dist')));
    } else {
      log('building Latchkey (a private copy of dist/, bundled as npm run build does) …');
      build = await buildLatchkey(ROOT, join(cacheDir, 'dist'));
    }
    // What production runs (bin/latchkey.js → the bundle).
    const main = build.bundle;
    const newDb = (name: string): DatabaseSpec => {
      const db = freshDatabase(o.databaseUrl, tmpDir, name);
      if (db.schema) schemas.push(db.schema);
      return db;
    };

    if (o.profile) {
      // Unbundled, so that the profile's frames name our source files; the code is the same.
      const inst = await startLatchkey({ name: 'latchkey', main: build.main, db: newDb('profile'), tmpDir, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(tmpDir, 'profile')}`] });
      servers.push(inst.server);
      lg = new LoadGenerator(workerFile);
      const report = await profileOperation({ o, lg, inst, tmpDir, op: o.profile, root: ROOT });
      process.stdout.write(report);
      return 0;
    }

    // ---- start-up ------------------------------------------------------------------------
    const startup: BenchReport['startup'] = {};
    if (o.sections.includes('startup')) {
      // Cold starts: an empty database each time, so the migrations run before /readyz
      // answers. The median of three (one start is at the mercy of the machine's other work).
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const cold = await serveLatchkey({ name: `latchkey-cold-${i}`, main, db: newDb(`cold${i}`), tmpDir });
        times.push(cold.startMs);
        await cold.stop();
      }
      startup.coldMs = median(times);
      startup.coldRunsMs = times;
      log(`start → /readyz on an empty database: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
    }

    log('starting the servers …');
    const ceiling = await startCeiling(ceilingFile, tmpDir);
    servers.push(ceiling);
    let peer = await startPeer(peerFile, tmpDir);
    servers.push(peer.server);
    let peerUsed = false;
    const needMain = o.ops.some((op) => op !== 'user_jwt') || o.sections.includes('argon2');
    let ours: LatchkeyInstance | undefined;
    let oursError: string | undefined;
    try {
      if (needMain) {
        ours = await startLatchkey({ name: 'latchkey', main, db: newDb('main'), tmpDir });
        servers.push(ours.server);
        startup.warmMs = ours.server.startMs;
      }
    } catch (err) {
      if (!(err instanceof CliError || err instanceof HarnessError)) throw err;
      oursError = describe(err);
      log(`Latchkey did not start: ${oursError}`);
    }
    let compare: LatchkeyInstance | undefined;
    // The same entry point production runs: the bundle when the build has one.
    const compareMain = o.compare !== undefined ? existingBuild(resolve(o.compare)).bundle : undefined;
    if (compareMain && needMain) {
      compare = await startLatchkey({ name: 'compare', main: compareMain, db: newDb('compare'), tmpDir });
      servers.push(compare.server);
    }
    // --workers N: the same build as `serve --workers N`, measured beside the one-process server.
    let workers: LatchkeyInstance | undefined;
    if (o.workers !== undefined && needMain) {
      workers = await startLatchkey({ name: `latchkey-${o.workers}-workers`, main, db: newDb('workers'), tmpDir, workers: o.workers });
      servers.push(workers.server);
    }
    // --beside-sqlite: the same build on a fresh SQLite file, measured in the same rounds.
    let sqlite: LatchkeyInstance | undefined;
    if (o.besideSqlite && needMain) {
      sqlite = await startLatchkey({ name: 'latchkey-sqlite', main, db: freshDatabase(undefined, tmpDir, 'beside-sqlite'), tmpDir });
      servers.push(sqlite.server);
    }
    startup.peerMs = peer.server.startMs;
    startup.ceilingMs = ceiling.startMs;

    lg = new LoadGenerator(workerFile);
    const ctx: Context = { o, lg, tmpDir, records: [], summaries: [] };
    const ceilGet = ceilingParticipant(ceiling, tmpDir, 'get');
    const ceilPost = ceilingParticipant(ceiling, tmpDir, 'post');

    // ---- the operations ------------------------------------------------------------------
    for (const op of o.ops) {
      log(`${OP_TITLES[op]} …`);
      const participants: Participant[] = [];
      let latchkey: OAuthTarget | undefined = ours?.target;
      let other: OAuthTarget | undefined = compare?.target;
      let several: OAuthTarget | undefined = workers?.target;
      let onSqlite: OAuthTarget | undefined = sqlite?.target;
      let jwtError: string | undefined;
      if (op === 'user_jwt') {
        const configFile = join(tmpDir, 'jwt.json');
        writeFileSync(configFile, JSON.stringify({ access_token_format: 'jwt' }));
        try {
          const jwt = await startLatchkey({ name: 'latchkey-jwt', main, db: newDb('jwt'), tmpDir, configFile });
          servers.push(jwt.server);
          latchkey = jwt.target;
        } catch (err) {
          if (!(err instanceof CliError || err instanceof HarnessError)) throw err;
          latchkey = undefined;
          jwtError = describe(err);
        }
        if (compareMain) {
          const jwt = await startLatchkey({ name: 'compare-jwt', main: compareMain, db: newDb('compare-jwt'), tmpDir, configFile });
          servers.push(jwt.server);
          other = jwt.target;
        }
        if (o.workers !== undefined) {
          const jwt = await startLatchkey({ name: `latchkey-jwt-${o.workers}-workers`, main, db: newDb('workers-jwt'), tmpDir, configFile, workers: o.workers });
          servers.push(jwt.server);
          several = jwt.target;
        }
        if (o.besideSqlite) {
          const jwt = await startLatchkey({ name: 'latchkey-jwt-sqlite', main, db: freshDatabase(undefined, tmpDir, 'beside-sqlite-jwt'), tmpDir, configFile });
          servers.push(jwt.server);
          onSqlite = jwt.target;
        }
      }
      if (latchkey) participants.push(targetParticipant('latchkey', latchkey, op, true));
      else ctx.summaries.push(unavailable('latchkey', op, jwtError ?? oursError ?? 'server not started', 'failed'));
      if (other) participants.push(targetParticipant('compare', other, op, true));
      if (several) participants.push(targetParticipant('workers', several, op, true));
      if (onSqlite) participants.push(targetParticipant('sqlite', onSqlite, op, true));
      if (op !== 'user_jwt' && op !== 'password') {
        // A fresh peer for every operation: its in-memory store keeps every token it ever
        // issued, and a heap of hundreds of megabytes would slow its later operations (GC).
        if (peerUsed) {
          await peer.server.stop();
          peer = await startPeer(peerFile, tmpDir);
          servers.push(peer.server);
        }
        peerUsed = true;
        participants.push(targetParticipant('peer', peer.target, op, false));
      }
      if (op === 'user_opaque' || op === 'user_jwt') participants.push(ceilGet);
      if (op === 'client_credentials' || op === 'introspect') participants.push(ceilPost);
      await runRounds(ctx, op, participants, { title: OP_TITLES[op] });
    }

    // ---- growth: the same figures with a full database -----------------------------------
    let growth: BenchReport['growth'];
    if (o.sections.includes('growth')) {
      log(`growth: ${o.growthGrants.toLocaleString('en')} grants (an access and a refresh token each) …`);
      try {
        const emptyDb = newDb('growth-empty');
        const bigDb = newDb('growth-big');
        const fixtures = await createFixtures(main, bigDb.url);
        let fillSeconds: number;
        const progress = (done: number) => {
          if (done % 200_000 === 0 || done === o.growthGrants) log(`  inserted ${done.toLocaleString('en')} grants`);
        };
        if (bigDb.file) fillSeconds = fillSqlite(bigDb.file, { clientPublicId: fixtures.clientId, userId: fixtures.userId }, o.growthGrants, progress);
        else fillSeconds = await fillPostgres(o.databaseUrl ?? '', bigDb.schema ?? '', { clientPublicId: fixtures.clientId, userId: fixtures.userId }, o.growthGrants, progress);
        log(`  filled in ${fillSeconds.toFixed(1)} s`);
        const empty = await startLatchkey({ name: 'latchkey-empty', main, db: emptyDb, tmpDir });
        servers.push(empty.server);
        const big = await startLatchkey({ name: 'latchkey-full', main, db: bigDb, tmpDir, fixtures });
        servers.push(big.server);
        growth = { grants: o.growthGrants, liveTokens: o.growthGrants * 2, fillSeconds, fullStartMs: big.server.startMs, ops: {} };
        for (const op of ['refresh', 'user_opaque'] as const) {
          const res = await runRounds(ctx, `growth:${op}`, [
            targetParticipant('latchkey-empty', empty.target, op, true),
            targetParticipant('latchkey-full', big.target, op, true),
          ], { title: `${OP_TITLES[op]} (growth)` });
          const e = res.get('latchkey-empty');
          const f = res.get('latchkey-full');
          growth.ops[op] = { empty: e?.rate ?? NaN, full: f?.rate ?? NaN, ratio: (f?.rate ?? NaN) / (e?.rate ?? NaN), emptyP99: e?.p99 ?? NaN, fullP99: f?.p99 ?? NaN, ...(f?.status !== 'ok' ? { reason: f?.reason ?? e?.reason ?? '' } : {}) };
        }
        await empty.server.stop();
        await big.server.stop();
        if (bigDb.file) rmSync(bigDb.file, { force: true });
      } catch (err) {
        if (!isServerSide(err) && !(err instanceof HarnessError)) throw err;
        log(`growth: ${describe(err)}`);
        growth = { grants: o.growthGrants, liveTokens: o.growthGrants * 2, fillSeconds: NaN, fullStartMs: NaN, ops: {}, reason: describe(err) };
      }
    }

    // ---- argon2 off the event loop: /api/user p99 alone and beside password grants --------
    let argon2: BenchReport['argon2'];
    if (o.sections.includes('argon2')) {
      log('argon2: /api/user p99 alone and with password grants alongside …');
      argon2 = await argon2Check(ctx, ours?.target, oursError);
    }

    const report: BenchReport = {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      options: { ...(o.compare ? { compare: o.compare } : {}), ...(o.workers ? { workers: o.workers } : {}), ...(o.besideSqlite ? { besideSqlite: true } : {}), quick: o.quick, database: o.databaseUrl ? 'postgresql' : 'sqlite', connections: o.connections, durationSeconds: o.duration, runs: o.runs, warmupSeconds: o.warmup, ops: o.ops, sections: o.sections },
      machine: { ...machine, loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 } },
      summaries: ctx.summaries,
      runs: ctx.records.map((r) => ({
        participant: r.participant, op: r.op, round: r.round, valid: r.valid, ...(r.problem ? { problem: r.problem } : {}),
        rate: r.result.rate, ok: r.result.ok, non2xx: r.result.non2xx, errors: r.result.errors, statuses: r.result.statuses,
        p50: r.result.p50, p90: r.result.p90, p99: r.result.p99, max: r.result.max, elapsedMs: r.result.elapsedMs, poolExhausted: r.result.poolExhausted,
        serverCpuPercent: r.usage.cpuPercent, serverCpuSeconds: r.usage.cpuSeconds, serverPeakRssMb: r.usage.peakRssBytes / 1048576, serverPeakAnonMb: r.usage.peakAnonBytes / 1048576, loadgenCpuPercent: r.result.loadgenCpuPercent,
      })),
      startup,
      ...(growth ? { growth } : {}),
      ...(argon2 ? { argon2 } : {}),
    };
    const resultsDir = join(ROOT, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    process.stdout.write(writeReport(report, resultsDir));
    return 0;
  } finally {
    lg?.close();
    for (const s of servers.reverse()) await s.stop().catch(() => undefined);
    closeAgent();
    if (o.databaseUrl && schemas.length > 0) await dropSchemas(o.databaseUrl, schemas).catch((err: Error) => log(`could not drop schemas ${schemas.join(', ')}: ${err.message}`));
    rmSync(cacheDir, { recursive: true, force: true });
    if (!o.profile) rmSync(tmpDir, { recursive: true, force: true });
    release();
  }
}

async function argon2Check(ctx: Context, target: OAuthTarget | undefined, notStarted: string | undefined): Promise<BenchReport['argon2']> {
  const { o, lg } = ctx;
  const rate = o.argon2Rate;
  if (!target) return { rate, aloneP99: NaN, withPasswordP99: NaN, ratio: NaN, passwordRate: NaN, reason: notStarted ?? 'Latchkey did not start' };
  let user: JobShape;
  let password: JobShape;
  try {
    user = await target.job('user_opaque', 2000);
    password = await target.job('password', 0);
  } catch (err) {
    if (!isServerSide(err)) throw err;
    return { rate, aloneP99: NaN, withPasswordP99: NaN, ratio: NaN, passwordRate: NaN, reason: describe(err) };
  }
  const origin = target.o.server.origin;
  const alone: number[] = [];
  const together: number[] = [];
  const pwRates: number[] = [];
  const problems: string[] = [];
  // Warm up both paths first (JIT, the argon2 thread pool).
  await lg.run([toLoadJob(user, 'argon2:warmup', origin, 10, o.warmup * 1000, rate), toLoadJob(password, 'argon2:warmup-pw', origin, 4, o.warmup * 1000)]);
  const pid = target.o.server.pid;
  for (let round = 1; round <= o.runs; round++) {
    await quiesce(pid);
    const [a] = await lg.run([toLoadJob(user, `argon2:alone:${round}`, origin, 10, o.duration * 1000, rate)]) as [LoadResult];
    await quiesce(pid);
    const [b, pw] = await lg.run([
      toLoadJob(user, `argon2:with:${round}`, origin, 10, o.duration * 1000, rate),
      toLoadJob(password, `argon2:password:${round}`, origin, PASSWORD_CONNECTIONS, o.duration * 1000),
    ]) as [LoadResult, LoadResult];
    for (const r of [a, b, pw]) {
      const v = judge(r);
      if (!v.valid) problems.push(`${r.label}: ${v.problem ?? ''}`);
    }
    alone.push(a.p99);
    together.push(b.p99);
    pwRates.push(pw.rate);
    log(`  run ${round}: /api/user p99 alone ${a.p99.toFixed(2)} ms, with password grants ${b.p99.toFixed(2)} ms (password grants ${pw.rate.toFixed(0)}/s, p99 ${pw.p99.toFixed(0)} ms)`);
  }
  const aloneP99 = median(alone);
  const withPasswordP99 = median(together);
  return {
    rate, aloneP99, withPasswordP99, ratio: withPasswordP99 / aloneP99, passwordRate: median(pwRates),
    ...(problems.length > 0 ? { reason: problems.join('; ') } : {}),
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: the harness failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
