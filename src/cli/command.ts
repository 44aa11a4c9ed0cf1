// What every admin command shares: its shape (flags in, one JSON object out) and
// `withServices`, which opens the database named by the flags, migrates it and hands the
// command its services. A module of its own so that admin.ts, which lists the commands, and
// the commands kept in their own files (keys.ts, purge.ts) import it without importing each other.
import { loadConfig, validateDatabaseUrl, DEFAULT_DATABASE_URL, ConfigError } from '../config/load.js';
import { createServices, type Services } from '../services.js';
import { migrate, openDatabase } from '../store/db.js';
import { CommandError, UsageError, optionalString } from './args.js';

export type JsonObject = Record<string, unknown>;
export type Command = (argv: string[]) => Promise<JsonObject>;

/** Opens the database named by --database-url (or DATABASE_URL, or the default file) and migrates it. */
export async function withServices<T>(values: Record<string, string | boolean | undefined>, fn: (services: Services) => Promise<T>): Promise<T> {
  const url = optionalString(values, 'database-url') ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  try {
    validateDatabaseUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let config;
  try {
    config = loadConfig({ flags: { databaseUrl: url } });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandError(err.message);
    throw err;
  }
  // PostgreSQL: a change made here is answered only once every running server has dropped
  // what it kept of the rows changed (store/postgres/changes.ts).
  const store = openDatabase(url, { watchChanges: true, warn: (event, details) => process.stderr.write(`warning: ${event} ${JSON.stringify(details)}\n`) });
  try {
    try {
      await migrate(store);
    } catch (err) {
      throw new CommandError(`cannot reach the database ${redactUrl(url)}: ${(err as Error).message}`);
    }
    return await fn(createServices(config, store));
  } finally {
    await store.close();
  }
}

/** The URL with its password replaced by ***, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}
