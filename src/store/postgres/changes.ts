// Knowing when rows kept in memory may be out of date, on PostgreSQL, where other servers, the
// command line and an operator's psql write to the same tables.
//
// The signal: migration 009's statement triggers NOTIFY on `latchkey_changes_<tag>` with the
// table's name whenever a transaction that updated, deleted or truncated rows of a table that
// rows are kept from commits, whoever the writer. A connection of its own (not from the pool)
// LISTENs and moves that table's version; KeptRows (kept-rows.ts) drops what it kept from it.
// Our own writes move the version before their statement's answer arrives (own-writes.ts).
//
// Nothing is trusted unless heard, and only for a while: the listener sends itself an `echo`
// every leaseMs/4; hearing it back proves that everything committed before it was sent has been
// heard (notifications arrive in commit order), and kept rows are trusted until leaseMs after
// that send. While the listener is down, joining, or behind (a blocked event loop, a connection
// that silently stopped delivering, a table without the trigger), version() is undefined: every
// lookup reads the database, nothing is kept, and the version returned afterwards is a new one.
//
// The ordering: NOTIFY is delivered asynchronously, so on its own a revocation answered by
// server A could still be answered from server B's kept rows a moment later. So a server that
// committed a change to a kept table answers only once no other server can still answer from
// rows that change made stale (settle):
//   - it sends `sync <its id> <n>` on the schema's peer channel after the commit. Every peer
//     hears the change before the sync (commit order), moves its versions as it hears it, and
//     answers `ack <writer> <n> <its id>`; the writer waits for the ack of every peer it knows.
//   - peers are the listeners of the same schema, named `latchkey-listen:<tag>:<id>` in
//     pg_stat_activity. A new one says `hello`; every live one answers `welcome`, and the
//     newcomer trusts nothing until all have (or until its own join times out, by which time
//     every live peer has heard its hello). `bye` on a clean close.
//   - the wait is bounded: 1.1 leases after the commit, no peer that missed the change can
//     still trust what it kept (its last echo was sent before the commit), so the writer answers
//     then in any case, and logs the peers that stayed silent. One whose listener is gone, or
//     present but silent (then its connection is terminated, so that it must join again), is
//     forgotten a further 1.1 leases later: a crashed server costs the others' next writes
//     about a second, once.
//   - the writer answers early (on acks) only while its own lease holds: a writer that is
//     behind may not yet have heard a newcomer's hello.
// Only commits that change kept tables pay: token issuance (inserts) never waits, and a server
// alone on its schema (no peers) waits for nobody.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type PgModule from 'pg';
import type { ChangeWatch, Table } from '../kept-rows.js';

export interface WatchTiming {
  /** How long hearing an echo lets kept rows be trusted; writers wait at most 1.1 of it for acks. */
  leaseMs: number;
  /** How often deadlines are checked. */
  tickMs: number;
  /** The longest pause between attempts to connect the listener again. */
  reconnectMaxMs: number;
}

export const DEFAULT_TIMING: WatchTiming = {
  leaseMs: 1000,
  tickMs: 25,
  reconnectMaxMs: 2000,
};

/** Margin for clocks that run at slightly different rates, and for the lease's rounding. */
const LEASE_MARGIN = 1.1;

/** What the watch reports that an operator should see (the ordering could not be confirmed, the listener lost). */
export type WatchWarning = (event: string, details: Record<string, unknown>) => void;

export interface PgChangeWatchOptions {
  /** pg's Client class (db.ts loads pg only for PostgreSQL URLs). */
  Client: typeof PgModule.Client;
  /** How to connect: the pool's settings (URL, search_path). */
  connection: PgModule.ClientConfig;
  warn?: WatchWarning;
  timing?: Partial<WatchTiming>;
}

/** What the listener connection is doing. */
type Phase = 'connecting' | 'joining' | 'live' | 'down' | 'closed';

/** A writer waiting for the peers to drop what its commit made stale. */
interface Waiter {
  resolve(): void;
  /** 1.1 leases after its commit: no peer can trust a row its change made stale by then. */
  deadline: number;
  released: boolean;
}

/** One `sync` sent: the peers that must ack it, and the writers waiting for them. */
interface Sync {
  seq: number;
  expected: string[];
  waiters: Waiter[];
}

interface Peer {
  /** The highest of our syncs it has acked. */
  acked: number;
  /** When we found it gone or cut it off: forgotten 1.1 leases later. */
  goneSince: number | undefined;
}

const ID = /^[0-9a-f]{16}$/;
const SEQ = /^[1-9][0-9]{0,15}$/;
const NOTIFY = 'select pg_notify($1, $2)';
const NOTIFY_EACH = 'select pg_notify($1, payload) from unnest($2::text[]) as payload';
/** The schema's tag, and which of its tables carry migration 009's trigger (enabled). */
const WATCHED = `select left(md5(current_schema()), 16) as tag,
  array(select c.relname::text from pg_trigger t join pg_class c on c.oid = t.tgrelid
         where c.relnamespace = (select oid from pg_namespace where nspname = current_schema())
           and t.tgname = 'latchkey_changes' and t.tgenabled <> 'D') as tables`;

export class PgChangeWatch implements ChangeWatch {
  /** This process's name among its peers. */
  readonly id = randomBytes(8).toString('hex');
  private readonly timing: WatchTiming;
  private readonly warn: WatchWarning;
  private phase: Phase = 'connecting';
  /** Moves with every listener connection: callbacks of an older one are ignored. */
  private generation = 0;
  private listener: PgModule.Client | undefined;
  /** The listener's statements run one after another (pg would queue them too, but deprecates that). */
  private tail: Promise<unknown> = Promise.resolve();
  private channels: { changes: string; peers: string; appPrefix: string } | undefined;

  // ---- versions: every counter only grows, so a sum of them moves whenever one does
  private readonly changes = new Map<string, number>();
  /** The tables with the trigger: the only ones a version is given for. */
  private watched = new Set<string>();
  /** Moves whenever trust comes back after a gap: everything kept before is dropped. */
  private epoch = 0;
  /** Kept rows are trusted until then (performance.now()): leaseMs after the last echo heard was sent. */
  private trustedUntil = 0;
  private lapsed = true;

  // ---- the timer
  private readonly ticker: NodeJS.Timeout;
  private lastTick = performance.now();
  private nextEcho = 0;
  private echoesSent = 0;
  private reconnectDelay = 50;
  private reconnectTimer: NodeJS.Timeout | undefined;

  // ---- peers and the acks this process waits for
  private readonly peers = new Map<string, Peer>();
  private seq = 0;
  private readonly waiting: Waiter[] = [];
  private syncs: Sync[] = [];
  private sending = false;
  /** Echoes sent and not yet heard back, by number: when each was sent. */
  private readonly echoes = new Map<number, number>();
  /** A join under way: the welcomes heard, and the peers whose welcome it still waits for. */
  private joining: { welcomed: Set<string>; expected: Set<string>; deadline: number; done(): void } | undefined;
  /** Replies to send (welcome and ack), by receiver: one notify statement carries them all. */
  private readonly outbox = new Map<string, string>();
  private replying = false;

  constructor(private readonly options: PgChangeWatchOptions) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.warn = options.warn ?? (() => undefined);
    this.ticker = setInterval(() => this.tick(), this.timing.tickMs);
    this.ticker.unref();
    void this.connect();
  }

  version(tables: readonly Table[]): number | undefined {
    if (!this.trusted(performance.now())) return undefined;
    let sum = this.epoch;
    for (const table of tables) {
      if (!this.watched.has(table)) return undefined;
      sum += this.changes.get(table) ?? 0;
    }
    return sum;
  }

  /** A change to `table` committed (heard on the listener, or through our own pool connection). */
  changed(table: string): void {
    this.changes.set(table, (this.changes.get(table) ?? 0) + 1);
  }

  /**
   * Resolves once no other server can still answer from rows that a change committed before
   * this call made stale: every known peer has acked, or 1.1 leases have passed (logged).
   * At once when this server is alone on its schema.
   */
  settle(): Promise<void> {
    const now = performance.now();
    if (this.phase === 'closed') return Promise.resolve();
    if (this.peers.size === 0 && this.waiting.length === 0 && this.trusted(now)) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push({ resolve, deadline: now + LEASE_MARGIN * this.timing.leaseMs, released: false });
      this.sendSync();
    });
  }

  /** The peers known now (tests). */
  get peerIds(): string[] {
    return [...this.peers.keys()];
  }

  /** Whether kept rows are trusted now (tests). */
  get live(): boolean {
    return this.trusted(performance.now());
  }

  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    const was = this.phase;
    this.phase = 'closed';
    this.generation++;
    clearInterval(this.ticker);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const waiter of this.waiting.splice(0)) this.release(waiter);
    for (const sync of this.syncs) for (const waiter of sync.waiters) this.release(waiter);
    this.syncs = [];
    this.joining?.done();
    this.joining = undefined;
    const listener = this.listener;
    this.listener = undefined;
    if (listener === undefined) return;
    if ((was === 'live' || was === 'joining') && this.channels) {
      // Goodbye, so that no peer waits for our ack; bounded, the connection may be the problem.
      await withDeadline(this.run(listener, NOTIFY, [this.channels.peers, `bye ${this.id}`]), this.timing.leaseMs).catch(() => undefined);
    }
    await withDeadline(listener.end(), this.timing.leaseMs).catch(() => undefined);
  }

  private trusted(now: number): boolean {
    if (this.phase !== 'live') return false;
    if (now < this.trustedUntil) return true;
    this.lapsed = true;
    return false;
  }

  // ---- the listener connection ----------------------------------------------------------

  private async connect(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.phase === 'closed') return;
    const generation = ++this.generation;
    this.phase = 'connecting';
    const client = new this.options.Client({ ...this.options.connection, keepAlive: true });
    this.listener = client;
    this.tail = Promise.resolve();
    client.on('error', (err) => this.lost(generation, err.message));
    client.on('end', () => this.lost(generation, 'the connection closed'));
    client.on('notification', (message) => {
      if (generation === this.generation) this.heard(message);
    });
    try {
      await client.connect();
      const found = (await this.run<{ tag: string | null; tables: string[] }>(client, WATCHED)).rows[0];
      // No schema yet (the server is about to migrate): try again shortly.
      if (!found?.tag) throw new Error('the schema does not exist yet');
      const channels = {
        changes: `latchkey_changes_${found.tag}`,
        peers: `latchkey_peers_${found.tag}`,
        appPrefix: `latchkey-listen:${found.tag}:`,
      };
      this.channels = channels;
      // Our own notifies (sync, ack, welcome, echo) need no durable commit: a crash ends every
      // listener anyway. The application_name is set only once LISTEN has run: a listener seen
      // in pg_stat_activity hears a sync sent after.
      await this.run(client, `set synchronous_commit = off; listen "${channels.changes}"; listen "${channels.peers}"; set application_name = '${channels.appPrefix}${this.id}'`);
      if (generation !== this.generation) return;
      this.setWatched(found.tables);
      this.phase = 'joining';
      await this.join(client, channels, generation);
      if (generation !== this.generation) return;
      this.reconnectDelay = 50;
      this.phase = 'live';
      // Trusted once the first echo comes back.
      this.echo();
    } catch (err) {
      this.lost(generation, (err as Error).message);
    }
  }

  /** Says hello and waits (1.1 leases at most) for the welcome of every peer listening now. */
  private async join(client: PgModule.Client, channels: { peers: string; appPrefix: string }, generation: number): Promise<void> {
    const welcomed = new Promise<void>((resolve) => {
      this.joining = { welcomed: new Set(), expected: new Set(), deadline: Infinity, done: resolve };
    });
    const startedAt = performance.now();
    const { rows } = await this.run<{ names: string[] }>(client,
      `select pg_notify($1, $2), array(select application_name::text from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid() and starts_with(application_name, $3)) as names`,
      [channels.peers, `hello ${this.id}`, channels.appPrefix]);
    const joining = this.joining;
    if (generation !== this.generation || joining === undefined) return;
    const present = new Set((rows[0]?.names ?? []).map((name) => name.slice(channels.appPrefix.length)));
    // Gone before the snapshot was read, so trusting nothing 1.1 leases from now.
    const readAt = performance.now();
    for (const [id, peer] of this.peers) if (!present.has(id) && peer.goneSince === undefined) peer.goneSince = readAt;
    for (const id of present) {
      // A welcome may already have come in. Every listener seen waits for ours (even one that is
      // joining too: it must know us before it writes).
      if (ID.test(id) && !joining.welcomed.has(id)) joining.expected.add(id);
    }
    // By then every live peer has heard the hello (else its own lease has lapsed).
    joining.deadline = startedAt + LEASE_MARGIN * this.timing.leaseMs;
    if (joining.expected.size === 0) joining.done();
    await welcomed;
    this.joining = undefined;
  }

  /** The listener connection failed or was given up: trust nothing, connect again. */
  private lost(generation: number, reason: string): void {
    if (generation !== this.generation || this.phase === 'closed') return;
    const was = this.phase;
    this.generation++;
    this.phase = 'down';
    // Nothing heard through the old connection counts any more: trust starts again with the new one's first echo.
    this.trustedUntil = 0;
    this.lapsed = true;
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      listener.removeAllListeners('notification');
      listener.on('error', () => undefined);
      void listener.end().catch(() => undefined);
    }
    // Whoever waited for acks through this connection waits again through the next one (or
    // until its deadline).
    for (const sync of this.syncs) for (const waiter of sync.waiters) if (!waiter.released) this.waiting.push(waiter);
    this.syncs = [];
    this.sending = false;
    // The peers are kept: one whose listener died with ours may not know it yet (its socket may
    // be slow to say so) and trust what it kept until its lease ends. Forgetting it here would
    // let our next join, not seeing its listener, answer a change before that. Peers whose
    // listener is gone are forgotten 1.1 leases after we find it gone (join, lookAround).
    this.outbox.clear();
    this.replying = false;
    this.echoes.clear();
    this.joining?.done();
    this.joining = undefined;
    if (was === 'live') this.warn('store.listener_lost', { reason, detail: 'kept rows are not trusted until the listener is back' });
    this.reconnectTimer = setTimeout(() => void this.connect(), this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.timing.reconnectMaxMs);
  }

  private setWatched(tables: readonly string[]): void {
    const next = new Set(tables);
    const same = next.size === this.watched.size && [...next].every((t) => this.watched.has(t));
    if (same) return;
    this.watched = next;
    // A table just found watched had no version before; a new epoch keeps the sums from repeating.
    this.epoch++;
  }

  // ---- what the listener hears ------------------------------------------------------------

  private heard(message: PgModule.Notification): void {
    const channels = this.channels;
    if (channels === undefined) return;
    if (message.channel === channels.changes) {
      this.changed(message.payload ?? '');
      return;
    }
    if (message.channel !== channels.peers) return;
    // Anyone who may connect to the database may notify here: every field is checked.
    const [kind, a, b, c] = (message.payload ?? '').split(' ');
    if (kind === 'echo' && a === this.id && b !== undefined && SEQ.test(b)) {
      this.heardEcho(Number(b));
    } else if (kind === 'sync' && a !== undefined && ID.test(a) && a !== this.id && b !== undefined && SEQ.test(b)) {
      // Everything committed before the sync has been heard (and the versions moved): ack.
      this.reply(a, `ack ${a} ${b} ${this.id}`);
    } else if (kind === 'ack' && a === this.id && b !== undefined && SEQ.test(b) && c !== undefined && ID.test(c)) {
      const peer = this.peers.get(c);
      if (peer !== undefined && Number(b) > peer.acked) {
        peer.acked = Number(b);
        this.completeSyncs();
      }
    } else if (kind === 'hello' && a !== undefined && ID.test(a) && a !== this.id) {
      // A peer that says hello trusts nothing until we have welcomed it: it has, in effect,
      // acked every sync we sent before.
      this.peers.set(a, { acked: this.seq, goneSince: undefined });
      this.reply(a, `welcome ${a} ${this.id}`);
      this.completeSyncs();
    } else if (kind === 'welcome' && a === this.id && b !== undefined && ID.test(b)) {
      if (!this.peers.has(b)) this.peers.set(b, { acked: 0, goneSince: undefined });
      const joining = this.joining;
      if (joining) {
        joining.welcomed.add(b);
        joining.expected.delete(b);
        if (joining.expected.size === 0 && joining.deadline !== Infinity) joining.done();
      }
    } else if (kind === 'bye' && a !== undefined && ID.test(a)) {
      this.peers.delete(a);
      this.completeSyncs();
    }
  }

  /** Our echo came back: everything committed before it was sent has been heard. */
  private heardEcho(seq: number): void {
    const sentAt = this.echoes.get(seq);
    if (sentAt === undefined) return;
    for (const [n] of this.echoes) if (n <= seq) this.echoes.delete(n);
    if (this.phase !== 'live') return;
    const until = sentAt + this.timing.leaseMs;
    if (until <= this.trustedUntil) return;
    if (this.lapsed) {
      // Trust comes back after a gap: whatever was kept before is dropped.
      this.epoch++;
      this.lapsed = false;
    }
    this.trustedUntil = until;
    this.sendSync();
  }

  /** Queues a welcome or an ack to `to` (a later one replaces an earlier: acks are cumulative). */
  private reply(to: string, payload: string): void {
    const kind = payload.slice(0, payload.indexOf(' '));
    this.outbox.set(`${kind} ${to}`, payload);
    this.sendReplies();
  }

  private sendReplies(): void {
    const listener = this.listener;
    const channels = this.channels;
    if (this.replying || this.outbox.size === 0 || listener === undefined || channels === undefined) return;
    const payloads = [...this.outbox.values()];
    this.outbox.clear();
    this.replying = true;
    const generation = this.generation;
    this.run(listener, NOTIFY_EACH, [channels.peers, payloads]).catch(() => undefined).finally(() => {
      if (generation !== this.generation) return;
      this.replying = false;
      this.sendReplies();
    });
  }

  /** Sends `echo <our id> <n>` (the peers ignore it); heardEcho renews the lease when it comes back. */
  private echo(): void {
    const listener = this.listener;
    const channels = this.channels;
    if (listener === undefined || channels === undefined) return;
    const seq = ++this.seq;
    const now = performance.now();
    this.echoes.set(seq, now);
    this.nextEcho = now + this.timing.leaseMs / 4;
    this.run(listener, NOTIFY, [channels.peers, `echo ${this.id} ${seq}`]).catch(() => undefined);
  }

  // ---- waiting for the peers' acks ----------------------------------------------------------

  private sendSync(): void {
    if (this.sending || this.waiting.length === 0) return;
    // Only while our own lease holds do we know every peer (we have heard every recent hello).
    if (!this.trusted(performance.now())) return;
    const listener = this.listener;
    const channels = this.channels;
    if (listener === undefined || channels === undefined) return;
    const waiters = this.waiting.splice(0).filter((w) => !w.released);
    if (this.peers.size === 0) {
      for (const waiter of waiters) this.release(waiter);
      return;
    }
    const seq = ++this.seq;
    this.syncs.push({ seq, expected: [...this.peers.keys()], waiters });
    this.sending = true;
    const generation = this.generation;
    // A failure here is the connection's: lost() hands the waiters to the next one.
    this.run(listener, NOTIFY, [channels.peers, `sync ${this.id} ${seq}`]).catch(() => undefined).finally(() => {
      if (generation !== this.generation) return;
      this.sending = false;
      this.sendSync();
    });
  }

  /** Releases the writers of every sync that each expected peer has acked (or that has left). */
  private completeSyncs(): void {
    this.syncs = this.syncs.filter((sync) => {
      if (this.missing(sync).length > 0 && sync.waiters.some((w) => !w.released)) return true;
      for (const waiter of sync.waiters) this.release(waiter);
      return false;
    });
  }

  private missing(sync: Sync): string[] {
    return sync.expected.filter((id) => {
      const peer = this.peers.get(id);
      return peer !== undefined && peer.acked < sync.seq;
    });
  }

  private release(waiter: Waiter): void {
    if (waiter.released) return;
    waiter.released = true;
    waiter.resolve();
  }

  /**
   * Writers whose deadline has passed are answered: no peer can trust what their change made
   * stale any more. The peers that stayed silent are logged; one whose listener is gone, or
   * present but silent (its connection is then terminated, so that it must join again to
   * trust anything), is forgotten 1.1 leases later.
   */
  private timeOut(now: number): void {
    const silent = new Set<string>();
    let unsent = false;
    for (const waiter of this.waiting) {
      if (waiter.deadline <= now && !waiter.released) {
        unsent = true;
        this.release(waiter);
      }
    }
    if (unsent) {
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((w) => !w.released));
    }
    for (const sync of this.syncs) {
      if (!sync.waiters.some((w) => !w.released && w.deadline <= now)) continue;
      for (const id of this.missing(sync)) silent.add(id);
      for (const waiter of sync.waiters) if (waiter.deadline <= now) this.release(waiter);
    }
    this.completeSyncs();
    if (unsent) this.warn('store.peers_unconfirmed', { detail: 'a change was answered after the lease bound: the listener could not ask the peers', lease_ms: this.timing.leaseMs });
    // A writer that is behind itself cannot tell whether they answered: it judges no one.
    const fresh = this.trusted(now) ? [...silent].filter((id) => this.peers.get(id)?.goneSince === undefined) : [];
    if (fresh.length === 0) {
      if (silent.size > 0) this.warn('store.peers_unconfirmed', { peers: [...silent], detail: 'a change was answered after the lease bound', lease_ms: this.timing.leaseMs });
      return;
    }
    this.warn('store.peer_silent', { peers: fresh, lease_ms: this.timing.leaseMs, detail: 'a change was answered after the lease bound; their listener connections are terminated' });
    for (const id of fresh) {
      const peer = this.peers.get(id);
      if (peer) peer.goneSince = now;
    }
    const listener = this.listener;
    const channels = this.channels;
    if (listener && channels) {
      void this.run(listener, 'select pg_terminate_backend(pid) from pg_stat_activity where application_name = any($1::text[])',
        [fresh.map((id) => channels.appPrefix + id)]).catch(() => undefined);
    }
  }

  // ---- the timer: deadlines, echoes ---------------------------------------------------------

  private tick(): void {
    const now = performance.now();
    // After a gap (a blocked event loop) the socket has not been read yet: no echo counts as late this time.
    const gap = now - this.lastTick > this.timing.leaseMs / 2;
    this.lastTick = now;
    this.timeOut(now);
    for (const [id, peer] of this.peers) {
      if (peer.goneSince !== undefined && now >= peer.goneSince + LEASE_MARGIN * this.timing.leaseMs) this.peers.delete(id);
    }
    this.completeSyncs();
    const joining = this.joining;
    if (joining && joining.deadline <= now) {
      this.warn('store.peers_unconfirmed', { peers: [...joining.expected], detail: 'no welcome in time; joining anyway (they have heard the hello, or trust nothing)' });
      joining.done();
    }
    if (this.phase === 'live' && !gap) {
      // An echo not back within a lease: the connection has stopped delivering.
      for (const sentAt of this.echoes.values()) {
        if (now - sentAt > this.timing.leaseMs) {
          this.lost(this.generation, 'the listener did not hear its own notification in time');
          return;
        }
      }
      if (now >= this.nextEcho) {
        this.echo();
        // Which tables carry the trigger, which peers are still there: every few seconds (the
        // tables until one carries it).
        if (this.watched.size === 0 || ++this.echoesSent % 16 === 0) void this.lookAround();
      }
    }
  }

  /**
   * Which tables carry the trigger (a migration may have added it since we connected), and
   * which peers' listeners have gone (a crash): those are forgotten 1.1 leases from now, by when
   * they trust nothing they kept — so that a crashed server seldom holds up a write at all.
   */
  private async lookAround(): Promise<void> {
    const listener = this.listener;
    const channels = this.channels;
    if (listener === undefined || channels === undefined) return;
    const generation = this.generation;
    try {
      const found = (await this.run<{ tables: string[]; present: string[] }>(listener, `${WATCHED},
        array(select substr(application_name, length($1) + 1) from pg_stat_activity where starts_with(application_name, $1)) as present`,
      [channels.appPrefix])).rows[0];
      if (generation !== this.generation || found === undefined) return;
      this.setWatched(found.tables);
      const present = new Set(found.present);
      const now = performance.now();
      for (const [id, peer] of this.peers) if (!present.has(id) && peer.goneSince === undefined) peer.goneSince = now;
    } catch {
      // The connection's failure is handled by lost().
    }
  }

  /** Runs a statement on the listener connection once the ones before it have finished. */
  private run<R extends PgModule.QueryResultRow = PgModule.QueryResultRow>(listener: PgModule.Client, text: string, values?: unknown[]): Promise<PgModule.QueryResult<R>> {
    const result = this.tail.then(() => listener.query<R>(text, values));
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
