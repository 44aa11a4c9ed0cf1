// `latchkey purge [--database-url U]`: deletes expired codes, tokens, sessions and dead grants
// now (the purge service, maintenance/purge.ts; the server also does it every purge interval)
// and prints how many rows went from each table, how many used refresh tokens were kept as
// reuse records, and the horizon it used, e.g. {"authorization_codes":3,…,"reuse_records":2,
// "horizon":{"source":"server","margin":3600,"reuse_window":3600}}. The horizon is the one the
// server stored at its last start (store/settings.ts), so that this command's own environment
// (profile, config file, LATCHKEY_PURGE_MARGIN) cannot shorten it; its own settings
// ("source":"config") only when no server has stored one.
import { purgeWithStoredHorizon } from '../maintenance/purge.js';
import { parseFlags } from './args.js';
import { withServices, type Command } from './command.js';

export const purgeCommand: Command = async (argv) => {
  const v = parseFlags(argv, { 'database-url': { type: 'string' } });
  return withServices(v, async (s) => {
    // The answer keeps the keys README documents; the registrations it deleted (never-used
    // dynamic clients, spent initial access tokens) are counted in the server's purge log line.
    const { result: { registered_clients: _clients, registration_tokens: _tokens, ...result }, horizon, source } = await purgeWithStoredHorizon(s);
    return { ...result, horizon: { source, margin: horizon.margin, reuse_window: horizon.reuseWindow } };
  });
};
