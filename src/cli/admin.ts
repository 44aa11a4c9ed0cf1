// The admin commands of SPEC.md: each opens the database, runs pending migrations, does one
// thing in one transaction where it writes more than one row, and returns one JSON object.
import pino from 'pino';
import { createUser, AccountError } from '../accounts/users.js';
import { resetFactors } from '../accounts/factors.js';
import { sendVerification } from '../accounts/email-verification.js';
import { ClientRegistrationError, describeClient, registerClient, resetClientSecret } from '../accounts/client-registration.js';
import { validateDatabaseUrl, DEFAULT_DATABASE_URL } from '../config/load.js';
import { nowSeconds } from '../oauth/clock.js';
import { isSigningAlg, SIGNING_ALGS } from '../oauth/signing-keys.js';
import { audit, type AuditLogger } from '../audit.js';
import { createLogger } from '../logging.js';
import { migrate, openDatabase } from '../store/db.js';
import { DuplicateEmailError } from '../store/users.js';
import { CommandError, UsageError, optionalString, parseBoolean, parseFlags, passwordOption, requireId, requireString, splitList } from './args.js';
import { redactUrl, withServices, type Command } from './command.js';
import { purgeCommand } from './purge.js';
import { keysList, keysRotate } from './keys.js';
import { clientDelete, clientList, registrationToken } from './registration.js';
import { resourceCreate, resourceDelete, resourceList, resourceMetadata } from './resources.js';

const DB_FLAG = { 'database-url': { type: 'string' } } as const;

let auditLogger: AuditLogger | undefined;
/** Audit lines of the command line: JSON on stderr (stdout holds the command's one JSON answer), written at once. */
function cliAudit(): AuditLogger {
  auditLogger ??= createLogger('info', pino.destination({ fd: 2, sync: true }));
  return auditLogger;
}

function translate(err: unknown): never {
  if (err instanceof AccountError || err instanceof ClientRegistrationError || err instanceof DuplicateEmailError) throw new CommandError(err.message);
  throw err;
}

const userCreate: Command = async (argv) => {
  const v = parseFlags(argv, {
    ...DB_FLAG, email: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' }, 'password-stdin': { type: 'boolean' }, locale: { type: 'string' },
    verified: { type: 'boolean' },
  });
  const email = requireString(v, 'email');
  const name = requireString(v, 'name');
  const password = await passwordOption(v);
  const locale = optionalString(v, 'locale');
  return withServices(v, async (s) => {
    const verified = v.verified === true;
    const user = await createUser(s, { email, name, password, emailVerified: verified, ...(locale !== undefined ? { locale } : {}) }).catch(translate);
    // Without --verified the account is sent a verification link, queued for the servers to
    // send (run the command with their environment: LATCHKEY_ISSUER makes the link, and
    // LATCHKEY_ENCRYPTION_KEY seals the queued body).
    if (!verified) await sendVerification(s, s.logger, user, 'cli');
    return { id: user.id, email: user.email, name: user.name, locale: user.locale };
  });
};

/**
 * `user reset-factors --user USER_ID`: removes the user's authenticator app, passkeys and
 * recovery codes (someone who lost them all); they sign in with their password alone again.
 */
const userResetFactors: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, user: { type: 'string' } });
  const userId = requireId(v, 'user');
  return withServices(v, async (s) => {
    const user = await s.users.findById(userId);
    if (!user) throw new CommandError(`no user with id ${userId}`);
    const removed = await resetFactors(s, userId);
    audit(cliAudit(), 'factor.reset', { user_id: userId, address: 'cli', count: removed });
    return { id: userId, factors_removed: removed };
  });
};

const orgCreate: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, name: { type: 'string' }, 'no-integrations': { type: 'boolean' } });
  const name = requireString(v, 'name').trim();
  if (name === '' || name.length > 200) throw new UsageError('--name must be 1 to 200 characters');
  return withServices(v, async (s) => {
    const org = await s.orgs.insert({ name, integrationsEnabled: v['no-integrations'] !== true, now: nowSeconds(s.clock) });
    return { id: org.id, name: org.name, integrations_enabled: org.integrationsEnabled };
  });
};

const orgAddMember: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, org: { type: 'string' }, user: { type: 'string' }, role: { type: 'string' } });
  const orgId = requireId(v, 'org');
  const userId = requireId(v, 'user');
  const role = optionalString(v, 'role') ?? 'member';
  if (role !== 'admin' && role !== 'member') throw new UsageError(`--role must be admin or member, got ${JSON.stringify(role)}`);
  return withServices(v, async (s) => {
    const org = await s.orgs.findById(orgId);
    if (!org) throw new CommandError(`no organization with id ${orgId}`);
    const user = await s.users.findById(userId);
    if (!user) throw new CommandError(`no user with id ${userId}`);
    await s.orgs.upsertMember(orgId, userId, role, nowSeconds(s.clock));
    return { organization_id: orgId, user_id: userId, role };
  });
};

const orgSetIntegrations: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, org: { type: 'string' }, enabled: { type: 'string' } });
  const orgId = requireId(v, 'org');
  const enabled = parseBoolean(requireString(v, 'enabled'), 'enabled');
  return withServices(v, async (s) => {
    if (!(await s.orgs.setIntegrations(orgId, enabled))) throw new CommandError(`no organization with id ${orgId}`);
    const org = await s.orgs.findById(orgId);
    return { id: orgId, name: org?.name, integrations_enabled: enabled };
  });
};

const clientCreate: Command = async (argv) => {
  const v = parseFlags(argv, {
    ...DB_FLAG,
    name: { type: 'string' },
    'redirect-uris': { type: 'string' },
    owner: { type: 'string' },
    public: { type: 'boolean' },
    'grant-types': { type: 'string' },
    scopes: { type: 'string' },
    'refresh-without-secret': { type: 'boolean' },
    'post-logout-redirect-uris': { type: 'string' },
    'id-token-alg': { type: 'string' },
  });
  const name = requireString(v, 'name');
  const redirectUris = splitList(requireString(v, 'redirect-uris'), /,/);
  const owner = v.owner === undefined ? null : requireId(v, 'owner');
  const grantTypes = optionalString(v, 'grant-types');
  const scopes = optionalString(v, 'scopes');
  const postLogout = optionalString(v, 'post-logout-redirect-uris');
  const idTokenAlg = optionalString(v, 'id-token-alg');
  if (idTokenAlg !== undefined && !isSigningAlg(idTokenAlg)) throw new UsageError(`--id-token-alg must be ${SIGNING_ALGS.join(' or ')}, got ${JSON.stringify(idTokenAlg)}`);
  return withServices(v, async (s) => {
    const { client, clientSecret } = await registerClient(s, {
      name,
      redirectUris,
      ownerUserId: owner,
      isPublic: v.public === true,
      ...(grantTypes !== undefined ? { grantTypes: splitList(grantTypes, /[,\s]+/) } : {}),
      ...(scopes !== undefined ? { scopes: splitList(scopes, /[,\s]+/) } : {}),
      refreshWithoutSecret: v['refresh-without-secret'] === true,
      ...(postLogout !== undefined ? { postLogoutRedirectUris: splitList(postLogout, /,/) } : {}),
      ...(idTokenAlg !== undefined ? { idTokenSignedResponseAlg: idTokenAlg } : {}),
      // Made by an operator: errors may go to its redirect URIs at once (SPEC.md "Authorization endpoint").
      trusted: true,
    }).catch(translate);
    audit(cliAudit(), 'client.created', { user_id: owner, client_id: client.clientId, address: 'cli' });
    const { client_id: id, ...rest } = describeClient(client);
    return clientSecret === null ? { client_id: id, ...rest } : { client_id: id, client_secret: clientSecret, ...rest };
  });
};

const clientResetSecret: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, 'client-id': { type: 'string' } });
  const clientId = requireString(v, 'client-id');
  return withServices(v, async (s) => {
    const existing = await s.clients.findByClientId(clientId);
    if (!existing) throw new CommandError(`no client with id ${clientId}`);
    if (existing.isPublic) throw new CommandError(`client ${clientId} is public and has no secret`);
    const secret = await resetClientSecret(s, clientId);
    if (secret === undefined) throw new CommandError(`no client with id ${clientId}`);
    audit(cliAudit(), 'client.secret_reset', { client_id: clientId, address: 'cli' });
    return { client_id: clientId, client_secret: secret };
  });
};

const migrateCommand: Command = async (argv) => {
  const v = parseFlags(argv, DB_FLAG);
  const url = optionalString(v, 'database-url') ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  try {
    validateDatabaseUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const store = openDatabase(url);
  try {
    const applied = await migrate(store).catch((err: Error) => {
      throw new CommandError(`cannot migrate ${redactUrl(url)}: ${err.message}`);
    });
    return { applied };
  } finally {
    await store.close();
  }
};

/** Two-word commands ("user create") and one-word ones ("migrate"). `serve` lives in serve.ts. */
export const COMMANDS: Record<string, Command> = {
  'user create': userCreate,
  'user reset-factors': userResetFactors,
  'org create': orgCreate,
  'org add-member': orgAddMember,
  'org set-integrations': orgSetIntegrations,
  'client create': clientCreate,
  'client reset-secret': clientResetSecret,
  'client list': clientList,
  'client delete': clientDelete,
  'registration token': registrationToken,
  'resource create': resourceCreate,
  'resource list': resourceList,
  'resource delete': resourceDelete,
  'resource metadata': resourceMetadata,
  'keys rotate': keysRotate,
  'keys list': keysList,
  migrate: migrateCommand,
  purge: purgeCommand,
};
