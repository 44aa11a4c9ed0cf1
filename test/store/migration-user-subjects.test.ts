// Migration 007 (src/store/migrations/007-user-subjects.ts): a database of users made before it
// gets a subject for each of them — non-empty, random, one per user, unrelated to the row id and
// the e-mail — and from then on the column is NOT NULL and unique, so no subject is shared, an
// e-mail change leaves it alone, and a user made after a deletion gets a value of its own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import { UserStore } from '../../src/store/users.js';
import { databaseKinds, freshDatabase, type DbKind } from '../helpers/databases.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** More users than one backfill UPDATE takes, so that the batches are crossed. */
const OLD_USERS = 1203;

/** The fully migrated schema taken back to where 006 left it: no subject column, 007 not recorded. */
async function backTo006(store: Store): Promise<void> {
  await sql`drop index users_subject`.execute(store.db);
  await sql`alter table users drop column subject`.execute(store.db);
  await sql`delete from latchkey_migrations where name = '007-user-subjects'`.execute(store.db);
}

/** Runs `fn` on a fresh database of `kind` as 006 left it, and drops the database afterwards. */
async function withDatabaseAt006(kind: DbKind, fn: (store: Store) => Promise<void>): Promise<void> {
  const fresh = await freshDatabase(kind);
  const store = openDatabase(fresh.url, fresh.schema ? { schema: fresh.schema } : {});
  try {
    await migrate(store);
    await backTo006(store);
    await fn(store);
  } finally {
    await store.close();
    await fresh.drop();
  }
}

async function insertOldUsers(store: Store, count: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => {
    const email = `old${String(i).padStart(4, '0')}@example.com`;
    return sql`(${email}, ${email}, ${`Old ${i}`}, 'en', 'x', 1, 1)`;
  });
  await sql`insert into users (email, email_normalized, name, locale, password_hash, created_at, updated_at) values ${sql.join(rows)}`.execute(store.db);
}

async function subjects(store: Store): Promise<Array<{ id: number; email: string; subject: string }>> {
  return (await sql<{ id: number; email: string; subject: string }>`select id, email, subject from users order by id`.execute(store.db)).rows;
}

for (const kind of databaseKinds()) {
  describe(`migration 007, user subjects [${kind}]`, () => {
    test('existing users each get a distinct random subject, not their id or e-mail; the column is NOT NULL and unique', async () => {
      await withDatabaseAt006(kind, async (store) => {
        await insertOldUsers(store, OLD_USERS);
        // Gaps in the ids: deleted accounts.
        await sql`delete from users where id % 7 = 3`.execute(store.db);
        const before = (await sql<{ id: number }>`select id from users order by id`.execute(store.db)).rows.map((r) => r.id);

        assert.deepEqual(await migrate(store), ['007-user-subjects']);
        assert.deepEqual(await migrate(store), [], 'a second run changes nothing');

        const rows = await subjects(store);
        assert.deepEqual(rows.map((r) => r.id), before, 'no user added or lost');
        for (const r of rows) {
          assert.match(r.subject, UUID_V4, `user ${r.id}`);
          assert.notEqual(r.subject, String(r.id), `user ${r.id}'s subject is not its row id`);
          assert.ok(!r.subject.includes(r.email.split('@')[0]!), `user ${r.id}'s subject is not made of the e-mail`);
        }
        assert.equal(new Set(rows.map((r) => r.subject)).size, rows.length, 'one subject per user');

        const taken = rows[0]!;
        await assert.rejects(
          sql`insert into users (email, email_normalized, name, locale, password_hash, subject, created_at, updated_at) values ('twin@example.com', 'twin@example.com', 'T', 'en', 'x', ${taken.subject}, 1, 1)`.execute(store.db),
          'a second user with the same subject is refused',
        );
        await assert.rejects(
          sql`insert into users (email, email_normalized, name, locale, password_hash, subject, created_at, updated_at) values ('none@example.com', 'none@example.com', 'N', 'en', 'x', null, 1, 1)`.execute(store.db),
          'a user without a subject is refused',
        );
      });
    });

    test('after the migration an e-mail change keeps the subject, and a user made after a deletion never gets a deleted one', async () => {
      await withDatabaseAt006(kind, async (store) => {
        await insertOldUsers(store, 3);
        assert.deepEqual(await migrate(store), ['007-user-subjects']);
        const users = new UserStore(store.db);
        const [first, second, third] = await subjects(store);

        await users.update(first!.id, { email: 'renamed@example.com', name: 'Renamed' }, 2);
        const renamed = await users.findById(first!.id);
        assert.equal(renamed?.email, 'renamed@example.com');
        assert.equal(renamed?.subject, first!.subject, 'the e-mail changed, the subject did not');
        assert.deepEqual(await users.findBySubject(first!.subject), renamed);

        // The newest user goes, and new ones come: none has its subject (nor its id).
        await sql`delete from users where id = ${third!.id}`.execute(store.db);
        assert.equal(await users.findBySubject(third!.subject), undefined, 'a deleted user\'s subject names no one');
        const ever = new Set([first!.subject, second!.subject, third!.subject]);
        for (let i = 0; i < 50; i++) {
          const made = await users.insert({ email: `new${i}@example.com`, name: `New ${i}`, locale: 'en', passwordHash: 'x', now: 3 });
          assert.match(made.subject, UUID_V4);
          assert.ok(!ever.has(made.subject), `new user ${made.id} got a subject already given`);
          assert.ok(made.id > third!.id, 'row ids are not reused either (AUTOINCREMENT / serial)');
          ever.add(made.subject);
        }
      });
    });
  });
}
