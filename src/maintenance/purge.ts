// The purge service: one cleanup of expired rows (store/purge.ts has the statements) with the
// horizon the settings give. Used by the server's timer (http/plugins/purge-timer.ts) and by
// `latchkey purge` (cli/purge.ts), so that neither reaches into the other.
//
// The server stores its horizon in the database at start (store/settings.ts); `latchkey purge`
// uses that stored one, so that the command's own environment (profile, config file,
// LATCHKEY_PURGE_MARGIN) cannot shorten it, and its own settings only when none was stored.
import type { Config } from '../config/load.js';
import { nowSeconds, type Clock } from '../oauth/clock.js';
import type { Store } from '../store/db.js';
import { purgeExpired, purgeUnusedRegistrations, type PurgeResult, type RegistrationPurgeCounts } from '../store/purge.js';
import { DEFAULT_REGISTRATION_UNUSED_TTL } from '../config/load.js';
import { loadPurgeHorizon, storePurgeHorizon, type PurgeHorizon } from '../store/settings.js';

/** What a purge needs: the database, the clock and the settings its horizon comes from. */
export interface PurgeDeps {
  store: Pick<Store, 'db'>;
  clock: Clock;
  config: HorizonSettings & Partial<Pick<Config, 'registrationUnusedTtl'>>;
}

/** The settings a purge horizon is made of. */
export type HorizonSettings = Pick<Config, 'purgeMargin' | 'refreshRetryWindow' | 'accessTokenTtl'>;

/** What one cleanup deleted: the expired rows, and the registrations that never got a token. */
export type PurgeOutcome = PurgeResult & RegistrationPurgeCounts;

/** Where a purge's horizon came from: the one a server stored, or these settings. */
export type HorizonSource = 'server' | 'config';

/** The horizon these settings give: the margin, and max(retry window, access-token lifetime). */
export function purgeHorizonOf(config: HorizonSettings): PurgeHorizon {
  return { margin: config.purgeMargin, reuseWindow: Math.max(config.refreshRetryWindow, config.accessTokenTtl) };
}

/** One cleanup, with the settings' horizon unless another is given. */
export async function purgeNow(deps: PurgeDeps, horizon: PurgeHorizon = purgeHorizonOf(deps.config)): Promise<PurgeOutcome> {
  const now = nowSeconds(deps.clock);
  // First: it records the registered clients that have a grant before the sweep below may delete their last one.
  const registrations = await purgeUnusedRegistrations(deps.store.db, {
    now, unusedTtl: deps.config.registrationUnusedTtl ?? DEFAULT_REGISTRATION_UNUSED_TTL, margin: horizon.margin,
  });
  const expired = await purgeExpired(deps.store.db, { now, margin: horizon.margin, reuseWindow: horizon.reuseWindow });
  return { ...expired, ...registrations };
}

/** Stores the settings' horizon for purges run outside the server (a server does this at start). */
export function recordServerHorizon(deps: PurgeDeps): Promise<void> {
  return storePurgeHorizon(deps.store.db, purgeHorizonOf(deps.config), nowSeconds(deps.clock));
}

/** One cleanup outside the server: with the horizon a server stored, else the settings' own. */
export async function purgeWithStoredHorizon(deps: PurgeDeps): Promise<{ result: PurgeOutcome; horizon: PurgeHorizon; source: HorizonSource }> {
  const stored = await loadPurgeHorizon(deps.store.db);
  const horizon = stored ?? purgeHorizonOf(deps.config);
  return { result: await purgeNow(deps, horizon), horizon, source: stored ? 'server' : 'config' };
}
