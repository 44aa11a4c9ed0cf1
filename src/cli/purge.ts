// `latchkey purge [--database-url U]`: deletes expired codes, tokens, sessions and dead grants
// now (store/purge.ts; the server also does it every purge interval) and prints how many rows
// went from each table, how many used refresh tokens were kept as reuse records, and the
// horizon it used, e.g. {"authorization_codes":3,…,"reuse_records":2,"horizon":{"source":"server",
// "margin":3600,"reuse_window":3600}}. The horizon is the one the server stored at its last
// start (store/settings.ts), so that this command's own environment (profile, config file,
// LATCHKEY_PURGE_MARGIN) cannot shorten it; its own settings ("source":"config") only when
// no server has stored one.
import { purgeHorizonOf, purgeNow } from '../http/plugins/purge-timer.js';
import { loadPurgeHorizon } from '../store/settings.js';
import { parseFlags } from './args.js';
import { withServices, type Command } from './admin.js';

export const purgeCommand: Command = async (argv) => {
  const v = parseFlags(argv, { 'database-url': { type: 'string' } });
  return withServices(v, async (s) => {
    const stored = await loadPurgeHorizon(s.store.db);
    const horizon = stored ?? purgeHorizonOf(s.config);
    return {
      ...(await purgeNow(s, horizon)),
      horizon: { source: stored ? 'server' : 'config', margin: horizon.margin, reuse_window: horizon.reuseWindow },
    };
  });
};
