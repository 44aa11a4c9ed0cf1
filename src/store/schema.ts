// The database schema as Kysely sees it. Times are integer epoch seconds and flags are
// 0/1 integers on both dialects, so SQLite and PostgreSQL share one code path. Every token,
// code, session id and client secret is stored only as its SHA-256 hash (hex).
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  email: string;
  /** Lower-cased e-mail: the unique key, so e-mails are unique case-insensitively. */
  email_normalized: string;
  name: string;
  locale: string;
  password_hash: string;
  /** OpenID Connect's `sub`: random (UUIDv4), made once at insert, never changed (migrations/007-user-subjects.ts). */
  subject: string;
  created_at: number;
  updated_at: number;
  /** 1 once the address is verified (the `email_verified` claim); migration 008. */
  email_verified: Generated<number>;
}

export interface OrganizationsTable {
  id: Generated<number>;
  name: string;
  integrations_enabled: number;
  created_at: number;
}

export interface MembershipsTable {
  organization_id: number;
  user_id: number;
  role: 'admin' | 'member';
  created_at: number;
}

/** A pending invitation to an organization: no membership until the invitee accepts it. */
export interface OrganizationInvitationsTable {
  id: Generated<number>;
  organization_id: number;
  /** The address as the admin typed it (trimmed). */
  email: string;
  /** Lower-cased: matched against users.email_normalized; unique per organization. */
  email_normalized: string;
  role: 'admin' | 'member';
  invited_by_user_id: number | null;
  created_at: number;
  expires_at: number;
}

export interface ClientsTable {
  id: Generated<number>;
  client_id: string;
  /** SHA-256 of the secret; null for public clients. */
  secret_hash: string | null;
  name: string;
  /** JSON array of exact redirect URIs. */
  redirect_uris: string;
  owner_user_id: number | null;
  is_public: number;
  /** Space-separated grant types. */
  grant_types: string;
  /** Space-separated scopes the client may ask for. */
  scopes: string;
  refresh_without_secret: number;
  created_at: number;
  updated_at: number;
  /** 1: errors may redirect before the user has seen the consent page (operator-created); migration 003. */
  trusted: Generated<number>;
  /** JSON array of exact URIs RP-initiated logout may return to; migration 008. */
  post_logout_redirect_uris: Generated<string>;
  /** RS256 (default) or ES256: how this client's ID tokens are signed; migration 008. */
  id_token_signed_response_alg: Generated<string>;
  /** RFC 7591 token_endpoint_auth_method; NULL: made before migration 013 (secret_basic or _post, or none when public). */
  token_endpoint_auth_method: string | null;
  /** JSON JWK Set for private_key_jwt; migration 013. */
  jwks: string | null;
  /** https URL of the client's JWK Set; migration 013. */
  jwks_uri: string | null;
  /** client_secret_jwt only: the secret sealed under LATCHKEY_ENCRYPTION_KEY; migration 013. */
  secret_sealed: string | null;
  /** JSON object of the RFC 7591 fields kept but not acted on; migration 013. */
  metadata: Generated<string>;
  /** NULL (CLI or portal), 'open' or 'token' (dynamic registration); migration 013. */
  registration: string | null;
  /** SHA-256 hex of the RFC 7592 registration access token; migration 013. */
  registration_token_hash: string | null;
}

/** Initial access tokens for dynamic registration (`latchkey registration token create`); migration 013. */
export interface RegistrationTokensTable {
  id: Generated<number>;
  token_hash: string;
  expires_at: number | null;
  max_uses: number | null;
  uses: Generated<number>;
  created_at: number;
  /** The user the clients registered with it belong to; NULL: no owner. Migration 014. */
  owner_user_id: number | null;
}

/** Dynamically registered clients that have had a grant (the purge spares them); migration 014. */
export interface RegisteredClientUsesTable {
  client_id: number;
  seen_at: number;
}

/** Client assertion `jti`s seen, per client, until the assertion's exp (RFC 7523 §3); migration 013. */
export interface ClientAssertionsTable {
  client_id: number;
  jti_hash: string;
  expires_at: number;
}

/** Remembered consent: one row per user, client and organization (0 = no organization). */
export interface ConsentsTable {
  user_id: number;
  client_id: number;
  organization_id: number;
  scope: string;
  created_at: number;
  updated_at: number;
}

/**
 * One authorization: everything issued from one code, one password grant or one
 * client-credentials request descends from a grant, and is revoked with it.
 */
export interface GrantsTable {
  id: Generated<number>;
  client_id: number;
  user_id: number | null;
  organization_id: number | null;
  scope: string;
  grant_type: string;
  created_at: number;
  revoked_at: number | null;
  /** OpenID Connect grants only (migration 008): when the user last proved who they are. */
  auth_time: Generated<number | null>;
  /** The browser session's public id (the ID token's `sid`). */
  sid: Generated<string | null>;
  /** JSON array of RFC 8176 method values. */
  amr: Generated<string | null>;
  /** The `claims` request (OIDC Core §5.5) as JSON. */
  claims: Generated<string | null>;
}

export interface AuthorizationCodesTable {
  code_hash: string;
  grant_id: number;
  client_id: number;
  user_id: number;
  organization_id: number | null;
  redirect_uri: string;
  /** 1 when the authorization request carried redirect_uri (RFC 6749 §4.1.3). */
  redirect_uri_sent: number;
  scope: string;
  code_challenge: string | null;
  code_challenge_method: string | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  /** OpenID Connect's nonce, for the code exchange's ID token; migration 008. */
  nonce: Generated<string | null>;
  /** RFC 8707 resources indicated, space-separated; NULL when none (migration 016). */
  resource: Generated<string | null>;
}

export interface AccessTokensTable {
  token_hash: string;
  /** Token id: the JWT `jti` for JWT access tokens. */
  jti: string | null;
  grant_id: number;
  client_id: number;
  user_id: number | null;
  organization_id: number | null;
  scope: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  /** RFC 8707 audience, space-separated; NULL: no resource indicated (migration 016). */
  audience: Generated<string | null>;
}

export interface RefreshTokensTable {
  token_hash: string;
  grant_id: number;
  client_id: number;
  user_id: number | null;
  organization_id: number | null;
  scope: string;
  created_at: number;
  /** null: never expires (Hover profile). */
  expires_at: number | null;
  consumed_at: number | null;
  revoked_at: number | null;
  /** Hash of the refresh token that replaced this one, once rotated. */
  successor_hash: string | null;
  /** Hash of the access token issued together with this refresh token. */
  access_token_hash: string | null;
  /** The grant's RFC 8707 resources, space-separated; NULL when none (migration 016). */
  resource: Generated<string | null>;
}

/** A resource (API) registered by an operator (RFC 8707; migration 016). */
export interface ResourcesTable {
  id: Generated<number>;
  /** The resource indicator: an absolute URI without fragment, compared exactly. */
  identifier: string;
  name: string;
  /** Space-separated. */
  scopes: string;
  created_at: number;
}

/**
 * A used (or revoked) refresh token whose full row the purge has deleted: enough to know a
 * replay of it for what it is and revoke its grant. Goes with the grant (ON DELETE CASCADE).
 */
export interface ConsumedRefreshTokensTable {
  token_hash: string;
  grant_id: number;
}

export interface SessionsTable {
  id_hash: string;
  /** null: an anonymous session that only carries a CSRF token (before login). */
  user_id: number | null;
  csrf_token: string;
  auth_time: number | null;
  created_at: number;
  expires_at: number;
  /** Epoch seconds of the last request seen (written at most once a minute); migration 006. */
  last_seen_at: number;
  /** RFC 8176 methods of the login (JSON array); NULL: a password login (migration 012). */
  amr: Generated<string | null>;
  /** The browser's User-Agent at sign-in (at most 400 characters); migration 011. */
  user_agent: Generated<string | null>;
  /** The address the session was last seen from; migration 011. */
  address: Generated<string | null>;
}

/** "Forgot password?" requests (migration 011): the link's token and the address asked for, as SHA-256 hex only. */
export interface PasswordResetsTable {
  id: Generated<number>;
  token_hash: string;
  /** null: the address asked for has no account (the row is written all the same). */
  user_id: number | null;
  email_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** An authenticator app (RFC 6238); migration 012. */
export interface TotpCredentialsTable {
  user_id: number;
  /** The secret sealed like a signing key ("enc:…", or "plain:…" without LATCHKEY_ENCRYPTION_KEY). */
  secret: string;
  /** NULL while the enrolment waits for its first code. */
  confirmed_at: number | null;
  /** The time step of the last code accepted (no code is accepted twice). */
  last_used_step: Generated<number>;
  created_at: number;
}

/** Single-use recovery codes, SHA-256 (hex) only; migration 012. */
export interface RecoveryCodesTable {
  id: Generated<number>;
  user_id: number;
  code_hash: string;
  used_at: number | null;
  created_at: number;
}

/** WebAuthn credentials (passkeys); migration 012. */
export interface PasskeysTable {
  /** base64url credential id. */
  credential_id: string;
  user_id: number;
  /** base64url COSE public key. */
  public_key: string;
  counter: Generated<number>;
  /** JSON array of transports. */
  transports: Generated<string>;
  backed_up: Generated<number>;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

/** A pending login or a WebAuthn challenge: single use, short-lived; migration 012. */
export interface LoginChallengesTable {
  /** SHA-256 (hex) of the cookie or handle naming the row. */
  id_hash: string;
  kind: string;
  user_id: number | null;
  challenge: string | null;
  /** JSON array of RFC 8176 methods done so far (a pending login). */
  amr: string | null;
  next: string | null;
  created_at: number;
  expires_at: number;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  /** The private JWK, AES-256-GCM encrypted when LATCHKEY_ENCRYPTION_KEY is set (prefix "enc:"), else "plain:". */
  private_jwk: string;
  created_at: number;
  /** When a newer key of the same alg takes over signing (set by a rotation, possibly ahead of now). */
  retired_at: number | null;
  /** After this time no token signed with the key is still valid; it is then unpublished. */
  publish_until: number | null;
}

/** Small key/value rows the server writes, e.g. the purge horizon it uses (store/settings.ts). */
export interface SettingsTable {
  key: string;
  /** JSON. */
  value: string;
  updated_at: number;
}

/** A message to send (migration 010; accounts/mail/). */
export interface MailQueueTable {
  id: Generated<number>;
  /** What the message is for (verify_email, email_change, …): metrics and audit label. */
  kind: string;
  recipient: string;
  subject: string;
  /** JSON {text, html}, `enc:`-sealed under LATCHKEY_ENCRYPTION_KEY when set (else `plain:`); '' once sent or given up. */
  content: string;
  user_id: number | null;
  status: 'pending' | 'sent' | 'failed';
  attempts: Generated<number>;
  next_attempt_at: number;
  /** The sender holding the message while it sends, and until when. */
  lease_owner: string | null;
  lease_until: number | null;
  /** After this the message is not sent any more (its link would have expired). */
  expires_at: number | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

/** A single-use e-mail link (verification, change of address): only its SHA-256 is stored (migration 010). */
export interface EmailTokensTable {
  token_hash: string;
  user_id: number;
  purpose: 'verify' | 'change';
  /** The address the link proves (for a change: the new address). */
  email: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface Database {
  users: UsersTable;
  organizations: OrganizationsTable;
  memberships: MembershipsTable;
  organization_invitations: OrganizationInvitationsTable;
  clients: ClientsTable;
  consents: ConsentsTable;
  grants: GrantsTable;
  authorization_codes: AuthorizationCodesTable;
  access_tokens: AccessTokensTable;
  refresh_tokens: RefreshTokensTable;
  consumed_refresh_tokens: ConsumedRefreshTokensTable;
  sessions: SessionsTable;
  totp_credentials: TotpCredentialsTable;
  recovery_codes: RecoveryCodesTable;
  passkeys: PasskeysTable;
  login_challenges: LoginChallengesTable;
  password_resets: PasswordResetsTable;
  signing_keys: SigningKeysTable;
  settings: SettingsTable;
  mail_queue: MailQueueTable;
  email_tokens: EmailTokensTable;
  registration_tokens: RegistrationTokensTable;
  registered_client_uses: RegisteredClientUsesTable;
  resources: ResourcesTable;
  client_assertions: ClientAssertionsTable;
}
