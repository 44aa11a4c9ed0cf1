// The domain model: what the protocol core, the account rules and the pages work with,
// camelCase and read-only. The repositories (src/store) map their rows to these once, where
// the row is read, and take these (or their New* shapes) when they write; nothing above the
// store sees a snake_case row. Types and one pure function: importing this module loads nothing.
import type { GrantType } from './grant-types.js';

// ---- people and organizations ---------------------------------------------------------------

export interface User {
  readonly id: number;
  readonly email: string;
  readonly name: string;
  readonly locale: string;
  /**
   * The user's OpenID Connect subject (`sub`): an opaque random string made once when the user
   * is created and never changed or given to anyone else — not the row id, not the e-mail.
   */
  readonly subject: string;
  /** Whether the address is verified (the `email_verified` claim). */
  readonly emailVerified: boolean;
  /** Epoch seconds of the last change to the account (the `updated_at` claim). */
  readonly updatedAt: number;
}

/** The key e-mail addresses are unique by (users.email_normalized): trimmed, lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A member's role in an organization. */
export type Role = 'admin' | 'member';

export interface Organization {
  readonly id: number;
  readonly name: string;
  /** The plan's switch for third-party integrations (SPEC.md, Hover): off, no grant bound to it works. */
  readonly integrationsEnabled: boolean;
}

/** One of a user's organizations, with the user's role in it. */
export interface Membership {
  readonly organization: Organization;
  readonly role: Role;
}

/** One member of an organization, as its admins see it. */
export interface Member {
  readonly userId: number;
  readonly name: string;
  readonly email: string;
  readonly role: Role;
}

export interface Invitation {
  readonly id: number;
  readonly organizationId: number;
  /** The address as the admin typed it. */
  readonly email: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** An invitation as its invitee sees it: with the organization's name. */
export interface PendingInvitation extends Invitation {
  readonly organizationName: string;
}

// ---- clients ------------------------------------------------------------------------------

export interface Client {
  /** Internal row id (foreign keys). */
  readonly id: number;
  readonly clientId: string;
  /** SHA-256 hex of the secret; null for public clients. */
  readonly secretHash: string | null;
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly ownerUserId: number | null;
  readonly isPublic: boolean;
  readonly grantTypes: readonly GrantType[];
  readonly scopes: readonly string[];
  readonly refreshWithoutSecret: boolean;
  readonly createdAt: number;
  /**
   * Made by an operator (`latchkey client create`): authorization errors may go to its redirect
   * URI at once. Untrusted (developer portal) clients get them only after the user has signed
   * in and seen their consent page (RFC 9700 §4.11.2).
   */
  readonly trusted: boolean;
  /** Exact URIs RP-initiated logout may send the browser back to (RP-Initiated Logout 1.0 §3). */
  readonly postLogoutRedirectUris: readonly string[];
  /** How this client's ID tokens are signed (OIDC Dynamic Client Registration `id_token_signed_response_alg`). */
  readonly idTokenSignedResponseAlg: IdTokenAlg;
  /**
   * RFC 7591 §2 token_endpoint_auth_method; null for clients made before migration 013, which
   * authenticate as they always did (client_secret_basic or client_secret_post; none when public).
   */
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod | null;
  /** The client's JWK Set (private_key_jwt), as registered; null when it has none or a jwks_uri. */
  readonly jwks: JsonWebKeySet | null;
  /** Where the client's JWK Set is fetched from (private_key_jwt); null when none. */
  readonly jwksUri: string | null;
  /** client_secret_jwt only: the secret, sealed (signing-keys.ts seal); null otherwise. */
  readonly secretSealed: string | null;
  /** RFC 7591 §2 fields kept and returned but not acted on. */
  readonly metadata: ClientMetadata;
  /**
   * How the client came to be: null (CLI or developer portal), dynamic registration (open or
   * with an initial access token), or 'document': its client_id is an https URL whose client ID
   * metadata document described it (oauth/client-id-document.ts).
   */
  readonly registration: 'open' | 'token' | 'document' | null;
  /** SHA-256 hex of the RFC 7592 registration access token; null for clients not registered dynamically. */
  readonly registrationTokenHash: string | null;
}

/** RFC 7591 §2 / OIDC Dynamic Client Registration 1.0 §2 token_endpoint_auth_method values Latchkey supports. */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'none';

/** A JWK Set (RFC 7517 §5): validated before it is stored. */
export interface JsonWebKeySet {
  readonly keys: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

/** The RFC 7591 §2 client metadata Latchkey keeps without acting on it; every member optional. */
export interface ClientMetadata {
  readonly client_uri?: string;
  readonly logo_uri?: string;
  readonly policy_uri?: string;
  readonly tos_uri?: string;
  readonly contacts?: readonly string[];
  readonly software_id?: string;
  readonly software_version?: string;
}

/** The ID-token signing algorithms: RS256 (mandatory for an OP) and ES256; never `none`. */
export type IdTokenAlg = 'RS256' | 'ES256';

/** Client fields added by migration 013: null (or {}) when left out of a NewClient. */
type RegistrationFields = 'tokenEndpointAuthMethod' | 'jwks' | 'jwksUri' | 'secretSealed' | 'metadata' | 'registration' | 'registrationTokenHash';

/** A client to register: the client less what the store assigns, with the time of registration. */
export type NewClient = Omit<Client, 'id' | 'createdAt' | 'postLogoutRedirectUris' | 'idTokenSignedResponseAlg' | RegistrationFields> & Partial<Pick<Client, RegistrationFields>> & {
  readonly now: number;
  /** None when left out. */
  readonly postLogoutRedirectUris?: readonly string[];
  /** RS256 when left out. */
  readonly idTokenSignedResponseAlg?: IdTokenAlg;
};

// ---- grants and consent ----------------------------------------------------------------------

/** One authorization: everything issued from one code, password grant or client_credentials request. */
export interface NewGrant {
  readonly clientId: number;
  readonly userId: number | null;
  readonly organizationId: number | null;
  readonly scope: string;
  readonly grantType: GrantType;
  readonly now: number;
  /** The login an OpenID Connect authorization was granted in; absent for OAuth-only grants. */
  readonly login?: OidcLogin;
}

/** One requested claim (OIDC Core §5.5.1): null, or essential and/or the value(s) wanted. */
export interface ClaimRequest {
  readonly essential?: boolean;
  readonly value?: unknown;
  readonly values?: readonly unknown[];
}

/** The `claims` request parameter (OIDC Core §5.5), reduced to its two members. */
export interface ClaimsRequest {
  readonly userinfo?: Readonly<Record<string, ClaimRequest | null>>;
  readonly id_token?: Readonly<Record<string, ClaimRequest | null>>;
}

/** What an OpenID Connect grant remembers of the login it was made in; every ID token of the grant repeats it. */
export interface OidcLogin {
  /** Epoch seconds when the user last proved who they are (`auth_time`). */
  readonly authTime: number;
  /** The browser session's public id (`sid`, for logout). */
  readonly sid: string;
  /** RFC 8176 authentication method references (`amr`). */
  readonly amr: readonly string[];
  readonly claims: ClaimsRequest | null;
}

/** What an ID token (or OIDC UserInfo) says about a grant's user: the user, the login, the bound organization. */
export interface IdTokenContext {
  readonly user: User;
  readonly login: OidcLogin | null;
  readonly organization: { readonly id: number; readonly name: string } | null;
}

/** Remembered consent of one user to one client, per organization. */
export interface Consent {
  readonly scope: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A row of the "connected apps" list: one client a user granted access to, per organization. */
export interface ConnectedApp {
  readonly clientId: number;
  readonly clientPublicId: string;
  readonly clientName: string;
  readonly organizationId: number | null;
  readonly organizationName: string | null;
  readonly scope: string;
  readonly grantedAt: number;
}

// ---- authorization codes ----------------------------------------------------------------------

/** An authorization code, stored by hash (RFC 6749 §4.1.2, PKCE RFC 7636). */
export interface AuthorizationCode {
  readonly codeHash: string;
  readonly grantId: number;
  /** The client's row id. */
  readonly clientId: number;
  readonly userId: number;
  readonly organizationId: number | null;
  readonly redirectUri: string;
  /** Whether the authorization request carried redirect_uri: the token request must then repeat it (RFC 6749 §4.1.3). */
  readonly redirectUriSent: boolean;
  readonly scope: string;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly consumedAt: number | null;
  /** OpenID Connect's nonce (echoed in the code exchange's ID token); null when not sent. */
  readonly nonce: string | null;
  /** The RFC 8707 resources the authorization request indicated; null when none. */
  readonly resources: readonly string[] | null;
}

export type NewAuthorizationCode = Omit<AuthorizationCode, 'consumedAt' | 'nonce' | 'resources'> & {
  readonly nonce?: string | null;
  readonly resources?: readonly string[] | null;
};

// ---- access and refresh tokens ---------------------------------------------------------------

/** What every stored token records: its hash, the grant it descends from, its owners and scope. */
export interface StoredToken {
  readonly tokenHash: string;
  readonly grantId: number;
  /** The client's row id. */
  readonly clientId: number;
  readonly userId: number | null;
  readonly organizationId: number | null;
  readonly scope: string;
  readonly createdAt: number;
}

export interface NewAccessToken extends StoredToken {
  /** The JWT `jti`; null for opaque tokens. */
  readonly jti: string | null;
  readonly expiresAt: number;
  /** RFC 8707: the resources the token is for (its `aud`); null or absent when none was indicated (ISSUER/api implicitly). */
  readonly audience?: readonly string[] | null;
}

/** An access token with everything a protected resource needs to decide, from one query. */
export interface AccessTokenContext extends NewAccessToken {
  readonly clientPublicId: string;
  readonly revokedAt: number | null;
  readonly grantRevokedAt: number | null;
  /** null when the token is bound to no organization. */
  readonly organizationName: string | null;
  readonly organizationIntegrationsEnabled: boolean | null;
  readonly user: User | null;
  /** The grant's `claims` request (OIDC Core §5.5; UserInfo answers its `userinfo` member); null when none. */
  readonly claimsRequest: ClaimsRequest | null;
}

export interface RefreshToken extends StoredToken {
  /** null: never expires (Hover profile). */
  readonly expiresAt: number | null;
  readonly consumedAt: number | null;
  readonly revokedAt: number | null;
  /** The hash of the token that replaced it (refresh_retry_window only). */
  readonly successorHash: string | null;
  /** The access token issued with it, revoked when it is used. */
  readonly accessTokenHash: string | null;
  /** RFC 8707: the grant's resources, which a refresh may narrow but never widen; null when none. */
  readonly resources: readonly string[] | null;
}

export type NewRefreshToken = Omit<RefreshToken, 'consumedAt' | 'revokedAt' | 'successorHash' | 'resources'> & { readonly resources?: readonly string[] | null };

/** What a rotation needs of the refresh token it used up (only these are read back). */
export type ConsumedRefreshToken = Pick<RefreshToken, 'grantId' | 'userId' | 'organizationId' | 'scope' | 'accessTokenHash' | 'resources'>;

/** A slim record of a used refresh token whose full row the purge has deleted, with its grant's owners. */
export interface ConsumedRefreshTokenRecord {
  readonly grantId: number;
  /** The client's row id. */
  readonly clientId: number;
  readonly userId: number | null;
}

/** A refresh token with its grant's state, organization switch and user's e-mail (introspection). */
export interface RefreshTokenContext {
  readonly token: RefreshToken;
  readonly grantRevokedAt: number | null;
  /** null when the token is bound to no organization. */
  readonly organizationIntegrationsEnabled: boolean | null;
  /** null when no user is behind the token (or the user is gone). */
  readonly userEmail: string | null;
}

// ---- resources (RFC 8707, RFC 9728) ------------------------------------------------------------

/** A protected resource (an API) tokens can be issued for: registered by an operator, or the built-in ISSUER/api. */
export interface Resource {
  /** The resource indicator (RFC 8707 §2): an absolute URI without fragment, compared exactly. */
  readonly identifier: string;
  readonly name: string;
  /** The scopes a token for this resource may carry. */
  readonly scopes: readonly string[];
  /** Epoch seconds; 0 for the built-in resource. */
  readonly createdAt: number;
}

export type NewResource = Omit<Resource, 'createdAt'> & { readonly now: number };

// ---- signing keys ----------------------------------------------------------------------------

/** A JWT signing key (RS256 or ES256): the private JWK arrives sealed ("enc:…" or "plain:…", oauth/signing-keys.ts). */
export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  /** The public JWK as JSON. */
  readonly publicJwk: string;
  /** The sealed private JWK. */
  readonly privateJwk: string;
  readonly createdAt: number;
  /** When it stops signing (may lie ahead: a rotation lets the next key take over then); null: not yet set. */
  readonly retiredAt: number | null;
  /** A retired key stays published until then. */
  readonly publishUntil: number | null;
}

export type NewSigningKey = Omit<SigningKey, 'retiredAt' | 'publishUntil'>;
