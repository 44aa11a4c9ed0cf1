// The metadata documents as SPEC.md wants them, written out field by field: the RFC 8414
// document (/.well-known/oauth-authorization-server) and the OpenID Connect Discovery one
// (/.well-known/openid-configuration), which is the first plus the OpenID Provider's fields.

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];
// Issue 23: client assertions (private_key_jwt, then client_secret_jwt).
const ASSERTION_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519', 'HS256', 'HS384', 'HS512'];

/** The RFC 8414 document under `issuer`, listing `scopesSupported`. */
export function expectedAuthorizationServerMetadata(issuer: string, scopesSupported: string[]): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    userinfo_endpoint: `${issuer}/oauth/userinfo`,
    // SPEC.md, OpenID Connect: "`jwks_uri` is always published".
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    scopes_supported: scopesSupported,
    response_types_supported: ['code'],
    // SPEC.md, OpenID Connect: `form_post` too.
    response_modes_supported: ['query', 'form_post'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'password', 'client_credentials'],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: true,
    // RFC 9728 §4: the protected resources this server issues tokens for (the built-in ISSUER/api).
    protected_resources: [`${issuer}/api`],
  };
}

/** The OpenID Connect Discovery document under `issuer`, listing `scopesSupported`. */
export function expectedOpenIdConfiguration(issuer: string, scopesSupported: string[]): Record<string, unknown> {
  return {
    ...expectedAuthorizationServerMetadata(issuer, scopesSupported),
    end_session_endpoint: `${issuer}/oauth/logout`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    claims_supported: [
      'sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'sid', 'amr', 'acr',
      'name', 'locale', 'updated_at', 'email', 'email_verified', 'organization',
    ],
    acr_values_supported: ['urn:latchkey:acr:pwd', 'urn:latchkey:acr:mfa', 'phr'],
    claim_types_supported: ['normal'],
    claims_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    display_values_supported: ['page'],
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
  };
}
