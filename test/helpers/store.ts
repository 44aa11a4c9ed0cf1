// A fresh, migrated store for storage contract tests (no HTTP).
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createServices, type Services } from '../../src/services.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { freshDatabase, type DbKind, type FreshDatabase } from './databases.js';

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
