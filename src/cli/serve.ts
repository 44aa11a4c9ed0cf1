// `latchkey serve`: configuration → database → migrations → HTTP. Any bad setting stops
// start-up with one clear line on stderr and exit code 1.
//
// With --workers N (LATCHKEY_WORKERS) above 1 the same command runs as the primary of a
// node:cluster (cluster/primary.ts), which migrates and forks N workers; each worker runs this
// command again and, finding itself a worker, serves with what it shares through the primary.
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import type { FailureCounters } from '../accounts/backoff.js';
import { Endpoint, type Link } from '../cluster/ipc.js';
import { Primary, WORKER_SLOT_ENV, isControl, type ControlMessage } from '../cluster/primary.js';
import { SharedCounters } from '../cluster/shared-counters.js';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { buildApp } from '../http/app.js';
import { InFlight } from '../http/drain.js';
import { createLogger } from '../logging.js';
import type { Clock } from '../oauth/clock.js';
import { createServices } from '../services.js';
import { migrate, openDatabase, type OpenOptions, type Store } from '../store/db.js';
import { CommandError, UsageError, optionalString, parseFlags } from './args.js';
import { redactUrl } from './command.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  config: Config;
  /** Closes at once: requests under way are cut off (tests). */
  close(): Promise<void>;
  /** Closes gracefully: no new connections, requests under way finish first (http/drain.ts). */
  stop(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logDestination?: pino.DestinationStream;
  /** Fields of every log line besides `service` (a worker's pid and slot). */
  logBase?: Record<string, string | number>;
  schema?: string;
  /** SQLite: who checkpoints the WAL (store/db.ts); `serve` passes 'thread', its workers 'elsewhere'. */
  checkpoint?: OpenOptions['checkpoint'];
  /** SQLite: other processes write to the file at the same time (the workers: store/db.ts). */
  beginImmediate?: boolean;
  /** false: the database is migrated already (a worker: the primary migrated before forking). */
  migrate?: boolean;
  /** A worker of `serve --workers N`: its channel to the primary (counters, rate limits, metrics). */
  cluster?: Link;
}

/** Opens the database and (unless told not to) migrates it; a failure is one line for the operator. */
async function openStore(config: Config, options: Pick<StartOptions, 'schema' | 'checkpoint' | 'beginImmediate' | 'migrate'> & Pick<OpenOptions, 'warn'>): Promise<Store> {
  let store: Store | undefined;
  try {
    store = openDatabase(config.databaseUrl, {
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
      ...(options.beginImmediate ? { beginImmediate: true } : {}),
      // PostgreSQL: a server keeps clients and token contexts, invalidated through LISTEN/NOTIFY
      // (store/postgres/changes.ts); the primary of `serve --workers` serves nothing and keeps nothing.
      ...(options.warn ? { watchChanges: true, warn: options.warn } : {}),
    });
    if (options.migrate !== false) await migrate(store);
    return store;
  } catch (err) {
    if (store) await store.close().catch(() => undefined);
    throw new CommandError(`cannot open the database ${redactUrl(config.databaseUrl)}: ${(err as Error).message}`);
  }
}

/** Opens the database, migrates it, builds the app and listens. Used by `serve` and by tests. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = createLogger(config.logLevel, options.logDestination, options.logBase);
  const store = await openStore(config, { ...options, warn: (event, details) => logger.warn({ event, ...details }, 'change watch') });
  // A worker without Redis counts brute-force failures in the primary.
  const counters: FailureCounters | undefined = options.cluster && !config.redisUrl ? new SharedCounters(options.cluster) : undefined;
  const services = createServices(config, store, { logger, ...(options.clock ? { clock: options.clock } : {}), ...(counters ? { counters } : {}) });
  let app: FastifyInstance;
  try {
    app = await buildApp(services, options.cluster ? { cluster: options.cluster } : {});
  } catch (err) {
    // A start-up step that refuses (e.g. signing keys that LATCHKEY_ENCRYPTION_KEY cannot open): one line, exit 1.
    await store.close().catch(() => undefined);
    throw new CommandError(`cannot start: ${(err as Error).message}`);
  }
  app.addHook('onClose', async () => {
    await store.close();
  });
  const inFlight = new InFlight(app.server);
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close();
    throw new CommandError(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    app,
    url: `http://${host}:${port}`,
    config,
    close: () => app.close(),
    stop: async () => {
      await inFlight.drain();
      await app.close();
    },
  };
}

/** Stops `stop` on SIGTERM or SIGINT (once), then exits 0, or 1 when stopping failed. */
function exitOnSignals(log: (signal: string) => void, stop: () => Promise<void>): (signal: string) => void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log(signal);
    stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return shutdown;
}

export async function serveCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    port: { type: 'string' }, host: { type: 'string' }, 'database-url': { type: 'string' }, issuer: { type: 'string' },
    profile: { type: 'string' }, config: { type: 'string' }, workers: { type: 'string' },
  });
  let config: Config;
  try {
    const flags: Record<string, string> = {};
    for (const [flag, key] of [['port', 'port'], ['host', 'host'], ['database-url', 'databaseUrl'], ['issuer', 'issuer'], ['profile', 'profile'], ['config', 'config'], ['workers', 'workers']] as const) {
      const value = optionalString(v, flag);
      if (value !== undefined) flags[key] = value;
    }
    config = loadConfig({ flags });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message);
    if (err instanceof UsageError) throw err;
    throw err;
  }
  if (cluster.isWorker) return serveAsWorker(config);
  if (config.workers > 1) return serveAsPrimary(config);
  const server = await startServer(config, { checkpoint: 'thread' });
  server.app.log.info({ event: 'server.started', url: server.url, issuer: config.issuer, profile: config.profile, database: redactUrl(config.databaseUrl) }, 'latchkey listening');
  exitOnSignals((signal) => server.app.log.info({ event: 'server.stopping', signal }, 'shutting down'), () => server.stop());
}

/**
 * The primary: migrates once, before any worker exists, keeps the SQLite checkpointer (one for
 * all workers), forks the workers and waits for all of them to listen. It serves no HTTP.
 */
async function serveAsPrimary(config: Config): Promise<void> {
  if (config.databaseUrl === 'sqlite::memory:') {
    throw new CommandError(`--workers ${config.workers} needs a database the workers share, and sqlite::memory: is one per process: use a file (sqlite:./var/latchkey.db) or PostgreSQL`);
  }
  const logger = createLogger(config.logLevel, undefined, { pid: process.pid, role: 'primary' });
  const store = await openStore(config, { checkpoint: 'thread' });
  try {
    // The first signing keys too, so that N workers starting together do not each make their
    // own (they would agree on one only at their next re-read). No Redis needed for this.
    await createServices({ ...config, redisUrl: null }, store).signingKeys.ensureSigningKeys();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new CommandError(`cannot start: ${(err as Error).message}`);
  }
  // On PostgreSQL the primary has nothing more to do with the database; on SQLite its
  // connection stays open for the checkpointer's sake until the workers are gone.
  if (store.dialect !== 'sqlite') await store.close();
  const primary = new Primary(config.workers, logger);
  const stop = async (options: { abort?: boolean } = {}) => {
    await primary.stop(options);
    await store.close();
  };
  try {
    await primary.start();
  } catch (err) {
    await stop({ abort: true }).catch(() => undefined);
    throw new CommandError((err as Error).message);
  }
  logger.info({ event: 'server.started', url: primary.url, workers: config.workers, issuer: config.issuer, profile: config.profile, database: redactUrl(config.databaseUrl) }, 'latchkey listening');
  exitOnSignals((signal) => logger.info({ event: 'server.stopping', signal, workers: config.workers }, 'shutting down: draining every worker'), () => stop());
}

/**
 * A worker: serves HTTP on the port the primary shares, with the primary's counters and
 * rate-limit windows (unless Redis keeps them), never migrating and never checkpointing. A
 * start-up failure is told to the primary (which prints it, once) instead of to stderr.
 */
async function serveAsWorker(config: Config): Promise<void> {
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? '0') || 0;
  const toPrimary = (message: ControlMessage): Promise<void> => new Promise((resolve) => {
    try {
      process.send?.(message, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
  const endpoint = new Endpoint((message, onError) => {
    process.send?.(message, undefined, {}, (err: Error | null) => {
      if (err) onError(err);
    });
  });
  let server: RunningServer | undefined;
  // The primary may say stop while this worker is still starting: it stops once started.
  const stopping: { requested: boolean; shutdown?: (signal: string) => void } = { requested: false };
  process.on('message', (message: unknown) => {
    if (isControl(message)) {
      if (message.latchkeyControl !== 'shutdown') return;
      stopping.requested = true;
      stopping.shutdown?.('primary');
      return;
    }
    endpoint.receive(message);
  });
  process.once('disconnect', () => endpoint.close(new Error('the primary is gone')));
  try {
    // Slot 0 alone runs the expired-row cleanup: N workers purging the same rows would only contend.
    server = await startServer(slot === 0 ? config : { ...config, purgeInterval: 0 }, {
      checkpoint: 'elsewhere', beginImmediate: true, migrate: false, cluster: endpoint, logBase: { pid: process.pid, worker: slot },
    });
  } catch (err) {
    await toPrimary({ latchkeyControl: 'failed', message: (err as Error).message });
    process.exit(1);
  }
  const running = server;
  stopping.shutdown = exitOnSignals((signal) => running.app.log.info({ event: 'worker.stopping', signal }, 'draining'), () => running.stop());
  if (stopping.requested) stopping.shutdown('primary');
}
