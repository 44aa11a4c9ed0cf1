// Server metadata: the RFC 8414 §2 document served at /.well-known/oauth-authorization-server,
// and the OpenID Connect Discovery 1.0 §3 document served at /.well-known/openid-configuration.
// The second is the first plus the OpenID Provider fields, built from it, so the two can never
// disagree on a field they share (the issuer first of all: Discovery §4.3, RFC 8414 §3.3).
import { ACR_VALUES } from './acr.js';
import type { Config } from '../config/load.js';
import type { Prompt, ResponseMode } from './authorize.js';
import { CLAIMS_SUPPORTED, OFFLINE_ACCESS_SCOPE, OPENID_SCOPE } from './claims.js';
import { GRANT_TYPES } from './grant-types.js';
import { SIGNING_ALGS } from './signing-keys.js';
import { REGISTRATION_PATH } from './registration.js';
import { CLIENT_ASSERTION_ALGS } from './client-assertion.js';
import { builtInResourceIdentifier } from './resources.js';

/**
 * RFC 6749 §2.3.1 client_secret_basic / client_secret_post, public clients (RFC 7591 §2
 * "none"), and client assertions (RFC 7523 §2.2, OIDC Core §9: client-auth.ts, client-assertion.ts).
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'] as const;

export const JWKS_PATH = '/.well-known/jwks.json';
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';

// Every value of authorize.ts's types, listed once: the compiler refuses a list that misses
// one or names another.
const RESPONSE_MODE_SET: Record<ResponseMode, true> = { query: true, form_post: true };
const PROMPT_SET: Record<Prompt, true> = { none: true, login: true, consent: true, select_account: true };

/** Where authorization responses may go (OAuth 2.0 Multiple Response Types, Form Post Response Mode). */
export const RESPONSE_MODES = Object.keys(RESPONSE_MODE_SET) as ResponseMode[];

/** The `prompt` values the authorization endpoint understands (OIDC Core §3.1.2.1). */
export const PROMPT_VALUES = Object.keys(PROMPT_SET) as Prompt[];

/**
 * The scopes a client may ask for: the configured ones, and `offline_access` beside `openid`
 * (SPEC.md: accepted in OpenID requests, and it changes nothing).
 */
export function supportedScopes(scopes: readonly string[]): string[] {
  const out = [...scopes];
  if (out.includes(OPENID_SCOPE) && !out.includes(OFFLINE_ACCESS_SCOPE)) out.push(OFFLINE_ACCESS_SCOPE);
  return out;
}

/** The settings the documents are built from; `registration` (closed) and `clientIdMetadataDocuments` (off) may be left out. */
export type MetadataConfig = Pick<Config, 'issuer' | 'scopes'> & Partial<Pick<Config, 'registration' | 'clientIdMetadataDocuments'>>;

export function authorizationServerMetadata(config: MetadataConfig): Record<string, unknown> {
  const issuer = config.issuer;
  return {
    // RFC 8414 §2: identical to the issuer the server is configured with (LATCHKEY_ISSUER).
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    // Registered by OpenID Connect Discovery, and read by OAuth clients too.
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
    // SPEC.md: always published (the keys exist from the first start, whatever the access-token format).
    jwks_uri: `${issuer}${JWKS_PATH}`,
    scopes_supported: supportedScopes(config.scopes),
    response_types_supported: ['code'],
    response_modes_supported: [...RESPONSE_MODES],
    grant_types_supported: [...GRANT_TYPES],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    // The algorithms of client assertions (RFC 8414 §2): private_key_jwt's and client_secret_jwt's.
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    introspection_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // RFC 7636 §4.2; "plain" is refused (RFC 9700 §2.1.1).
    code_challenge_methods_supported: ['S256'],
    // RFC 9207 §3: every authorization response, success or error, carries `iss`.
    authorization_response_iss_parameter_supported: true,
    // RFC 8414 §2 / RFC 7591 §3: only while someone may register (config `registration` open or token).
    ...(config.registration !== undefined && config.registration !== 'closed' ? { registration_endpoint: `${issuer}${REGISTRATION_PATH}` } : {}),
    // OAuth Client ID Metadata Document draft §5 (MCP): https client_ids name their documents.
    ...(config.clientIdMetadataDocuments === true ? { client_id_metadata_document_supported: true } : {}),
    // RFC 9728 §4: the protected resources this server issues tokens for. The built-in one only:
    // registered resources (RFC 8707 `resource`) are the operator's to announce (README "Resources").
    protected_resources: [builtInResourceIdentifier(issuer)],
  };
}

/**
 * The OpenID Provider metadata (OIDC Discovery 1.0 §3): every field of the RFC 8414 document,
 * with the same values, plus the OpenID Provider's own.
 */
export function openIdProviderMetadata(config: MetadataConfig): Record<string, unknown> {
  const oauth = authorizationServerMetadata(config);
  return {
    ...oauth,
    // RP-Initiated Logout 1.0 §2.1.
    end_session_endpoint: `${config.issuer}/oauth/logout`,
    subject_types_supported: ['public'],
    // ID tokens are signed with the client's id_token_signed_response_alg: RS256 (the default,
    // Core §15.1) or ES256; never `none`.
    id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    claims_supported: [...CLAIMS_SUPPORTED],
    // The acr levels of ID tokens, weakest first (oauth/acr.ts).
    acr_values_supported: [...ACR_VALUES],
    claim_types_supported: ['normal'],
    claims_parameter_supported: true,
    // Request objects are refused (request_not_supported, request_uri_not_supported).
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    display_values_supported: ['page'],
    // Initiating User Registration via OpenID Connect 1.0 §4 registers this field.
    prompt_values_supported: [...PROMPT_VALUES],
  };
}
