// Registering API clients and resetting their secrets: shared by the admin CLI and the
// developer portal. A secret is 256-bit random, shown once, stored as SHA-256.
import { newClientId, newSecret, sha256Hex } from '../oauth/crypto.js';
import { RedirectUriError, validateRedirectUri, type RedirectUriPolicy } from '../oauth/redirect-uri.js';
import { nowSeconds } from '../oauth/clock.js';
import type { Client, IdTokenAlg } from '../oauth/model.js';
import { GRANT_TYPES, type GrantType } from '../oauth/grant-types.js';
import type { AccountServices } from './services.js';

/** Why a registration was refused, for pages that say it in the reader's language (http/locale.ts). */
export type ClientRegistrationReason = 'name_empty' | 'name_too_long' | 'no_redirect_uri' | 'too_many_uris' | 'uri';

export class ClientRegistrationError extends Error {
  override name = 'ClientRegistrationError';
  constructor(
    message: string,
    readonly field: 'name' | 'redirect_uris' | 'post_logout_redirect_uris' | 'grant_types' | 'scopes' | 'owner' = 'name',
    readonly reason?: ClientRegistrationReason,
    /** For reason `uri`: the URI's own refusal. */
    readonly uriError?: RedirectUriError,
  ) {
    super(message);
  }
}

export interface ClientRegistration {
  name: string;
  redirectUris: string[];
  ownerUserId?: number | null;
  isPublic?: boolean;
  grantTypes?: string[];
  scopes?: string[];
  refreshWithoutSecret?: boolean;
  redirectUriPolicy?: RedirectUriPolicy;
  /** Where RP-initiated logout may send the browser back to (none by default); held to the redirect URI rules. */
  postLogoutRedirectUris?: string[];
  /**
   * Operator-created (the admin CLI): authorization errors may redirect before the user has
   * seen the consent page. Default false: anything anyone can register (the developer portal)
   * must not make the authorization endpoint an open redirector (RFC 9700 §4.11.2).
   */
  trusted?: boolean;
  /** How its ID tokens are signed (default RS256). */
  idTokenSignedResponseAlg?: IdTokenAlg;
}

export const DEFAULT_GRANT_TYPES: GrantType[] = ['authorization_code', 'refresh_token'];
export const MAX_CLIENT_NAME_LENGTH = 200;

export function validateClientName(name: string): string {
  const value = name.trim();
  if (value === '') throw new ClientRegistrationError('a client needs a name', 'name', 'name_empty');
  if (value.length > MAX_CLIENT_NAME_LENGTH) throw new ClientRegistrationError(`a client name must be at most ${MAX_CLIENT_NAME_LENGTH} characters`, 'name', 'name_too_long');
  return value;
}

export const MAX_URIS = 20;

/** Validates each URI; throws ClientRegistrationError naming the first bad one. */
export function validateRedirectUris(uris: string[], policy?: RedirectUriPolicy): string[] {
  if (uris.length === 0) throw new ClientRegistrationError('a client needs at least one redirect URI', 'redirect_uris', 'no_redirect_uri');
  return validateUriList(uris, policy, 'redirect_uris', 'redirect URIs');
}

/**
 * Validates post-logout redirect URIs (RP-Initiated Logout 1.0 §3.1) by the redirect URI
 * rules; none is fine. Errors say which list the URI was in.
 */
export function validatePostLogoutRedirectUris(uris: string[], policy?: RedirectUriPolicy): string[] {
  return validateUriList(uris, policy, 'post_logout_redirect_uris', 'post-logout redirect URIs');
}

function validateUriList(uris: string[], policy: RedirectUriPolicy | undefined, field: 'redirect_uris' | 'post_logout_redirect_uris', what: string): string[] {
  if (uris.length > MAX_URIS) throw new ClientRegistrationError(`a client may have at most ${MAX_URIS} ${what}`, field, 'too_many_uris');
  try {
    return [...new Set(uris.map((u) => validateRedirectUri(u, policy)))];
  } catch (err) {
    const message = (err as Error).message;
    throw new ClientRegistrationError(field === 'redirect_uris' ? message : `Post-logout redirect URI ${message.replace(/^a redirect URI /, '')}`, field,
      'uri', err instanceof RedirectUriError ? err : undefined);
  }
}

export async function registerClient(services: AccountServices, input: ClientRegistration): Promise<{ client: Client; clientSecret: string | null }> {
  const name = validateClientName(input.name);
  const redirectUris = validateRedirectUris(input.redirectUris, input.redirectUriPolicy);
  const postLogoutRedirectUris = validatePostLogoutRedirectUris(input.postLogoutRedirectUris ?? [], input.redirectUriPolicy);
  const isPublic = input.isPublic ?? false;

  const grantTypes = [...new Set(input.grantTypes ?? DEFAULT_GRANT_TYPES)];
  for (const g of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(g)) {
      throw new ClientRegistrationError(`unknown grant type ${JSON.stringify(g)} (known: ${GRANT_TYPES.join(', ')})`, 'grant_types');
    }
  }
  if (grantTypes.length === 0) throw new ClientRegistrationError('a client needs at least one grant type', 'grant_types');
  if (isPublic && grantTypes.includes('client_credentials')) {
    throw new ClientRegistrationError('a public client cannot use client_credentials (it has no secret)', 'grant_types');
  }
  if (isPublic && grantTypes.includes('password')) {
    throw new ClientRegistrationError('a public client cannot use the password grant (RFC 9700 §2.4)', 'grant_types');
  }

  const offered = services.config.scopes;
  const scopes = [...new Set(input.scopes ?? offered)];
  // A registered resource's scopes (RFC 8707) may be given to a client too: the client may then
  // ask for them with that resource (oauth/resources.ts).
  const resourceScopes = scopes.some((s) => !offered.includes(s)) ? (await services.resources.list()).flatMap((r) => r.scopes) : [];
  for (const s of scopes) {
    if (!offered.includes(s) && !resourceScopes.includes(s)) throw new ClientRegistrationError(`unknown scope ${JSON.stringify(s)} (the server offers: ${offered.join(' ')})`, 'scopes');
  }

  if (input.ownerUserId != null && !(await services.users.findById(input.ownerUserId))) {
    throw new ClientRegistrationError(`no user with id ${input.ownerUserId}`, 'owner');
  }

  const clientSecret = isPublic ? null : newSecret();
  const client = await services.clients.insert({
    clientId: newClientId(),
    secretHash: clientSecret === null ? null : sha256Hex(clientSecret),
    name,
    redirectUris,
    ownerUserId: input.ownerUserId ?? null,
    isPublic,
    grantTypes: grantTypes as GrantType[],
    scopes,
    refreshWithoutSecret: input.refreshWithoutSecret ?? false,
    trusted: input.trusted ?? false,
    postLogoutRedirectUris,
    idTokenSignedResponseAlg: input.idTokenSignedResponseAlg ?? 'RS256',
    now: nowSeconds(services.clock),
  });
  return { client, clientSecret };
}

/** Issues a new secret; the old one stops working at once. Returns undefined for an unknown or public client. */
export async function resetClientSecret(services: AccountServices, clientId: string): Promise<string | undefined> {
  const secret = newSecret();
  const updated = await services.clients.updateSecretHash(clientId, sha256Hex(secret), nowSeconds(services.clock));
  return updated ? secret : undefined;
}

/**
 * Whether the client's secret can be reset by hash alone (the portal, `client reset-secret`):
 * not for public clients, nor for private_key_jwt (no secret) or client_secret_jwt (its secret
 * is also kept sealed, and a reset that changed only the hash would break its assertions).
 */
export function hasResettableSecret(client: Client): boolean {
  const method = client.tokenEndpointAuthMethod;
  return !client.isPublic && client.secretHash !== null && (method === null || method === 'client_secret_basic' || method === 'client_secret_post');
}

/** The client as the CLI and portal show it (never the hash). */
export function describeClient(client: Client) {
  return {
    client_id: client.clientId,
    name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    scopes: client.scopes,
    public: client.isPublic,
    owner: client.ownerUserId,
    refresh_without_secret: client.refreshWithoutSecret,
    trusted: client.trusted,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
  };
}
