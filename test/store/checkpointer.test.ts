// The WAL checkpointer (src/store/sqlite/checkpointer.ts) runs its worker from a file of its
// own, found beside the module that starts it. A worker that fails to load is silent by design
// (the main connection's backstop still checkpoints), so these tests look for its effect: WAL
// frames written with the automatic checkpoint off reach the database file: from tsc's dist/,
// and through `latchkey serve` (the bundle and its copy of the worker, scripts/bundle.mjs).
// (From the sources under tsx, Node 20 cannot start a .ts worker: checkpointer.ts says so, and
// the last test here shows that the checkpointer then still stops cleanly.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { startCheckpointer } from '../../src/store/sqlite/checkpointer.js';

const ROOT = new URL('../../', import.meta.url);

/** A WAL database whose last ~400 KB are in the WAL only; the writer stays open, so nothing checkpoints it on close. */
function walOnlyDatabase(): { dir: string; path: string; writer: SqliteDatabase.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-checkpoint-'));
  const path = join(dir, 'wal.db');
  const writer = new SqliteDatabase(path);
  writer.pragma('journal_mode = WAL');
  writer.pragma('wal_autocheckpoint = 0');
  writer.exec('create table scratch_pages (x text)');
  const insert = writer.prepare('insert into scratch_pages (x) values (?)');
  writer.transaction(() => { for (let i = 0; i < 400; i++) insert.run('x'.repeat(1000)); })();
  return { dir, path, writer };
}

async function untilCheckpointed(path: string, what: string): Promise<void> {
  const before = statSync(path).size;
  assert.ok(before < 100_000, `the rows are in the WAL only before the checkpointer runs (${before} bytes)`);
  const deadline = Date.now() + 15_000;
  while (statSync(path).size < 400_000) {
    assert.ok(Date.now() < deadline, `${what}: the WAL never reached the database file (${statSync(path).size} bytes)`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** checkpointer.stop(), with the event loop held open: the worker and its timers are unref'd (a server's sockets hold it). */
async function stopped(checkpointer: { stop(): Promise<void> }): Promise<void> {
  const hold = setInterval(() => undefined, 1000);
  try {
    await checkpointer.stop();
  } finally {
    clearInterval(hold);
  }
}

async function checkpointsWith(start: typeof startCheckpointer, what: string): Promise<void> {
  const { dir, path, writer } = walOnlyDatabase();
  const checkpointer = start(path, 20);
  try {
    await untilCheckpointed(path, what);
  } finally {
    await stopped(checkpointer);
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the checkpointer worker copies the WAL into the database file (tsc output in dist/)', async () => {
  // `npm test` builds first, so dist/ is the build of these sources.
  const built = (await import(new URL('dist/store/sqlite/checkpointer.js', ROOT).href)) as { startCheckpointer: typeof startCheckpointer };
  await checkpointsWith(built.startCheckpointer, 'dist/store/sqlite/checkpointer.js');
});

test('`latchkey serve` (the bundle) checkpoints a SQLite file in its worker', async () => {
  const { dir, path, writer } = walOnlyDatabase();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: `sqlite:${path}`, PORT: '0' };
  const child = spawn(process.execPath, [new URL('bin/latchkey.js', ROOT).pathname, 'serve', '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await untilCheckpointed(path, `latchkey serve (stderr: ${stderr})`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpointer whose worker could not start (the sources under tsx) still stops', async () => {
  const { dir, path, writer } = walOnlyDatabase();
  try {
    const checkpointer = startCheckpointer(path, 20);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stopped(checkpointer);
  } finally {
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`latchkey serve --workers 2` checkpoints a SQLite file once, in its primary; a worker\'s connection starts no checkpointer', async () => {
  const { dir, path, writer } = walOnlyDatabase();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: `sqlite:${path}`, PORT: '0', LATCHKEY_WORKERS: '2' };
  const child = spawn(process.execPath, [new URL('bin/latchkey.js', ROOT).pathname, 'serve', '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await untilCheckpointed(path, `latchkey serve --workers 2 (stderr: ${stderr})`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a connection opened with checkpoint "elsewhere" (a worker of serve --workers) keeps the backstop and checkpoints nothing itself', async () => {
  const built = (await import(new URL('dist/store/db.js', ROOT).href)) as typeof import('../../src/store/db.js');
  const { dir, path, writer } = walOnlyDatabase();
  const store = built.openDatabase(`sqlite:${path}`, { checkpoint: 'elsewhere' });
  try {
    const { sql } = await import('kysely');
    const pages = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.db);
    assert.equal(pages.rows[0]?.wal_autocheckpoint, 4000, 'the backstop');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(statSync(path).size < 100_000, 'no checkpointer thread of its own copied the WAL');
  } finally {
    await store.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
