// Starts a real Latchkey server on a random loopback port, on a fresh database, with a
// clock the test can move. Tests speak HTTP to `url`.
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/load.js';
import type { ProfileName } from '../../src/config/profiles.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { MovableClock } from '../../src/oauth/clock.js';
import type { Services } from '../../src/services.js';
import { freshDatabase, type DbKind, type FreshDatabase } from './databases.js';

// The development checks (src/store/dev-checks.ts) are on in every test that builds its services here.
process.env.LATCHKEY_DEV_CHECKS ??= '1';

export interface TestServer {
  url: string;
  clock: MovableClock;
  services: Services;
  config: Config;
  db: FreshDatabase;
  /** Every log line the server wrote (JSON strings). */
  logs: string[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  profile?: ProfileName;
  /** Config-file keys as in SPEC.md, e.g. { access_token_format: 'jwt' }. */
  file?: Record<string, unknown>;
  overrides?: Partial<Config>;
  env?: Record<string, string>;
  /** Reuse an existing database (e.g. a second server on the same PostgreSQL schema). */
  database?: FreshDatabase;
}

export async function startTestServer(kind: DbKind, options: TestServerOptions = {}): Promise<TestServer> {
  const db = options.database ?? (await freshDatabase(kind));
  // Mail without SMTP_URL goes to an outbox folder: a temporary one, never the repository's ./var.
  const env: NodeJS.ProcessEnv = { DATABASE_URL: db.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LATCHKEY_OUTBOX: join(tmpdir(), 'latchkey-test-outbox'), ...options.env };
  if (options.profile) env.LATCHKEY_PROFILE = options.profile;
  const config = loadConfig({ env });
  if (options.file) {
    const { applyFileSettings } = await import('../../src/config/load.js');
    applyFileSettings(config, options.file, 'test config');
  }
  Object.assign(config, options.overrides);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(line);
      cb();
    },
  });
  const clock = new MovableClock();
  const server: RunningServer = await startServer(config, { clock, logDestination: sink, ...(db.schema ? { schema: db.schema } : {}) });
  // The issuer must name the real port, which is only known after listen().
  if (!options.env?.LATCHKEY_ISSUER && !options.overrides?.issuer) config.issuer = server.url;
  return {
    url: server.url,
    clock,
    services: server.app.services,
    config,
    db,
    logs,
    async close() {
      await server.close();
      if (!options.database) await db.drop();
    },
  };
}

/**
 * Stops the server's clock at the current instant (advance() still moves it), so that a
 * test asserting an exact expiry boundary is not upset by a real second ticking between two
 * requests. Returns the function that lets it run again.
 */
export function freezeClock(server: TestServer): () => void {
  const clock = server.clock;
  const frozenAt = Date.now();
  clock.nowMs = () => frozenAt + clock.offsetMs;
  return () => {
    delete (clock as Partial<typeof clock>).nowMs;
  };
}
