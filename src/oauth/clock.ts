// Time is injected (DESIGN.md): expiry logic asks a Clock, so tests move time instead of sleeping.

export interface Clock {
  /** Epoch milliseconds. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock tests can move: starts at real time plus `offsetMs`. */
export class MovableClock implements Clock {
  offsetMs = 0;
  private frozenAtMs: number | undefined;
  nowMs(): number {
    return (this.frozenAtMs ?? Date.now()) + this.offsetMs;
  }
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
  /**
   * Stops following real time: from now on only advance() moves the clock. A test that checks
   * an expiry to the second (valid at ttl - 1, expired at ttl) needs it, or a second of real
   * time ticking over between two requests makes the check flaky.
   */
  freeze(): void {
    this.frozenAtMs ??= Date.now();
  }
}

/** Epoch seconds, the unit of every stored time. */
export function nowSeconds(clock: Clock): number {
  return Math.floor(clock.nowMs() / 1000);
}
