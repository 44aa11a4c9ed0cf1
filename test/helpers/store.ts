// A fresh, migrated store for storage contract tests (no HTTP).
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createServices, type Services } from '../../src/services.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { freshDatabase, type DbKind, type FreshDatabase } from './databases.js';

// The development checks (src/store/dev-checks.ts) are on in every test that builds its services here.
process.env.LATCHKEY_DEV_CHECKS ??= '1';

export interface TestStore {
  services: Services;
  clock: MovableClock;
  db: FreshDatabase;
  close(): Promise<void>;
}

export async function openTestStore(kind: DbKind): Promise<TestStore> {
  const db = await freshDatabase(kind);
  const store = openDatabase(db.url);
  await migrate(store);
  const clock = new MovableClock();
  const services = createServices(loadConfig({ env: { DATABASE_URL: db.url } }), store, { clock });
  return {
    services,
    clock,
    db,
    async close() {
      await store.close();
      await db.drop();
    },
  };
}

/** Runs `fn` on a fresh store of `kind` and closes (and drops) it afterwards, pass or fail. */
export async function withStore(kind: DbKind, fn: (t: TestStore) => Promise<void>): Promise<void> {
  const t = await openTestStore(kind);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

/**
 * Another process's view of the same database, as the command line has: its own connection
 * and services. Runs `fn` with those services and closes the connection afterwards.
 */
export async function asOtherProcess(t: Pick<TestStore, 'db' | 'clock'>, fn: (services: Services) => Promise<void>): Promise<void> {
  const other = openDatabase(t.db.url);
  try {
    await fn(createServices(loadConfig({ env: { DATABASE_URL: t.db.url } }), other, { clock: t.clock }));
  } finally {
    await other.close();
  }
}

/**
 * Opens a transaction on `services`' connection and holds it open across event-loop turns, as
 * the group commit's is while a JWT is signed. Resolves once it is open; `release()` lets it
 * commit and `done` settles when it has.
 */
export async function holdTransactionOpen(services: Services): Promise<{ release(): void; done: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => { opened = resolve; });
  const done = services.store.db.transaction().execute(async (trx) => {
    await trx.selectFrom('clients').select('id').execute();
    opened();
    await held;
  });
  await isOpen;
  return { release, done };
}
