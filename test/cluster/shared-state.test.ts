// What the workers of `serve --workers N` share through the primary, tested in one process:
// the call channel (src/cluster/ipc.ts) wired end to end through a JSON round trip as the
// cluster's IPC does, the brute-force counters forwarded to one MemoryCounters
// (shared-counters.ts), the rate-limit windows (rate-windows.ts), and the restart back-off.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT_FLIGHT_LIMIT, BruteForceGuard, MemoryCounters, type BackoffPolicy } from '../../src/accounts/backoff.js';
import { Endpoint, type Handler } from '../../src/cluster/ipc.js';
import { FIRST_RESTART_DELAY_MS, MAX_RESTART_DELAY_MS, restartDelay } from '../../src/cluster/primary.js';
import { RateWindows } from '../../src/cluster/rate-windows.js';
import { SharedCounters, counterHandlers } from '../../src/cluster/shared-counters.js';
import { MovableClock } from '../../src/oauth/clock.js';

/** A worker's endpoint and the primary's endpoint for it, joined as node:cluster joins them (JSON, asynchronously). */
function channel(handlers: Map<string, Handler>, counts = { messages: 0 }): { worker: Endpoint; primary: Endpoint } {
  const across = (to: () => Endpoint) => (message: unknown) => {
    counts.messages++;
    const copy: unknown = JSON.parse(JSON.stringify(message));
    setImmediate(() => to().receive(copy));
  };
  const ends: { worker?: Endpoint; primary?: Endpoint } = {};
  ends.worker = new Endpoint(across(() => ends.primary!));
  ends.primary = new Endpoint(across(() => ends.worker!), handlers);
  return { worker: ends.worker, primary: ends.primary };
}

function primaryHandlers(): Map<string, Handler> {
  return new Map(counterHandlers(new MemoryCounters()));
}

describe('the call channel', () => {
  test('every call of one turn goes out as one message, and so do the answers', async () => {
    const counts = { messages: 0 };
    const handlers = new Map<string, Handler>([['double', ([n]) => Number(n) * 2]]);
    const { worker } = channel(handlers, counts);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => worker.call<number>('double', i)));
    assert.deepEqual(answers, Array.from({ length: 100 }, (_, i) => i * 2));
    assert.equal(counts.messages, 2, 'one message of 100 calls, one of 100 answers');
  });

  test('a handler that throws or rejects, or a method nobody handles, fails that call alone', async () => {
    const handlers = new Map<string, Handler>([
      ['throws', () => { throw new Error('thrown'); }],
      ['rejects', () => Promise.reject(new Error('rejected'))],
      ['fine', () => 'ok'],
    ]);
    const { worker } = channel(handlers);
    const [a, b, c, d] = await Promise.allSettled([worker.call('throws'), worker.call('rejects'), worker.call('nobody'), worker.call('fine')]);
    assert.equal(a.status === 'rejected' && (a.reason as Error).message, 'thrown');
    assert.equal(b.status === 'rejected' && (b.reason as Error).message, 'rejected');
    assert.equal(c.status === 'rejected' && (c.reason as Error).message, 'no handler for nobody');
    assert.deepEqual(d, { status: 'fulfilled', value: 'ok' });
  });

  test('a closed channel fails the calls waiting and every later one; a send that fails fails its calls', async () => {
    const { worker } = channel(new Map([['never', () => new Promise(() => undefined)]]));
    const waiting = worker.call('never');
    await new Promise((r) => setTimeout(r, 20));
    worker.close(new Error('the primary is gone'));
    await assert.rejects(waiting, /the primary is gone/);
    await assert.rejects(worker.call('never'), /the primary is gone/);
    const broken = new Endpoint((_message, onError) => onError(new Error('EPIPE')));
    await assert.rejects(broken.call('anything'), /EPIPE/);
    const throwing = new Endpoint(() => {
      throw new Error('channel closed');
    });
    await assert.rejects(throwing.call('anything'), /channel closed/);
  });

  test('a call the other end never answers is given up after the timeout (the caller then fails open)', async () => {
    const silent = new Endpoint(() => undefined, new Map(), 150);
    const started = Date.now();
    // The endpoint's own timer never holds a process open (a server's sockets do): hold it here.
    const hold = setInterval(() => undefined, 1000);
    try {
      await assert.rejects(silent.call('anything'), /no answer from the other process within 150 ms/);
    } finally {
      clearInterval(hold);
    }
    assert.ok(Date.now() - started < 2000);
  });

  test('messages that are not ours are left alone', () => {
    const { worker } = channel(new Map());
    assert.equal(worker.receive({ cmd: 'NODE_CLUSTER' }), false);
    assert.equal(worker.receive('text'), false);
    assert.equal(worker.receive(null), false);
    assert.equal(worker.receive({ latchkey: 1, replies: [[12345, true, 'for a call long given up']] }), true);
  });
});

describe('brute-force counters kept in the primary', () => {
  const policy: BackoffPolicy = { threshold: 5, baseSeconds: 60, maxSeconds: 300, forgetAfterSeconds: 3600 };

  test('50 attempts at once from two workers: exactly the threshold allowed, as in one process', async () => {
    const handlers = primaryHandlers();
    const a = new SharedCounters(channel(handlers).worker);
    const b = new SharedCounters(channel(handlers).worker);
    const now = Date.now();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).attempt('bf:test', policy, now)));
    assert.equal(results.filter((r) => r.allowed).length, policy.threshold);
    const [state, missing] = await b.get(['bf:test', 'bf:nothing'], now);
    assert.equal(state?.failures, policy.threshold);
    assert.equal(missing, undefined, 'a missing state comes back undefined, not null');
  });

  test('password attempts for one account from two workers at once: no more in flight than the limit, and settling frees them', async () => {
    const handlers = primaryHandlers();
    const clock = new MovableClock();
    const guards = [new BruteForceGuard(new SharedCounters(channel(handlers).worker), clock), new BruteForceGuard(new SharedCounters(channel(handlers).worker), clock)];
    const reservations = await Promise.all(Array.from({ length: 20 }, (_, i) => guards[i % 2]!.reservePassword('victim@example.com', '192.0.2.7')));
    const granted = reservations.filter((r) => r.granted);
    assert.equal(granted.length, ACCOUNT_FLIGHT_LIMIT);
    for (const r of granted) if (r.granted) await r.ticket.cancelled();
    const again = await guards[1]!.reservePassword('victim@example.com', '192.0.2.7');
    assert.equal(again.granted, true, 'the settled tickets left the flight');
  });

  test('a worker closing its counters leaves the primary\'s counts alone', async () => {
    const handlers = primaryHandlers();
    const a = new SharedCounters(channel(handlers).worker);
    const now = Date.now();
    await a.fail('bf:kept', policy, now);
    await a.close();
    const [state] = await new SharedCounters(channel(handlers).worker).get(['bf:kept'], now);
    assert.equal(state?.failures, 1);
  });
});

describe('rate-limit windows kept in the primary', () => {
  test('a window opens at the first request and counts until it ends; each limit has its own addresses', () => {
    const windows = new RateWindows(3);
    assert.deepEqual(windows.incr('token:192.0.2.1', 60_000, 1000), { current: 1, ttl: 60_000 });
    assert.deepEqual(windows.incr('token:192.0.2.1', 60_000, 31_000), { current: 2, ttl: 30_000 });
    assert.deepEqual(windows.incr('token:192.0.2.1', 60_000, 61_000), { current: 1, ttl: 60_000 }, 'a new window');
    assert.deepEqual(windows.incr('login:192.0.2.1', 60_000, 61_000), { current: 1, ttl: 60_000 }, 'another limit, another count');
    // A flood of addresses under one limit forgets that limit's oldest, never another limit's.
    for (let i = 0; i < 10; i++) windows.incr(`token:198.51.100.${i}`, 60_000, 62_000);
    assert.deepEqual(windows.incr('login:192.0.2.1', 60_000, 62_000), { current: 2, ttl: 59_000 });
    assert.deepEqual(windows.incr('token:192.0.2.1', 60_000, 62_000), { current: 1, ttl: 60_000 }, 'forgotten: at most 3 per limit here');
  });
});

describe('restarting a worker that died', () => {
  test('at once after a long life; after a wait that doubles while it keeps dying young, up to a cap', () => {
    assert.equal(restartDelay(0), 0);
    assert.equal(restartDelay(1), FIRST_RESTART_DELAY_MS);
    assert.equal(restartDelay(2), 2 * FIRST_RESTART_DELAY_MS);
    assert.equal(restartDelay(3), 4 * FIRST_RESTART_DELAY_MS);
    assert.equal(restartDelay(50), MAX_RESTART_DELAY_MS);
    assert.equal(restartDelay(10_000), MAX_RESTART_DELAY_MS);
  });
});
