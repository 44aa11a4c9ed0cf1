// `latchkey purge [--database-url U]`: deletes expired codes, tokens, sessions and dead grants
// now (store/purge.ts; the server also does it every purge interval) and prints how many rows
// went from each table, e.g. {"authorization_codes":3,"access_tokens":120,…}.
import { purgeNow } from '../http/plugins/purge-timer.js';
import { parseFlags } from './args.js';
import { withServices, type Command } from './admin.js';

export const purgeCommand: Command = async (argv) => {
  const v = parseFlags(argv, { 'database-url': { type: 'string' } });
  return withServices(v, async (s) => ({ ...(await purgeNow(s)) }));
};
