// JWT signing keys (RS256 and ES256: access tokens, ID tokens). One row per key; the private
// JWK arrives here already sealed ("enc:…" or "plain:…", see oauth/signing-keys.ts), the
// store never sees the encryption key. A key may sign until `retired_at` (null: no end set
// yet; a rotation may set it in the future, when the next key takes over); once retired it
// stays published at /.well-known/jwks.json until `publish_until`, so every token it signed
// can still be verified until that token has expired.
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, SigningKeysTable } from './schema.js';
import type { NewSigningKey, SigningKey } from '../oauth/model.js';
import type { SigningKeyPort } from '../oauth/ports.js';

function toSigningKey(row: Selectable<SigningKeysTable>): SigningKey {
  return {
    kid: row.kid, alg: row.alg, publicJwk: row.public_jwk, privateJwk: row.private_jwk,
    createdAt: row.created_at, retiredAt: row.retired_at, publishUntil: row.publish_until,
  };
}

function toRow(key: NewSigningKey): Selectable<SigningKeysTable> {
  return { kid: key.kid, alg: key.alg, public_jwk: key.publicJwk, private_jwk: key.privateJwk, created_at: key.createdAt, retired_at: null, publish_until: null };
}

export class SigningKeyStore implements SigningKeyPort {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Every key a verifier may still need at `now`: the signing ones (not retired) and the
   * retired ones whose publish_until lies in the future. Newest first, so that the first
   * unretired row is the key that signs.
   */
  async listPublished(now: number): Promise<SigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll()
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('publish_until', '>', now)]))
      .orderBy('created_at', 'desc').orderBy('kid', 'desc')
      .execute();
    return rows.map(toSigningKey);
  }

  async listAll(): Promise<SigningKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
    return rows.map(toSigningKey);
  }

  async insert(key: NewSigningKey): Promise<void> {
    await this.db.insertInto('signing_keys').values(toRow(key)).execute();
  }

  /**
   * Inserts `key`, which takes over signing for its algorithm at `retireAt`: in one
   * transaction every key of that algorithm not retired by then is retired at `retireAt`
   * (earlier, for one a previous rotation had scheduled later) and published at least until
   * `publishUntil`. Returns the kids retired.
   */
  async rotate(key: NewSigningKey, retireAt: number, publishUntil: number): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      const retired = await trx.updateTable('signing_keys')
        .set({
          retired_at: retireAt,
          publish_until: sql<number>`case when publish_until is not null and publish_until > ${publishUntil} then publish_until else ${publishUntil} end`,
        })
        .where('alg', '=', key.alg)
        .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retireAt)]))
        .returning('kid').execute();
      await trx.insertInto('signing_keys').values(toRow(key)).execute();
      return retired.map((r) => r.kid);
    });
  }

  /** Replaces the stored private JWK (sealing a plain key once an encryption key is set). */
  async updatePrivateJwk(kid: string, privateJwk: string): Promise<void> {
    await this.db.updateTable('signing_keys').set({ private_jwk: privateJwk }).where('kid', '=', kid).execute();
  }

  /**
   * The latest expiry of any JWT access token on record (they are the ones that carry a
   * jti), or null when there is none: a retiring key must stay published at least that long.
   */
  async latestJwtExpiry(): Promise<number | null> {
    const row = await this.db.selectFrom('access_tokens').select((eb) => eb.fn.max('expires_at').as('latest'))
      .where('jti', 'is not', null).executeTakeFirst();
    const latest = row?.latest;
    return latest === null || latest === undefined ? null : Number(latest);
  }
}
