// OpenID Connect (SPEC.md "OpenID Connect"): the columns the ID token, UserInfo and logout read.
// - users.email_verified: the `email_verified` claim (0 until an address is verified).
// - clients.post_logout_redirect_uris (JSON array, exact strings like redirect_uris) and
//   clients.id_token_signed_response_alg (RS256, the OP's mandatory algorithm, or ES256).
// - grants.auth_time, sid, amr, claims: the login an OpenID authorization was granted in (when
//   the password was checked, the browser session's public id, RFC 8176 methods as a JSON
//   array) and its `claims` request (OIDC Core §5.5, JSON); every ID token of the grant,
//   refreshed ones too, repeats them. NULL on grants that are not OpenID Connect ones.
// - authorization_codes.nonce: the request's nonce, for the one ID token of the code exchange.
// Every column is NULL or has a constant default, so existing rows need no backfill.
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function openidConnect(dialect: Dialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('users').addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('clients').addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull().defaultTo('[]')).execute();
      await db.schema.alterTable('clients').addColumn('id_token_signed_response_alg', 'text', (c) => c.notNull().defaultTo('RS256')).execute();
      await db.schema.alterTable('grants').addColumn('auth_time', big).execute();
      await db.schema.alterTable('grants').addColumn('sid', 'text').execute();
      await db.schema.alterTable('grants').addColumn('amr', 'text').execute();
      await db.schema.alterTable('grants').addColumn('claims', 'text').execute();
      await db.schema.alterTable('authorization_codes').addColumn('nonce', 'text').execute();
    },
  };
}
