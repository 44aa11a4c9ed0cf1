// Authorization server metadata (RFC 8414 §2), served at /.well-known/oauth-authorization-server.
// Latchkey is an OAuth 2.0 server, not an OpenID Provider (it issues no ID tokens), so it
// does not answer at /.well-known/openid-configuration: a relying party that insists on
// OpenID Connect should fail at discovery, not after a login.
import type { Config } from '../config/load.js';
import { GRANT_TYPES } from './grant-types.js';

/** RFC 6749 §2.3.1 client_secret_basic / client_secret_post, and public clients (RFC 7591 §2 "none"). */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

export const JWKS_PATH = '/.well-known/jwks.json';

export function authorizationServerMetadata(config: Pick<Config, 'issuer' | 'scopes'>): Record<string, unknown> {
  const issuer = config.issuer;
  return {
    // RFC 8414 §2: identical to the issuer the server is configured with (LATCHKEY_ISSUER).
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    // Not an RFC 8414 field but registered by OpenID Connect Discovery and widely read.
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
    // SPEC.md: always published (the keys exist from the first start, whatever the access-token format).
    jwks_uri: `${issuer}${JWKS_PATH}`,
    scopes_supported: [...config.scopes],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANT_TYPES],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    introspection_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    // RFC 7636 §4.2; "plain" is refused (RFC 9700 §2.1.1).
    code_challenge_methods_supported: ['S256'],
  };
}
