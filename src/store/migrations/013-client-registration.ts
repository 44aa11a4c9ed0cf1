// Clients that register and prove themselves (issue 23, SPEC.md "Client registration and
// resources"): the columns and tables every part of it reads, in one migration.
// - clients.token_endpoint_auth_method: how the client authenticates (RFC 7591 §2):
//   client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none.
//   NULL on clients made before this migration: a confidential one may then use either
//   client_secret_basic or client_secret_post, a public one none (today's behaviour).
// - clients.jwks / jwks_uri: the client's public keys for private_key_jwt (RFC 7523 §2.2),
//   a JWK Set as JSON or the https URL it is fetched from; at most one of them is set.
// - clients.secret_sealed: for client_secret_jwt only, the secret itself sealed like a
//   signing key (AES-256-GCM under LATCHKEY_ENCRYPTION_KEY): an HMAC cannot be checked
//   against a hash. Every other client keeps only secret_hash.
// - clients.metadata: the RFC 7591 §2 fields Latchkey keeps but does not act on (client_uri,
//   logo_uri, policy_uri, tos_uri, contacts, software_id, software_version), JSON.
// - clients.registration: how the client came to be — NULL (the command line or the
//   developer portal), 'open' (anonymous dynamic registration) or 'token' (dynamic, with an
//   initial access token); clients.registration_token_hash: SHA-256 of the RFC 7592
//   registration access token (rotated on every update).
// - registration_tokens: initial access tokens minted by `latchkey registration token create`,
//   only their SHA-256, with an optional expiry and number of uses.
// - client_assertions: the `jti` of every client assertion accepted, per client, until the
//   assertion's `exp` (RFC 7523 §3 item 7: single use, across processes on one database).
// Every column is NULL or has a constant default, so existing rows need no backfill.
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function clientRegistration(dialect: Dialect) {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('clients').addColumn('token_endpoint_auth_method', 'text').execute();
      await db.schema.alterTable('clients').addColumn('jwks', 'text').execute();
      await db.schema.alterTable('clients').addColumn('jwks_uri', 'text').execute();
      await db.schema.alterTable('clients').addColumn('secret_sealed', 'text').execute();
      await db.schema.alterTable('clients').addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      await db.schema.alterTable('clients').addColumn('registration', 'text').execute();
      await db.schema.alterTable('clients').addColumn('registration_token_hash', 'text').execute();
      await db.schema.createTable('registration_tokens')
        .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('expires_at', big)
        .addColumn('max_uses', 'integer')
        .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createTable('client_assertions')
        .addColumn('client_id', 'integer', (c) => c.notNull().references('clients.id').onDelete('cascade'))
        .addColumn('jti_hash', 'text', (c) => c.notNull())
        .addColumn('expires_at', big, (c) => c.notNull())
        .addPrimaryKeyConstraint('client_assertions_pk', ['client_id', 'jti_hash'])
        .execute();
      await db.schema.createIndex('client_assertions_expiry').on('client_assertions').column('expires_at').execute();
    },
  };
}
