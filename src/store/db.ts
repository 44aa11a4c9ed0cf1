// Opens the database named by a DATABASE_URL: `sqlite:PATH`, `sqlite::memory:` or
// `postgres://…`. One Kysely instance per process; the rest of the code never knows which
// dialect it talks to.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type PgModule from 'pg';
import type { Database } from './schema.js';
import type { Dialect } from './dialect.js';
import { initial } from './migrations/001-initial.js';
import { partialJtiIndex } from './migrations/002-partial-jti-index.js';
import { trustedClients } from './migrations/003-trusted-clients.js';
import { organizationInvitations } from './migrations/004-organization-invitations.js';
import { refreshReuse } from './migrations/005-refresh-reuse.js';
import { sessionActivity } from './migrations/006-session-activity.js';
import { userSubjects } from './migrations/007-user-subjects.js';
import { openidConnect } from './migrations/008-openid-connect.js';
import { changeNotifications } from './migrations/009-change-notifications.js';
import { mailQueue } from './migrations/010-mail-queue.js';
import { passwordResets } from './migrations/011-password-resets.js';
import { secondFactors } from './migrations/012-second-factors.js';
import { clientRegistration } from './migrations/013-client-registration.js';
import { registrationOwnership } from './migrations/014-registration-ownership.js';
import { resources } from './migrations/016-resources.js';
import { ownWriteNotices } from './migrations/017-own-write-notices.js';
import { PgChangeWatch, type WatchWarning } from './postgres/changes.js';
import { BACKSTOP_PAGES, startCheckpointer, type Checkpointer } from './sqlite/checkpointer.js';
import { SqliteChangeWatch } from './sqlite/changes.js';
import type { ChangeWatch } from './kept-rows.js';
import { withStatementCache } from './sqlite/statement-cache.js';
import { openPgPool, pgConnectionConfig, type PgConnection } from './postgres/pool.js';
import { PgRevocations } from './postgres/revocations.js';
import type { OwnedRevocations } from '../oauth/ports.js';

export type { Dialect } from './dialect.js';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** PostgreSQL: the schema in use when one was named (else the server's default search_path). */
  schema: string | undefined;
  /**
   * Tells a cache of rows (ClientStore, AccessTokenStore, through kept-rows.ts) when the tables
   * it read may have changed. SQLite: this connection's own statements, each classified as it
   * runs, or another connection's commit (PRAGMA data_version). PostgreSQL, when opened with
   * `watchChanges`: LISTEN/NOTIFY fed by triggers (postgres/changes.ts). Else undefined, and
   * nothing is kept.
   */
  changes?: ChangeWatch;
  /** PostgreSQL only: a connection of the pool for the group commit (postgres/group-commit.ts). */
  connect?: () => Promise<PgConnection>;
  /** PostgreSQL only: revocations in one statement for all that arrive together (postgres/revocations.ts). */
  revocations?: OwnedRevocations;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
}

// pg (and its dependencies) is loaded only when a PostgreSQL URL is opened: a server on SQLite
// never needs it, and loading it costs memory for nothing (see docs/PERFORMANCE.md, lazy-pg).
const requireModule = createRequire(import.meta.url);
let pgModule: typeof PgModule | undefined;
function loadPg(): typeof PgModule {
  if (pgModule === undefined) {
    pgModule = requireModule('pg') as typeof PgModule;
    // int8 columns (our epoch-second times) come back from pg as strings by default; they all
    // fit in a double, so read them as numbers.
    pgModule.types.setTypeParser(20, (value: string) => Number(value));
  }
  return pgModule;
}

export interface OpenOptions {
  /** PostgreSQL only: the schema to use (created if missing); tests give each run its own. */
  schema?: string;
  /** PostgreSQL only: the pool size (postgres/pool.ts DEFAULT_POOL_SIZE when not given). */
  poolSize?: number;
  /**
   * SQLite file only: who checkpoints the WAL. `thread`: a worker thread of this process
   * (sqlite/checkpointer.ts; `serve` turns it on). `elsewhere`: another process on the same file
   * runs that thread (the primary of `serve --workers`), so this connection only keeps the
   * backstop and there is one checkpointer however many workers. Unset: SQLite's own
   * automatic checkpoint, in the commit that crosses its threshold.
   */
  checkpoint?: 'thread' | 'elsewhere';
  /**
   * SQLite only: other processes write to the file at the same time (the workers of `serve
   * --workers`), so every transaction begins IMMEDIATE (sqlite/statement-cache.ts says why).
   */
  beginImmediate?: boolean;
  /**
   * PostgreSQL only: keep clients and access-token contexts, invalidated through LISTEN/NOTIFY
   * on a connection of its own, and answer a change to them only once every other server has
   * dropped its copies (postgres/changes.ts). `serve` and the admin commands turn it on.
   */
  watchChanges?: boolean;
  /** Where the change watch reports what an operator should see. */
  warn?: WatchWarning;
}

export function openDatabase(url: string, options: OpenOptions = {}): Store {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, options);
  throw new DatabaseOpenError(`unsupported database URL ${JSON.stringify(url)} (use sqlite: or postgres://)`);
}

function openSqlite(path: string, options: OpenOptions): Store {
  const memory = path === ':memory:';
  if (!memory) {
    // The file holds password and token hashes: a new one is 0600 (SQLite gives its -wal and
    // -shm files the database file's mode) in a directory, if we create it, of 0700. Existing
    // files and directories keep the modes their operator gave them.
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new DatabaseOpenError(`cannot create the directory for ${path}: ${(err as Error).message}`);
    }
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DatabaseOpenError(`cannot create SQLite database ${path}: ${(err as Error).message}`);
    }
  }
  let native: SqliteDatabase.Database;
  try {
    native = new SqliteDatabase(path);
    // WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps every
    // committed transaction across a process crash (kill -9); only an OS crash can lose the
    // last few, the trade SQLite documents for WAL.
    native.pragma('journal_mode = WAL');
    native.pragma('synchronous = NORMAL');
    native.pragma('foreign_keys = ON');
    native.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new DatabaseOpenError(`cannot open SQLite database ${path}: ${(err as Error).message}`);
  }
  let checkpointer: Checkpointer | undefined;
  const checkpoint = options.checkpoint;
  if (checkpoint !== undefined && !memory) {
    native.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    if (checkpoint === 'thread') checkpointer = startCheckpointer(path);
  }
  // Prepared once: native.pragma() prepares its statement anew on every call.
  const dataVersion = native.prepare('PRAGMA data_version').pluck();
  const changes = new SqliteChangeWatch({
    get inTransaction() {
      return native.inTransaction;
    },
    dataVersion: () => dataVersion.get() as number,
  });
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(native, changes, { beginImmediate: options.beginImmediate ?? false }) }) });
  return {
    db,
    dialect: 'sqlite',
    schema: undefined,
    changes,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/** The schema named by a URL's libpq `options=-c search_path=NAME`, if any. */
function schemaFromUrl(url: string): string | undefined {
  try {
    const options = new URL(url).searchParams.get('options') ?? '';
    return /search_path=([A-Za-z0-9_]+)/.exec(options)?.[1];
  } catch {
    return undefined;
  }
}

function openPostgres(url: string, options: OpenOptions): Store {
  const schema = options.schema ?? schemaFromUrl(url);
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new DatabaseOpenError(`invalid schema name ${schema}`);
  const changes = options.watchChanges
    ? new PgChangeWatch({ Client: loadPg().Client, connection: pgConnectionConfig(url, schema), ...(options.warn ? { warn: options.warn } : {}) })
    : undefined;
  const pool = openPgPool(loadPg(), { url, schema, size: options.poolSize, ...(changes ? { ownWrites: changes } : {}) });
  const db = pool.db;
  return {
    db,
    dialect: 'postgres',
    schema,
    connect: () => pool.connect(),
    revocations: new PgRevocations(() => pool.connect()),
    ...(changes ? { changes } : {}),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await changes?.close();
      await db.destroy();
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a migration runs against whatever schema existed before it
type AnyDb = Kysely<any>;

interface Migration {
  up(db: AnyDb): Promise<void>;
}

/** Every migration, in order. Add a file under migrations/ and one line here; never edit a landed one. */
function migrations(dialect: Dialect): Array<[string, Migration]> {
  return [
    ['001-initial', initial(dialect)],
    ['002-partial-jti-index', partialJtiIndex()],
    ['003-trusted-clients', trustedClients()],
    ['004-organization-invitations', organizationInvitations(dialect)],
    ['005-refresh-reuse', refreshReuse(dialect)],
    ['006-session-activity', sessionActivity(dialect)],
    ['007-user-subjects', userSubjects(dialect)],
    ['008-openid-connect', openidConnect(dialect)],
    ['009-change-notifications', changeNotifications(dialect)],
    ['010-mail-queue', mailQueue(dialect)],
    ['011-password-resets', passwordResets(dialect)],
    ['012-second-factors', secondFactors(dialect)],
    ['013-client-registration', clientRegistration(dialect)],
    ['014-registration-ownership', registrationOwnership(dialect)],
    ['016-resources', resources(dialect)],
    ['017-own-write-notices', ownWriteNotices(dialect)],
  ];
}

// Any constant will do: it names the advisory lock that serialises concurrent migrators on PostgreSQL.
const MIGRATION_LOCK = 7_240_401;

/**
 * Runs every migration not yet applied, each recorded in `latchkey_migrations`, all in one
 * transaction; running it twice changes nothing. Several processes starting together on one
 * PostgreSQL serialise on an advisory lock, and the loser finds the work done.
 *
 * (Kysely's Migrator was the first choice, but it looks for its bookkeeping tables by
 * introspecting every schema of the database, which fails while another schema is being
 * dropped — tests drop schemas all the time — and slows down as schemas accumulate.)
 */
export async function migrate(store: Store): Promise<string[]> {
  const { db, dialect, schema } = store;
  if (dialect === 'postgres' && schema) {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db).catch(ignoreDuplicate);
  }
  await sql`create table if not exists latchkey_migrations (name text primary key, applied_at bigint not null)`.execute(db).catch(ignoreDuplicate);
  return db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    const done = await sql<{ name: string }>`select name from latchkey_migrations`.execute(trx);
    const applied = new Set(done.rows.map((r) => r.name));
    const ran: string[] = [];
    for (const [name, migration] of migrations(dialect)) {
      if (applied.has(name)) continue;
      await migration.up(trx as AnyDb);
      await sql`insert into latchkey_migrations (name, applied_at) values (${name}, ${Math.floor(Date.now() / 1000)})`.execute(trx);
      ran.push(name);
    }
    return ran;
  });
}

/** Two processes racing on `create … if not exists` in PostgreSQL: the loser's error means the object exists. */
function ignoreDuplicate(err: unknown): void {
  const code = (err as { code?: string }).code;
  if (code === '23505' || code === '42P06' || code === '42P07') return;
  throw err;
}
