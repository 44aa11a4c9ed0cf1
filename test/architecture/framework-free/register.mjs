// `node --import tsx --import ./register.mjs load.mjs FILE…`: installs hooks.mjs, logging to
// the file named by LATCHKEY_IMPORT_LOG.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url, { data: { log: process.env.LATCHKEY_IMPORT_LOG } });
