// Soak: minutes of mixed traffic against one `latchkey serve` process, with refresh-token
// rotation, code flows, client credentials, introspection, revocation, retries inside the
// refresh_retry_window, password grants and a share of failures. Every sample interval it
// prints the rows in the token tables and the server process's RSS: under steady traffic both
// must level off (the purge timer deletes what expired; nothing leaks).
//
//   npm run soak                                   5 minutes on a fresh SQLite file
//   npm run soak -- --minutes 1 --sample 15        shorter
//   npm run soak -- --rate 300                     steps a second (default 120; one to three requests each)
//   npm run soak -- --database-url postgres://…    on PostgreSQL (a schema of its own)
//
// Not part of `npm test`. Short lifetimes make expiry happen within the run: access tokens
// live 60 s, refresh tokens 120 s, codes 60 s; the purge runs every 15 s and keeps dead rows
// 30 s, so the tables level off after about three minutes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { registerClient } from '../src/accounts/client-registration.js';
import { createUser } from '../src/accounts/users.js';
import { loadConfig } from '../src/config/load.js';
import { createServices } from '../src/services.js';
import { migrate, openDatabase } from '../src/store/db.js';
import { countRows, type PurgeCounts } from '../src/store/purge.js';
import type { User } from '../src/oauth/model.js';
import { startServerProcess } from '../test/hardening/process.js';
import { authorize, signIn } from '../test/helpers/authorize.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    sample: { type: 'string', default: '60' },
    workers: { type: 'string', default: '12' },
    rate: { type: 'string', default: '120' },
    'database-url': { type: 'string' },
  },
});
const MINUTES = Number(args.minutes);
const SAMPLE_SECONDS = Number(args.sample);
const WORKERS = Number(args.workers);
/** Steps a second across all workers (each step is one to three requests): steady traffic, whatever else the machine does. */
const RATE = Number(args.rate);

const quiet = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-soak-'));
  let databaseUrl = args['database-url'] ?? `sqlite:${join(dir, 'soak.db')}`;
  let schema: string | undefined;
  if (databaseUrl.startsWith('postgres')) {
    schema = `soak_${randomBytes(4).toString('hex')}`;
    const u = new URL(databaseUrl);
    u.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = u.toString();
  }
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ access_token_ttl: 60, refresh_token_ttl: 120, authorization_code_ttl: 60, refresh_retry_window: 10 }));

  // Users and clients, straight into the database before the server starts.
  const store = openDatabase(databaseUrl, schema ? { schema } : {});
  await migrate(store);
  const services = createServices(loadConfig({ env: { DATABASE_URL: databaseUrl, LATCHKEY_CONFIG: configFile } }), store, { logger: quiet });
  const password = 'soak test password';
  const users: User[] = [];
  for (let i = 0; i < 4; i += 1) users.push(await createUser(services, { email: `soak${i}@example.com`, name: `Soak ${i}`, password }));
  const { client, clientSecret } = await registerClient(services, {
    name: 'Soak client', redirectUris: ['https://soak.example/cb'], grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password'],
  });
  const secret = clientSecret ?? '';

  const server = await startServerProcess({
    DATABASE_URL: databaseUrl, LATCHKEY_CONFIG: configFile, LATCHKEY_PURGE_INTERVAL: '15', LATCHKEY_PURGE_MARGIN: '30',
    LATCHKEY_TOKEN_RATE_LIMIT: '0', LATCHKEY_LOGIN_RATE_LIMIT: '0', LOG_LEVEL: 'warn',
  });
  const base = server.url;
  console.log(`soak: ${MINUTES} min, ${WORKERS} workers, ${RATE} steps/s, server pid ${server.pid} on ${base}, database ${databaseUrl.replace(/\/\/[^@]*@/, '//')}`);

  const form = (params: Record<string, string>) => ({
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString(),
  });
  const stats = { requests: 0, byStatus: new Map<number, number>(), unexpected: 0, lastUnexpected: '' };
  async function call(path: string, init: RequestInit, expect: number[]): Promise<Record<string, unknown>> {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    stats.requests += 1;
    stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
    if (!expect.includes(res.status)) {
      stats.unexpected += 1;
      stats.lastUnexpected = `${path} ${res.status} ${text.slice(0, 200)}`;
    }
    try {
      return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      return {};
    }
  }
  const auth = { client_id: client.clientId, client_secret: secret };

  // Each worker keeps a refresh chain and a signed-in browser session.
  const deadline = Date.now() + MINUTES * 60_000;
  async function worker(n: number): Promise<void> {
    const user = users[n % users.length]!;
    const jar = await signIn({ url: base }, user.email, password);
    let refreshToken = '';
    let previous = '';
    const newChain = async () => {
      const flow = await authorize({ url: base }, { clientId: client.clientId, redirectUri: 'https://soak.example/cb', state: 's', cookies: jar });
      stats.requests += 1;
      if (!flow.code) {
        stats.unexpected += 1;
        stats.lastUnexpected = `authorize ${flow.status} ${flow.error ?? ''}`;
        return;
      }
      const t = await call('/oauth/token', form({ grant_type: 'authorization_code', code: flow.code, redirect_uri: 'https://soak.example/cb', ...auth }), [200]);
      refreshToken = String(t.refresh_token ?? '');
      previous = '';
    };
    await newChain();
    let i = 0;
    const interval = (WORKERS / RATE) * 1000;
    let nextAt = Date.now() + (n * interval) / WORKERS;
    while (Date.now() < deadline) {
      i += 1;
      nextAt += interval;
      const wait = nextAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const roll = (i * 7919 + n * 104729) % 100;
      if (roll < 45 && refreshToken !== '') {
        const t = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: refreshToken, ...auth }), [200]);
        previous = refreshToken;
        refreshToken = String(t.refresh_token ?? '');
        await call('/api/user', { headers: { authorization: `Bearer ${String(t.access_token ?? '')}` } }, [200]);
      } else if (roll < 50 && previous !== '') {
        // A lost response: the used token again, inside the retry window.
        const t = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: previous, ...auth }), [200]);
        refreshToken = String(t.refresh_token ?? '');
        previous = '';
      } else if (roll < 62) {
        await newChain();
      } else if (roll < 80) {
        const t = await call('/oauth/token', form({ grant_type: 'client_credentials', ...auth }), [200]);
        const token = String(t.access_token ?? '');
        await call('/oauth/introspect', form({ token, ...auth }), [200]);
        if (roll < 70) await call('/oauth/revoke', form({ token, ...auth }), [200]);
      } else if (roll < 82) {
        await call('/oauth/token', form({ grant_type: 'password', username: user.email, password, ...auth }), [200]);
      } else if (roll < 90) {
        // Failures: wrong secret, unknown refresh token, unknown code, malformed body.
        await call('/oauth/token', form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' }), [401]);
        await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: randomBytes(32).toString('base64url'), ...auth }), [400]);
        await call('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' }, [400]);
      } else {
        await call('/api/user', { headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` } }, [401]);
        await call('/healthz', {}, [200]);
      }
    }
  }

  const samples: Array<{ minute: number; requests: number; rssMb: number; rows: PurgeCounts }> = [];
  const sample = async (label: number) => {
    const rows = await countRows(store.db);
    const s = { minute: label, requests: stats.requests, rssMb: rssMb(server.pid), rows };
    samples.push(s);
    console.log(`t=${String(label).padStart(4)} min  requests=${String(s.requests).padStart(7)}  rss=${s.rssMb} MB  codes=${rows.authorization_codes}  access=${rows.access_tokens}  refresh=${rows.refresh_tokens}  grants=${rows.grants}  sessions=${rows.sessions}  unexpected=${stats.unexpected}`);
  };
  await sample(0);
  const sampler = setInterval(() => void sample(Math.round(((Date.now() - (deadline - MINUTES * 60_000)) / 60_000) * 100) / 100), SAMPLE_SECONDS * 1000);
  await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
  clearInterval(sampler);
  await sample(MINUTES);

  const statuses = Object.fromEntries([...stats.byStatus].sort(([a], [b]) => a - b));
  console.log(`statuses ${JSON.stringify(statuses)}; unexpected answers: ${stats.unexpected}${stats.unexpected ? ` (last: ${stats.lastUnexpected})` : ''}`);
  const outDir = resolve(import.meta.dirname, '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'soak-latest.json');
  writeFileSync(out, `${JSON.stringify({ finishedAt: new Date().toISOString(), minutes: MINUTES, workers: WORKERS, stepsPerSecond: RATE, database: databaseUrl.split(':')[0], statuses, unexpected: stats.unexpected, samples }, null, 2)}\n`);
  console.log(`written ${out}`);

  await server.stop();
  if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (stats.unexpected > 0) process.exitCode = 1;
}

await main();
