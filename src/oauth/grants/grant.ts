// What every grant looks like (DESIGN.md "A grant is one file"), and the steps they share.
// The token endpoint finds a grant by grant_type, authenticates the client, checks that the
// client may use the grant, and calls `handle`.
import type { Client } from '../model.js';
import type { GrantType } from '../grant-types.js';
import { OAuthError } from '../errors.js';
import { formatScope, isSubset, parseScope } from '../scope.js';
import type { IssuedTokens } from '../tokens.js';
import { OFFLINE_ACCESS_SCOPE, OPENID_SCOPE } from '../claims.js';

export interface TokenRequest {
  /** The authenticated client. */
  client: Client;
  /** Flat, trimmed, unrepeated parameters (http/plugins/params.ts). */
  params: Readonly<Record<string, string>>;
  /** The caller's address, for the password grant's brute-force backoff (accounts/backoff.ts). */
  address?: string;
}

export interface GrantHandler {
  grantType: GrantType;
  /**
   * 'confidential': only a client that authenticated with its secret may use the grant
   * (client_credentials, RFC 6749 §4.4). 'any': public clients too.
   */
  clientAuthentication: 'any' | 'confidential';
  /** The response body, and whom it was issued for (the token endpoint's audit line). */
  handle(request: TokenRequest): Promise<IssuedTokens>;
}

/** Security events a grant reports (a replayed code or refresh token): src/audit.ts; pino's Logger fits. */
export type { AuditLogger as AuditLog } from '../../audit.js';

/** A required parameter; missing or empty is invalid_request (RFC 6749 §5.2). */
export function requireParam(params: Readonly<Record<string, string>>, name: string): string {
  const value = params[name];
  if (value === undefined || value === '') throw new OAuthError('invalid_request', `the ${name} parameter is required`);
  return value;
}

/** An optional parameter; an empty value counts as absent. */
export function optionalParam(params: Readonly<Record<string, string>>, name: string): string | undefined {
  const value = params[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The scope to grant (RFC 6749 §3.3): what was asked for, which must be a subset of
 * `allowed`, or all of `allowed` when nothing was asked for (SPEC.md).
 */
export function grantedScope(requested: string | undefined, allowed: readonly string[], fallback: readonly string[] = allowed): string {
  if (requested === undefined || requested === '') return formatScope(fallback);
  const scopes = parseScope(requested);
  if (scopes === null) throw new OAuthError('invalid_scope', 'the scope parameter is malformed');
  if (!isSubset(scopes, allowed)) {
    const refused = scopes.filter((s) => !allowed.includes(s));
    throw new OAuthError('invalid_scope', `scope not allowed: ${formatScope(refused)}`);
  }
  return formatScope(scopes);
}

/**
 * What a request without `scope` gets (SPEC.md "OpenID Connect"): the client's scopes other
 * than `openid` (and `offline_access`), so that OAuth requests stay OAuth requests.
 */
export function defaultScope(allowed: readonly string[]): string[] {
  return allowed.filter((s) => s !== OPENID_SCOPE && s !== OFFLINE_ACCESS_SCOPE);
}

/** The scopes a client may ask for: its registered ones the server still offers. */
export function clientScopes(client: Client, offered: readonly string[]): string[] {
  return client.scopes.filter((s) => offered.includes(s));
}
