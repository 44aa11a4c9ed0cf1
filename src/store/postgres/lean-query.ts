// A named prepared statement's execution without asking PostgreSQL to describe its result
// again: the description is kept per connection and statement name.
import type PgModule from 'pg';

/** What a statement's rows look like on one connection: the columns and their parsers. */
interface Description {
  fields: unknown[];
  names: string[];
  parsers: Array<(raw: string) => unknown>;
  /** Every column as an own property (as node-postgres's Result builds it), copied for each row. */
  empty: Record<string, null>;
}

/**
 * node-postgres's Query members this module uses. They are not in @types/pg (only the
 * constructor and `submit` are), but they are the class's own protocol methods, stable across
 * pg 8 (the version is pinned by package-lock.json); test/store/pg-named-statements.test.ts
 * runs every path against a real PostgreSQL.
 */
interface QueryInternals {
  name: string | undefined;
  values: unknown[] | undefined;
  portal: string;
  _result: { fields: unknown[]; rows: unknown[]; _parsers: Array<(raw: string) => unknown> | undefined };
  _canceledDueToError: unknown;
  hasBeenParsed(connection: PgConnectionInternals): boolean;
  prepare(connection: PgConnectionInternals): void;
  handleRowDescription(msg: { fields: Array<{ name: string }> }): void;
  handleDataRow(msg: { fields: Array<string | null> }): void;
  handleError(err: unknown, connection: PgConnectionInternals): void;
}

interface PgConnectionInternals {
  bind(config: { portal: string; statement: string | undefined; values: unknown[] | undefined; binary: boolean; valueMapper: unknown }): void;
  execute(config: { portal: string; rows: undefined }): void;
  close(config: { type: 'S'; name: string | undefined }): void;
  sync(): void;
}

type QueryClass = new (config: PgModule.QueryConfig & { callback: (err: Error | undefined, result: PgModule.QueryResult) => void }) => QueryInternals;

export type RunLean = (client: PgModule.ClientBase, name: string, text: string, values: unknown[]) => Promise<PgModule.QueryResult>;

/**
 * node-postgres runs a named statement as Bind, Describe, Execute and Sync every time, and
 * PostgreSQL answers each Describe with the statement's RowDescription, which node-postgres
 * parses and turns into a parser per column again (`addFields`) — on every execution, though a
 * prepared statement's columns cannot change without PostgreSQL refusing to run it ("cached
 * plan must not change result type", which named-statements.ts meets with new names). So the
 * first execution on a connection describes as usual and its description is kept; later ones
 * send Bind, Execute and Sync, and build their rows from the kept names and parsers (see
 * docs/PERFORMANCE.md, pg-lean-named). A statement failing, or a connection that forgot the
 * statement (node-postgres drops its record of a name whose statement failed), goes back to
 * the described path.
 *
 * The class extends node-postgres's own Query: the pipelined client accepts no other
 * submittable (a cursor's rows would land on the wrong query), and everything but those two
 * steps stays node-postgres's.
 */
export function leanQueries(pg: typeof PgModule): RunLean {
  const Base = pg.Query as unknown as QueryClass;
  const described = new WeakMap<object, Map<string, Description>>();
  // valueMapper: node-postgres's own, as Query.prepare passes it.
  const prepareValue = (pg as unknown as { utils?: { prepareValue?: unknown } }).utils?.prepareValue;

  class LeanQuery extends Base {
    private connection: PgConnectionInternals | undefined;
    private kept: Description | undefined;

    override prepare(connection: PgConnectionInternals): void {
      this.connection = connection;
      const kept = this.name === undefined ? undefined : described.get(connection)?.get(this.name);
      if (kept === undefined || prepareValue === undefined || !this.hasBeenParsed(connection)) {
        super.prepare(connection);
        return;
      }
      try {
        connection.bind({ portal: this.portal, statement: this.name, values: this.values, binary: false, valueMapper: prepareValue });
      } catch (err) {
        // As Query.prepare: a value that cannot be sent fails this query alone.
        connection.sync();
        this.handleError(err, connection);
        return;
      }
      this.kept = kept;
      this._result.fields = kept.fields;
      connection.execute({ portal: this.portal, rows: undefined });
      connection.sync();
    }

    override handleRowDescription(msg: { fields: Array<{ name: string }> }): void {
      super.handleRowDescription(msg);
      const parsers = this._result._parsers;
      if (this.connection === undefined || this.name === undefined || parsers === undefined) return;
      let byName = described.get(this.connection);
      if (byName === undefined) described.set(this.connection, byName = new Map());
      // Built on a null prototype and spread, as node-postgres does: a column named `__proto__`
      // is then an own property of each row, never the row's prototype.
      const empty: Record<string, null> = Object.create(null) as Record<string, null>;
      for (const f of msg.fields) empty[f.name] = null;
      byName.set(this.name, { fields: msg.fields, names: msg.fields.map((f) => f.name), parsers: parsers.slice(), empty: { ...empty } });
    }

    override handleDataRow(msg: { fields: Array<string | null> }): void {
      const kept = this.kept;
      if (kept === undefined) {
        super.handleDataRow(msg);
        return;
      }
      if (this._canceledDueToError) return;
      const raw = msg.fields;
      const row: Record<string, unknown> = { ...kept.empty };
      try {
        for (let i = 0; i < raw.length; i++) {
          const value = raw[i];
          row[kept.names[i]!] = value === null || value === undefined ? null : kept.parsers[i]!(value);
        }
      } catch (err) {
        this._canceledDueToError = err;
        return;
      }
      this._result.rows.push(row);
    }
  }

  return (client, name, text, values) =>
    new Promise<PgModule.QueryResult>((resolve, reject) => {
      const query = new LeanQuery({ name, text, values, callback: (err, result) => (err ? reject(err) : resolve(result)) });
      client.query(query as unknown as PgModule.Submittable);
    });
}
