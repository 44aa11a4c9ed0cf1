// The token endpoint (RFC 6749 §3.2) as one framework-free function: parsed parameters and the
// presented credentials in, the response body and the token.issued audit facts out. It runs a
// list of named steps (node-oidc-provider's actions/token.js is the model), each of which
// refuses with an OAuthError or fills in the context for the next:
//
//   grantTypeRequired     grant_type present                        invalid_request
//   grantSupported        a grant we know, and refresh only on /refresh   unsupported_grant_type
//   clientAuthenticated   client authentication with the backoff    invalid_client, slow_down (429)
//   clientMayUseGrant     the client is registered for the grant    unauthorized_client
//   confidentialOnly      public clients kept from confidential grants   unauthorized_client
//   grantHandled          the grant (oauth/grants/) does the rest   its own errors
//
// The HTTP layer (http/routes/token.ts) parses the body, calls this, logs the facts and writes
// the answer with no-store.
import type { AuditFields, AuditLogger } from '../audit.js';
import { authenticateClientGuarded, type ClientAuthDeps, type GuardedClientAuthRequest } from './client-auth.js';
import { OAuthError } from './errors.js';
import type { GrantHandler, GrantRegistry, TokenRequest } from './grants/index.js';
import type { IssuedTokens, TokenResponse } from './tokens.js';
import type { Client } from './model.js';

export interface TokenEndpointRequest {
  /** Flat, trimmed, unrepeated parameters (query and body together, http/plugins/params.ts). */
  params: Readonly<Record<string, string>>;
  /** The Authorization header as received (undefined when absent). */
  authorization: string | undefined;
  /** The caller's address: client backoff, the password grant's, the audit line. */
  address: string;
  /**
   * POST /refresh (SPEC.md, Huddle's guide): grant_type=refresh_token only, and a client
   * registered with refresh_without_secret may identify itself by client_id alone.
   */
  refreshOnly: boolean;
  /** Where this request's client_auth.* audit lines go (the request's logger). */
  log: AuditLogger;
}

export interface TokenEndpointResult {
  /** RFC 6749 §5.1. */
  body: TokenResponse;
  /** The token.issued audit line's fields. */
  audit: AuditFields;
}

export interface TokenEndpointDeps extends ClientAuthDeps {
  grants: GrantRegistry;
}

/**
 * One request on its way through the steps. Each field below the request's is set by the step
 * named beside it, before any later step reads it. It is also the request client
 * authentication and the grant are handed, so that a token request allocates one context.
 */
export class TokenContext implements TokenRequest, GuardedClientAuthRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly authorization: string | undefined;
  readonly address: string;
  readonly refreshOnly: boolean;
  /** refreshOnly, as client authentication names it. */
  readonly allowRefreshWithoutSecret: boolean;
  readonly log: AuditLogger;
  /** grantSupported. */
  grant!: GrantHandler;
  /** clientAuthenticated. */
  client!: Client;
  /** grantHandled. */
  issued!: IssuedTokens;

  constructor(request: TokenEndpointRequest) {
    this.params = request.params;
    this.authorization = request.authorization;
    this.address = request.address;
    this.refreshOnly = request.refreshOnly;
    this.allowRefreshWithoutSecret = request.refreshOnly;
    this.log = request.log;
  }
}

/** A step refuses by throwing an OAuthError; only the steps that wait return a promise. */
export type TokenStep = (ctx: TokenContext, deps: TokenEndpointDeps) => void | Promise<void>;

function grantTypeRequired(ctx: TokenContext): void {
  const grantType = ctx.params.grant_type;
  if (grantType === undefined || grantType === '') throw new OAuthError('invalid_request', 'the grant_type parameter is required');
}

function grantSupported(ctx: TokenContext, deps: TokenEndpointDeps): void {
  // grantTypeRequired: present and not empty.
  const rawGrantType = ctx.params.grant_type as string;
  // SPEC.md: matched case-insensitively (Huddle sends "Refresh_Token").
  const grant = deps.grants.get(rawGrantType.toLowerCase());
  if (!grant || (ctx.refreshOnly && grant.grantType !== 'refresh_token')) {
    const supported = ctx.refreshOnly ? 'refresh_token' : [...deps.grants.keys()].join(', ');
    throw new OAuthError('unsupported_grant_type', `grant_type ${JSON.stringify(rawGrantType.slice(0, 100))} is not supported here (supported: ${supported})`);
  }
  ctx.grant = grant;
}

async function clientAuthenticated(ctx: TokenContext, deps: TokenEndpointDeps): Promise<void> {
  ctx.client = await authenticateClientGuarded(ctx, deps);
}

function clientMayUseGrant(ctx: TokenContext): void {
  if (!ctx.client.grantTypes.includes(ctx.grant.grantType)) {
    throw new OAuthError('unauthorized_client', `this client is not allowed the ${ctx.grant.grantType} grant`);
  }
}

function confidentialOnly(ctx: TokenContext): void {
  if (ctx.grant.clientAuthentication === 'confidential' && ctx.client.isPublic) {
    throw new OAuthError('unauthorized_client', `the ${ctx.grant.grantType} grant is for confidential clients only`);
  }
}

async function grantHandled(ctx: TokenContext): Promise<void> {
  ctx.issued = await ctx.grant.handle(ctx);
}

/** The steps, in order. */
export const TOKEN_STEPS: readonly TokenStep[] = [
  grantTypeRequired,
  grantSupported,
  clientAuthenticated,
  clientMayUseGrant,
  confidentialOnly,
  grantHandled,
];

export type TokenEndpoint = (request: TokenEndpointRequest) => Promise<TokenEndpointResult>;

export function createTokenEndpoint(deps: TokenEndpointDeps): TokenEndpoint {
  return async (request) => {
    const ctx = new TokenContext(request);
    for (let i = 0; i < TOKEN_STEPS.length; i += 1) {
      const pending = TOKEN_STEPS[i]!(ctx, deps);
      if (pending !== undefined) await pending;
    }
    const { body, issuedFor } = ctx.issued;
    return {
      body,
      audit: {
        user_id: issuedFor.userId, client_id: ctx.client.clientId, grant_id: issuedFor.grantId, grant_type: ctx.grant.grantType, address: ctx.address,
        ...(body.scope !== undefined ? { scope: body.scope } : {}),
      },
    };
  };
}
