// `latchkey resource create|list|delete|metadata` (SPEC.md "Client registration and
// resources"): the APIs tokens can be issued for with RFC 8707 `resource`, and the RFC 9728
// document describing each. ISSUER/api (`/api/user`) is built in: never a row, listed first.
import pino from 'pino';
import { audit, type AuditLogger } from '../audit.js';
import { createLogger } from '../logging.js';
import { nowSeconds } from '../oauth/clock.js';
import { OFFLINE_ACCESS_SCOPE, OPENID_SCOPE } from '../oauth/claims.js';
import type { Resource } from '../oauth/model.js';
import { builtInResource, protectedResourceMetadata, resourceSyntaxError } from '../oauth/resources.js';
import { parseScope } from '../oauth/scope.js';
import { CommandError, UsageError, optionalString, parseFlags, requireString } from './args.js';
import { withServices, type Command } from './command.js';

const DB_FLAG = { 'database-url': { type: 'string' } } as const;

let auditLogger: AuditLogger | undefined;
function cliAudit(): AuditLogger {
  auditLogger ??= createLogger('info', pino.destination({ fd: 2, sync: true }));
  return auditLogger;
}

function describe(resource: Resource): { identifier: string; name: string; scopes: string[] } {
  return { identifier: resource.identifier, name: resource.name, scopes: [...resource.scopes] };
}

function identifierOption(v: Record<string, string | boolean | undefined>): string {
  const identifier = requireString(v, 'identifier');
  const why = resourceSyntaxError(identifier);
  if (why !== null) throw new UsageError(`--identifier: ${why}`);
  return identifier;
}

/** `resource create --identifier URI --name N [--scopes "a b"]` → {"identifier":…,"name":…,"scopes":[…]} */
export const resourceCreate: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, identifier: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' } });
  const identifier = identifierOption(v);
  const name = requireString(v, 'name').trim();
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (name === '' || name.length > 200 || /[\u0000-\u001F\u007F]/.test(name)) throw new UsageError('--name must be 1 to 200 characters, without control characters');
  const rawScopes = (optionalString(v, 'scopes') ?? '').replace(/,/g, ' ');
  const scopes = parseScope(rawScopes);
  if (scopes === null) throw new UsageError('--scopes must be scope names (printable ASCII, no quotes or backslashes) separated by spaces');
  if (scopes.length > 100 || scopes.some((s) => s.length > 100)) throw new UsageError('--scopes: at most 100 scopes of at most 100 characters');
  const oidc = scopes.find((s) => s === OPENID_SCOPE || s === OFFLINE_ACCESS_SCOPE);
  if (oidc !== undefined) throw new UsageError(`--scopes: ${oidc} concerns the authorization server, not a resource`);
  return withServices(v, async (s) => {
    if (identifier === builtInResource(s.config).identifier) throw new CommandError(`${identifier} is the built-in resource of /api/user`);
    const created = await s.resources.insert({ identifier, name, scopes, now: nowSeconds(s.clock) });
    if (!created) throw new CommandError(`a resource ${identifier} exists already`);
    audit(cliAudit(), 'resource.created', { resource: identifier, address: 'cli' });
    return describe(created);
  });
};

/** `resource list` → {"resources":[…]}, the built-in one first. */
export const resourceList: Command = async (argv) => {
  const v = parseFlags(argv, DB_FLAG);
  return withServices(v, async (s) => {
    const registered = await s.resources.list();
    return { resources: [{ ...describe(builtInResource(s.config)), built_in: true }, ...registered.map(describe)] };
  });
};

/** `resource delete --identifier URI` → {"identifier":…,"deleted":true}. Tokens already issued for it keep their audience until they expire. */
export const resourceDelete: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, identifier: { type: 'string' } });
  const identifier = identifierOption(v);
  return withServices(v, async (s) => {
    if (identifier === builtInResource(s.config).identifier) throw new CommandError(`${identifier} is built in and cannot be deleted`);
    if (!(await s.resources.delete(identifier))) throw new CommandError(`no resource ${identifier}`);
    audit(cliAudit(), 'resource.deleted', { resource: identifier, address: 'cli' });
    return { identifier, deleted: true };
  });
};

/**
 * `resource metadata --identifier URI` → the RFC 9728 document, exactly as it is to be served
 * (so it can be redirected to a file), at the resource's path-inserted well-known URL
 * (RFC 9728 §3.1; resources.ts protectedResourceMetadataUrl). A resource on the issuer's
 * origin needs nothing: Latchkey serves its document there itself.
 */
export const resourceMetadata: Command = async (argv) => {
  const v = parseFlags(argv, { ...DB_FLAG, identifier: { type: 'string' } });
  const identifier = identifierOption(v);
  return withServices(v, async (s) => {
    const builtIn = builtInResource(s.config);
    const resource = identifier === builtIn.identifier ? builtIn : await s.resources.find(identifier);
    if (!resource) throw new CommandError(`no resource ${identifier}`);
    return protectedResourceMetadata(resource, s.config.issuer);
  });
};
