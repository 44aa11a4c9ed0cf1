// The per-address request counts of the coarse rate limits (http/plugins/rate-limit.ts) when
// they live in the primary of `serve --workers N`: every worker's count of an address goes to
// one place, so a limit of 100 a minute is 100 across all workers, not 100 each. The same
// windows as @fastify/rate-limit's own in-process store: a window opens at an address's first
// request and lasts `windowMs`; the count within it is answered with the time left.

import { BoundedMap } from '../bounded-map.js';

/** The primary's method (cluster/primary.ts) that counts one request: RateWindows.incr. */
export const RATE_INCR = 'rate.incr';

/** Addresses remembered per limit, the least recently counted forgotten first (as in-process). */
export const ADDRESSES_PER_LIMIT = 10_000;

interface Window {
  count: number;
  startMs: number;
}

export class RateWindows {
  /** One map per limit, so a flood counted under one cannot push another's addresses out. */
  private readonly limits = new Map<string, BoundedMap<string, Window>>();

  constructor(private readonly capacity = ADDRESSES_PER_LIMIT) {}

  /**
   * Counts one request under `key` ("limit:address", as rate-limit.ts builds it: the limit is
   * what comes before the first colon) and returns the count in the window and the
   * milliseconds it has left.
   */
  incr(key: string, windowMs: number, nowMs = Date.now()): { current: number; ttl: number } {
    const colon = key.indexOf(':');
    const limit = colon === -1 ? '' : key.slice(0, colon);
    let windows = this.limits.get(limit);
    if (windows === undefined) {
      windows = new BoundedMap(this.capacity);
      this.limits.set(limit, windows);
    }
    let window = windows.get(key);
    if (window === undefined || window.startMs + windowMs <= nowMs) window = { count: 0, startMs: nowMs };
    window.count++;
    windows.set(key, window);
    return { current: window.count, ttl: window.startMs + windowMs - nowMs };
  }
}
