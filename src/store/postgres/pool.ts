// The PostgreSQL connection pool (node-postgres), as Kysely sees it and as the group commit
// takes connections from it. db.ts openPostgres builds one per process.
import { Kysely, PostgresAdapter, PostgresDialect, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, PostgresPool, PostgresPoolClient, QueryResult } from 'kysely';
import type PgModule from 'pg';
import type { Database } from '../schema.js';
import { NamedStatements, type PgClient } from './named-statements.js';
import { OwnWrites, type OwnWriteHooks } from './own-writes.js';
import { leanQueries } from './lean-query.js';

/** The pool size when none is given (see docs/PERFORMANCE.md, pg-pool-size). */
export const DEFAULT_POOL_SIZE = 10;

/** One connection taken from the pool for a group of works (group-commit.ts). */
export interface PgConnection {
  /**
   * A Kysely whose every query goes straight to this connection: no BEGIN or COMMIT of its
   * own, and no waiting for the previous query's answer (the connection is in pipeline mode,
   * so the statements of works that run side by side travel together). The caller begins and
   * ends the transaction with `command`.
   */
  readonly db: Kysely<Database>;
  /** Runs statements without parameters (BEGIN, COMMIT, SAVEPOINT …) on this connection; the last one's command tag. */
  command(sql: string): Promise<string>;
  /**
   * Runs a compiled statement, handed to the connection at once (a query through `db` reaches
   * it only a few awaits later): what is sent after it, a COMMIT, follows it on the wire.
   */
  query(compiled: CompiledQuery): Promise<unknown>;
  /** Back to the pool; with an error the connection is closed instead (its state is unknown). */
  release(error?: Error): void;
}

export interface PgPool {
  /** The process's Kysely: each query on a pooled connection, transactions as Kysely runs them. */
  readonly db: Kysely<Database>;
  connect(): Promise<PgConnection>;
  close(): Promise<void>;
}

export interface PgPoolOptions {
  url: string;
  /** search_path for every connection. */
  schema: string | undefined;
  size: number | undefined;
  /** The change watch (changes.ts), when rows are kept: each connection tells it of its own commits (own-writes.ts). */
  ownWrites?: OwnWriteHooks;
}

/** How every connection of a process connects: the pool's, and the change watch's listener. */
export function pgConnectionConfig(url: string, schema: string | undefined): PgModule.ClientConfig {
  return { connectionString: url, connectionTimeoutMillis: 5000, ...(schema ? { options: `-c search_path=${schema}` } : {}) };
}

/** What this module keeps per node-postgres client. */
interface Wrapped {
  /** What Kysely's PostgresDialect is given. */
  poolClient: PostgresPoolClient;
  named: NamedStatements;
  batched: BatchedClient;
  /** Built on the connection's first group. */
  bound?: Kysely<Database>;
}

/**
 * Opens the pool. Every connection is in node-postgres's pipeline mode: a query is written at
 * once even while earlier ones await their answers (each still ends with its own Sync, so an
 * error fails only its own query, and inside a transaction the transaction, as always).
 * Kysely's own use is unchanged (it awaits each query); the group commit's works, which run
 * side by side on one connection, gain from it (see docs/PERFORMANCE.md, pg-pipeline).
 */
export function openPgPool(pg: typeof PgModule, options: PgPoolOptions): PgPool {
  const pool = new pg.Pool({ ...pgConnectionConfig(options.url, options.schema), max: options.size ?? DEFAULT_POOL_SIZE, pipeline: true });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => undefined);
  const ownWrites = options.ownWrites ? new OwnWrites(options.ownWrites) : undefined;
  if (ownWrites) pool.on('connect', (client) => ownWrites.attach(client));
  // A connection that could not ask for its own changes (own-writes.ts) is closed rather than handed out again.
  const release = (client: PgModule.PoolClient, error?: Error) => client.release(error ?? ownWrites?.failureOf(client) ?? false);

  const lean = leanQueries(pg);
  const wrapped = new WeakMap<PgModule.PoolClient, Wrapped>();
  function wrap(client: PgModule.PoolClient): Wrapped {
    let w = wrapped.get(client);
    if (w === undefined) {
      const batched = batchWrites(client, ownWrites);
      const named = new NamedStatements({
        query: (config: PgModule.QueryConfig) => batched.query(config),
        queryNamed: (name: string, text: string, values: unknown[]) => batched.send(() => lean(client, name, text, values)),
        getTransactionStatus: () => client.getTransactionStatus(),
      } as PgClient);
      w = { poolClient: undefined as unknown as PostgresPoolClient, named, batched };
      w.poolClient = {
        query: (sql: string, parameters: readonly unknown[]) => named.query(sql, parameters),
        release: () => release(client),
      } as unknown as PostgresPoolClient; // the cursor overload is never used (no `cursor` in the dialect config)
      wrapped.set(client, w);
    }
    return w;
  }

  const kyselyPool: PostgresPool = {
    connect: async () => wrap(await pool.connect()).poolClient,
    end: () => pool.end(),
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: kyselyPool }) });

  return {
    db,
    async connect(): Promise<PgConnection> {
      const client = await pool.connect();
      const w = wrap(client);
      w.bound ??= new Kysely<Database>({ dialect: new BoundDialect(new BoundConnection(w.named)) });
      const bound = w.bound;
      return {
        db: bound,
        async command(sql) {
          // Several statements in one text answer one result each.
          const result = (await w.batched.query(sql)) as PgModule.QueryResult | PgModule.QueryResult[];
          return (Array.isArray(result) ? result[result.length - 1]?.command : result.command) ?? '';
        },
        query(compiled) {
          return w.named.query(compiled.sql, compiled.parameters);
        },
        release(error) {
          release(client, error);
        },
      };
    },
    close: () => db.destroy(),
  };
}

interface BatchedClient {
  query(config: PgModule.QueryConfig | string): Promise<PgModule.QueryResult>;
  /** Hands a query to the client through `submit` (called at once, in the same write as its neighbours). */
  send(submit: () => Promise<PgModule.QueryResult>): Promise<PgModule.QueryResult>;
}

/**
 * The client's queries, written to the socket together: node-postgres writes each query as it
 * is handed one (a writev each), and the works of a group hand theirs over in one drain of the
 * microtask queue (an answer wakes several works, each sends its next statement). The socket
 * is corked at the first and uncorked once that drain is over (process.nextTick runs after
 * it), so they leave in one write and PostgreSQL reads them in one (see docs/PERFORMANCE.md,
 * pg-batched-writes).
 */
function batchWrites(client: PgModule.PoolClient, ownWrites: OwnWrites | undefined): BatchedClient {
  // The stream is read on each use: with TLS it is replaced once the handshake is done.
  let corked: PgModule.Connection['stream'] | undefined;
  const uncork = () => {
    corked?.uncork();
    corked = undefined;
  };
  const send = (submit: () => Promise<PgModule.QueryResult>) => {
    if (corked === undefined) {
      corked = client.connection.stream;
      corked.cork();
      process.nextTick(uncork);
    }
    return ownWrites ? ownWrites.run(client, submit) : submit();
  };
  return {
    query: (config) => send(() => (typeof config === 'string' ? client.query(config) : client.query(config))),
    send,
  };
}

/** Kysely's view of one connection: each query is sent as it comes (group-commit.ts orders them). */
class BoundConnection implements DatabaseConnection {
  constructor(private readonly named: NamedStatements) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.named.query(compiled.sql, compiled.parameters);
    const command = result.command;
    return {
      rows: result.rows as R[],
      ...(command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE' ? { numAffectedRows: BigInt(result.rowCount ?? 0) } : {}),
    };
  }

  // eslint-disable-next-line require-yield -- never streams: the interface asks for the method
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on a group-commit connection');
  }
}

/** A driver that always hands out one connection and never begins a transaction itself. */
class BoundDriver implements Driver {
  constructor(private readonly connection: DatabaseConnection) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.connection;
  }
  async beginTransaction(): Promise<void> {
    throw new Error('a group-commit connection is already in a transaction');
  }
  async commitTransaction(): Promise<void> {
    throw new Error('a group-commit connection commits through its runner');
  }
  async rollbackTransaction(): Promise<void> {
    throw new Error('a group-commit connection rolls back through its runner');
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

class BoundDialect implements Dialect {
  constructor(private readonly connection: DatabaseConnection) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver() {
    return new BoundDriver(this.connection);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}
