// The schema contract that the change watches rest on (src/store/sqlite/changes.ts,
// src/store/postgres/changes.ts), checked on the fully migrated schema of both databases, so that
// a migration that breaks it fails here rather than serving stale kept rows (ClientStore,
// AccessTokenStore) in production.
//
// changes.ts classifies each SQLite statement by its text alone (writesOf):
//   - read-only statements, and plain INSERTs (`insert into t (…)` without ON CONFLICT): change
//     no row read before ('none');
//   - `insert into t (…) … on conflict …` (an upsert) and `update t set …`: change rows of t only;
//   - everything else — every DELETE, `insert or replace`, `replace into`, `update or replace`,
//     DDL, CTEs, schema-qualified targets — may change any table ('all').
// That is right only while a statement changes no table but the one it names, unless it is a
// statement classified 'all'. So:
//   1. no triggers (a write to one table would change another behind the classifier's back;
//      PostgreSQL: no user triggers — the internal ones that enforce foreign keys excepted —
//      and no rewrite rules);
//   2. no foreign key with an ON UPDATE action other than NO ACTION / RESTRICT (an UPDATE,
//      classified as changing its own table, would then change the child table too);
//   3. ON DELETE CASCADE / SET NULL / SET DEFAULT are allowed, because the only statements that
//      delete rows are classified 'all': every DELETE, and the REPLACE forms. SQLite deletes
//      rows under a plain INSERT or UPDATE only through a constraint declared ON CONFLICT REPLACE
//      in a table's definition, so no table may declare one (it would also let a plain INSERT,
//      classified 'none', replace a kept row of its own table).
// PostgreSQL runs the same migrations, so it is held to the same rules (a migration that broke
// them there would break them on SQLite too), with one addition of its own: migration 009's
// notify triggers (PostgreSQL's change watch hears every writer through them). So on PostgreSQL
//   4. every table rows are kept from carries `latchkey_changes`: FOR EACH STATEMENT, AFTER
//      UPDATE OR DELETE OR TRUNCATE (not INSERT), enabled, running latchkey_notify_change, whose
//      body only notifies (a trigger that wrote rows would break rule 1). Those are the only
//      user triggers allowed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { writesOf } from '../../src/store/sqlite/changes.js';
import { ACCESS_CONTEXT_TABLES } from '../../src/store/access-tokens.js';
import { CLIENT_TABLES } from '../../src/store/clients.js';
import { RESOURCE_TABLES } from '../../src/store/resources.js';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import { databaseKinds, freshDatabase, type DbKind } from '../helpers/databases.js';

const HARMLESS_ON_UPDATE = new Set(['NO ACTION', 'RESTRICT']);
const HARMLESS_ON_DELETE = new Set(['NO ACTION', 'RESTRICT']);

interface ForeignKey {
  name: string;
  child: string;
  parent: string;
  onUpdate: string;
  onDelete: string;
}

interface SchemaFacts {
  /** Each trigger (and PostgreSQL rewrite rule) as "<kind> <name> on <table>", the notify triggers of rule 4 excepted. */
  triggers: string[];
  /** PostgreSQL: the tables that carry a notify trigger as rule 4 states it. */
  notified: string[];
  foreignKeys: ForeignKey[];
  /** SQLite tables whose definition declares ON CONFLICT REPLACE. */
  replacingTables: string[];
}

async function sqliteFacts(store: Store): Promise<SchemaFacts> {
  const objects = await sql<{ type: string; name: string; tbl_name: string; sql: string | null }>`
    select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%'`.execute(store.db);
  const triggers = objects.rows.filter((o) => o.type === 'trigger').map((o) => `trigger ${o.name} on ${o.tbl_name}`);
  const tables = objects.rows.filter((o) => o.type === 'table');
  const replacingTables = tables.filter((t) => /\bon\s+conflict\s+replace\b/i.test(t.sql ?? '')).map((t) => t.name);
  const foreignKeys: ForeignKey[] = [];
  for (const table of tables) {
    const list = await sql<{ id: number; table: string; from: string; on_update: string; on_delete: string }>`
      select * from pragma_foreign_key_list(${table.name})`.execute(store.db);
    for (const fk of list.rows) {
      foreignKeys.push({ name: `${table.name}.${fk.from}`, child: table.name, parent: fk.table, onUpdate: fk.on_update.toUpperCase(), onDelete: fk.on_delete.toUpperCase() });
    }
  }
  return { triggers, notified: [], foreignKeys, replacingTables };
}

const PG_ACTIONS: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/** pg_trigger.tgtype bits (PostgreSQL's trigger.h): ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32. */
const STATEMENT_AFTER_DELETE_UPDATE_TRUNCATE = 8 | 16 | 32;
/** What a statement that writes rows starts with, in a trigger function's body. */
const WRITING = /\b(insert|update|delete|truncate|merge|copy|execute|call)\b/i;

async function postgresFacts(store: Store): Promise<SchemaFacts> {
  const all = await sql<{ tgname: string; relname: string; tgtype: number; tgenabled: string; proname: string; prosrc: string }>`
    select t.tgname, c.relname, t.tgtype, t.tgenabled, p.proname, p.prosrc from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_proc p on p.oid = t.tgfoid
     where n.nspname = current_schema() and not t.tgisinternal`.execute(store.db);
  const isNotify = (t: (typeof all.rows)[number]) => t.tgname === 'latchkey_changes' && t.tgtype === STATEMENT_AFTER_DELETE_UPDATE_TRUNCATE
    && t.tgenabled !== 'D' && t.proname === 'latchkey_notify_change' && t.prosrc.includes('pg_notify') && !WRITING.test(t.prosrc);
  const triggers = { rows: all.rows.filter((t) => !isNotify(t)) };
  const rules = await sql<{ rulename: string; tablename: string }>`
    select rulename, tablename from pg_rules where schemaname = current_schema()`.execute(store.db);
  const fks = await sql<{ conname: string; child: string; parent: string; confupdtype: string; confdeltype: string }>`
    select k.conname, c.relname as child, p.relname as parent, k.confupdtype, k.confdeltype
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_class p on p.oid = k.confrelid
      join pg_namespace n on n.oid = k.connamespace
     where k.contype = 'f' and n.nspname = current_schema()`.execute(store.db);
  return {
    triggers: [
      ...triggers.rows.map((t) => `trigger ${t.tgname} on ${t.relname}`),
      ...rules.rows.map((r) => `rule ${r.rulename} on ${r.tablename}`),
    ],
    notified: all.rows.filter(isNotify).map((t) => t.relname),
    foreignKeys: fks.rows.map((k) => ({
      name: `${k.child}.${k.conname}`, child: k.child, parent: k.parent,
      onUpdate: PG_ACTIONS[k.confupdtype] ?? k.confupdtype, onDelete: PG_ACTIONS[k.confdeltype] ?? k.confdeltype,
    })),
    replacingTables: [],
  };
}

/** Every breach of the contract above in the store's schema, each naming its object; [] when none. */
async function contractViolations(store: Store): Promise<string[]> {
  const facts = store.dialect === 'sqlite' ? await sqliteFacts(store) : await postgresFacts(store);
  const violations: string[] = facts.triggers.map((t) => `${t}: a write to its table changes rows behind the change watch`);
  for (const fk of facts.foreignKeys) {
    if (!HARMLESS_ON_UPDATE.has(fk.onUpdate)) {
      violations.push(`foreign key ${fk.name} → ${fk.parent}: ON UPDATE ${fk.onUpdate} (an UPDATE of ${fk.parent} would change ${fk.child})`);
    }
    if (!HARMLESS_ON_DELETE.has(fk.onDelete)) {
      // Allowed only because every statement that deletes from the parent counts as changing everything.
      for (const statement of [`delete from "${fk.parent}" where "id" = ?`, `DELETE FROM ${fk.parent} WHERE id IN (SELECT id FROM ${fk.parent} LIMIT 10)`]) {
        if (writesOf(statement, false) !== 'all') violations.push(`foreign key ${fk.name} → ${fk.parent}: ON DELETE ${fk.onDelete}, but writesOf does not count ${JSON.stringify(statement)} as changing every table`);
      }
    }
  }
  for (const table of facts.replacingTables) {
    violations.push(`table ${table}: declares ON CONFLICT REPLACE (a plain INSERT or UPDATE could delete rows)`);
  }
  if (store.dialect === 'postgres') {
    for (const table of new Set<string>([...ACCESS_CONTEXT_TABLES, ...CLIENT_TABLES, ...RESOURCE_TABLES])) {
      if (!facts.notified.includes(table)) violations.push(`table ${table}: rows are kept from it, but it has no notify trigger (its changes would go unheard)`);
    }
  }
  return violations;
}

async function withMigrated(kind: DbKind, fn: (store: Store) => Promise<void>): Promise<void> {
  const db = await freshDatabase(kind);
  const store = openDatabase(db.url);
  try {
    await migrate(store);
    await fn(store);
  } finally {
    await store.close();
    await db.drop();
  }
}

describe('the change classifier counts every row-deleting statement form as changing every table', () => {
  test('DELETE and the REPLACE forms are "all"; plain INSERT, upsert and UPDATE are as changes.ts states', () => {
    for (const statement of ['delete from "grants" where "id" = ?', 'insert or replace into "grants" ("id") values (?)', 'replace into grants (id) values (?)', 'update or replace "grants" set "scope" = ?']) {
      assert.equal(writesOf(statement, false), 'all', statement);
    }
    assert.equal(writesOf('insert into "grants" ("scope") values (?)', false), 'none');
    assert.deepEqual(writesOf('insert into "grants" ("id") values (?) on conflict do nothing', false), { table: 'grants' });
    assert.deepEqual(writesOf('update "grants" set "scope" = ?', false), { table: 'grants' });
  });
});

for (const kind of databaseKinds()) {
  describe(`migration contract of the change watch [${kind}]`, () => {
    test('after every migration: no trigger, no ON UPDATE action, ON DELETE actions only where every delete is classified "all"', async () => {
      await withMigrated(kind, async (store) => {
        const facts = store.dialect === 'sqlite' ? await sqliteFacts(store) : await postgresFacts(store);
        // The check looks at real foreign keys (the schema has them, with ON DELETE actions).
        assert.ok(facts.foreignKeys.length >= 10, `found ${facts.foreignKeys.length} foreign keys`);
        assert.ok(facts.foreignKeys.some((fk) => fk.onDelete === 'CASCADE'));
        assert.deepEqual(await contractViolations(store), []);
      });
    });

    test('self-test: the check names a trigger, an ON UPDATE CASCADE / SET NULL foreign key and (SQLite) an ON CONFLICT REPLACE table added on top', async () => {
      await withMigrated(kind, async (store) => {
        if (kind === 'sqlite') {
          await sql`create trigger scratch_touch after update on users begin update clients set updated_at = new.updated_at where owner_user_id = new.id; end`.execute(store.db);
          await sql`create table scratch_children (id integer primary key, user_id integer references users (id) on update cascade, client_id integer references clients (id) on update set null)`.execute(store.db);
          await sql`create table scratch_replacing (id integer primary key, name text unique on conflict replace)`.execute(store.db);
        } else {
          await sql.raw('create function scratch_touch() returns trigger language plpgsql as $$ begin return new; end $$').execute(store.db);
          await sql`create trigger scratch_touch after update on users for each row execute function scratch_touch()`.execute(store.db);
          await sql`create table scratch_children (id integer primary key, user_id integer constraint scratch_user references users (id) on update cascade, client_id integer constraint scratch_client references clients (id) on update set null)`.execute(store.db);
          await sql`create rule scratch_rule as on insert to sessions do also delete from grants where false`.execute(store.db);
        }
        const violations = await contractViolations(store);
        const expected = kind === 'sqlite'
          ? [
            'trigger scratch_touch on users: a write to its table changes rows behind the change watch',
            'foreign key scratch_children.client_id → clients: ON UPDATE SET NULL (an UPDATE of clients would change scratch_children)',
            'foreign key scratch_children.user_id → users: ON UPDATE CASCADE (an UPDATE of users would change scratch_children)',
            'table scratch_replacing: declares ON CONFLICT REPLACE (a plain INSERT or UPDATE could delete rows)',
          ]
          : [
            'trigger scratch_touch on users: a write to its table changes rows behind the change watch',
            'rule scratch_rule on sessions: a write to its table changes rows behind the change watch',
            'foreign key scratch_children.scratch_client → clients: ON UPDATE SET NULL (an UPDATE of clients would change scratch_children)',
            'foreign key scratch_children.scratch_user → users: ON UPDATE CASCADE (an UPDATE of users would change scratch_children)',
          ];
        assert.deepEqual([...violations].sort(), [...expected].sort());
      });
    });

    if (kind === 'postgres') {
      test('self-test: a notify trigger dropped, disabled, made row-level or on insert, or whose function writes, is named', async () => {
        await withMigrated(kind, async (store) => {
          await sql`drop trigger latchkey_changes on organizations`.execute(store.db);
          await sql`alter table users disable trigger latchkey_changes`.execute(store.db);
          await sql`drop trigger latchkey_changes on grants`.execute(store.db);
          await sql`create trigger latchkey_changes after update or delete on grants for each row execute function latchkey_notify_change()`.execute(store.db);
          await sql`drop trigger latchkey_changes on clients`.execute(store.db);
          await sql`create trigger latchkey_changes after insert or update or delete on clients for each statement execute function latchkey_notify_change()`.execute(store.db);
          await sql.raw(`create or replace function latchkey_notify_change() returns trigger language plpgsql as $$
            begin perform pg_notify('x', tg_table_name); update sessions set last_seen_at = 0 where false; return null; end $$`).execute(store.db);
          const violations = await contractViolations(store);
          const unheard = (table: string) => `table ${table}: rows are kept from it, but it has no notify trigger (its changes would go unheard)`;
          assert.deepEqual([...violations].sort(), [
            'trigger latchkey_changes on access_tokens: a write to its table changes rows behind the change watch',
            'trigger latchkey_changes on clients: a write to its table changes rows behind the change watch',
            'trigger latchkey_changes on grants: a write to its table changes rows behind the change watch',
            'trigger latchkey_changes on resources: a write to its table changes rows behind the change watch',
            'trigger latchkey_changes on users: a write to its table changes rows behind the change watch',
            unheard('access_tokens'), unheard('clients'), unheard('grants'), unheard('organizations'), unheard('resources'), unheard('users'),
          ].sort());
        });
      });
    }
  });
}
