// Hot-path queries built with Kysely once and then run with new values.
//
// Building and compiling a Kysely query (immutable operation nodes, frozen objects, a compiler
// pass) costs about as much as SQLite takes to run it (see docs/PERFORMANCE.md,
// precompiled-queries). The token endpoint and the token lookup run the same few queries
// thousands of times a second, so each is built once per dialect with placeholder values, and
// later calls only substitute the real values into the compiled parameter list. The SQL is Kysely's own, so both dialects stay on one code path;
// the builder is still type-checked against the schema.
import { CompiledQuery, SqliteAdapter, type Compilable, type DialectAdapter, type InsertQueryBuilder, type Kysely, type QueryResult } from 'kysely';
import type { Database } from '../schema.js';

interface Template {
  sql: string;
  /** For each compiled parameter: the index of the argument it takes, or a constant. */
  slots: Array<number | { constant: unknown }>;
}

/**
 * Wraps a query builder whose arguments are only ever used as bound values (never inspected,
 * branched on or transformed: the builder sees placeholders). Returns the rows.
 */
export function precompiled<Args extends unknown[], Row>(build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>) {
  const run = templated<Args, Row>(() => build);
  return async (db: Kysely<Database>, ...args: Args): Promise<Row[]> => (await run(db, args)).rows;
}

/**
 * An INSERT of one row whose generated `id` is wanted; `build` returns it with
 * `.returning('id')`. PostgreSQL reports the id only through RETURNING. SQLite reports it with
 * every insert (last_insert_rowid), while RETURNING makes it buffer the row in a temporary
 * table first, which costs more than the insert itself inside a busy transaction (see
 * docs/PERFORMANCE.md, insert-id-without-returning). So on SQLite the RETURNING clause is
 * dropped and the id is read from the result.
 */
export function precompiledInsertId<Table extends keyof Database, Args extends unknown[]>(
  build: (db: Kysely<Database>, ...args: Args) => InsertQueryBuilder<Database, Table, { id: number }>,
) {
  const run = templated<Args, { id: number }>((adapter) =>
    adapter instanceof SqliteAdapter ? (db, ...args) => build(db, ...args).clearReturning() : build);
  return async (db: Kysely<Database>, ...args: Args): Promise<number> => {
    const result = await run(db, args);
    const id = result.rows[0]?.id ?? result.insertId;
    if (id === undefined) throw new Error('an insert reported no id');
    return Number(id);
  };
}

/**
 * The shared part: one template per dialect (adapter class, as SQLite and PostgreSQL differ in
 * placeholders), built from `buildFor(adapter)` the first time, then run with new values.
 */
function templated<Args extends unknown[], Row>(buildFor: (adapter: DialectAdapter) => (db: Kysely<Database>, ...args: Args) => Compilable<unknown>) {
  const templates = new Map<unknown, Template>();
  return (db: Kysely<Database>, args: Args): Promise<QueryResult<Row>> => {
    // getExecutor() is marked internal in Kysely's typings but is how its own plugins reach the
    // dialect; the adapter's class tells the dialects apart (a transaction shares its root's).
    const adapter = db.getExecutor().adapter;
    let template = templates.get(adapter.constructor);
    if (template === undefined) {
      template = compileTemplate(db, buildFor(adapter), args.length);
      templates.set(adapter.constructor, template);
    }
    const parameters = template.slots.map((slot) => (typeof slot === 'number' ? args[slot] : slot.constant));
    return db.executeQuery<Row>(CompiledQuery.raw(template.sql, parameters));
  };
}

function compileTemplate<Args extends unknown[], Row>(db: Kysely<Database>, build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>, arity: number): Template {
  const placeholders = Array.from({ length: arity }, (_, i) => `\u0000latchkey-argument-${i}\u0000`);
  const compiled = build(db, ...(placeholders as unknown as Args)).compile();
  const slots = compiled.parameters.map((p) => {
    const index = typeof p === 'string' ? placeholders.indexOf(p) : -1;
    return index >= 0 ? index : { constant: p };
  });
  const used = new Set(slots.filter((s): s is number => typeof s === 'number'));
  if (used.size !== arity) throw new Error(`precompiled query uses ${used.size} of its ${arity} arguments as values: ${compiled.sql}`);
  return { sql: compiled.sql, slots };
}
