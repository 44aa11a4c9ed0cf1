// Statements and round trips to PostgreSQL per request, for each token-endpoint operation
// (docs/PERFORMANCE.md, "PostgreSQL round trips"). Counts, not timings: it runs a Latchkey
// server in this process on a fresh schema, sends each operation's requests one at a time and
// then ten at once, and counts what node-postgres's clients were asked to run.
//
//   node --import tsx bench/round-trips.ts [--database-url postgres://postgres@127.0.0.1:5432/test] [--requests 200]
//
// A statement is one query handed to a pg client; a round trip is one that was sent while
// that client had no other query awaiting its answer (so statements pipelined behind one
// another share a round trip). Without pipelining the two are equal.
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

process.env.LATCHKEY_DEV_CHECKS ??= '0';

const { values } = parseArgs({ options: { 'database-url': { type: 'string' }, requests: { type: 'string' } } });
const url = values['database-url'] ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
process.env.TEST_DATABASE_URL = url;
const requests = Number(values.requests ?? 200);

// The same pg module src/store/db.ts loads (createRequire of 'pg' from the repository).
const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
let statements = 0;
let roundTrips = 0;
const inFlight = new WeakMap<object, number>();
const original = pg.Client.prototype.query as (this: object, ...args: unknown[]) => unknown;
pg.Client.prototype.query = function countingQuery(this: object, ...args: unknown[]) {
  statements += 1;
  const busy = inFlight.get(this) ?? 0;
  if (busy === 0) roundTrips += 1;
  inFlight.set(this, busy + 1);
  const done = () => inFlight.set(this, (inFlight.get(this) ?? 1) - 1);
  const result = original.apply(this, args);
  if (result instanceof Promise) result.then(done, done);
  else done();
  return result;
} as typeof pg.Client.prototype.query;

const { startTestServer } = await import('../test/helpers/server.js');
const { createClient, createUser, mintCode } = await import('../test/helpers/fixtures.js');
const { exchangeCode, getUser, postToken, refresh, secretPost, tokensOf } = await import('../test/helpers/token.js');

const server = await startTestServer('postgres');
try {
  const client = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
  const user = await createUser(server);
  const codes = async (n: number, scope = 'profile email') => Promise.all(Array.from({ length: n }, async () => (await mintCode(server, { client, userId: user.id, scope })).code));
  const pairs = async (n: number) => {
    const minted = await codes(n);
    const out = [];
    for (const code of minted) out.push(tokensOf(await exchangeCode(server, client, code)));
    return out;
  };
  const expect200 = (r: { status: number; body: unknown }) => {
    if (r.status !== 200) throw new Error(`expected 200, got ${r.status}: ${JSON.stringify(r.body)}`);
  };
  const post = async (path: string, form: Record<string, string>) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    return { status: res.status, body: await res.text() };
  };
  const basic = { basic: { id: client.clientId, secret: client.clientSecret ?? '' } };

  type Op = { name: string; prepare(n: number): Promise<Array<() => Promise<void>>> };
  const ops: Op[] = [
    { name: 'client_credentials', prepare: async (n) => Array.from({ length: n }, () => async () => expect200(await postToken(server, { grant_type: 'client_credentials', scope: 'profile' }, basic))) },
    { name: 'refresh', prepare: async (n) => (await pairs(n)).map((p) => async () => expect200(await refresh(server, client, p.refreshToken))) },
    { name: 'code', prepare: async (n) => (await codes(n)).map((c) => async () => expect200(await exchangeCode(server, client, c))) },
    { name: 'code_openid', prepare: async (n) => (await codes(n, 'openid profile email')).map((c) => async () => expect200(await exchangeCode(server, client, c))) },
    { name: 'revoke', prepare: async (n) => (await pairs(n)).map((p) => async () => expect200(await post('/oauth/revoke', { token: p.refreshToken, ...secretPost(client) }))) },
    { name: 'introspect', prepare: async (n) => (await pairs(n)).map((p) => async () => expect200(await post('/oauth/introspect', { token: p.accessToken, ...secretPost(client) }))) },
    { name: 'user_opaque', prepare: async (n) => (await pairs(n)).map((p) => async () => expect200(await getUser(server, p.accessToken))) },
  ];

  const rows: string[] = ['| operation | statements/request, 1 at a time | round trips/request, 1 at a time | statements/request, 10 at once | round trips/request, 10 at once |', '|---|---|---|---|---|'];
  for (const op of ops) {
    const figures: string[] = [];
    for (const concurrency of [1, 10]) {
      const calls = await op.prepare(requests);
      statements = 0;
      roundTrips = 0;
      for (let i = 0; i < calls.length; i += concurrency) await Promise.all(calls.slice(i, i + concurrency).map((call) => call()));
      figures.push((statements / calls.length).toFixed(2), (roundTrips / calls.length).toFixed(2));
    }
    rows.push(`| ${op.name} | ${figures[0]} | ${figures[1]} | ${figures[2]} | ${figures[3]} |`);
  }
  process.stdout.write(`${rows.join('\n')}\n`);
} finally {
  await server.close();
}
