// The brute-force counters (accounts/backoff.ts) of `serve --workers N` without Redis: one
// MemoryCounters in the primary, and in each worker a FailureCounters that forwards every
// operation to it over the cluster channel (ipc.ts). Each MemoryCounters operation runs as one
// step of the primary's event loop, so it stays atomic across workers: a reservation counted
// by one worker is seen by the next operation from any other.
import type {
  BackoffPolicy, FailureCounters, FailureState, PasswordKeys, ReservationResult, ReservationSpec, SettleSpec,
} from '../accounts/backoff.js';
import type { Handler, Link } from './ipc.js';

/** The operations forwarded (FailureCounters without close: a worker closing leaves the counts alone). */
const OPERATIONS = ['fail', 'get', 'mark', 'attempt', 'reserve', 'settle'] as const;
type Operation = (typeof OPERATIONS)[number];
const method = (op: Operation) => `counters.${op}`;

/** A worker's counters: each operation runs in the primary. */
export class SharedCounters implements FailureCounters {
  constructor(private readonly link: Link) {}

  fail(key: string, policy: BackoffPolicy, nowMs: number): Promise<FailureState> {
    return this.link.call(method('fail'), key, policy, nowMs);
  }

  get(keys: readonly string[], nowMs: number): Promise<Array<FailureState | undefined>> {
    // JSON turns a missing state inside an array into null: back to undefined.
    return this.link.call<Array<FailureState | null>>(method('get'), keys, nowMs).then((states) => states.map((s) => s ?? undefined));
  }

  mark(key: string, ttlSeconds: number, nowMs: number): Promise<void> {
    return this.link.call(method('mark'), key, ttlSeconds, nowMs);
  }

  attempt(key: string, policy: BackoffPolicy, nowMs: number): Promise<{ allowed: boolean; state: FailureState }> {
    return this.link.call(method('attempt'), key, policy, nowMs);
  }

  reserve(keys: PasswordKeys, spec: ReservationSpec, nowMs: number): Promise<ReservationResult> {
    return this.link.call(method('reserve'), keys, spec, nowMs);
  }

  settle(keys: PasswordKeys, spec: SettleSpec, nowMs: number): Promise<void> {
    return this.link.call(method('settle'), keys, spec, nowMs);
  }

  async close(): Promise<void> {
    // The counts belong to the primary and outlive this worker.
  }
}

/** The primary's side: answers the workers' operations from `counters`. */
export function counterHandlers(counters: FailureCounters): Array<[string, Handler]> {
  return OPERATIONS.map((op) => {
    // Each operation takes its arguments in the order SharedCounters sends them.
    const run = counters[op].bind(counters) as (...args: readonly unknown[]) => Promise<unknown>;
    return [method(op), (args) => run(...args)];
  });
}
