// store/postgres/named-statements.ts on a real PostgreSQL connection: SQL seen twice runs as a
// named prepared statement, at most MAX_NAMED_PER_CONNECTION of them per connection whatever
// the variety of SQL, and a statement whose table changed shape under it (a migration by
// another process) is prepared anew instead of failing forever.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { MAX_NAMED_PER_CONNECTION, NamedStatements } from '../../src/store/postgres/named-statements.js';
import { freshDatabase, TEST_DATABASE_URL } from '../helpers/databases.js';

async function withConnection(fn: (client: pg.Client, named: NamedStatements) => Promise<void>): Promise<void> {
  const db = await freshDatabase('postgres');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await fn(client, new NamedStatements(client));
  } finally {
    await client.end();
    await db.drop();
  }
}

async function preparedCount(client: pg.Client): Promise<number> {
  const r = await client.query<{ n: string }>('select count(*)::text as n from pg_prepared_statements');
  return Number(r.rows[0]!.n);
}

/** SQL no other test of this process has sent (the sightings are process-wide). */
const unique = (text: string) => `${text} /* ${randomBytes(6).toString('hex')} */`;

describe('PostgreSQL named statements', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  test('SQL is named from its second use on; seen once, it is not prepared', async () => {
    await withConnection(async (client, named) => {
      const text = unique('select $1::int + 1 as n');
      assert.deepEqual((await named.query(text, [1])).rows, [{ n: 2 }]);
      assert.equal(await preparedCount(client), 0, 'seen once: unnamed');
      assert.deepEqual((await named.query(text, [2])).rows, [{ n: 3 }]);
      assert.deepEqual((await named.query(text, [3])).rows, [{ n: 4 }]);
      assert.equal(await preparedCount(client), 1, 'then prepared once and reused');
      assert.equal(named.size, 1);
    });
  });

  test(`a connection prepares at most ${MAX_NAMED_PER_CONNECTION} statements, however many SQL texts it runs`, async () => {
    await withConnection(async (client, named) => {
      const texts = Array.from({ length: MAX_NAMED_PER_CONNECTION + 100 }, (_, i) => unique(`select ${i}::int as n, $1::text as v`));
      for (const round of [1, 2, 3]) {
        for (const [i, text] of texts.entries()) assert.deepEqual((await named.query(text, [`r${round}`])).rows, [{ n: i, v: `r${round}` }]);
      }
      assert.equal(named.size, MAX_NAMED_PER_CONNECTION);
      assert.equal(await preparedCount(client), MAX_NAMED_PER_CONNECTION);
    });
  });

  test('a table that changes shape under a prepared statement: the statement is prepared anew (outside a transaction, the query is run again)', async () => {
    await withConnection(async (client, named) => {
      await client.query('create table shifting (a integer)');
      await client.query('insert into shifting (a) values (1)');
      const text = unique('select * from shifting where a = $1');
      await named.query(text, [1]);
      assert.deepEqual((await named.query(text, [1])).rows, [{ a: 1 }]);
      // Another process migrates: a column is added.
      await client.query('alter table shifting add column b integer default 7');
      assert.deepEqual((await named.query(text, [1])).rows, [{ a: 1, b: 7 }]);
      assert.deepEqual((await named.query(text, [1])).rows, [{ a: 1, b: 7 }], 'and from then on as a statement of the new generation');

      // Inside a transaction the transaction has failed: the error is the caller's, and the next one works.
      await client.query('alter table shifting add column c integer default 8');
      await client.query('begin');
      await assert.rejects(named.query(text, [1]), (err: unknown) => (err as { code?: string }).code === '0A000');
      await client.query('rollback');
      assert.deepEqual((await named.query(text, [1])).rows, [{ a: 1, b: 7, c: 8 }]);
    });
  });
});
