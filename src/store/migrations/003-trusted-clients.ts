// clients.trusted (issue 18, RFC 9700 §4.11.2): whether the authorization endpoint may send an
// error to the client's redirect URI before the user has signed in and seen the consent page.
// Clients an operator creates (`latchkey client create`) are trusted; clients anyone could
// register (the developer portal) are not. Existing clients without an owner were made by an
// operator and become trusted; owned ones may have come from the portal and stay untrusted.
import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function trustedClients() {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('clients').addColumn('trusted', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await sql`update clients set trusted = 1 where owner_user_id is null`.execute(db);
    },
  };
}
