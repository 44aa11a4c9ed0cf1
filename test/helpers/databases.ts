// The databases every storage and HTTP test runs on: SQLite always, PostgreSQL when
// TEST_DATABASE_URL is set (CI sets it). Each test gets a fresh database: a new SQLite file,
// or a new PostgreSQL schema dropped afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type DbKind = 'sqlite' | 'postgres';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL && process.env.TEST_DATABASE_URL !== '' ? process.env.TEST_DATABASE_URL : undefined;

let warned = false;
/** The kinds to run on; prints once, visibly, when PostgreSQL is skipped. */
export function databaseKinds(): DbKind[] {
  if (!TEST_DATABASE_URL) {
    if (!warned) {
      warned = true;
      process.stdout.write('# SKIPPING the PostgreSQL half: TEST_DATABASE_URL is not set\n');
    }
    return ['sqlite'];
  }
  return ['sqlite', 'postgres'];
}

export interface FreshDatabase {
  kind: DbKind;
  url: string;
  /** PostgreSQL schema for this test (undefined on SQLite). */
  schema: string | undefined;
  /** SQLite file path (undefined on PostgreSQL). */
  file: string | undefined;
  drop(): Promise<void>;
}

export async function freshDatabase(kind: DbKind): Promise<FreshDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
    const file = join(dir, 'latchkey.db');
    return { kind, url: `sqlite:${file}`, schema: undefined, file, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  // The schema rides in the URL's `options` so that separate processes (CLI, a second server) use it too.
  const url = withSearchPath(TEST_DATABASE_URL, schema);
  return {
    kind,
    url,
    schema,
    file: undefined,
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

/** A postgres:// URL whose connections use `schema` (pg understands the libpq `options` parameter). */
export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}
