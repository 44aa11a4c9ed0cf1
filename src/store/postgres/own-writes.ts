// The pool's connections (pool.ts), each telling the change watch (changes.ts) when
// one of its own commits changed kept rows, before that commit's answer is handed on.
//
// Migration 017's trigger function sends a session that set `latchkey.own_writes = on` a
// NOTICE `latchkey_wrote <table>` whenever one of its statements updates, deletes or truncates
// a kept table (a statement trigger: it fires even when no row matched). A NOTICE reaches
// that session alone, with the statement's answer; the NOTIFY on a channel of its own that
// migration 009 used woke every listening backend of the database at each such commit
// (migrations/017-own-write-notices.ts says why that mattered). The change counts once it is
// committed: the tables are noted, and handed to the watch when the connection is next idle
// (a ReadyForQuery outside a transaction: the one that ends the COMMIT, or an autocommit
// statement). Were the version moved at the NOTICE, a lookup on another connection could read
// the row as it was before the commit and keep it under the new version. A transaction rolled
// back moves it all the same: dropping kept rows is always safe. When a change is handed on,
// the watch's own versions move at once (this process's kept rows are dropped, as SQLite's
// statement cache does for its own writes), and every answer the connection hands on from
// then is held back until every other server has dropped theirs (PgChangeWatch.settle): the
// revoking request is answered only after that.
import type PgModule from 'pg';

/** What migration 017's trigger function starts its NOTICE with (the table's name follows). */
export const OWN_WRITE_NOTICE = 'latchkey_wrote ';

// Sent first on every new pool connection: session settings, so they hold for the connection's
// life. client_min_messages from the role, the database or the URL could hide the NOTICE.
const ASK_FOR_NOTICES = 'set client_min_messages = notice; set latchkey.own_writes = on';

interface ConnectionState {
  /** Pending until the settings are made: a statement waits for them. */
  ready: Promise<void> | undefined;
  /** Set when they could not be made: the connection cannot tell of its writes, so it is not used. */
  failure: Error | undefined;
  /** Kept tables the open transaction (or the running statement) changed. */
  uncommitted: Set<string>;
  /**
   * The settle of the last change handed to the watch, until it is done: every answer that
   * arrives meanwhile waits for it (several can arrive in one read, the COMMIT's among them).
   */
  settling: Promise<void> | undefined;
}

export interface OwnWriteHooks {
  /** A commit through this pool changed `table`. Called synchronously. */
  changed(table: string): void;
  /** Resolves when every other server has dropped what that change made stale. */
  settle(): Promise<void>;
}

/**
 * The pool's side of the own-write signal: `attach` each new connection (pg-pool's 'connect'
 * event, before the connection is handed out, so its settings go first), and send every
 * statement through `run`, which hands its answer on only once a change it committed is settled.
 */
export class OwnWrites {
  private readonly states = new WeakMap<PgModule.ClientBase, ConnectionState>();

  constructor(private readonly hooks: OwnWriteHooks) {}

  attach(client: PgModule.Client): void {
    const state: ConnectionState = { ready: undefined, failure: undefined, uncommitted: new Set(), settling: undefined };
    this.states.set(client, state);
    client.on('notice', (notice) => {
      const message = notice.message ?? '';
      if (message.startsWith(OWN_WRITE_NOTICE)) state.uncommitted.add(message.slice(OWN_WRITE_NOTICE.length));
    });
    // Messages are handled in the order they arrive, and an answer is handed on (run, below)
    // only after the whole read is handled: so every answer of the read that ends the
    // transaction, the COMMIT's included, waits for the settle begun here.
    client.connection.on('readyForQuery', (message: { status?: string }) => {
      if (message.status === 'I') this.handOn(state);
    });
    // A connection lost after its COMMIT ran but before the ReadyForQuery came back may have
    // committed: its changes are handed on all the same (dropping kept rows is always safe).
    client.on('end', () => this.handOn(state));
    state.ready = client.query(ASK_FOR_NOTICES).then(
      () => { state.ready = undefined; },
      (err: Error) => { state.failure = err; state.ready = undefined; },
    );
  }

  /** Why the connection must not be reused (its settings failed), if so: release it with this error. */
  failureOf(client: PgModule.ClientBase): Error | undefined {
    return this.states.get(client)?.failure;
  }

  /**
   * Sends a statement (`send` is called synchronously unless the connection's settings are
   * still under way, so that statements of one microtask drain still leave together) and hands
   * its answer, or its error, on after settling any change the connection committed meanwhile.
   */
  run<T>(client: PgModule.ClientBase, send: () => Promise<T>): Promise<T> {
    const state = this.states.get(client);
    if (state === undefined) return Promise.reject(new Error('a pool connection was not set up to hear its own changes'));
    if (state.ready !== undefined) return state.ready.then(() => this.run(client, send));
    if (state.failure !== undefined) return Promise.reject(new Error(`the database connection could not ask for its own changes: ${state.failure.message}`));
    // Most answers find nothing to settle: they are handed on as they are, without an extra
    // promise (an async callback here cost every statement two more microtask turns).
    // A failed statement committed nothing, but a change handed on is never left unsettled.
    return send().then(
      (result) => (state.settling ? state.settling.then(() => result) : result),
      (err: unknown) => {
        if (!state.settling) throw err;
        return state.settling.then(() => { throw err; });
      },
    );
  }

  /** The transaction is over: its changed tables go to the watch, and their settle begins. */
  private handOn(state: ConnectionState): void {
    if (state.uncommitted.size === 0) return;
    for (const table of state.uncommitted) this.hooks.changed(table);
    state.uncommitted.clear();
    const settling = this.hooks.settle().then(() => {
      if (state.settling === settling) state.settling = undefined;
    });
    settling.catch(() => undefined); // its failure reaches the answers that wait for it
    state.settling = settling;
  }
}
