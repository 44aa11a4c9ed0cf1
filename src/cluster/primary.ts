// The primary of `latchkey serve --workers N` (node:cluster). It never serves HTTP: the
// database is migrated before it forks (cli/serve.ts), so workers never race a migration; it
// forks N workers that share the listening port (connections handed out in turn), restarts
// one that dies (after a back-off that doubles while it keeps dying young, so a crash loop
// does not spin), keeps what the workers must share without Redis — the brute-force counters
// (shared-counters.ts) and the rate-limit windows (rate-windows.ts) — and sums their metrics
// (metrics.ts). On SIGTERM/SIGINT it tells every worker to drain and waits for them.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { MemoryCounters } from '../accounts/backoff.js';
import { DRAIN_MS, Endpoint, type Handler } from './ipc.js';
import { METRICS_COLLECT, METRICS_SUM, sumMetrics, type MetricsJson } from './metrics.js';
import { RATE_INCR, RateWindows } from './rate-windows.js';
import { counterHandlers } from './shared-counters.js';

/** The environment variable that tells a worker its slot (0 … N-1); slot 0 runs the purge timer. */
export const WORKER_SLOT_ENV = 'LATCHKEY_WORKER_SLOT';

/** Messages about a worker's life, apart from the calls of ipc.ts. */
export type ControlMessage =
  /** Worker → primary: start-up failed; the one line to print. */
  | { latchkeyControl: 'failed'; message: string }
  /** Primary → worker: drain and exit. */
  | { latchkeyControl: 'shutdown' };

export function isControl(message: unknown): message is ControlMessage {
  return typeof message === 'object' && message !== null && typeof (message as { latchkeyControl?: unknown }).latchkeyControl === 'string';
}

/** A worker that lived this long restarts at once when it dies; one that dies younger waits. */
export const STABLE_MS = 30_000;
/** The first wait before restarting a worker that died young; doubled for each further young death. */
export const FIRST_RESTART_DELAY_MS = 250;
export const MAX_RESTART_DELAY_MS = 30_000;
/** How long a shutdown waits for the workers (their drain, then closing) before killing them. */
const SHUTDOWN_GRACE_MS = DRAIN_MS + 5000;
/** How long a metrics sum waits for the workers' figures. */
const METRICS_WAIT_MS = 3000;

/** The wait before restarting a worker of a slot after `youngDeaths` deaths in a row before STABLE_MS. */
export function restartDelay(youngDeaths: number): number {
  if (youngDeaths <= 0) return 0;
  return Math.min(MAX_RESTART_DELAY_MS, FIRST_RESTART_DELAY_MS * 2 ** Math.min(youngDeaths - 1, 20));
}

/** Why a worker's endpoint closed: it is gone, so its figures are left out of a metrics sum. */
class WorkerGone extends Error {
  override name = 'WorkerGone';
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  endpoint: Endpoint | undefined;
  /** Listening (its app built): asked for metrics. */
  ready: boolean;
  startedAt: number;
  youngDeaths: number;
  restart: NodeJS.Timeout | undefined;
}

export class Primary {
  private readonly slots: Slot[];
  private readonly handlers = new Map<string, Handler>();
  private readonly registry = new Registry();
  private readonly restarts: Counter<'reason'>;
  private stopping: Promise<void> | undefined;
  /** While start() waits: how it learns of a worker's failure or of every worker listening. */
  private starting: { resolve(): void; reject(err: Error): void } | undefined;
  private address: { address: string; port: number } | undefined;

  constructor(private readonly workers: number, private readonly logger: Logger) {
    this.slots = Array.from({ length: workers }, (_, index) => ({ index, worker: undefined, endpoint: undefined, ready: false, startedAt: 0, youngDeaths: 0, restart: undefined }));
    for (const [method, handler] of counterHandlers(new MemoryCounters())) this.handlers.set(method, handler);
    const windows = new RateWindows();
    this.handlers.set(RATE_INCR, ([key, windowMs]) => windows.incr(key as string, windowMs as number));
    this.handlers.set(METRICS_SUM, () => this.sumMetrics());
    collectDefaultMetrics({ register: this.registry });
    this.restarts = new Counter({ name: 'latchkey_worker_restarts_total', help: 'Workers of serve --workers restarted after they died', labelNames: ['reason'], registers: [this.registry] });
  }

  /** The address the workers listen on (known once start() has resolved). */
  get url(): string {
    const a = this.address;
    if (!a) return '';
    return `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /**
   * Forks every worker and resolves when all listen. When one fails to start (it reports the
   * one line why) or exits before it listens, the others are stopped and this rejects with
   * that line: a bad start is the operator's to fix, not a crash loop to retry.
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.starting = { resolve, reject };
      for (const slot of this.slots) this.fork(slot);
    });
  }

  private fork(slot: Slot): void {
    slot.restart = undefined;
    slot.ready = false;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.index) });
    slot.worker = worker;
    const endpoint = new Endpoint((message, onError) => {
      worker.send(message, (err: Error | null) => {
        if (err) onError(err);
      });
    }, this.handlers);
    slot.endpoint = endpoint;
    let failure: string | undefined;
    worker.on('message', (message: unknown) => {
      if (isControl(message)) {
        if (message.latchkeyControl === 'failed') failure = message.message;
        return;
      }
      endpoint.receive(message);
    });
    worker.on('error', () => undefined); // a send to a worker that just died: its exit tells the rest
    worker.once('listening', (address: { address: string; port: number }) => {
      slot.ready = true;
      this.address ??= { address: address.address, port: address.port };
      this.logger.info({ event: 'worker.listening', worker: slot.index, worker_pid: worker.process.pid }, 'worker listening');
      if (this.starting && this.slots.every((s) => s.ready)) {
        this.starting.resolve();
        this.starting = undefined;
      }
    });
    worker.once('exit', (code: number | null, signal: string | null) => {
      endpoint.close(new WorkerGone(`worker ${slot.index} exited`));
      if (slot.worker === worker) {
        slot.worker = undefined;
        slot.endpoint = undefined;
        slot.ready = false;
      }
      if (this.stopping) return;
      const why = failure ?? `worker ${slot.index} exited (${signal ?? `code ${code}`}) before it listened`;
      if (this.starting) {
        this.starting.reject(new Error(why));
        this.starting = undefined;
        return;
      }
      const lived = Date.now() - slot.startedAt;
      slot.youngDeaths = lived >= STABLE_MS ? 0 : slot.youngDeaths + 1;
      const delay = restartDelay(slot.youngDeaths);
      this.restarts.inc({ reason: failure !== undefined ? 'start_failed' : signal !== null ? 'signal' : 'exit' });
      this.logger.error({
        event: 'worker.exited', worker: slot.index, worker_pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: delay,
        ...(failure !== undefined ? { error: failure } : {}),
      }, 'a worker exited; starting another');
      slot.restart = setTimeout(() => {
        if (!this.stopping) this.fork(slot);
      }, delay);
    });
  }

  /**
   * Every process's metrics summed: each listening worker's (a worker that exits meanwhile is
   * left out: its figures are gone with it) and the primary's own process metrics.
   */
  private async sumMetrics(): Promise<string> {
    const asked = this.slots.filter((s) => s.ready && s.endpoint !== undefined).map((s) => s.endpoint!);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`a worker did not report its metrics within ${METRICS_WAIT_MS} ms`)), METRICS_WAIT_MS);
    });
    try {
      const lists = await Promise.race([
        Promise.all(asked.map((e) => e.call<MetricsJson>(METRICS_COLLECT).catch((err: unknown) => {
          if (err instanceof WorkerGone) return null;
          throw err;
        }))),
        timeout,
      ]);
      const own = (await this.registry.getMetricsAsJSON()) as MetricsJson;
      return await sumMetrics([...lists.filter((l): l is MetricsJson => l !== null), own]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Tells every worker to drain (finish what it is answering, close its connections) and exit,
   * and resolves once all have; a worker still there after the grace period is killed.
   * `abort` (a failed start): SIGTERM instead, which ends a worker still starting at once.
   */
  stop(options: { abort?: boolean } = {}): Promise<void> {
    this.stopping ??= (async () => {
      for (const slot of this.slots) clearTimeout(slot.restart);
      const live = this.slots.map((s) => s.worker).filter((w): w is Worker => w !== undefined && w.process.exitCode === null && w.process.signalCode === null);
      const exited = live.map((w) => new Promise<void>((resolve) => {
        if (w.process.exitCode !== null || w.process.signalCode !== null) resolve();
        else w.once('exit', () => resolve());
      }));
      const shutdown: ControlMessage = { latchkeyControl: 'shutdown' };
      for (const w of live) {
        if (options.abort) w.process.kill('SIGTERM');
        else w.send(shutdown); // a worker whose channel just closed is exiting anyway (its 'error' is ignored)
      }
      const grace = setTimeout(() => {
        for (const w of live) if (w.process.exitCode === null && w.process.signalCode === null) {
          this.logger.warn({ event: 'worker.killed', worker_pid: w.process.pid }, 'a worker did not stop in time; killed');
          w.process.kill('SIGKILL');
        }
      }, SHUTDOWN_GRACE_MS);
      await Promise.all(exited);
      clearTimeout(grace);
    })();
    return this.stopping;
  }
}
