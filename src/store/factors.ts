// Second factors and passkeys (migration 012): the authenticator app (TOTP), recovery codes,
// passkeys, and the short-lived single-use rows of a login in progress (login_challenges).
// The store sees only sealed secrets and hashes; accounts/factors.ts holds the rules.
// Single use is one statement each: a code's time step is taken by an UPDATE that succeeds
// only while the step is newer than the last one taken; a recovery code by an UPDATE … WHERE
// used_at IS NULL; a challenge by an UPDATE … RETURNING that ends its life (expires_at = 0)
// while it is still live. Two requests (or two servers on one PostgreSQL) can therefore never
// both win. (An UPDATE rather than a DELETE: on SQLite a DELETE makes every row kept in memory
// be read again, sqlite/changes.ts; the dead rows are cleared at most once a minute.)
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface TotpRecord {
  userId: number;
  sealedSecret: string;
  confirmedAt: number | null;
  lastUsedStep: number;
}

export interface PasskeyRecord {
  credentialId: string;
  userId: number;
  publicKey: string;
  counter: number;
  transports: string[];
  backedUp: boolean;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export type ChallengeKind = 'pending_login' | 'passkey_register' | 'passkey_login' | 'passkey_factor';

export interface ChallengeRecord {
  kind: ChallengeKind;
  userId: number | null;
  challenge: string | null;
  amr: string[];
  next: string | null;
  createdAt: number;
  expiresAt: number;
}

function parseList(value: string | null): string[] {
  if (value === null) return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Seconds between two clearings of dead login_challenges rows (per process). */
const CLEAR_EVERY_SECONDS = 60;

export class FactorStore {
  private lastClearedAt = 0;

  constructor(private readonly db: Kysely<Database>) {}

  // --- authenticator app -------------------------------------------------------------------

  async findTotp(userId: number): Promise<TotpRecord | undefined> {
    const row = await this.db.selectFrom('totp_credentials').selectAll().where('user_id', '=', userId).executeTakeFirst();
    return row && { userId: row.user_id, sealedSecret: row.secret, confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at), lastUsedStep: Number(row.last_used_step) };
  }

  /** Starts (or restarts) an enrolment: an unconfirmed secret. A confirmed app is never replaced here. */
  async startTotp(userId: number, sealedSecret: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('totp_credentials').select('confirmed_at').where('user_id', '=', userId).executeTakeFirst();
      if (existing && existing.confirmed_at !== null) return false;
      await trx.deleteFrom('totp_credentials').where('user_id', '=', userId).execute();
      await trx.insertInto('totp_credentials').values({ user_id: userId, secret: sealedSecret, confirmed_at: null, created_at: now }).execute();
      return true;
    });
  }

  /**
   * Takes time step `step` for the user's app: true only when it is newer than every step
   * taken before (and, with `confirm`, confirms an unconfirmed enrolment of `sealedSecret`).
   */
  async takeTotpStep(userId: number, step: number, options: { confirmSealed?: string; now: number }): Promise<boolean> {
    let q = this.db.updateTable('totp_credentials').set(options.confirmSealed !== undefined
      ? { last_used_step: step, confirmed_at: options.now }
      : { last_used_step: step })
      .where('user_id', '=', userId).where('last_used_step', '<', step);
    q = options.confirmSealed !== undefined
      ? q.where('confirmed_at', 'is', null).where('secret', '=', options.confirmSealed)
      : q.where('confirmed_at', 'is not', null);
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deleteTotp(userId: number): Promise<number> {
    const result = await this.db.deleteFrom('totp_credentials').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- recovery codes ----------------------------------------------------------------------

  /** Replaces the user's recovery codes with `hashes` (one transaction). */
  async replaceRecoveryCodes(userId: number, hashes: readonly string[], now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      await trx.insertInto('recovery_codes').values(hashes.map((h) => ({ user_id: userId, code_hash: h, used_at: null, created_at: now }))).execute();
    });
  }

  async countUnusedRecoveryCodes(userId: number): Promise<number> {
    const row = await this.db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Uses one recovery code: true for exactly one caller, however many present it at once. */
  async consumeRecoveryCode(userId: number, codeHash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('recovery_codes').set({ used_at: now })
      .where('user_id', '=', userId).where('code_hash', '=', codeHash).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) >= 1;
  }

  async deleteRecoveryCodes(userId: number): Promise<number> {
    // Used codes go first, so the count returned is of the codes that still worked.
    await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).where('used_at', 'is not', null).execute();
    const result = await this.db.deleteFrom('recovery_codes').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // --- passkeys ----------------------------------------------------------------------------

  async insertPasskey(p: Omit<PasskeyRecord, 'lastUsedAt'>): Promise<void> {
    await this.db.insertInto('passkeys').values({
      credential_id: p.credentialId, user_id: p.userId, public_key: p.publicKey, counter: p.counter,
      transports: JSON.stringify(p.transports), backed_up: p.backedUp ? 1 : 0, name: p.name, created_at: p.createdAt, last_used_at: null,
    }).execute();
  }

  private toPasskey(row: { credential_id: string; user_id: number; public_key: string; counter: number; transports: string; backed_up: number; name: string; created_at: number; last_used_at: number | null }): PasskeyRecord {
    return {
      credentialId: row.credential_id, userId: row.user_id, publicKey: row.public_key, counter: Number(row.counter), transports: parseList(row.transports),
      backedUp: row.backed_up === 1, name: row.name, createdAt: Number(row.created_at), lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    };
  }

  async listPasskeys(userId: number): Promise<PasskeyRecord[]> {
    const rows = await this.db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('credential_id').execute();
    return rows.map((r) => this.toPasskey(r));
  }

  async findPasskey(credentialId: string): Promise<PasskeyRecord | undefined> {
    const row = await this.db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
    return row && this.toPasskey(row);
  }

  /**
   * Records a use: the signature counter moves forward only (a counter that does not grow,
   * when the authenticator keeps one, means a cloned key: refused by the caller before).
   */
  async passkeyUsed(credentialId: string, counter: number, now: number): Promise<void> {
    await this.db.updateTable('passkeys').set({ counter, last_used_at: now }).where('credential_id', '=', credentialId).execute();
  }

  async deletePasskey(userId: number, credentialId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('passkeys').where('user_id', '=', userId).where('credential_id', '=', credentialId).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async deletePasskeys(userId: number): Promise<number> {
    const result = await this.db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Whether login must ask for a second factor: a confirmed app or any passkey. */
  async hasSecondFactor(userId: number): Promise<boolean> {
    const totp = await this.db.selectFrom('totp_credentials').select('user_id').where('user_id', '=', userId).where('confirmed_at', 'is not', null).executeTakeFirst();
    if (totp) return true;
    const passkey = await this.db.selectFrom('passkeys').select('credential_id').where('user_id', '=', userId).limit(1).executeTakeFirst();
    return passkey !== undefined;
  }

  /** The user whose WebAuthn user handle (the OpenID subject) this is. */
  async userIdBySubject(subject: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('users').select('id').where('subject', '=', subject).executeTakeFirst();
    return row?.id;
  }

  // --- logins in progress ------------------------------------------------------------------

  async insertChallenge(idHash: string, c: ChallengeRecord): Promise<void> {
    // Rows that ran out or were used are cleared on the way, at most once a minute.
    if (c.createdAt - this.lastClearedAt >= CLEAR_EVERY_SECONDS) {
      this.lastClearedAt = c.createdAt;
      await this.db.deleteFrom('login_challenges').where('expires_at', '<', c.createdAt).execute();
    }
    await this.db.insertInto('login_challenges').values({
      id_hash: idHash, kind: c.kind, user_id: c.userId, challenge: c.challenge, amr: JSON.stringify(c.amr), next: c.next, created_at: c.createdAt, expires_at: c.expiresAt,
    }).execute();
  }

  /** Reads a live challenge without using it up. */
  async findChallenge(idHash: string, kind: ChallengeKind, now: number): Promise<ChallengeRecord | undefined> {
    const row = await this.db.selectFrom('login_challenges').selectAll().where('id_hash', '=', idHash).where('kind', '=', kind).where('expires_at', '>', now).executeTakeFirst();
    return row && {
      kind, userId: row.user_id, challenge: row.challenge, amr: parseList(row.amr), next: row.next, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at),
    };
  }

  /** Uses a challenge up: the row for exactly one caller (UPDATE … RETURNING), if still live. */
  async consumeChallenge(idHash: string, kind: ChallengeKind, now: number): Promise<ChallengeRecord | undefined> {
    const row = await this.db.updateTable('login_challenges').set({ expires_at: 0 })
      .where('id_hash', '=', idHash).where('kind', '=', kind).where('expires_at', '>', now)
      .returning(['user_id', 'challenge', 'amr', 'next', 'created_at']).executeTakeFirst();
    if (!row) return undefined;
    return { kind, userId: row.user_id, challenge: row.challenge, amr: parseList(row.amr), next: row.next, createdAt: Number(row.created_at), expiresAt: now };
  }

  async deleteChallengesForUser(userId: number): Promise<void> {
    await this.db.deleteFrom('login_challenges').where('user_id', '=', userId).execute();
  }
}
