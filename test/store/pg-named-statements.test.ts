// store/postgres/named-statements.ts on a real PostgreSQL connection: SQL seen twice runs as a
// named prepared statement, at most MAX_NAMED_PER_CONNECTION of them per connection whatever
// the variety of SQL, and a statement whose table changed shape under it (a migration by
// another process) is prepared anew instead of failing forever. Every test runs twice: with
// node-postgres's own named queries, and with lean-query.ts (the pool's way: a statement's
// result described once per connection), which has tests of its own below.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { MAX_NAMED_PER_CONNECTION, NamedStatements, type PgClient } from '../../src/store/postgres/named-statements.js';
import { leanQueries } from '../../src/store/postgres/lean-query.js';
import { freshDatabase, TEST_DATABASE_URL } from '../helpers/databases.js';

const lean = leanQueries(pg);

/** A connection in node-postgres's pipeline mode (as the pool's), and named statements on it, the lean way or not. */
async function withClient(fn: (client: pg.Client, named: NamedStatements) => Promise<void>, leanQueries: boolean): Promise<void> {
  const db = await freshDatabase('postgres');
  const client = new pg.Client({ connectionString: db.url, pipeline: true } as pg.ClientConfig);
  await client.connect();
  try {
    const through: PgClient = leanQueries
      ? { query: ((config: pg.QueryConfig) => client.query(config)) as PgClient['query'], getTransactionStatus: () => client.getTransactionStatus(), queryNamed: (name, text, values) => lean(client, name, text, values) }
      : client;
    await fn(client, new NamedStatements(through));
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

for (const way of ['lean', 'node-postgres'] as const) describe(`PostgreSQL named statements (${way})`, { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  const withConnection = (fn: (client: pg.Client, named: NamedStatements) => Promise<void>) => withClient(fn, way === 'lean');

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

describe('PostgreSQL named statements described once per connection (lean-query.ts)', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  const withConnection = (fn: (client: pg.Client, named: NamedStatements) => Promise<void>) => withClient(fn, true);

  test('rows built from the kept description equal node-postgres\'s own, NULLs, types, names and odd text included, over many executions', async () => {
    await withConnection(async (client, named) => {
      await client.query(`create table kinds (id integer primary key, big bigint, flag boolean, doc jsonb, at timestamptz, label text, "odd name" text)`);
      const odd = ['', 'tab\there', 'line\nbreak', 'é 漢字 🙂', "quote ' \" \\ back", '\u0001\u001f\u007f'];
      for (const [i, label] of odd.entries()) {
        await client.query('insert into kinds values ($1, $2, $3, $4, $5, $6, $7)', [i, i % 2 ? null : String(2n ** 60n + BigInt(i)), i % 3 === 0, i % 2 ? { n: i, s: label } : null, i % 2 ? null : new Date(1_800_000_000_000 + i), label, i % 2 ? null : `odd ${i}`]);
      }
      const text = unique('select * from kinds where id = $1');
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < odd.length; i++) {
          const ours = (await named.query(text, [i])).rows;
          const theirs = (await client.query({ text: 'select * from kinds where id = $1', values: [i] })).rows;
          assert.deepEqual(ours, theirs, `row ${i}, round ${round}`);
        }
      }
      // An execution that matches no row, and one that matches several.
      // A column named like Object.prototype's accessor stays a column (node-postgres's rows agree).
      const proto = unique('select $1::text as "__proto__", $2::jsonb as "constructor", 1 as "toString"');
      for (let round = 0; round < 3; round++) {
        const ours = (await named.query(proto, ['x', '{"polluted": true}'])).rows[0] as Record<string, unknown>;
        assert.equal(Object.getPrototypeOf(ours), Object.prototype, `round ${round}`);
        assert.deepEqual(Object.getOwnPropertyDescriptor(ours, '__proto__')?.value, 'x');
        assert.deepEqual(ours.constructor, { polluted: true });
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.deepEqual(Object.keys(ours), ['__proto__', 'constructor', 'toString']);
      }
      const many = unique('select id, label from kinds where id >= $1 order by id');
      await named.query(many, [0]);
      assert.deepEqual((await named.query(many, [100])).rows, []);
      assert.deepEqual((await named.query(many, [odd.length - 2])).rows.map((r) => r.id), [odd.length - 2, odd.length - 1]);
    });
  });

  test('fifty statements of five texts at once on the pipelined connection: each gets its own rows', async () => {
    await withConnection(async (_client, named) => {
      const texts = Array.from({ length: 5 }, (_, k) => unique(`select $1::int * ${k + 1} as v, $2::text as tag`));
      for (const text of texts) await named.query(text, [0, 'warm']);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => named.query(texts[i % 5]!, [i, `t${i}`])));
      results.forEach((r, i) => assert.deepEqual(r.rows, [{ v: i * ((i % 5) + 1), tag: `t${i}` }]));
    });
  });

  test('a statement that fails after its description was kept (division by zero, a unique violation) fails alone; the next executions are right', async () => {
    await withConnection(async (client, named) => {
      await client.query('create table once (k text primary key)');
      const divide = unique('select 10 / $1::int as q');
      const insert = unique('insert into once (k) values ($1) returning k');
      assert.deepEqual((await named.query(divide, [2])).rows, [{ q: 5 }]);
      assert.deepEqual((await named.query(divide, [5])).rows, [{ q: 2 }]);
      assert.deepEqual((await named.query(insert, ['a'])).rows, [{ k: 'a' }]);
      assert.deepEqual((await named.query(insert, ['b'])).rows, [{ k: 'b' }]);
      const [bad, good, dup, fresh] = await Promise.allSettled([named.query(divide, [0]), named.query(divide, [1]), named.query(insert, ['a']), named.query(insert, ['c'])]);
      assert.equal(bad.status === 'rejected' && (bad.reason as { code?: string }).code, '22012');
      assert.deepEqual(good.status === 'fulfilled' && good.value.rows, [{ q: 10 }]);
      assert.equal(dup.status === 'rejected' && (dup.reason as { code?: string }).code, '23505');
      assert.deepEqual(fresh.status === 'fulfilled' && fresh.value.rows, [{ k: 'c' }]);
      assert.deepEqual((await named.query(divide, [3])).rows, [{ q: 3 }]);
      assert.deepEqual((await named.query(insert, ['d'])).rows, [{ k: 'd' }]);
    });
  });

  test('a value that cannot be sent fails its own query only, on the kept-description path too', async () => {
    await withConnection(async (_client, named) => {
      const text = unique('select $1::text as v');
      assert.deepEqual((await named.query(text, ['x'])).rows, [{ v: 'x' }]);
      assert.deepEqual((await named.query(text, ['y'])).rows, [{ v: 'y' }]);
      const unsendable = { toPostgres: () => { throw new Error('not sendable'); } };
      const [bad, after] = await Promise.allSettled([named.query(text, [unsendable]), named.query(text, ['z'])]);
      assert.equal(bad.status === 'rejected' && (bad.reason as Error).message, 'not sendable');
      assert.deepEqual(after.status === 'fulfilled' && after.value.rows, [{ v: 'z' }]);
      assert.deepEqual((await named.query(text, ['w'])).rows, [{ v: 'w' }]);
    });
  });
});
