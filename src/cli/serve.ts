// `latchkey serve`: configuration → database → migrations → HTTP. Any bad setting stops
// start-up with one clear line on stderr and exit code 1.
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../logging.js';
import type { Clock } from '../oauth/clock.js';
import { createServices } from '../services.js';
import { migrate, openDatabase } from '../store/db.js';
import { CommandError, UsageError, optionalString, parseFlags } from './args.js';
import { redactUrl } from './command.js';
import type pino from 'pino';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  config: Config;
  close(): Promise<void>;
}

/** Opens the database, migrates it, builds the app and listens. Used by `serve` and by tests. */
export async function startServer(
  config: Config,
  options: { clock?: Clock; logDestination?: pino.DestinationStream; schema?: string; backgroundCheckpoint?: boolean } = {},
): Promise<RunningServer> {
  const logger = createLogger(config.logLevel, options.logDestination);
  let store;
  try {
    store = openDatabase(config.databaseUrl, {
      ...(options.schema ? { schema: options.schema } : {}),
      backgroundCheckpoint: options.backgroundCheckpoint ?? false,
      // PostgreSQL: keep clients and token contexts, invalidated through LISTEN/NOTIFY (store/postgres/changes.ts).
      watchChanges: true,
      warn: (event, details) => logger.warn({ event, ...details }, 'change watch'),
    });
    await migrate(store);
  } catch (err) {
    if (store) await store.close().catch(() => undefined);
    throw new CommandError(`cannot open the database ${redactUrl(config.databaseUrl)}: ${(err as Error).message}`);
  }
  const services = createServices(config, store, { logger, ...(options.clock ? { clock: options.clock } : {}) });
  let app: FastifyInstance;
  try {
    app = await buildApp(services);
  } catch (err) {
    // A start-up step that refuses (e.g. signing keys that LATCHKEY_ENCRYPTION_KEY cannot open): one line, exit 1.
    await store.close().catch(() => undefined);
    throw new CommandError(`cannot start: ${(err as Error).message}`);
  }
  app.addHook('onClose', async () => {
    await store.close();
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close();
    throw new CommandError(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return { app, url: `http://${host}:${port}`, config, close: () => app.close() };
}

export async function serveCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    port: { type: 'string' }, host: { type: 'string' }, 'database-url': { type: 'string' }, issuer: { type: 'string' },
    profile: { type: 'string' }, config: { type: 'string' },
  });
  let config: Config;
  try {
    const flags: Record<string, string> = {};
    for (const [flag, key] of [['port', 'port'], ['host', 'host'], ['database-url', 'databaseUrl'], ['issuer', 'issuer'], ['profile', 'profile'], ['config', 'config']] as const) {
      const value = optionalString(v, flag);
      if (value !== undefined) flags[key] = value;
    }
    config = loadConfig({ flags });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message);
    if (err instanceof UsageError) throw err;
    throw err;
  }
  const server = await startServer(config, { backgroundCheckpoint: true });
  server.app.log.info({ event: 'server.started', url: server.url, issuer: config.issuer, profile: config.profile, database: redactUrl(config.databaseUrl) }, 'latchkey listening');
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    server.app.log.info({ event: 'server.stopping', signal }, 'shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
