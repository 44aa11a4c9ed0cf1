// The operator's side of dynamic client registration (RFC 7591; SPEC.md "Client registration
// and resources"):
//   registration token create [--expires-in SECONDS] [--max-uses N] [--owner USER_ID]
//       → {"token":…,"expires_at":…}: an initial access token for registration `token`, shown
//         once and stored as SHA-256 only; expires_at is epoch seconds, null without --expires-in.
//         With --owner the clients registered with it belong to that user (their developer portal).
//   client list [--registered]
//       → {"clients":[…]}: every client, or only the dynamically registered ones, newest first.
//   client delete --client-id ID
//       → {"client_id":…,"deleted":true}: the client goes with its grants and tokens, at once.
import pino from 'pino';
import { describeClient } from '../accounts/client-registration.js';
import { audit, type AuditLogger } from '../audit.js';
import { createLogger } from '../logging.js';
import { nowSeconds } from '../oauth/clock.js';
import { newSecret, sha256Hex } from '../oauth/crypto.js';
import type { Client } from '../oauth/model.js';
import { CommandError, UsageError, optionalString, parseFlags, requireId, requireString } from './args.js';
import { withServices, type Command } from './command.js';

const DB_FLAG = { 'database-url': { type: 'string' } } as const;
/** Ten years: an initial access token is meant to be handed out, not kept for ever. */
const MAX_EXPIRES_IN = 10 * 365 * 86_400;
const MAX_USES = 1_000_000;

let auditLogger: AuditLogger | undefined;
function cliAudit(): AuditLogger {
  auditLogger ??= createLogger('info', pino.destination({ fd: 2, sync: true }));
  return auditLogger;
}

function wholeNumber(values: Record<string, string | boolean | undefined>, name: string, max: number): number | null {
  const raw = optionalString(values, name);
  if (raw === undefined) return null;
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

export const registrationTokenCreate: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, 'expires-in': { type: 'string' }, 'max-uses': { type: 'string' }, owner: { type: 'string' } });
  const expiresIn = wholeNumber(v, 'expires-in', MAX_EXPIRES_IN);
  const maxUses = wholeNumber(v, 'max-uses', MAX_USES);
  const owner = v.owner === undefined ? null : requireId(v, 'owner');
  return withServices(v, async (s) => {
    if (owner !== null && !(await s.users.findById(owner))) throw new CommandError(`no user with id ${owner}`);
    const token = newSecret();
    const now = nowSeconds(s.clock);
    const expiresAt = expiresIn === null ? null : now + expiresIn;
    await s.registrationTokens.insert({ tokenHash: sha256Hex(token), expiresAt, maxUses, ownerUserId: owner, now });
    audit(cliAudit(), 'registration.token_created', { user_id: owner, address: 'cli', ...(maxUses !== null ? { count: maxUses } : {}) });
    return { token, expires_at: expiresAt };
  });
};

/** A client as `client list` shows it: describeClient's fields and how it came to be. */
function listed(client: Client) {
  return {
    ...describeClient(client),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? (client.isPublic ? 'none' : 'client_secret_basic'),
    registration: client.registration,
    created_at: client.createdAt,
  };
}

export const clientList: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, registered: { type: 'boolean' } });
  return withServices(v, async (s) => {
    const clients = v.registered === true ? await s.clients.listRegistered() : await s.clients.listAll();
    return { clients: clients.map(listed) };
  });
};

export const clientDelete: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, 'client-id': { type: 'string' } });
  const clientId = requireString(v, 'client-id');
  return withServices(v, async (s) => {
    const client = await s.clients.findByClientId(clientId);
    if (!client) throw new CommandError(`no client with id ${clientId.slice(0, 60)}`);
    await s.clients.delete(client.id);
    audit(cliAudit(), 'client.deleted', { client_id: client.clientId, user_id: client.ownerUserId, address: 'cli' });
    return { client_id: client.clientId, deleted: true };
  });
};

/** `registration token <verb>`: the binary dispatches on two words; the third is read here. */
export const registrationToken: Command = async (argv) => {
  const [verb, ...rest] = argv;
  if (verb === 'create') return registrationTokenCreate(rest);
  throw new UsageError(`unknown command ${JSON.stringify(['registration', 'token', verb].filter(Boolean).join(' '))} (try latchkey registration token create)`);
};
