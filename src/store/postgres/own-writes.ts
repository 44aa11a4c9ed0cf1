// The pool's connections (pool.ts), each telling the change watch (changes.ts) when
// one of its own statements changed kept rows, before that statement's answer is handed on.
//
// Migration 009's trigger notifies `latchkey_wrote_<pid of the writing backend>` as well as the
// schema's change channel; every pool connection listens on its own such channel. PostgreSQL
// delivers a session's notifications once its transaction has committed, and to the session
// itself just before the ReadyForQuery that ends the committing statement (an autocommit
// UPDATE, or the COMMIT): so when a statement's result is handed on, the connection has
// already said whether that commit changed a kept table. When it has, the watch's own
// versions move at once (this process's kept rows are dropped, as SQLite's statement cache
// does for its own writes), and the result is held back until every other server has dropped
// theirs (PgChangeWatch.settle): the revoking request is answered only after that.
import type PgModule from 'pg';

/** The prefix of each connection's own channel (the trigger appends pg_backend_pid()). */
export const OWN_CHANNEL_PREFIX = 'latchkey_wrote_';

// One statement, run as the first on every new pool connection: LISTEN on its own channel
// (the backend's pid is known inside it; LISTEN takes effect when the statement commits).
const LISTEN_OWN = `do $$ begin execute format('listen %I', '${OWN_CHANNEL_PREFIX}' || pg_backend_pid()); end $$`;

interface ConnectionState {
  /** Pending until the LISTEN has run: a statement waits for it. */
  listening: Promise<void> | undefined;
  /** Set when the LISTEN failed: the connection cannot tell of its writes, so it is not used. */
  failure: Error | undefined;
  /** A change notification arrived on this connection since its last statement was handed on. */
  wrote: boolean;
}

export interface OwnWriteHooks {
  /** A commit through this pool changed `table` (the trigger's payload). Called synchronously. */
  changed(table: string): void;
  /** Resolves when every other server has dropped what that change made stale. */
  settle(): Promise<void>;
}

/**
 * The pool's side of the own-write signal: `attach` each new connection (pg-pool's 'connect'
 * event, before the connection is handed out, so its LISTEN goes first), and send every
 * statement through `run`, which hands its answer on only once a change it committed is settled.
 */
export class OwnWrites {
  private readonly states = new WeakMap<PgModule.ClientBase, ConnectionState>();

  constructor(private readonly hooks: OwnWriteHooks) {}

  attach(client: PgModule.ClientBase): void {
    const state: ConnectionState = { listening: undefined, failure: undefined, wrote: false };
    this.states.set(client, state);
    client.on('notification', (message) => {
      if (!message.channel.startsWith(OWN_CHANNEL_PREFIX)) return;
      state.wrote = true;
      this.hooks.changed(message.payload ?? '');
    });
    state.listening = client.query(LISTEN_OWN).then(
      () => { state.listening = undefined; },
      (err: Error) => { state.failure = err; state.listening = undefined; },
    );
  }

  /** Why the connection must not be reused (its LISTEN failed), if so: release it with this error. */
  failureOf(client: PgModule.ClientBase): Error | undefined {
    return this.states.get(client)?.failure;
  }

  /**
   * Sends a statement (`send` is called synchronously unless the connection's LISTEN is still
   * under way, so that statements of one microtask drain still leave together) and hands its
   * answer, or its error, on after settling any change the connection heard meanwhile.
   */
  run<T>(client: PgModule.ClientBase, send: () => Promise<T>): Promise<T> {
    const state = this.states.get(client);
    if (state === undefined) return Promise.reject(new Error('a pool connection was not set up to hear its own changes'));
    if (state.listening !== undefined) return state.listening.then(() => this.run(client, send));
    if (state.failure !== undefined) return Promise.reject(new Error(`the database connection could not listen for its own changes: ${state.failure.message}`));
    // Most answers find nothing to settle: they are handed on as they are, without an extra
    // promise (an async callback here cost every statement two more microtask turns).
    // A failed statement committed nothing, but a notification seen is never left unsettled.
    return send().then(
      (result) => (state.wrote ? this.settle(state).then(() => result) : result),
      (err: unknown) => {
        if (!state.wrote) throw err;
        return this.settle(state).then(() => { throw err; });
      },
    );
  }

  private settle(state: ConnectionState): Promise<void> {
    state.wrote = false;
    return this.hooks.settle();
  }
}
