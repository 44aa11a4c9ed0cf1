// What a password change does once the current password has been verified (issue 18,
// finding 4). A new password is how a person takes their account back, so everything the old
// one let anyone obtain ends with it:
//   - every other browser session of the account is signed out (this one stays);
//   - every grant of the account is revoked — all clients, all organizations and none — so
//     every access token (opaque or JWT), refresh token and unused code issued before fails
//     from the very next request (each use reads its grant; on SQLite the kept token contexts
//     are dropped by the UPDATE of grants, store/sqlite/changes.ts);
//   - every remembered consent is forgotten, so an app is connected again only once the
//     person approves it again on the consent page.
// One transaction: either the new password holds and all of the above is done, or nothing is.
import { audit, type AuditLogger } from '../audit.js';
import { nowSeconds } from '../oauth/clock.js';
import type { AccountServices } from './services.js';
import { GrantStore } from '../store/grants.js';
import { SessionStore } from '../store/sessions.js';
import { UserStore } from '../store/users.js';
import { hashPassword, type HashShare } from './passwords.js';

export interface PasswordChange {
  userId: number;
  /** The new password, already validated (validatePassword). */
  newPassword: string;
  /** The session that made the change: it stays signed in. */
  keepSessionIdHash: string | null;
  /** The caller's address, for the audit line. */
  address: string;
  /** The account's share of the password hashing (accounts/passwords.ts). */
  share?: HashShare;
}

export interface PasswordChangeResult {
  grantsRevoked: number;
  consentsForgotten: number;
}

export async function changePassword(
  services: Pick<AccountServices, 'store' | 'clock'>,
  logger: AuditLogger,
  change: PasswordChange,
): Promise<PasswordChangeResult> {
  const passwordHash = await hashPassword(change.newPassword, change.share);
  const now = nowSeconds(services.clock);
  const result = await services.store.db.transaction().execute(async (trx) => {
    const grants = new GrantStore(trx);
    await new UserStore(trx).update(change.userId, { passwordHash }, now);
    await new SessionStore(trx).deleteForUser(change.userId, change.keepSessionIdHash);
    const grantsRevoked = await grants.revokeAllForUser(change.userId, now);
    const consentsForgotten = await grants.deleteConsentsForUser(change.userId);
    return { grantsRevoked, consentsForgotten };
  });
  audit(logger, 'password.changed', { user_id: change.userId, address: change.address, grants_revoked: result.grantsRevoked });
  return result;
}
