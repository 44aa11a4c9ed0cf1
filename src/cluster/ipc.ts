// Calls between the processes of `serve --workers N` over node:cluster's IPC channel: a worker
// asks the primary (a shared counter, a rate-limit window, the summed metrics) and the primary
// asks a worker (its own metrics). One Endpoint on each end of a channel; either end may call
// and answer.
//
// Everything a process sends in one turn of its event loop goes out as one message (the calls
// of every request read in that turn, the answers to every call received in it): at thousands
// of requests a second, a message per call would be a write and a read of the pipe each.

/**
 * How long a stop waits for requests under way before closing regardless (each process's
 * drain, src/http/drain.ts); the primary gives its workers this long and a margin.
 */
export const DRAIN_MS = 10_000;

/** A call: its number (for the answer), the method, its arguments (JSON-serialisable). */
type Call = [id: number, method: string, args: unknown[]];
/** An answer: the call's number, whether it succeeded, its value or the error's message. */
type Reply = [id: number, ok: boolean, value: unknown];

/** What goes over the channel: a marker that tells our messages from anyone else's, then a batch. */
interface Envelope {
  latchkey: 1;
  calls?: Call[];
  replies?: Reply[];
}

/** An answer to a call, given the call's arguments; may be a promise. */
export type Handler = (args: readonly unknown[]) => unknown;

/** What the rest of the server sees of the other end. */
export interface Link {
  /** Calls `method` on the other end; rejects when it throws, when the channel closes, or after the timeout. */
  call<T>(method: string, ...args: unknown[]): Promise<T>;
  /** Answers calls of `method` from the other end. */
  handle(method: string, handler: Handler): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(reason: Error): void;
  /** When the call was made (ms), for the timeout. */
  at: number;
}

/** How a channel sends: `process.send` in a worker, `worker.send` in the primary. */
export type Send = (message: Envelope, onError: (err: Error) => void) => void;

export function isEnvelope(message: unknown): message is Envelope {
  return typeof message === 'object' && message !== null && (message as { latchkey?: unknown }).latchkey === 1;
}

export class Endpoint implements Link {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private calls: Call[] = [];
  private replies: Reply[] = [];
  private scheduled = false;
  private closed: Error | undefined;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly send: Send,
    private readonly handlers: Map<string, Handler> = new Map(),
    /** A call unanswered this long is given up (the other end is stuck); the caller fails open. */
    private readonly timeoutMs = 5000,
  ) {
    this.watchdog = setInterval(() => this.expire(), Math.min(1000, timeoutMs));
    this.watchdog.unref();
  }

  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler);
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, at: Date.now() });
      this.calls.push([id, method, args]);
      this.schedule();
    });
  }

  /** Takes a message from the channel; false when it is not ours. */
  receive(message: unknown): boolean {
    if (!isEnvelope(message)) return false;
    for (const [id, ok, value] of message.replies ?? []) {
      const p = this.pending.get(id);
      if (!p) continue; // given up already
      this.pending.delete(id);
      if (ok) p.resolve(value);
      else p.reject(new Error(String(value)));
    }
    for (const [id, method, args] of message.calls ?? []) this.answer(id, method, args);
    return true;
  }

  /** The channel is gone: every call waiting fails, and later ones fail at once. */
  close(reason: Error): void {
    if (this.closed) return;
    this.closed = reason;
    clearInterval(this.watchdog);
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
    this.calls = [];
    this.replies = [];
  }

  private answer(id: number, method: string, args: unknown[]): void {
    const handler = this.handlers.get(method);
    const reply = (ok: boolean, value: unknown) => {
      if (this.closed) return;
      this.replies.push([id, ok, value]);
      this.schedule();
    };
    if (!handler) return reply(false, `no handler for ${method}`);
    try {
      const value = handler(args);
      if (value instanceof Promise) value.then((v: unknown) => reply(true, v), (err: unknown) => reply(false, (err as Error)?.message ?? String(err)));
      else reply(true, value);
    } catch (err) {
      reply(false, (err as Error)?.message ?? String(err));
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate: after the event loop has handed every readable socket its data, so the
    // calls of every request of this turn (and the answers resolved in it) share one message.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed || (this.calls.length === 0 && this.replies.length === 0)) return;
    const envelope: Envelope = { latchkey: 1 };
    const calls = this.calls;
    if (calls.length > 0) envelope.calls = calls;
    if (this.replies.length > 0) envelope.replies = this.replies;
    this.calls = [];
    this.replies = [];
    const failed = (err: Error) => {
      for (const [id] of calls) {
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.reject(err);
      }
    };
    try {
      this.send(envelope, failed);
    } catch (err) {
      failed(err as Error);
    }
  }

  private expire(): void {
    if (this.pending.size === 0) return;
    const limit = Date.now() - this.timeoutMs;
    for (const [id, p] of this.pending) {
      // The map is in the order calls were made: the first one still in time ends the search.
      if (p.at > limit) break;
      this.pending.delete(id);
      p.reject(new Error(`no answer from the other process within ${this.timeoutMs} ms`));
    }
  }
}
