// SqliteChangeWatch (src/store/sqlite/changes.ts) against a scripted connection: another
// connection's commit moves only the tables whose counters (migration 018) moved, a table
// without a counter moves with every such commit, and no table's version ever comes back to a
// value it had before a change (a kept row read then would be trusted again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { SqliteChangeWatch, type TableVersion } from '../../src/store/sqlite/changes.js';
import type { Table } from '../../src/store/kept-rows.js';

function scripted() {
  const state = { dataVersion: 1, versions: [{ name: 'clients', version: 0 }, { name: 'grants', version: 0 }] as TableVersion[] | undefined };
  const watch = new SqliteChangeWatch({ inTransaction: false, dataVersion: () => state.dataVersion, tableVersions: () => state.versions?.map((v) => ({ ...v })) });
  const commit = (changed: string[]) => {
    state.dataVersion++;
    if (state.versions) state.versions = state.versions.map((v) => (changed.includes(v.name) ? { name: v.name, version: v.version + 1 } : v));
  };
  return { state, watch, commit };
}

async function look(watch: SqliteChangeWatch, tables: Table[]): Promise<number | undefined> {
  await nextTurn();
  return watch.version(tables);
}

test('another connection\'s commit moves only the tables whose counters moved', async () => {
  const { watch, commit } = scripted();
  const clients0 = await look(watch, ['clients']);
  const grants0 = await look(watch, ['grants']);
  commit([]);
  assert.equal(await look(watch, ['clients']), clients0, 'an insert-only commit: no counter moved');
  commit(['grants']);
  assert.equal(await look(watch, ['clients']), clients0);
  assert.notEqual(await look(watch, ['grants']), grants0);
  const both = await look(watch, ['clients', 'grants']);
  commit(['clients']);
  assert.notEqual(await look(watch, ['clients', 'grants']), both);
});

test('a table without a counter moves with every other connection\'s commit', async () => {
  const { watch, commit } = scripted();
  const sessions0 = await look(watch, ['sessions']);
  commit([]);
  assert.notEqual(await look(watch, ['sessions']), sessions0);
});

test('counters that vanish and come back never bring a version back to an earlier value', async () => {
  const { state, watch, commit } = scripted();
  const seen: number[] = [];
  const record = async () => {
    const v = await look(watch, ['clients']);
    assert.ok(v !== undefined);
    seen.push(v);
  };
  await record();
  for (let i = 0; i < 5; i++) { commit([]); await record(); }
  const saved = state.versions;
  state.versions = undefined; // the table unreadable: every commit counts against clients
  for (let i = 0; i < 5; i++) { commit([]); await record(); }
  state.versions = saved; // readable again: clients has a counter once more
  commit([]); await record();
  commit([]); await record();
  commit(['clients']); await record();
  // A version may repeat only while nothing changed in between (consecutive equal values).
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 2; j < seen.length; j++) {
      if (seen[j] === seen[i]) assert.ok(seen.slice(i, j + 1).every((v) => v === seen[i]), `version ${seen[i]} came back at ${j} after moving: ${seen.join(',')}`);
    }
  }
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `went down: ${seen.join(',')}`);
});
