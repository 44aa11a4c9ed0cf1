// `latchkey keys rotate` and `latchkey keys list`: the JWT signing keys (RFC 9068 access
// tokens). Rotation adds a key that signs from then on; the old key stays published until
// every token it signed has expired (oauth/signing-keys.ts). Running servers pick the new
// key up within seconds (they re-read the keys in the background), so no restart is needed.
// Run it with the servers' environment: LATCHKEY_ENCRYPTION_KEY seals the new key, and the
// access-token lifetime of LATCHKEY_PROFILE / LATCHKEY_CONFIG bounds how long the old one
// stays published.
import { nowSeconds } from '../oauth/clock.js';
import { UNENCRYPTED_WARNING, isSealed } from '../oauth/signing-keys.js';
import { SigningKeyStore } from '../store/keys.js';
import { parseFlags } from './args.js';
import { withServices, type Command } from './command.js';

const DB_FLAG = { 'database-url': { type: 'string' } } as const;

export const keysRotate: Command = async (argv) => {
  const v = parseFlags(argv, DB_FLAG);
  return withServices(v, async (s) => {
    if (s.signingKeys.encrypted) await s.signingKeys.sealPlainKeys();
    else process.stderr.write(`latchkey: warning: ${UNENCRYPTED_WARNING}\n`);
    const result = await s.signingKeys.rotate();
    s.logger.info({ event: 'signing_keys.rotated', kid: result.kid, retired: result.retired }, 'signing key rotated');
    return { kid: result.kid, retired: result.retired, publish_until: result.publishUntil };
  });
};

export const keysList: Command = async (argv) => {
  const v = parseFlags(argv, DB_FLAG);
  return withServices(v, async (s) => {
    const now = nowSeconds(s.clock);
    const rows = await new SigningKeyStore(s.store.db).listAll();
    return {
      keys: rows.map((r) => ({
        kid: r.kid,
        alg: r.alg,
        created_at: r.createdAt,
        retired_at: r.retiredAt,
        publish_until: r.publishUntil,
        signing: r.retiredAt === null,
        published: r.retiredAt === null || (r.publishUntil !== null && r.publishUntil > now),
        encrypted: isSealed(r.privateJwk),
      })),
    };
  });
};
