// Issue 18 finding 10: the SQLite database (password hashes, token hashes, encrypted keys)
// was created with the process umask (usually 0644, readable by every local user). A new
// database file is now 0600 — its -wal and -shm files follow it — and a directory Latchkey
// creates for it is 0700.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase } from '../../src/store/db.js';

const mode = (path: string) => statSync(path).mode & 0o777;

test('a fresh SQLite path: directory 0700, database, -wal and -shm 0600', { skip: process.platform === 'win32' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-perm-'));
  const previous = process.umask(0o022); // the usual umask, whatever the test runner has
  try {
    const dir = join(root, 'var', 'data');
    const file = join(dir, 'latchkey.db');
    const store = openDatabase(`sqlite:${file}`);
    try {
      await migrate(store);
      await store.db.insertInto('organizations').values({ name: 'x', integrations_enabled: 1, created_at: 1 }).execute();
      assert.equal(mode(dir), 0o700, 'the directory');
      assert.equal(mode(join(root, 'var')), 0o700, 'every directory created on the way');
      assert.equal(mode(file), 0o600, 'the database file');
      assert.equal(mode(`${file}-wal`), 0o600, 'the WAL');
      assert.equal(mode(`${file}-shm`), 0o600, 'the shared-memory index');
    } finally {
      await store.close();
    }
    // Reopening an existing database keeps working (the file is not created twice).
    const again = openDatabase(`sqlite:${file}`);
    await migrate(again);
    await again.close();
    assert.equal(mode(file), 0o600);
  } finally {
    process.umask(previous);
    rmSync(root, { recursive: true, force: true });
  }
});

test('an existing directory keeps its mode (it may be shared, e.g. /tmp)', { skip: process.platform === 'win32' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-perm-'));
  try {
    // Not the mode the code gives a directory it creates (0700), so that a change would show.
    chmodSync(root, 0o755);
    const before = mode(root);
    assert.equal(before, 0o755);
    const store = openDatabase(`sqlite:${join(root, 'db.sqlite')}`);
    await migrate(store);
    await store.close();
    assert.equal(mode(root), before);
    assert.equal(mode(join(root, 'db.sqlite')), 0o600);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
