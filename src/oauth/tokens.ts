// Minting tokens. Access and refresh tokens are stored by SHA-256 only (DESIGN.md "Secrets
// never rest in clear"). The refresh token is always an opaque 256-bit random value; the
// access token's text comes from an AccessTokenFormatter, so that JWT access tokens
// (RFC 9068, SPEC.md `access_token_format`) plug in without touching the grants: the
// formatter returns the token text and its `jti`, the issuer stores SHA-256(text) as
// token_hash and the jti alongside, and every lookup (protected resource, revocation,
// introspection) keeps working by hash.
import type { Config } from '../config/load.js';
import type { Client } from './model.js';
import type { TransactionStores } from './ports.js';
import { newOrderedSecret, tokenKey } from './crypto.js';

/** What an access token says; a JWT formatter turns it into claims (RFC 9068 §2.2). */
export interface AccessTokenDetails {
  /** The client's public client_id. */
  clientId: string;
  /** null for client_credentials: no user is involved. */
  userId: number | null;
  organizationId: number | null;
  scope: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
  /** RFC 8707: the resources the token is for; null when none was indicated (RFC 9068 §3: the default audience). */
  audience: readonly string[] | null;
}

export interface FormattedAccessToken {
  /** The text the client receives. */
  token: string;
  /** Stored in access_tokens.jti (unique); null for opaque tokens. */
  jti: string | null;
}

/** The seam for the access-token format. */
export interface AccessTokenFormatter {
  format(details: AccessTokenDetails): Promise<FormattedAccessToken>;
}

/** The default: a 256-bit random value that means nothing without the database. */
export const opaqueAccessTokens: AccessTokenFormatter = {
  format: async () => ({ token: newOrderedSecret(), jti: null }),
};

/** A new opaque secret and the hash it is stored under. */
export interface OpaqueToken {
  value: string;
  hash: string;
}

export function newOpaqueToken(): OpaqueToken {
  const value = newOrderedSecret();
  return { value, hash: tokenKey(value) };
}

/** RFC 6749 §5.1, field for field; `refresh_token` and `scope` only when there are some. */
export interface TokenResponse {
  token_type: 'Bearer';
  expires_in: number;
  access_token: string;
  refresh_token?: string;
  scope?: string;
  /** OpenID Connect Core §3.1.3.3, when the scope holds openid (id-token.ts). */
  id_token?: string;
}

/** What the tokens are issued for: one grant, its client, user, organization and scope. */
export interface Issuance {
  grantId: number;
  client: Client;
  userId: number | null;
  organizationId: number | null;
  /** The access token's scope. */
  scope: string;
  /**
   * The refresh token's scope when it differs from the access token's: RFC 6749 §6 lets a
   * refresh narrow the access token but the new refresh token keeps the original scope.
   */
  refreshScope?: string;
  /** RFC 8707: the access token's audience; null or absent when no resource was indicated. */
  audience?: readonly string[] | null;
  /** The refresh token's resources (the grant's) when they differ from the access token's audience (a narrowed refresh or exchange). */
  refreshResources?: readonly string[] | null;
}

/** Whom a response was issued for, for the audit line (token.issued); never serialized. */
export interface IssuedFor {
  grantId: number;
  userId: number | null;
}

/** What a grant returns: the RFC 6749 §5.1 body, and whom it was issued for. */
export interface IssuedTokens {
  body: TokenResponse;
  issuedFor: IssuedFor;
}

/** Where the issuer writes: the access and refresh tokens of the transaction that consumed the code or refresh token. */
export type TokenWriter = Pick<TransactionStores, 'accessTokens' | 'refreshTokens'>;

export type TokenLifetimes = Pick<Config, 'accessTokenTtl' | 'refreshTokenTtl'>;

export class TokenIssuer {
  constructor(
    private readonly lifetimes: TokenLifetimes,
    private readonly formatter: AccessTokenFormatter = opaqueAccessTokens,
  ) {}

  /**
   * Stores an access token (and the given refresh token, when there is one) through
   * `store`, the stores of the transaction that consumed the code or refresh token, and returns
   * the RFC 6749 §5.1 response with whom it was issued for. The refresh token's value is made by
   * the caller (newOpaqueToken) because rotation may record the successor's hash while consuming.
   * `expires_in` is exactly the lifetime stored in expires_at.
   */
  async issue(store: TokenWriter, issuance: Issuance, now: number, refresh: OpaqueToken | null): Promise<IssuedTokens> {
    const ttl = this.lifetimes.accessTokenTtl;
    const expiresAt = now + ttl;
    const { token, jti } = await this.formatter.format({
      clientId: issuance.client.clientId,
      userId: issuance.userId,
      organizationId: issuance.organizationId,
      scope: issuance.scope,
      issuedAt: now,
      expiresAt,
      audience: issuance.audience ?? null,
    });
    const accessTokenHash = tokenKey(token);
    await store.accessTokens.insert({
      tokenHash: accessTokenHash,
      jti,
      grantId: issuance.grantId,
      clientId: issuance.client.id,
      userId: issuance.userId,
      organizationId: issuance.organizationId,
      scope: issuance.scope,
      createdAt: now,
      expiresAt,
      audience: issuance.audience ?? null,
    });
    if (refresh) {
      const refreshTtl = this.lifetimes.refreshTokenTtl;
      await store.refreshTokens.insert({
        tokenHash: refresh.hash,
        grantId: issuance.grantId,
        clientId: issuance.client.id,
        userId: issuance.userId,
        organizationId: issuance.organizationId,
        scope: issuance.refreshScope ?? issuance.scope,
        createdAt: now,
        // null: never expires (Hover profile).
        expiresAt: refreshTtl === null ? null : now + refreshTtl,
        accessTokenHash,
        resources: issuance.refreshResources !== undefined ? issuance.refreshResources : issuance.audience ?? null,
      });
    }
    const response: TokenResponse = { token_type: 'Bearer', expires_in: ttl, access_token: token };
    if (refresh) response.refresh_token = refresh.value;
    if (issuance.scope !== '') response.scope = issuance.scope;
    return { body: response, issuedFor: { grantId: issuance.grantId, userId: issuance.userId } };
  }
}
