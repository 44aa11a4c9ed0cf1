// Latchkey as the bench runs it: a private build of the current sources (so another
// engineer's half-finished rebuild of dist/ cannot change what is measured mid-run), fixtures
// made with the admin CLI, and `latchkey serve` as its own process with production logging.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HarnessError, freePort, startServer, type StartedServer } from './proc.js';
import { OAuthTarget } from './targets.js';

const run = promisify(execFile);

export const REDIRECT_URI = 'https://client.example/cb';
export const USER = { email: 'bench@example.com', name: 'John Doe', password: 'bench-password-1234', locale: 'nl' };
/**
 * The password grant is measured for several people, as it is used: Latchkey verifies at most
 * two passwords of one account at once (accounts/backoff.ts), so one account sent 50 at once
 * would measure the brute-force guard's 429s, not argon2.
 */
export const PASSWORD_USERS = Array.from({ length: 8 }, (_, i) => `bench-pw-${i}@example.com`);

/**
 * What the bench can run: `bundle` is what bin/latchkey.js runs in production (tsc's output
 * bundled into one file by scripts/bundle.mjs); `main` is tsc's output unbundled, which the
 * profiler uses so that its frames name our source files.
 */
export interface Build {
  bundle: string;
  main: string;
}

/** Builds src/ into outDir as `npm run build` does (scripts/build.mjs: tsc, then the bundle). */
export async function buildLatchkey(root: string, outDir: string): Promise<Build> {
  const built: Build = { bundle: join(outDir, 'latchkey.mjs'), main: join(outDir, 'main.js') };
  try {
    await run(process.execPath, [join(root, 'scripts', 'build.mjs'), outDir], { cwd: root, maxBuffer: 16 << 20 });
  } catch (err) {
    // Type errors still leave a bundle (tsc emits anyway); only a missing one stops the bench.
    const e = err as { stdout?: string; stderr?: string };
    if (!existsSync(built.bundle)) throw new HarnessError(`the build produced no ${built.bundle}: ${(e.stderr ?? '').trim()}`);
    process.stderr.write(`bench: the build reported errors (continuing with what it emitted):\n${(e.stdout ?? '').split('\n').slice(0, 10).join('\n')}\n`);
  }
  return built;
}

/** A dist/ built before (`--dist DIR`, `--use-dist`); without its bundle, tsc's output runs. */
export function existingBuild(dir: string): Build {
  const main = join(dir, 'main.js');
  const bundle = join(dir, 'latchkey.mjs');
  if (!existsSync(main)) throw new HarnessError(`no ${main}: run npm run build`);
  return { bundle: existsSync(bundle) ? bundle : main, main };
}

export interface DatabaseSpec {
  url: string;
  /** PostgreSQL schema to drop at the end; SQLite file path otherwise. */
  schema?: string;
  file?: string;
}

/** A fresh database for one server: a new SQLite file, or a new PostgreSQL schema. */
export function freshDatabase(base: string | undefined, tmpDir: string, name: string): DatabaseSpec {
  if (!base) {
    const file = join(tmpDir, `${name}.db`);
    return { url: `sqlite:${file}`, file };
  }
  const schema = `bench_${randomBytes(4).toString('hex')}_${name.replace(/[^a-z0-9]/g, '_')}`;
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return { url: u.toString(), schema };
}

export interface LatchkeyInstance {
  target: OAuthTarget;
  server: StartedServer;
  db: DatabaseSpec;
  clientId: string;
  userId: number;
}

export class CliError extends Error {
  override name = 'CliError';
}

export async function cli(main: string, args: string[], databaseUrl: string): Promise<Record<string, unknown>> {
  try {
    const { stdout } = await run(process.execPath, [main, ...args, '--database-url', databaseUrl], { env: cleanEnv(), maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new CliError(`latchkey ${args.slice(0, 2).join(' ')} failed: ${(e.stderr ?? e.message).trim().split('\n')[0] ?? ''}`);
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['PORT', 'HOST', 'DATABASE_URL', 'LATCHKEY_ISSUER', 'LATCHKEY_PROFILE', 'LATCHKEY_CONFIG', 'REDIS_URL', 'NODE_OPTIONS']) delete env[k];
  return env;
}

export interface Fixtures {
  userId: number;
  clientId: string;
  clientSecret: string;
  /** A second client whose ID tokens are signed ES256. */
  es256ClientId: string;
  es256ClientSecret: string;
}

function clientCredentials(client: Record<string, unknown>): { id: string; secret: string } {
  if (typeof client.client_id !== 'string' || typeof client.client_secret !== 'string') throw new CliError(`client create printed ${JSON.stringify(client)}`);
  return { id: client.client_id, secret: client.client_secret };
}

/** The user and the clients every Latchkey server of the bench has. */
export async function createFixtures(main: string, databaseUrl: string): Promise<Fixtures> {
  const user = await cli(main, ['user', 'create', '--email', USER.email, '--name', USER.name, '--password', USER.password, '--locale', USER.locale], databaseUrl);
  for (const email of PASSWORD_USERS) await cli(main, ['user', 'create', '--email', email, '--name', USER.name, '--password', USER.password, '--locale', USER.locale], databaseUrl);
  const client = clientCredentials(await cli(main, [
    'client', 'create', '--name', 'Bench client', '--redirect-uris', REDIRECT_URI,
    '--grant-types', 'authorization_code,refresh_token,password,client_credentials',
  ], databaseUrl));
  const es256Args = ['client', 'create', '--name', 'Bench client ES256', '--redirect-uris', REDIRECT_URI, '--grant-types', 'authorization_code,refresh_token'];
  let es256: { id: string; secret: string };
  try {
    es256 = clientCredentials(await cli(main, [...es256Args, '--id-token-alg', 'ES256'], databaseUrl));
  } catch (err) {
    // A build from before OpenID Connect (a --compare baseline) has no --id-token-alg: its
    // second client is a plain one, and the ES256 operation checks for the ID token it lacks.
    if (!(err instanceof CliError)) throw err;
    es256 = clientCredentials(await cli(main, es256Args, databaseUrl));
  }
  return { userId: Number(user.id), clientId: client.id, clientSecret: client.secret, es256ClientId: es256.id, es256ClientSecret: es256.secret };
}

export interface ServeOptions {
  name: string;
  main: string;
  db: DatabaseSpec;
  tmpDir: string;
  configFile?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** `serve --workers N` (unset: one process). */
  workers?: number;
}

export const ENCRYPTION_KEY = randomBytes(32).toString('base64');

/**
 * The node flags and environment Latchkey is started with in production: bin/latchkey.js's
 * first line and `npm start` pass the same (test/cli/node-flags.test.ts keeps the three equal).
 */
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
export const SERVE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

export async function serveLatchkey(o: ServeOptions): Promise<StartedServer> {
  const port = await freePort();
  return startServer({
    name: o.name,
    command: process.execPath,
    args: [...(o.nodeFlags ?? []), ...SERVE_NODE_FLAGS, o.main, 'serve', '--port', String(port), '--host', '127.0.0.1', '--database-url', o.db.url, ...(o.configFile ? ['--config', o.configFile] : []), ...(o.workers ? ['--workers', String(o.workers)] : [])],
    env: {
      ...cleanEnv(),
      ...SERVE_ENV,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY,
      // The per-address limits stay on (their cost is measured) but set where one load
      // generator on one address never reaches them.
      LATCHKEY_TOKEN_RATE_LIMIT: '1000000000',
      LATCHKEY_LOGIN_RATE_LIMIT: '1000000000',
    },
    port,
    readyPath: '/readyz',
    logFile: join(o.tmpDir, `${o.name}.log`),
  });
}

export async function startLatchkey(o: ServeOptions & { fixtures?: Fixtures }): Promise<LatchkeyInstance> {
  const fixtures = o.fixtures ?? (await createFixtures(o.main, o.db.url));
  const server = await serveLatchkey(o);
  const target = new OAuthTarget({
    name: o.name,
    server,
    paths: { authorize: '/oauth/authorize', token: '/oauth/token', user: '/api/user', userinfo: '/oauth/userinfo', introspect: '/oauth/introspect', revoke: '/oauth/revoke' },
    client: { id: fixtures.clientId, secret: fixtures.clientSecret, redirectUri: REDIRECT_URI },
    es256Client: { id: fixtures.es256ClientId, secret: fixtures.es256ClientSecret, redirectUri: REDIRECT_URI },
    scopes: { tokens: 'profile email', user: 'profile email', openid: 'openid profile email' },
    credentials: { username: USER.email, password: USER.password },
    supportsPassword: true,
    passwordUsers: PASSWORD_USERS,
    tmpDir: o.tmpDir,
  });
  return { target, server, db: o.db, clientId: fixtures.clientId, userId: fixtures.userId };
}
