// Named prepared statements for node-postgres, behind the pool Kysely's PostgresDialect uses.
import { createHash } from 'node:crypto';
import type PgModule from 'pg';

/** The part of a pg client this module uses (a pool client; tests pass a plain Client). */
export interface PgClient {
  query(config: PgModule.QueryConfig): Promise<PgModule.QueryResult>;
  query(text: string): Promise<PgModule.QueryResult>;
  getTransactionStatus(): string | null;
  /** Runs a named statement without describing its result again (lean-query.ts); else `query` with a name. */
  queryNamed?(name: string, text: string, values: unknown[]): Promise<PgModule.QueryResult>;
}

/** Named statements on one connection at most; later SQL runs unnamed. */
export const MAX_NAMED_PER_CONNECTION = 200;
/** SQL texts the process remembers having seen (to name only those seen twice). */
const MAX_SIGHTINGS = 2000;

/**
 * The SQL texts seen, process-wide: `null` once, then their statement name. A statement is
 * named from its second use on, so one-off SQL (migrations, the command line) fills no
 * connection's slots.
 */
const sightings = new Map<string, string | null>();

/** The name of `sql` as a prepared statement, or undefined while it has been seen only once. */
function statementName(sql: string): string | undefined {
  const seen = sightings.get(sql);
  if (seen !== undefined) {
    if (seen !== null) return seen;
    const name = `lk_${createHash('sha256').update(sql).digest('base64url').slice(0, 22)}`;
    sightings.set(sql, name);
    return name;
  }
  if (sightings.size < MAX_SIGHTINGS) sightings.set(sql, null);
  return undefined;
}

/** PostgreSQL's 0A000 for a prepared statement whose result columns changed (a migration ran meanwhile). */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}

/**
 * A connection's query function with named prepared statements. PostgreSQL parses and plans
 * unnamed SQL on every execution; a named statement is parsed once per connection and after a
 * few executions runs a cached generic plan, and its later executions send only Bind and
 * Execute (see docs/PERFORMANCE.md, pg-named-statements). Values are always bound, so the SQL
 * texts are a fixed set (the repositories' queries); still, at most MAX_NAMED_PER_CONNECTION
 * are prepared on one connection, and SQL seen only once is never named.
 *
 * A named statement whose tables changed shape (another process migrated the database) fails
 * with "cached plan must not change result type": the connection then starts a new generation
 * of names, so that each statement is prepared anew, and a failing statement outside a
 * transaction is run once more (inside one the transaction has failed: its caller sees the
 * error, and the group commit runs the work again, see group-commit.ts).
 */
export class NamedStatements {
  /** sql → name as prepared on this connection (names carry the generation). */
  private readonly prepared = new Map<string, string>();
  private generation = 0;

  constructor(private readonly client: PgClient) {}

  /** Runs `sql` with `values`, as a named statement when it qualifies. */
  query(sql: string, values: readonly unknown[]): Promise<PgModule.QueryResult> {
    const name = this.nameFor(sql);
    if (name === undefined) return this.client.query({ text: sql, values: values as unknown[] });
    // Not an async function: every statement of the hot path passes here, and each await
    // would cost it more microtask turns.
    const run = this.client.queryNamed ? this.client.queryNamed(name, sql, values as unknown[]) : this.client.query({ name, text: sql, values: values as unknown[] });
    return run.catch((err: unknown) => {
      if (!isStalePlan(err)) throw err;
      this.generation += 1;
      this.prepared.clear();
      if (this.client.getTransactionStatus() !== 'I') throw err;
      return this.client.query({ text: sql, values: values as unknown[] });
    });
  }

  /** How many statements this connection has named (tests). */
  get size(): number {
    return this.prepared.size;
  }

  private nameFor(sql: string): string | undefined {
    const known = this.prepared.get(sql);
    if (known !== undefined) return known;
    if (this.prepared.size >= MAX_NAMED_PER_CONNECTION) return undefined;
    const base = statementName(sql);
    if (base === undefined) return undefined;
    const name = this.generation === 0 ? base : `${base}_${this.generation}`;
    this.prepared.set(sql, name);
    return name;
  }
}
