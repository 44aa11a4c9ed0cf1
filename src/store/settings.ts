// Small key/value rows the server writes (the settings table, migration 005). Today one: the
// purge horizon the server uses, written at every start, so that `latchkey purge` run from
// another environment (another profile, config file or LATCHKEY_PURGE_MARGIN) keeps rows
// exactly as long as the server would. With several servers on one database, the last one
// started wins.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** How long the purge keeps dead rows (store/purge.ts PurgeOptions), in seconds. */
export interface PurgeHorizon {
  margin: number;
  /** max(refresh_retry_window, access-token lifetime). */
  reuseWindow: number;
}

const PURGE_HORIZON = 'purge_horizon';

export async function storePurgeHorizon(db: Kysely<Database>, horizon: PurgeHorizon, now: number): Promise<void> {
  const value = JSON.stringify({ margin: horizon.margin, reuse_window: horizon.reuseWindow });
  await db.insertInto('settings').values({ key: PURGE_HORIZON, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}

/** The horizon a server stored; undefined when none was, or it does not read as one. */
export async function loadPurgeHorizon(db: Kysely<Database>): Promise<PurgeHorizon | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', PURGE_HORIZON).executeTakeFirst();
  if (!row) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { margin, reuse_window: reuseWindow } = parsed as Record<string, unknown>;
  const seconds = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  return seconds(margin) && seconds(reuseWindow) ? { margin, reuseWindow } : undefined;
}
