// Child processes: the servers under test and the load generator. A server's CPU time and
// resident memory are read from /proc (Linux), so what is measured is the server alone —
// its process and the processes it started (the workers of `serve --workers N`) — never the
// load generator or this orchestrator.
import { spawn, fork, execFileSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import ts from 'typescript';
import type { LoadJob, LoadResult, WorkerReply } from '../load/jobs.js';
import { request } from './http.js';

export class HarnessError extends Error {
  override name = 'HarnessError';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Compiles one self-contained TypeScript file (type imports only) to an .mjs next to node_modules. */
export function transpile(source: string, outDir: string, name: string): string {
  mkdirSync(outDir, { recursive: true });
  const out = ts.transpileModule(readFileSync(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    fileName: source,
  });
  const file = join(outDir, name);
  writeFileSync(file, out.outputText);
  return file;
}

export interface StartedServer {
  name: string;
  pid: number;
  origin: string;
  port: number;
  /** Milliseconds from spawn to the first good answer of the readiness URL. */
  startMs: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  port: number;
  readyPath: string;
  logFile: string;
  timeoutMs?: number;
}

export async function startServer(o: StartOptions): Promise<StartedServer> {
  const fd = openSync(o.logFile, 'a');
  const t0 = performance.now();
  const child = spawn(o.command, o.args, { env: { ...process.env, ...o.env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
  });
  const origin = `http://127.0.0.1:${o.port}`;
  const deadline = t0 + (o.timeoutMs ?? 30_000);
  let startMs = -1;
  while (performance.now() < deadline) {
    if (exited !== undefined) break;
    try {
      const r = await request(`${origin}${o.readyPath}`, { timeoutMs: 1000 });
      if (r.status >= 200 && r.status < 500) {
        startMs = performance.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  if (startMs < 0) {
    child.kill('SIGKILL');
    const log = readFileSync(o.logFile, 'utf8').split('\n').slice(-15).join('\n');
    throw new HarnessError(`${o.name} did not become ready (${exited !== undefined ? `exited with ${String(exited)}` : 'timeout'}); log tail:\n${log}`);
  }
  const pid = child.pid ?? -1;
  return {
    name: o.name, pid, origin, port: o.port, startMs, child, logFile: o.logFile,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}

// ---- /proc sampling ----------------------------------------------------------------------

let clkTck = 0;
function ticksPerSecond(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** utime + stime of a process, in seconds (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

/** The direct children of a process (its threads' children lists; empty when it is gone). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') out.push(Number(c));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * A server's processes: `pid` and everything it started (a `serve --workers N` primary and its
 * workers; one process otherwise: the checkpointer and the thread pool are threads).
 */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]!));
  return all;
}

/** CPU seconds of `pids`, summed. */
function treeCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, p) => sum + cpuSeconds(p), 0);
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  return memory(pid).rss;
}

/**
 * Resident memory: all of it (VmRSS, what the target is judged on), and the anonymous part
 * (heap, stacks, native allocations — without file-backed pages such as the binary or an
 * mmap'ed database, which the kernel can drop and re-read).
 */
export function memory(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

/**
 * Waits until a process is idle (under 15% of a core over 200 ms, at most `maxMs`), so that
 * work left over from the previous run (requests still queued when it was stopped, a WAL
 * checkpoint) does not land in the next one.
 */
export async function quiesce(pid: number, maxMs = 5000): Promise<void> {
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    const pids = processTree(pid);
    const c0 = treeCpuSeconds(pids);
    await sleep(200);
    if ((treeCpuSeconds(pids) - c0) / 0.2 < 0.15) return;
  }
}

export interface ProcUsage {
  /** CPU used over the window, in percent of one core (can exceed 100: GC and thread-pool threads, workers). */
  cpuPercent: number;
  cpuSeconds: number;
  peakRssBytes: number;
  peakAnonBytes: number;
}

/**
 * Samples a server's RSS every 100 ms and its CPU time at both ends of a window, summed over
 * its processes (processTree, read when the window opens).
 */
export class ProcSampler {
  private readonly pids: number[];
  private readonly cpu0: number;
  private readonly t0 = performance.now();
  private peak = 0;
  private peakAnon = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number) {
    this.pids = processTree(pid);
    this.cpu0 = treeCpuSeconds(this.pids);
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sample(): void {
    let rss = 0;
    let anon = 0;
    for (const pid of this.pids) {
      try {
        const m = memory(pid);
        rss += m.rss;
        anon += m.anon;
      } catch {
        // the process is gone; the caller will find out
      }
    }
    this.peak = Math.max(this.peak, rss);
    this.peakAnon = Math.max(this.peakAnon, anon);
  }

  stop(): ProcUsage {
    clearInterval(this.timer);
    this.sample();
    const seconds = treeCpuSeconds(this.pids) - this.cpu0;
    const wall = (performance.now() - this.t0) / 1000;
    return { cpuPercent: (seconds / wall) * 100, cpuSeconds: seconds, peakRssBytes: this.peak, peakAnonBytes: this.peakAnon };
  }
}

// ---- the load generator -------------------------------------------------------------------

export class LoadGenerator {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: LoadResult[]): void; reject(e: Error): void }>();

  constructor(workerFile: string) {
    this.child = fork(workerFile, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    this.child.on('message', (raw: unknown) => {
      const msg = raw as WorkerReply;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.results) p.resolve(msg.results);
      else p.reject(new HarnessError(`load generator: ${msg.error ?? 'no result'}`));
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new HarnessError(`load generator exited (${String(code)})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  run(jobs: LoadJob[]): Promise<LoadResult[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, jobs });
    });
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}
