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

/**
 * A login role of the tests' own (superuser, so it may use any test schema; trust
 * authentication, so no password) whose defaults are `settings`, as an operator could set them.
 * Created if need be, and its defaults set anew.
 */
export async function createTestRole(role: string, settings: Record<string, string>): Promise<void> {
  await asAdmin(async (admin) => {
    await admin.query(`do $$ begin create role ${role} login superuser; exception when duplicate_object then null; end $$`);
    for (const [name, value] of Object.entries(settings)) await admin.query(`alter role ${role} set ${name} = '${value}'`);
  });
}

/** Drops a role of createTestRole's. Another run of the same file may still be connected as it: it is then kept, and the next run reuses it. */
export async function dropTestRole(role: string): Promise<void> {
  await asAdmin(async (admin) => {
    try {
      await admin.query(`drop role if exists ${role}`);
    } catch {
      // still in use elsewhere
    }
  });
}

/** `url` connecting as `role` (one of createTestRole's). */
export function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = '';
  return u.toString();
}

async function asAdmin(fn: (admin: pg.Client) => Promise<void>): Promise<void> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await fn(admin);
  } finally {
    await admin.end();
  }
}
