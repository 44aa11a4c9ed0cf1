// The ports: what the protocol core (and the account rules and pages above it) needs of
// storage, one narrow interface per artefact, in the spirit of fosite's per-artefact storage
// interfaces. The Kysely repositories in src/store implement them; src/oauth names only these
// and the model (model.ts), never a store module, so it loads neither kysely nor fastify.
//
// Two kinds of store. A root store (CodePort, AccessTokenPort, …) runs each call on its own.
// A transaction's store (TransactionStores, handed to a RunInTransaction work) is bound to one
// transaction. They are distinct types — a root store carries no `inTransaction` brand, a
// transaction's carries `true` — so one cannot be passed where the other is expected: a work
// that reached for a root store would write outside its transaction (and a work may be run
// more than once: store/sqlite/group-commit.ts, store/postgres/group-commit.ts).
import type {
  AccessTokenContext, AuthorizationCode, Client, Consent, ConsumedRefreshToken, ConsumedRefreshTokenRecord,
  NewAccessToken, NewAuthorizationCode, NewGrant, NewRefreshToken, NewSigningKey, RefreshToken, RefreshTokenContext,
  SigningKey, User, IdTokenContext, JsonWebKeySet, Resource, NewResource,
} from './model.js';

/** The brand that tells a transaction's store from a root store (type-level only: no such property exists). */
declare const inTransaction: unique symbol;

/** A root store: never one bound to a transaction. */
export interface RootStore {
  readonly [inTransaction]?: never;
}

/** `P` as a store bound to one transaction. */
export type InTransaction<P> = P & { readonly [inTransaction]: true };

/**
 * The methods `K` of the root port `P`, still a root store: what a dependency names when it
 * needs only part of a port (a plain Pick would drop the brand, and a transaction's store
 * with those methods would then fit).
 */
export type RootPick<P extends RootStore, K extends keyof P> = Pick<P, K> & RootStore;

// ---- root ports ------------------------------------------------------------------------------

export interface ClientPort extends RootStore {
  /** undefined for an unknown client, and without a lookup for a value no client_id can be (NUL, over 200 characters). */
  findByClientId(clientId: string): Promise<Client | undefined>;
}

export interface CodePort extends RootStore {
  /** Stores a new, unused code (the authorization endpoint: no transaction, see authorize.ts). */
  insert(code: NewAuthorizationCode): Promise<void>;
  find(codeHash: string): Promise<AuthorizationCode | undefined>;
}

export interface AccessTokenPort extends RootStore {
  /** The token and its grant, client, organization and user, in one query. */
  find(tokenHash: string): Promise<AccessTokenContext | undefined>;
  findByJti(jti: string): Promise<AccessTokenContext | undefined>;
}

export interface RefreshTokenPort extends RootStore {
  find(tokenHash: string): Promise<RefreshToken | undefined>;
  /** A used token whose full row the purge has deleted (consumed_refresh_tokens). */
  findConsumed(tokenHash: string): Promise<ConsumedRefreshTokenRecord | undefined>;
  /** The token with its grant's state, organization switch and user's e-mail, in one query. */
  findContext(tokenHash: string): Promise<RefreshTokenContext | undefined>;
}

export interface GrantPort extends RootStore {
  insert(grant: NewGrant): Promise<number>;
  /** Revokes one grant: every code and token that descends from it stops working. */
  revoke(grantId: number, now: number): Promise<void>;
  /** True when the grant is revoked or gone. */
  isRevoked(grantId: number): Promise<boolean>;
  /** The grant's user, OpenID login and bound organization, in one query; undefined when it has no user (or is gone). */
  findIdTokenContext(grantId: number): Promise<IdTokenContext | undefined>;
}

export interface ConsentPort extends RootStore {
  findConsent(userId: number, clientId: number, organizationId: number | null): Promise<Consent | undefined>;
  /** Whether the user has consented to the client at all (for any organization). */
  hasConsent(userId: number, clientId: number): Promise<boolean>;
  upsertConsent(userId: number, clientId: number, organizationId: number | null, scope: string, now: number): Promise<void>;
}

export interface UserPort extends RootStore {
  findById(id: number): Promise<User | undefined>;
  /** The user and password hash for a login attempt. */
  findCredentialsByEmail(email: string): Promise<(User & { readonly passwordHash: string }) | undefined>;
  /** The same for one account by id: the account page checks its own user's password even while its e-mail changes. */
  findCredentialsById(id: number): Promise<(User & { readonly passwordHash: string }) | undefined>;
  /** The user whose OpenID Connect `sub` this is (an ID token hint names its user by it). */
  findBySubject(subject: string): Promise<User | undefined>;
}

/** The signing keys' storage (oauth/signing-keys.ts). */
export interface SigningKeyPort extends RootStore {
  /** The signing keys and the retired ones still published at `now`, newest first. */
  listPublished(now: number): Promise<SigningKey[]>;
  listAll(): Promise<SigningKey[]>;
  insert(key: NewSigningKey): Promise<void>;
  /**
   * Inserts `key`; every other key of its algorithm not retired by `retireAt` is retired then
   * and published at least until `publishUntil`. Returns the kids retired.
   */
  rotate(key: NewSigningKey, retireAt: number, publishUntil: number): Promise<string[]>;
  updatePrivateJwk(kid: string, privateJwk: string): Promise<void>;
  /** The latest expiry of any JWT access token on record, or null. */
  latestJwtExpiry(): Promise<number | null>;
}

/** Client assertions seen (RFC 7523 §3 item 7: a `jti` is used once), oauth/client-assertion.ts. */
export interface ClientAssertionPort extends RootStore {
  /**
   * Records `jtiHash` for the client until `expiresAt` (epoch seconds), in one statement;
   * false when it is already recorded and not yet expired: a replay. Of any number of calls
   * at once with the same values, on one database, exactly one returns true.
   */
  remember(clientId: number, jtiHash: string, expiresAt: number, now: number): Promise<boolean>;
}

/** Where a client's JWK Set at its jwks_uri comes from (net/jwks-cache.ts: fetched, cached). */
export interface ClientJwksPort {
  /**
   * The JWK Set at `uri`. `refresh`: the caller found no key for the assertion's kid in the
   * set it was given, and asks for a fresh copy (granted at most once in a while per URI).
   * Throws when the set cannot be had.
   */
  get(uri: string, options: { refresh: boolean }): Promise<JsonWebKeySet>;
}

/** The registered resources (RFC 8707): kept in memory by the store, so a token grant's lookup costs no statement. */
export interface ResourcePort extends RootStore {
  /** undefined for an unregistered identifier (and without a lookup for one no identifier can be). */
  find(identifier: string): Promise<Resource | undefined>;
  list(): Promise<Resource[]>;
  /** false when the identifier is taken. */
  insert(resource: NewResource): Promise<Resource | undefined>;
  /** false when there was none. */
  delete(identifier: string): Promise<boolean>;
}

// ---- what a transaction's stores do ---------------------------------------------------------

export interface TransactionCodeMethods {
  /**
   * Marks the code used and returns it, in one statement; undefined when it is unknown,
   * already used, another client's, or its grant is revoked or bound to an organization whose
   * integrations are off. Expiry is the caller's to check.
   */
  consume(codeHash: string, clientId: number, now: number): Promise<AuthorizationCode | undefined>;
}

/** Whom a token was issued to and under which grant (revocation reads it inside its transaction). */
export interface TokenOwner {
  /** The client's internal id (Client.id). */
  readonly clientId: number;
  readonly grantId: number;
}

export interface TransactionAccessTokenMethods {
  insert(token: NewAccessToken): Promise<void>;
  /** The token's client and grant, whatever its state; undefined when no access token has that hash. */
  owner(tokenHash: string): Promise<TokenOwner | undefined>;
  revoke(tokenHash: string, now: number): Promise<void>;
}

export interface TransactionRefreshTokenMethods {
  insert(token: NewRefreshToken): Promise<void>;
  /** The token's client and grant, whatever its state; undefined when no refresh token has that hash. */
  owner(tokenHash: string): Promise<TokenOwner | undefined>;
  /**
   * Marks a live refresh token used and returns it, in one statement; undefined when it is
   * unknown, used, revoked, expired, another client's, or its grant is not live.
   * `successorHash` (rotation with refresh_retry_window) is recorded in the same statement.
   */
  consume(tokenHash: string, clientId: number, now: number, successorHash: string | null): Promise<ConsumedRefreshToken | undefined>;
  /** Compare-and-swap of a used token's successor; true when it was `expected`, is now `next`, and the grant is live. */
  replaceSuccessor(tokenHash: string, expected: string, next: string): Promise<boolean>;
  /** Revokes the token only while unused and unrevoked, and returns it; undefined otherwise. */
  revokeUnused(tokenHash: string, now: number): Promise<RefreshToken | undefined>;
  revoke(tokenHash: string, now: number): Promise<void>;
}

export interface TransactionGrantMethods {
  insert(grant: NewGrant): Promise<number>;
  revoke(grantId: number, now: number): Promise<void>;
  /** As GrantPort's, read inside the token transaction (on SQLite within the batch's one transaction, not a statement of its own). */
  findIdTokenContext(grantId: number): Promise<IdTokenContext | undefined>;
}

/** What a revocation did (oauth/revoke.ts), for the audit log; the HTTP answer is 200 whatever it says. */
export type RevocationOutcome =
  | { revoked: 'access_token'; grantId: number }
  | { revoked: 'refresh_token'; grantId: number }
  | { revoked: null; reason: 'unknown' | 'other_client' };

/**
 * RFC 7009's rule as oauth/revoke.ts applies it, done by the store in one step: for a store
 * that can look a token up and revoke it in one statement (PostgreSQL: one round trip for every
 * revocation that arrives together, instead of two for a group-committed transaction).
 *
 * `revokeOwned` looks `tokenHash` up as an access token and as a refresh token and takes the
 * kind `first` names when both exist, else the one that does. When it is `clientId`'s, it is
 * revoked — an access token alone; a refresh token with its grant, so that nothing descending
 * from the grant works — keeping an earlier revocation time where there is one. Another
 * client's token is left as it is. Atomic, and answered only once committed and, where rows are
 * kept, once every server has dropped what it kept of them.
 */
export interface OwnedRevocations {
  revokeOwned(tokenHash: string, clientId: number, first: 'access_token' | 'refresh_token', now: number): Promise<RevocationOutcome>;
}

/** The stores a work writes through, all bound to one transaction. */
export interface TransactionStores {
  readonly codes: InTransaction<TransactionCodeMethods>;
  readonly accessTokens: InTransaction<TransactionAccessTokenMethods>;
  readonly refreshTokens: InTransaction<TransactionRefreshTokenMethods>;
  readonly grants: InTransaction<TransactionGrantMethods>;
}

/**
 * Runs `work` atomically: its writes are committed when it resolves, and none of them remain
 * when it throws (the error is rethrown). `work` must reach the database only through the
 * stores it is given (never a root store, never a nested runner call), and must have no effect
 * outside the database: it may be run again, from the start, when another work of its group
 * throws, and on PostgreSQL when it waited too long on a lock (store/sqlite/group-commit.ts,
 * store/postgres/group-commit.ts). Its writes are seen by its own later reads only where a
 * store says so: on PostgreSQL token inserts and revocations are applied at the end of the
 * group (store/postgres/write-behind.ts).
 */
export type RunInTransaction = <T>(work: (tx: TransactionStores) => Promise<T>) => Promise<T>;
