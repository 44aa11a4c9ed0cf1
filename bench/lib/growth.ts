// Fills a database with live tokens directly (not through HTTP) for the growth figures: each
// grant gets one access token and one refresh token, all unexpired and unrevoked, stored the
// way Latchkey stores them (src/oauth/crypto.ts tokenKey: the token's time prefix, then the
// SHA-256 hex of the token; here a random stand-in for the digest, as if issued over the last
// day). Columns added by later migrations are found at run time and filled with a neutral value
// when they require one.
import { randomBytes } from 'node:crypto';
import { timePrefixAt } from '../../src/oauth/crypto.js';
import Database from 'better-sqlite3';
import pg from 'pg';

type Row = Record<string, string | number | null>;

interface Column {
  name: string;
  notNull: boolean;
  hasDefault: boolean;
  numeric: boolean;
  primaryKey: boolean;
}

function neutral(c: Column): string | number | null {
  if (!c.notNull || c.hasDefault) return null;
  return c.numeric ? 0 : '';
}

/** The row to insert: the known values, plus neutral values for any other required column. */
function complete(columns: Column[], known: Row, skip: ReadonlySet<string> = new Set()): Row {
  const row: Row = {};
  for (const c of columns) {
    if (skip.has(c.name)) continue;
    if (c.name in known) row[c.name] = known[c.name] ?? null;
    else if (c.notNull && !c.hasDefault) row[c.name] = neutral(c);
  }
  return row;
}

/** The time prefix of the i-th of `total` tokens issued in order over the day before now. */
function issuePrefixes(total: number): (i: number) => string {
  const dayMs = 86_400_000;
  const start = Date.now() - dayMs;
  return (i) => timePrefixAt(start + (i * dayMs) / total);
}

/** One key per prefix: the prefix, then 64 random hex digits standing in for the token's digest. */
function tokenKeys(prefixes: readonly string[]): string[] {
  const buf = randomBytes(32 * prefixes.length);
  return prefixes.map((prefix, i) => prefix + buf.toString('hex', i * 32, i * 32 + 32));
}

export interface GrowthFixtures {
  clientPublicId: string;
  userId: number;
}

function knownRows(clientId: number, userId: number, now: number, grantId: number, at: string, rt: string): { access: Row; refresh: Row } {
  return {
    access: {
      token_hash: at, jti: null, grant_id: grantId, client_id: clientId, user_id: userId, organization_id: null,
      scope: 'profile email', created_at: now, expires_at: now + 86_400, revoked_at: null,
    },
    refresh: {
      token_hash: rt, grant_id: grantId, client_id: clientId, user_id: userId, organization_id: null, scope: 'profile email',
      created_at: now, expires_at: now + 30 * 86_400, consumed_at: null, revoked_at: null, successor_hash: null, access_token_hash: at,
    },
  };
}

/** Inserts `grants` grants with one access and one refresh token each; returns seconds taken. */
export function fillSqlite(file: string, f: GrowthFixtures, grants: number, onProgress?: (done: number) => void): number {
  const t0 = Date.now();
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const columns = (table: string): Column[] =>
      (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; notnull: number; dflt_value: unknown; type: string; pk: number }>).map((c) => ({
        name: c.name, notNull: c.notnull === 1, hasDefault: c.dflt_value !== null, numeric: /int|real|num/i.test(c.type), primaryKey: c.pk > 0,
      }));
    const client = db.prepare('SELECT id FROM clients WHERE client_id = ?').get(f.clientPublicId) as { id: number } | undefined;
    if (!client) throw new Error(`no client ${f.clientPublicId} in ${file}`);
    const now = Math.floor(Date.now() / 1000);
    const gCols = columns('grants');
    const aCols = columns('access_tokens');
    const rCols = columns('refresh_tokens');
    const grantRow = complete(gCols, { client_id: client.id, user_id: f.userId, organization_id: null, scope: 'profile email', grant_type: 'authorization_code', created_at: now, revoked_at: null }, new Set(['id']));
    const sample = knownRows(client.id, f.userId, now, 0, '', '');
    const aNames = Object.keys(complete(aCols, sample.access));
    const rNames = Object.keys(complete(rCols, sample.refresh));
    const insertGrant = db.prepare(`INSERT INTO grants (${Object.keys(grantRow).join(', ')}) VALUES (${Object.keys(grantRow).map(() => '?').join(', ')})`);
    const insertAccess = db.prepare(`INSERT INTO access_tokens (${aNames.join(', ')}) VALUES (${aNames.map(() => '?').join(', ')})`);
    const insertRefresh = db.prepare(`INSERT INTO refresh_tokens (${rNames.join(', ')}) VALUES (${rNames.map(() => '?').join(', ')})`);
    const grantValues = Object.values(grantRow);
    const batch = 20_000;
    const prefixOf = issuePrefixes(grants);
    const insertBatch = db.transaction((done: number, n: number) => {
      const times = Array.from({ length: n }, (_, i) => prefixOf(done + i));
      const ats = tokenKeys(times);
      const rts = tokenKeys(times);
      for (let i = 0; i < n; i++) {
        const grantId = Number(insertGrant.run(...grantValues).lastInsertRowid);
        const rows = knownRows(client.id, f.userId, now, grantId, ats[i] ?? '', rts[i] ?? '');
        const a = complete(aCols, rows.access);
        const r = complete(rCols, rows.refresh);
        insertAccess.run(...aNames.map((k) => a[k] ?? null));
        insertRefresh.run(...rNames.map((k) => r[k] ?? null));
      }
    });
    for (let done = 0; done < grants; done += batch) {
      insertBatch(done, Math.min(batch, grants - done));
      onProgress?.(Math.min(grants, done + batch));
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    // No ANALYZE: Latchkey never runs it, so a database that grew in service has no
    // statistics either, and the planner must do as well without them.
    // (PostgreSQL's autovacuum analyzes on its own, so there the fill does run ANALYZE.)
  } finally {
    db.close();
  }
  return (Date.now() - t0) / 1000;
}

/** The same on PostgreSQL, generated server-side in batches (one transaction each). */
export async function fillPostgres(url: string, schema: string, f: GrowthFixtures, grants: number, onProgress?: (done: number) => void): Promise<number> {
  const t0 = Date.now();
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const columns = async (table: string): Promise<Column[]> => {
      const r = await client.query<{ column_name: string; is_nullable: string; column_default: string | null; data_type: string }>(
        'SELECT column_name, is_nullable, column_default, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
        [schema, table],
      );
      return r.rows.map((c) => ({
        name: c.column_name, notNull: c.is_nullable === 'NO', hasDefault: c.column_default !== null, numeric: /int|numeric|double|real/i.test(c.data_type), primaryKey: false,
      }));
    };
    const c = await client.query<{ id: number }>('SELECT id FROM clients WHERE client_id = $1', [f.clientPublicId]);
    const clientId = c.rows[0]?.id;
    if (clientId === undefined) throw new Error(`no client ${f.clientPublicId}`);
    const now = Math.floor(Date.now() / 1000);
    // Values as SQL expressions over the generated grant row g(id) and its two token hashes.
    const lit = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);
    const exprs = (cols: Column[], known: Row, computed: Record<string, string>): [string[], string[]] => {
      const row = complete(cols, known);
      const names = Object.keys(row);
      return [names, names.map((n) => computed[n] ?? lit(row[n] ?? null))];
    };
    const gCols = (await columns('grants')).filter((x) => x.name !== 'id');
    const [gNames, gVals] = exprs(gCols, { client_id: clientId, user_id: f.userId, organization_id: null, scope: 'profile email', grant_type: 'authorization_code', created_at: now, revoked_at: null }, {});
    const rows = knownRows(clientId, f.userId, now, 0, '', '');
    const hashes = { token_hash: 'h.at', grant_id: 'h.id', access_token_hash: 'h.at' };
    const [aNames, aVals] = exprs(await columns('access_tokens'), rows.access, hashes);
    const [rNames, rVals] = exprs(await columns('refresh_tokens'), rows.refresh, { ...hashes, token_hash: 'h.rt' });
    const batch = 100_000;
    const prefixOf = issuePrefixes(grants);
    for (let done = 0; done < grants; done += batch) {
      const n = Math.min(batch, grants - done);
      // One prefix a batch (the batch's first issue time): the keys are generated server-side.
      const prefix = prefixOf(done);
      await client.query('BEGIN');
      await client.query(`CREATE TEMP TABLE IF NOT EXISTS bench_new (id integer, at text, rt text) ON COMMIT DELETE ROWS`);
      await client.query(`
        WITH g AS (INSERT INTO grants (${gNames.join(', ')}) SELECT ${gVals.join(', ')} FROM generate_series(1, ${n}) RETURNING id)
        INSERT INTO bench_new SELECT id, '${prefix}' || md5(random()::text || id::text) || md5(id::text || random()::text), '${prefix}' || md5(random()::text || 'r' || id::text) || md5('r' || id::text || random()::text) FROM g`);
      await client.query(`INSERT INTO access_tokens (${aNames.join(', ')}) SELECT ${aVals.join(', ')} FROM bench_new h`);
      await client.query(`INSERT INTO refresh_tokens (${rNames.join(', ')}) SELECT ${rVals.join(', ')} FROM bench_new h`);
      await client.query('COMMIT');
      onProgress?.(done + n);
    }
    await client.query('ANALYZE grants; ANALYZE access_tokens; ANALYZE refresh_tokens');
  } finally {
    await client.end();
  }
  return (Date.now() - t0) / 1000;
}

export async function dropSchemas(url: string, schemas: string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await client.end();
  }
}
