// Client ID metadata documents (the OAuth "Client ID Metadata Document" draft the Model Context
// Protocol adopts): a client_id that is an https URL names a JSON document, served there, that
// describes the client. When the operator turns them on (config `client_id_metadata_documents`),
// an unknown client_id of that shape is fetched (net/client-id-documents.ts) and, if the
// document is acceptable, stored as a client with registration 'document'. This module holds
// the rules, framework-free:
//   client_id                   the document's must equal the URL it was fetched from
//   redirect_uris               required; each absolute, no fragment, https (or a loopback http)
//   token_endpoint_auth_method  `none` (default: a public client, PKCE) or `private_key_jwt`
//                               with a `jwks_uri` (https); secrets cannot be in a public document
//   grant_types                 authorization_code and refresh_token only (default both)
//   client_name                 optional (default the URL's host), at most 200 characters
//   scope                       optional: the offered scopes it names (default all of them)
import { validateRedirectUri, RedirectUriError } from './redirect-uri.js';
import type { GrantType } from './grant-types.js';
import type { NewClient } from './model.js';

export class ClientDocumentError extends Error {
  override name = 'ClientDocumentError';
}

const MAX_ID_LENGTH = 200;
const MAX_URIS = 20;
const MAX_NAME = 200;
const DOCUMENT_GRANTS: readonly GrantType[] = ['authorization_code', 'refresh_token'];

/**
 * Whether `clientId` may name a document: an https URL with a path other than "/", no
 * fragment, no credentials, no dot segments, at most 200 characters (the draft's rules, and the
 * length every client_id has here). `allowLoopbackHttp` (tests and development, with
 * LATCHKEY_ALLOW_LOOPBACK_FETCH): http://127.0.0.1 and http://[::1] too.
 */
export function isClientIdDocumentUrl(clientId: string, allowLoopbackHttp = false): boolean {
  if (clientId.length > MAX_ID_LENGTH) return false;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return false;
  }
  const scheme = url.protocol === 'https:' || (allowLoopbackHttp && url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]'));
  return scheme && url.href === clientId && url.hash === '' && url.username === '' && url.password === '' && url.pathname !== '/' && !/\/\.\.?(?:\/|$)/.test(clientId);
}

/** The document's text fields, read strictly. */
function optionalString(doc: Record<string, unknown>, key: string): string | undefined {
  const value = doc[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ClientDocumentError(`${key} must be a string`);
  return value;
}

/**
 * The client `document` describes, fetched from `url`; throws ClientDocumentError naming what
 * is wrong with it. `scopes`: the scopes the server offers; `allowLoopbackHttp` as for
 * isClientIdDocumentUrl (a jwks_uri on http://127.0.0.1).
 */
export function clientFromDocument(url: string, document: unknown, scopes: readonly string[], now: number, allowLoopbackHttp = false): NewClient {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new ClientDocumentError('the document is not a JSON object');
  const doc = document as Record<string, unknown>;
  if (doc.client_id !== url) throw new ClientDocumentError('the document\'s client_id is not the URL it was fetched from');
  const uris = doc.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > MAX_URIS || !uris.every((u) => typeof u === 'string')) {
    throw new ClientDocumentError(`redirect_uris must be a list of 1 to ${MAX_URIS} URIs`);
  }
  let redirectUris: string[];
  try {
    redirectUris = [...new Set((uris as string[]).map((u) => validateRedirectUri(u, { requireHttps: true })))];
  } catch (err) {
    throw new ClientDocumentError(err instanceof RedirectUriError ? err.message : 'a redirect URI is not acceptable');
  }
  const method = optionalString(doc, 'token_endpoint_auth_method') ?? 'none';
  if (method !== 'none' && method !== 'private_key_jwt') throw new ClientDocumentError('token_endpoint_auth_method must be none or private_key_jwt');
  const jwksUri = optionalString(doc, 'jwks_uri');
  if (method === 'private_key_jwt') {
    const loopbackHttp = allowLoopbackHttp && /^http:\/\/(?:127\.0\.0\.1|\[::1\])[:/]/.test(jwksUri ?? '');
    if (jwksUri === undefined || !(jwksUri.startsWith('https://') || loopbackHttp) || jwksUri.length > 2000) throw new ClientDocumentError('private_key_jwt needs an https jwks_uri');
  }
  if (doc.client_secret !== undefined) throw new ClientDocumentError('a client ID metadata document carries no client_secret');
  let grantTypes: GrantType[] = [...DOCUMENT_GRANTS];
  if (doc.grant_types !== undefined) {
    if (!Array.isArray(doc.grant_types) || doc.grant_types.length === 0 || !doc.grant_types.every((g) => typeof g === 'string' && (DOCUMENT_GRANTS as readonly string[]).includes(g))) {
      throw new ClientDocumentError('grant_types may name authorization_code and refresh_token only');
    }
    grantTypes = [...new Set(doc.grant_types as GrantType[])];
  }
  if (!grantTypes.includes('authorization_code')) throw new ClientDocumentError('grant_types must include authorization_code');
  // eslint-disable-next-line no-control-regex -- a name shown on the consent page holds no control characters
  const name = (optionalString(doc, 'client_name') ?? new URL(url).host).trim().replace(/[\u0000-\u001f\u007f]/g, '');
  if (name === '' || name.length > MAX_NAME) throw new ClientDocumentError(`client_name must be 1 to ${MAX_NAME} characters`);
  const scope = optionalString(doc, 'scope');
  const wanted = scope === undefined ? [...scopes] : scope.split(' ').filter((s) => scopes.includes(s));
  return {
    clientId: url,
    secretHash: null,
    name,
    redirectUris,
    ownerUserId: null,
    isPublic: method === 'none',
    grantTypes,
    scopes: wanted,
    refreshWithoutSecret: false,
    // Anyone can publish a document: errors go to its redirect URI only after the consent page (RFC 9700 §4.11.2).
    trusted: false,
    now,
    tokenEndpointAuthMethod: method,
    jwksUri: method === 'private_key_jwt' ? jwksUri ?? null : null,
    registration: 'document',
  };
}
