// The pool's connections, as Kysely sees them, each telling the change watch (changes.ts) when
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
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
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

/** `pool`, for Kysely, with every connection listening for its own changes (see the top of the file). */
export function withOwnWrites(pool: PgModule.Pool, hooks: OwnWriteHooks): PostgresPool {
  const states = new WeakMap<PgModule.PoolClient, ConnectionState>();
  const wrappers = new WeakMap<PgModule.PoolClient, PostgresPoolClient>();
  // pg-pool emits 'connect' for a new connection before handing it out, and a connection runs
  // its statements in order: the LISTEN goes first.
  pool.on('connect', (client) => {
    const state: ConnectionState = { listening: undefined, failure: undefined, wrote: false };
    states.set(client, state);
    client.on('notification', (message) => {
      if (!message.channel.startsWith(OWN_CHANNEL_PREFIX)) return;
      state.wrote = true;
      hooks.changed(message.payload ?? '');
    });
    state.listening = client.query(LISTEN_OWN).then(
      () => { state.listening = undefined; },
      (err: Error) => { state.failure = err; state.listening = undefined; },
    );
  });

  const wrap = (client: PgModule.PoolClient): PostgresPoolClient => {
    const state = states.get(client);
    async function run(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<unknown>> {
      if (state === undefined) throw new Error('a pool connection was not set up to hear its own changes');
      if (state.listening !== undefined) await state.listening;
      if (state.failure !== undefined) throw new Error(`the database connection could not listen for its own changes: ${state.failure.message}`);
      try {
        return await client.query(sql, [...parameters]) as unknown as PostgresQueryResult<unknown>;
      } finally {
        // A failed statement committed nothing, but a notification seen is never left unsettled.
        if (state.wrote) {
          state.wrote = false;
          await hooks.settle();
        }
      }
    }
    const wrapper = {
      query(sqlOrCursor: string | PostgresCursor<unknown>, parameters?: ReadonlyArray<unknown>) {
        // Kysely's stream form (a cursor object): run as is; the stores stream nothing.
        if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as unknown as PgModule.Submittable);
        return run(sqlOrCursor, parameters ?? []);
      },
      release() {
        // A connection that could not LISTEN is closed rather than handed out again.
        client.release(state?.failure);
      },
    };
    // The object implements both of PostgresPoolClient's query overloads through one function.
    return wrapper as unknown as PostgresPoolClient;
  };

  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}
