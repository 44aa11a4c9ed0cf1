// Dynamic client registration (issue 23), what migration 013 left out:
// - registration_tokens.owner_user_id: an initial access token may be minted for a user
//   (`latchkey registration token create --owner USER_ID`); the clients registered with it
//   belong to that user and appear in their developer portal. NULL: the clients have no owner
//   (operators list them with `latchkey client list --registered`).
// - registered_client_uses: one row per dynamically registered client that has ever had a
//   grant, written by the purge before it deletes empty grants. The purge deletes a
//   dynamically registered client older than `registration_unused_ttl` only when it has no
//   grant now AND no row here — "never got a token" — so a client that was used, and whose
//   grants have all ended, is kept. A table of its own (inserts only) rather than a column of
//   clients: updating clients would drop every server's kept clients (store/kept-rows.ts).
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function registrationOwnership(dialect: Dialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('registration_tokens').addColumn('owner_user_id', 'integer', (c) => c.references('users.id').onDelete('cascade')).execute();
      await db.schema.createTable('registered_client_uses')
        .addColumn('client_id', 'integer', (c) => c.primaryKey().references('clients.id').onDelete('cascade'))
        .addColumn('seen_at', big, (c) => c.notNull())
        .execute();
      // The purge looks for dynamically registered clients by age.
      await db.schema.createIndex('clients_registration_created').on('clients').columns(['registration', 'created_at']).execute();
    },
  };
}
