// Real Latchkey processes for the scale-out and crash tests: `node bin/latchkey.js serve` from
// the built dist/ (built here when src/ is newer), each on a free port, its log lines kept.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
// What bin/latchkey.js runs: tsc's dist/ bundled into one file (scripts/bundle.mjs).
const MAIN = join(ROOT, 'dist', 'latchkey.mjs');
const BIN = join(ROOT, 'bin', 'latchkey.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ (scripts/build.mjs, as `npm run build`: tsc, then the bundle) when any src/
 * file is newer than dist/latchkey.mjs (`npm test` builds first, so this is for running a
 * hardening test on its own). Test files run in parallel: a lock directory keeps to one build
 * at a time.
 */
export function ensureBuilt(): void {
  const stale = () => !existsSync(MAIN) || newestMtime(join(ROOT, 'src')) > statSync(MAIN).mtimeMs;
  if (!stale()) return;
  const lock = join(ROOT, 'dist.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a run that died mid-build is stale after two minutes.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmdirSync(lock);
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`waited too long for ${lock}`);
      spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 250)']);
    }
  }
  try {
    if (!stale()) return;
    const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    if (stale()) throw new Error(`npm run build failed:\n${result.stdout}${result.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `latchkey ARGS` (asynchronously: a synchronous spawn would stall the test's own server). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  ensureBuilt();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...cleanEnv(), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['PORT', 'HOST', 'DATABASE_URL', 'LATCHKEY_ISSUER', 'LATCHKEY_PROFILE', 'LATCHKEY_CONFIG', 'LATCHKEY_WORKERS', 'REDIS_URL', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[k];
  return env;
}

export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: string[];
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (kill -9) and wait for the exit. */
  kill9(): Promise<void>;
}

/** A port nothing listens on right now (the kernel's pick, released again). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts `latchkey serve` on a free port with `env`; resolves once /readyz answers 200 (and,
 * with `untilLogged`, once a log line has that `event`: `server.started`, which the primary of
 * `--workers N` writes when every worker listens).
 */
export async function startServerProcess(env: Record<string, string>, options: { timeoutMs?: number; untilLogged?: string } = {}): Promise<ServerProcess> {
  ensureBuilt();
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: ROOT,
    env: { ...cleanEnv(), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let stderr = '';
  let buffered = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) => child.once('exit', (code) => {
    exitCode = code;
    r();
  }));
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line !== '') logs.push(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`latchkey serve exited with ${exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`latchkey serve did not answer /readyz in time; stderr: ${stderr}`);
    }
    try {
      const logged = options.untilLogged === undefined || logs.some((l) => l.includes(`"event":"${options.untilLogged}"`));
      if (logged && (await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid ?? -1,
    child,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
