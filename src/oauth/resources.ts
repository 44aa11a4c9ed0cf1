// Resource indicators (RFC 8707): which protected resources (APIs) an access token is for.
//
// A resource is named by its identifier, an absolute URI without fragment (RFC 8707 §2),
// compared as an exact string (no normalisation: `https://a/x` and `https://A/x/` are two
// resources, as in node-oidc-provider). Operators register resources with the command line
// (store/resources.ts); one is built in, ISSUER/api — `/api/user` and UserInfo — which is
// not a row: its scopes are the server's other than openid and offline_access.
//
// On the wire `resource` may repeat (RFC 8707 §2: one parameter per resource). The token
// endpoint's flat parameters carry repeats joined by NUL, a character no parameter value may
// hold (http/plugins/params.ts), so they come apart exactly.
//
// Scopes with resources (README "Resources"): a token for resources carries the scopes of
// those resources that the client may use (a registered resource's scopes the client was
// registered with; for ISSUER/api the client's identity scopes), and, in an OpenID request,
// the client's OpenID scopes, which concern the ID token. Anything else is invalid_scope.
// Without `scope` the client gets every scope of the resources it may use (SPEC.md).
import type { Config } from '../config/load.js';
import type { Client, Resource } from './model.js';
import type { ResourcePort } from './ports.js';
import { OFFLINE_ACCESS_SCOPE, OPENID_SCOPE } from './claims.js';
import { OAuthError } from './errors.js';
import { formatScope, parseScope } from './scope.js';

/** Longest identifier accepted: far beyond any real one, short of anything that costs. */
export const MAX_RESOURCE_LENGTH = 2048;
/** Most resources one request may indicate. */
export const MAX_RESOURCES = 10;
/** How repeated `resource` values travel in the token endpoint's flat parameters. */
export const RESOURCE_SEPARATOR = '\u0000';

/** The built-in resource's identifier: the user API (`/api/user`, `/oauth/userinfo`), the default `aud` of JWT access tokens. */
export function builtInResourceIdentifier(issuer: string): string {
  return `${issuer}/api`;
}

/** ISSUER/api as a resource: the server's scopes that read the user (not openid, not offline_access). */
export function builtInResource(config: Pick<Config, 'issuer' | 'scopes'>): Resource {
  return {
    identifier: builtInResourceIdentifier(config.issuer),
    name: 'Latchkey user API',
    scopes: config.scopes.filter((s) => s !== OPENID_SCOPE && s !== OFFLINE_ACCESS_SCOPE),
    createdAt: 0,
  };
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** RFC 3986 characters only: printable ASCII, no space. */
const NOT_URI_CHARACTER = /[^\x21-\x7E]/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/**
 * Why `value` cannot be a resource indicator (RFC 8707 §2: "MUST be an absolute URI … MUST NOT
 * include a fragment component"), or null when it can. Also the command line's check.
 */
export function resourceSyntaxError(value: string): string | null {
  if (value.length === 0) return 'a resource indicator must not be empty';
  if (value.length > MAX_RESOURCE_LENGTH) return `a resource indicator must be at most ${MAX_RESOURCE_LENGTH} characters`;
  if (NOT_URI_CHARACTER.test(value)) return 'a resource indicator must be a URI: printable ASCII, no white space or control characters';
  if (value.includes('#')) return 'a resource indicator must not include a fragment (RFC 8707 section 2)';
  if (BAD_PERCENT.test(value)) return 'a resource indicator has a malformed percent-encoding';
  if (!SCHEME.test(value)) return 'a resource indicator must be an absolute URI (RFC 8707 section 2)';
  try {
    new URL(value);
  } catch {
    return 'a resource indicator must be an absolute URI (RFC 8707 section 2)';
  }
  return null;
}

/** What to show of a refused value: short, printable. */
function shown(value: string): string {
  const clipped = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return JSON.stringify(clipped.replace(/[^\x20-\x7E]/g, '?'));
}

/**
 * The resources a request names: each checked for syntax, repeats folded, at most
 * MAX_RESOURCES; undefined when it names none. `values` are the parameter's values (a repeated
 * parameter's several; the token endpoint's NUL-joined text split back apart).
 */
export function parseResources(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const present = values.filter((v) => v !== '');
  if (present.length === 0) return undefined;
  if (present.length > MAX_RESOURCES) throw new OAuthError('invalid_target', `at most ${MAX_RESOURCES} resources may be indicated in one request`);
  const out: string[] = [];
  for (const value of present) {
    const why = resourceSyntaxError(value);
    if (why !== null) throw new OAuthError('invalid_target', `${why}: ${shown(value)}`);
    if (!out.includes(value)) out.push(value);
  }
  return out;
}

/** The `resource` values of the token endpoint's flat parameters; undefined when none. */
export function requestedResources(params: Readonly<Record<string, string>>): string[] | undefined {
  const raw = params.resource;
  return parseResources(raw === undefined ? undefined : raw.split(RESOURCE_SEPARATOR));
}

export interface ResourceDeps {
  resources: Pick<ResourcePort, 'find'>;
  /** Without an issuer (unit tests of a grant) there is no built-in resource. */
  config: Pick<Config, 'scopes'> & Partial<Pick<Config, 'issuer'>>;
}

/** The resources `identifiers` name, each the built-in one or registered; an unknown one is invalid_target. */
export async function resolveResources(deps: ResourceDeps, identifiers: readonly string[]): Promise<Resource[]> {
  const issuer = deps.config.issuer;
  const builtIn = issuer === undefined ? undefined : builtInResource({ issuer, scopes: deps.config.scopes });
  return Promise.all(identifiers.map(async (identifier) => {
    if (builtIn !== undefined && identifier === builtIn.identifier) return builtIn;
    const found = await deps.resources.find(identifier);
    if (!found) throw new OAuthError('invalid_target', `unknown resource ${shown(identifier)}`);
    return found;
  }));
}

/** The scopes `client` may use at `resources` (README "Resources"): each resource's scopes the client is registered with. */
export function resourceScopes(resources: readonly Resource[], client: Pick<Client, 'scopes'>): string[] {
  const out: string[] = [];
  for (const r of resources) for (const s of r.scopes) if (client.scopes.includes(s) && !out.includes(s)) out.push(s);
  return out;
}

/**
 * The scope granted for a request that indicates `resources` (RFC 8707 §2, RFC 6749 §3.3):
 * what was asked for, within the resources' scopes the client may use plus, in an OpenID
 * request, the client's OpenID scopes (`openidScopes`: what it may ask for without
 * resources); without `scope`, every scope of the resources the client may use.
 */
export function scopeForResources(requested: string | undefined, resources: readonly Resource[], client: Pick<Client, 'scopes'>, openidScopes: readonly string[]): string[] {
  const available = resourceScopes(resources, client);
  if (requested === undefined || requested === '') return available;
  const parsed = parseScope(requested);
  if (parsed === null) throw new OAuthError('invalid_scope', 'the scope parameter is malformed (RFC 6749 section 3.3)');
  const openid = parsed.includes(OPENID_SCOPE) && openidScopes.includes(OPENID_SCOPE);
  const acceptable = new Set([...available, ...(openid ? [...openidScopes, OFFLINE_ACCESS_SCOPE] : [])]);
  const refused = parsed.filter((s) => !acceptable.has(s));
  if (refused.length > 0) throw new OAuthError('invalid_scope', `scope not available for the indicated resources: ${formatScope(refused)}`);
  return parsed.length > 0 ? parsed : available;
}

/**
 * RFC 8707 §2.2: a token request may name a subset of the resources the grant was made for,
 * never another. A grant that indicated none is for ISSUER/api. Returns the audience of the
 * new access token: the subset asked for, or the grant's resources.
 */
export function narrowedAudience(requested: readonly string[] | undefined, granted: readonly string[] | null, issuer: string | undefined): readonly string[] | null {
  if (requested === undefined) return granted;
  const allowed = granted ?? (issuer === undefined ? [] : [builtInResourceIdentifier(issuer)]);
  const refused = requested.filter((r) => !allowed.includes(r));
  if (refused.length > 0) throw new OAuthError('invalid_target', `resource not granted: ${shown(refused[0]!)} (a token request may only name resources of the authorization)`);
  return requested;
}

/** Whether a token whose audience is `audience` may be used at the resource `identifier` (no audience: ISSUER/api). */
export function audienceIncludes(audience: readonly string[] | null | undefined, identifier: string, issuer: string): boolean {
  if (audience === null || audience === undefined || audience.length === 0) return identifier === builtInResourceIdentifier(issuer);
  return audience.includes(identifier);
}

/**
 * RFC 9728 §2: the protected-resource metadata of a resource served by this authorization
 * server: its identifier, us as its authorization server, its scopes, header-only bearer
 * tokens (RFC 6750 §2.1; `/oauth/userinfo` also takes a form body, the API does not).
 */
export function protectedResourceMetadata(resource: Resource, issuer: string): Record<string, unknown> {
  return {
    resource: resource.identifier,
    authorization_servers: [issuer],
    scopes_supported: [...resource.scopes],
    bearer_methods_supported: ['header'],
    resource_name: resource.name,
  };
}

/**
 * RFC 9728 §3.1: where a resource's metadata is served — `/.well-known/oauth-protected-resource`
 * inserted between the host and the path of its identifier (at the origin for one without a path).
 * undefined for an identifier that is not an http(s) URL.
 */
export function protectedResourceMetadataUrl(identifier: string): string | undefined {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}${url.search}`;
}
