// The one password check, for every door a password comes through: the login page, the
// password grant and the password change (current password). In order:
//   1. the brute-force reservation (accounts/backoff.ts): the locks, the count and the bound on
//      attempts in flight, in one atomic step before anything is verified;
//   2. bounds on the input (e-mail and password length, NUL): out of bounds is a wrong
//      password, verified against nothing;
//   3. argon2 through the bounded queue (accounts/passwords.ts) with the account's (and the
//      client's) share, against a dummy hash when the e-mail is unknown, so both failures take
//      as long and the answer does not tell which e-mails have accounts;
//   4. the ticket settled whatever happened (a right password refunds its pre-counted failure),
//      and the failure or lockout audited with the address.
import { hash } from 'node:crypto';
import { audit, type AuditLogger } from '../audit.js';
import { normalizeEmail, type User } from '../oauth/model.js';
import type { RootPick, UserPort } from '../oauth/ports.js';
import { lockoutMessage } from '../oauth/lockout.js';
import type { BruteForceGuard, PasswordTicket } from './backoff.js';
import { dummyPasswordHash, HashingRefused, MAX_PASSWORD_LENGTH, verifyPassword, type HashShare } from './passwords.js';

/** No account has an e-mail longer than this (validateEmail allows 254). */
export const MAX_EMAIL_LENGTH = 320;

export interface PasswordCheckRequest {
  /** The e-mail as typed (normalized for the lookup and the counts). */
  email: string;
  password: string;
  /** The caller's address as the server sees it. */
  address: string;
  /** The password grant's client: its share of the hashing, and the audit line. */
  clientId?: string;
  /** For the audit lines: the password grant, or a password change (current password). */
  grantType?: 'password';
  purpose?: 'login' | 'password_change' | 'email_change';
  /**
   * A signed-in user's own password (password or e-mail change): the account is found by this
   * id, not by `email`, which another request of the same user may be changing at this moment.
   * `email` still keys the brute-force counts.
   */
  userId?: number;
}

export type PasswordCheckResult =
  | { ok: true; user: User }
  /** Wrong e-mail or password (one answer for both). */
  | { ok: false; refusal: 'wrong' }
  /** 429 with Retry-After: a lockout, or too many attempts at once (`message` for people). */
  | { ok: false; refusal: 'locked' | 'busy'; retryAfter: number; message: string }
  /** 503 with Retry-After: the hashing queue is full. */
  | { ok: false; refusal: 'overloaded'; retryAfter: number; message: string };

export type CheckPassword = (request: PasswordCheckRequest) => Promise<PasswordCheckResult>;

export interface PasswordCheckDeps {
  guard: Pick<BruteForceGuard, 'reservePassword'>;
  users: RootPick<UserPort, 'findCredentialsByEmail' | 'findCredentialsById'>;
  logger: AuditLogger;
}

export const OVERLOADED_MESSAGE = 'The server is busy checking passwords. Try again in a moment.';
export const BUSY_MESSAGE = 'Too many password checks at once for this account. Try again in a moment.';

/** The share key of an account (a digest: the queue's keys are no place for e-mail addresses). */
export function accountShare(email: string): string {
  return hash('sha256', normalizeEmail(email), 'base64url').slice(0, 22);
}

export function passwordChecker(deps: PasswordCheckDeps): CheckPassword {
  return async (request) => {
    const { email, password, address } = request;
    const context = {
      address,
      ...(request.clientId !== undefined ? { client_id: request.clientId } : {}),
      ...(request.grantType !== undefined ? { grant_type: request.grantType } : {}),
      ...(request.purpose !== undefined && request.purpose !== 'login' ? { reason: request.purpose } : {}),
    };
    const reservation = await deps.guard.reservePassword(email, address);
    if (!reservation.granted) {
      const { lockout } = reservation;
      audit(deps.logger, 'login.locked', { ...context, reason: request.purpose !== undefined && request.purpose !== 'login' ? `${request.purpose}_${lockout.subject}` : lockout.subject, retry_after: lockout.retryAfter });
      return { ok: false, refusal: lockout.subject === 'in_flight' ? 'busy' : 'locked', retryAfter: lockout.retryAfter, message: lockoutMessage(lockout) };
    }
    const ticket: PasswordTicket = reservation.ticket;
    try {
      const wellFormed = email !== '' && email.length <= MAX_EMAIL_LENGTH && !email.includes('\0')
        && password !== '' && password.length <= MAX_PASSWORD_LENGTH && !password.includes('\0');
      const user = !wellFormed ? undefined
        : request.userId !== undefined ? await deps.users.findCredentialsById(request.userId)
          : await deps.users.findCredentialsByEmail(email);
      const share: HashShare = { account: accountShare(email), ...(request.clientId !== undefined ? { client: request.clientId } : {}) };
      const matches = wellFormed && (await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password, share));
      if (user && matches) {
        await ticket.succeeded();
        const { passwordHash: _hash, ...account } = user;
        return { ok: true, user: account };
      }
      // A wrong password: the attempt stays counted (the ticket is settled in `finally`).
      audit(deps.logger, 'login.failed', { user_id: user?.id ?? null, ...context });
      const started = ticket.lockoutIfWrong;
      if (started) {
        audit(deps.logger, 'login.locked', { ...context, reason: started.subject, retry_after: started.retryAfter });
        return { ok: false, refusal: 'locked', retryAfter: started.retryAfter, message: lockoutMessage(started) };
      }
      return { ok: false, refusal: 'wrong' };
    } catch (err) {
      if (!(err instanceof HashingRefused)) throw err;
      // Not verified: the attempt is refunded, and the caller is told to come back.
      await ticket.cancelled();
      return err.reason === 'busy'
        ? { ok: false, refusal: 'busy', retryAfter: err.retryAfter, message: BUSY_MESSAGE }
        : { ok: false, refusal: 'overloaded', retryAfter: err.retryAfter, message: OVERLOADED_MESSAGE };
    } finally {
      // Whatever threw (the database, say), the attempt stays counted and leaves the flights.
      await ticket.failed();
    }
  };
}
