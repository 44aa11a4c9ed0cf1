// SQLite written by several processes at once (the workers of `serve --workers N`): a
// transaction that reads before it writes must not fail because another process committed in
// between. With SQLite's default deferred BEGIN it would (SQLITE_BUSY at once: its snapshot is
// stale, and busy_timeout cannot help); a worker's connection (openDatabase's beginImmediate)
// begins every transaction IMMEDIATE instead (store/sqlite/statement-cache.ts), so the other
// process waits its turn under busy_timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sql } from 'kysely';
import { migrate, openDatabase } from '../../src/store/db.js';
import { freshDatabase } from '../helpers/databases.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Another process inserting one row through its own connection (busy_timeout as ours); resolves with how long it waited. */
function otherProcessInserts(file: string, name: string): { ready: Promise<void>; done: Promise<{ code: number | null; waitedMs: number; stderr: string }> } {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.pragma('busy_timeout = 5000');
    process.stdout.write('ready\\n');
    const t0 = Date.now();
    db.prepare('insert into latchkey_migrations (name, applied_at) values (?, 0)').run(process.argv[2]);
    process.stdout.write(String(Date.now() - t0) + '\\n');`;
  const child = spawn(process.execPath, ['-e', script, file, name], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; waitedMs: number; stderr: string }>((resolve) => child.once('close', (code) => {
    onReady();
    resolve({ code, waitedMs: Number(stdout.trim().split('\n').pop()), stderr });
  }));
  return { ready, done };
}

test('a transaction that reads, then writes, is not failed by another process committing in between: that process waits', async () => {
  const db = await freshDatabase('sqlite');
  const store = openDatabase(db.url, { beginImmediate: true });
  try {
    await migrate(store);
    let other: ReturnType<typeof otherProcessInserts>['done'] | undefined;
    await store.db.transaction().execute(async (trx) => {
      await sql`select count(*) as n from latchkey_migrations`.execute(trx);
      const child = otherProcessInserts(db.file ?? '', 'from-the-other-process');
      other = child.done;
      // The other process has opened the file and is about to insert (a loaded machine may take
      // seconds to start it): give its insert time to find this transaction open.
      await child.ready;
      await new Promise((resolve) => setTimeout(resolve, 700));
      await sql`insert into latchkey_migrations (name, applied_at) values (${'from-this-process'}, 0)`.execute(trx);
    });
    const result = await other!;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.waitedMs >= 200, `the other process waited for this transaction to commit (${result.waitedMs} ms)`);
    const names = await sql<{ name: string }>`select name from latchkey_migrations where applied_at = 0 order by rowid`.execute(store.db);
    assert.deepEqual(names.rows.map((r) => r.name), ['from-this-process', 'from-the-other-process']);
  } finally {
    await store.close();
    await db.drop();
  }
});
