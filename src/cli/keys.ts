// `latchkey keys rotate` and `latchkey keys list`: the JWT signing keys (RS256 and ES256).
// Rotation adds a key per algorithm (or for `--alg`) that is published at once and signs only
// after the publish lead (LATCHKEY_KEY_PUBLISH_LEAD, or `--lead SECONDS`): relying parties
// that cached the JWK Set meet the key before any token it signed. The old key signs until
// then, and stays published until every token it signed has expired (oauth/signing-keys.ts).
// Running servers follow by themselves (they re-read the keys in the background), so no
// restart is needed. Run it with the servers' environment: LATCHKEY_ENCRYPTION_KEY seals the
// new keys, and the token lifetimes of LATCHKEY_PROFILE / LATCHKEY_CONFIG bound how long the
// old ones stay published.
import { MAX_KEY_PUBLISH_LEAD } from '../config/load.js';
import { nowSeconds } from '../oauth/clock.js';
import { SIGNING_ALGS, UNENCRYPTED_WARNING, isSealed, isSigningAlg, signingSchedule, type SigningAlg } from '../oauth/signing-keys.js';
import { SigningKeyStore } from '../store/keys.js';
import { UsageError, optionalString, parseFlags } from './args.js';
import { withServices, type Command } from './command.js';

const DB_FLAG = { 'database-url': { type: 'string' } } as const;
const ROTATE_FLAGS = { ...DB_FLAG, alg: { type: 'string' }, lead: { type: 'string' } } as const;

function algsOf(raw: string | undefined): readonly SigningAlg[] {
  if (raw === undefined) return SIGNING_ALGS;
  if (!isSigningAlg(raw)) throw new UsageError(`--alg must be ${SIGNING_ALGS.join(' or ')}, got ${JSON.stringify(raw)}`);
  return [raw];
}

function leadOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,8}$/.test(raw) || Number(raw) > MAX_KEY_PUBLISH_LEAD) {
    throw new UsageError(`--lead must be a whole number of seconds from 0 to ${MAX_KEY_PUBLISH_LEAD}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

export const keysRotate: Command = async (argv) => {
  const v = parseFlags(argv, ROTATE_FLAGS);
  // Checked before the database is opened: a usage error touches nothing.
  const algs = algsOf(optionalString(v, 'alg'));
  const leadFlag = leadOf(optionalString(v, 'lead'));
  return withServices(v, async (s) => {
    if (s.signingKeys.encrypted) await s.signingKeys.sealPlainKeys();
    else process.stderr.write(`latchkey: warning: ${UNENCRYPTED_WARNING}\n`);
    const lead = leadFlag ?? s.config.keyPublishLead;
    const rotated = await s.signingKeys.rotateAll(algs, lead);
    for (const r of rotated) s.logger.info({ event: 'signing_keys.rotated', alg: r.alg, kid: r.kid, signs_from: r.signsFrom, retired: r.retired }, 'signing key rotated');
    return { rotated: rotated.map((r) => ({ alg: r.alg, kid: r.kid, signs_from: r.signsFrom, retired: r.retired, publish_until: r.publishUntil })) };
  });
};

export const keysList: Command = async (argv) => {
  const v = parseFlags(argv, DB_FLAG);
  return withServices(v, async (s) => {
    const now = nowSeconds(s.clock);
    const rows = await new SigningKeyStore(s.store.db).listAll();
    const states = signingSchedule(rows, now);
    return {
      keys: rows.map((r) => {
        const state = states.get(r.kid);
        return {
          kid: r.kid,
          alg: r.alg,
          created_at: r.createdAt,
          signs_from: state?.signsFrom ?? null,
          retired_at: r.retiredAt,
          publish_until: r.publishUntil,
          signing: state?.signing ?? false,
          published: state?.published ?? false,
          encrypted: isSealed(r.privateJwk),
        };
      }),
    };
  });
};
