// Password reset ("Forgot password?", issue 22), the way Keycloak and the others do it, with
// the guarantees the issue asks for:
//   - The link carries a 256-bit random token; only its SHA-256 hex is stored (migration 011).
//     It lives RESET_LINK_TTL_SECONDS (30 minutes, by the injected clock) and works once: the
//     reset consumes it with one `UPDATE … WHERE used_at IS NULL AND expires_at > now`, in the
//     same transaction as the new password, so of ten uses at once exactly one wins.
//   - No account enumeration. The request is answered before anything about the address is
//     looked at: the route counts the caller's address, sends the one answer ("if an account
//     has this address, a link is on its way"), and only then runs `carryOutResetRequest`,
//     which does the same work for a known and an unknown address (the limits counted, the
//     account looked up, a row written with user_id NULL when there is none) and gives the
//     mail queue a message only for an account. So status, body and time of the answer cannot
//     depend on the address.
//   - Limits: per caller address (RESET_REQUESTS_PER_ADDRESS an hour: 429, which cannot tell
//     anything about an account), per e-mail address and per account (RESET_MAILS_PER_ACCOUNT
//     an hour: silently no further mail, so a third party cannot flood an inbox and the answer
//     still tells nothing). Counted with the brute-force guard's counters (memory, the
//     primary's, or Redis), each count one atomic step.
//   - After a reset, as after a password change and more: every session of the account ends
//     (this browser's too), every grant is revoked (so every access and refresh token dies),
//     every consent is forgotten, every other reset link of the account stops working, and the
//     owner is told by mail (queued in the same transaction, so sent exactly when it happened).
import type { Kysely } from 'kysely';
import { audit, type AuditLogger } from '../audit.js';
import { nowSeconds } from '../oauth/clock.js';
import { newSecret, sha256Hex } from '../oauth/crypto.js';
import { normalizeEmail, type User } from '../oauth/model.js';
import { GrantStore } from '../store/grants.js';
import type { Database } from '../store/schema.js';
import { PasswordResetStore } from '../store/password-resets.js';
import { SessionStore } from '../store/sessions.js';
import { UserStore } from '../store/users.js';
import { passwordChangedMail, passwordResetMail, type AccountMail } from './mail/password-reset-mail.js';
import { addressKey } from './address-key.js';
import type { BackoffPolicy } from './backoff.js';
import { accountShare, MAX_EMAIL_LENGTH } from './password-check.js';
import { hashPassword } from './passwords.js';
import type { AccountServices } from './services.js';

/** How long a reset link works. */
export const RESET_LINK_TTL_SECONDS = 30 * 60;
/** "Forgot password?" requests one caller address may send an hour (beyond: 429). */
export const RESET_REQUESTS_PER_ADDRESS = 20;
/** Reset mails one e-mail address, and one account, may be sent an hour (beyond: none, silently). */
export const RESET_MAILS_PER_ACCOUNT = 5;
const WINDOW_SECONDS = 3600;
/** Rows of ended links are deleted this long after they expired (the purge of this table is done by its inserts). */
const KEEP_ENDED_SECONDS = 86_400;

/** Tokens are newSecret()s: 43 base64url characters. Anything else is refused unread. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const policy = (limit: number): BackoffPolicy => ({ threshold: limit + 1, baseSeconds: WINDOW_SECONDS, maxSeconds: WINDOW_SECONDS, forgetAfterSeconds: WINDOW_SECONDS });

export type ResetServices = Pick<AccountServices, 'config' | 'clock' | 'store' | 'logger' | 'users' | 'guard' | 'passwordResets' | 'mail'>;

/** The one page a reset request answers with, whatever the address. */
export const RESET_REQUESTED_MESSAGE = 'If an account has this e-mail address, we have sent it a link to choose a new password. The link works once, for 30 minutes. Check your inbox (and your spam folder).';

/**
 * Counts one request from the caller's address: null, or the seconds to wait (the page then
 * answers 429). Counters that cannot be reached let it through and are logged, as the guard does.
 */
export async function countResetRequestFrom(services: Pick<AccountServices, 'guard' | 'clock' | 'logger'>, address: string): Promise<{ retryAfter: number } | null> {
  return counted(services, `bf:reset:addr:${addressKey(address)}`, RESET_REQUESTS_PER_ADDRESS);
}

async function counted(services: Pick<AccountServices, 'guard' | 'clock' | 'logger'>, key: string, limit: number): Promise<{ retryAfter: number } | null> {
  const nowMs = services.clock.nowMs();
  try {
    const state = await services.guard.counters.fail(key, policy(limit), nowMs);
    if (state.failures <= limit) return null;
    return { retryAfter: Math.max(1, Math.ceil((state.blockedUntilMs - nowMs) / 1000)) };
  } catch (err) {
    services.logger.warn({ err }, 'password reset counters unreachable; not limiting');
    return null;
  }
}

/** The e-mail address as stored and counted: SHA-256 of the normalized address. */
function emailHash(email: string): string {
  return sha256Hex(`password-reset:${normalizeEmail(email)}`);
}

/**
 * The work of a "Forgot password?" request, run after the answer was sent (the route catches
 * and logs what it throws). The same steps whether or not the address has an account; only an
 * account gets a mail.
 */
export async function carryOutResetRequest(services: ResetServices, logger: AuditLogger, request: { email: string; address: string }): Promise<void> {
  const email = request.email.trim();
  if (email === '' || email.length > MAX_EMAIL_LENGTH || email.includes('\0')) return;
  const hashOfEmail = emailHash(email);
  const perEmail = await counted(services, `bf:reset:email:${hashOfEmail}`, RESET_MAILS_PER_ACCOUNT);
  const user = await services.users.findByEmail(email);
  // The account is counted only for requests the address's count let through: counting both
  // always would let two requests at once each be refused by a different count, and the
  // account would get fewer mails than its share. (An unknown address counts a key of its
  // own, so both paths do the same work.)
  const perAccount = perEmail ? null
    : user ? await counted(services, `bf:reset:user:${user.id}`, RESET_MAILS_PER_ACCOUNT) : await counted(services, 'bf:reset:user:none', Number.MAX_SAFE_INTEGER);
  if (perEmail || perAccount) {
    audit(logger, 'password.reset_limited', { user_id: user?.id ?? null, address: request.address, reason: perAccount ? 'account' : 'email' });
    return;
  }
  const token = newSecret();
  const now = nowSeconds(services.clock);
  await services.passwordResets.insert({ tokenHash: sha256Hex(token), userId: user?.id ?? null, emailHash: hashOfEmail, now, expiresAt: now + RESET_LINK_TTL_SECONDS });
  await services.passwordResets.deleteExpired(now - KEEP_ENDED_SECONDS);
  audit(logger, 'password.reset_requested', { user_id: user?.id ?? null, address: request.address, ...(user ? {} : { reason: 'unknown_email' }) });
  if (user) {
    await sendAccountMail(services, passwordResetMail(user, resetLink(services.config.issuer, token), RESET_LINK_TTL_SECONDS / 60), { expiresAt: now + RESET_LINK_TTL_SECONDS });
  }
}

/** The link in the mail: the reset page with the token. */
export function resetLink(issuer: string, token: string): string {
  const url = pageUrl(issuer, 'reset-password');
  url.searchParams.set('token', token);
  return url.toString();
}

/** A page of this server by its path under the issuer (which may have a path of its own). */
function pageUrl(issuer: string, page: string): URL {
  return new URL(page, issuer.endsWith('/') ? issuer : `${issuer}/`);
}

/** The account a link would reset now (unused, unexpired), or undefined; malformed tokens are not looked up. */
export async function liveResetLink(services: Pick<AccountServices, 'clock' | 'passwordResets'>, token: string): Promise<{ userId: number } | undefined> {
  if (!TOKEN_SHAPE.test(token)) return undefined;
  return services.passwordResets.findLive(sha256Hex(token), nowSeconds(services.clock));
}

export type ResetOutcome =
  | { ok: true; user: User; grantsRevoked: number; sessionsEnded: number }
  /** Unknown, used or expired. */
  | { ok: false };

/**
 * Sets the new password (already validated: validatePassword) with the link `token`, once.
 * Throws HashingRefused when the hashing queue refuses (the caller answers 429/503; the link
 * stays unused).
 */
export async function resetPassword(services: ResetServices, logger: AuditLogger, reset: { token: string; newPassword: string; address: string }): Promise<ResetOutcome> {
  const live = await liveResetLink(services, reset.token);
  const user = live && (await services.users.findById(live.userId));
  if (!user) {
    audit(logger, 'password.reset_refused', { user_id: null, address: reset.address, reason: 'link_dead' });
    return { ok: false };
  }
  // Slow (argon2): before the transaction, which must not wait for it.
  const passwordHash = await hashPassword(reset.newPassword, { account: accountShare(user.email) });
  const tokenHash = sha256Hex(reset.token);
  const result = await services.store.db.transaction().execute(async (trx) => {
    const now = nowSeconds(services.clock);
    const resets = new PasswordResetStore(trx);
    // The single use: of requests racing with the same link, one UPDATE matches the row.
    const userId = await resets.consume(tokenHash, now);
    if (userId !== user.id) return null;
    await resets.expireForUser(userId, now);
    // Following the link proved the mailbox is the person's: the address is verified too (as Keycloak does).
    await new UserStore(trx).update(userId, { passwordHash, emailVerified: true }, now);
    const sessionsEnded = await new SessionStore(trx).deleteForUser(userId, null);
    const grants = new GrantStore(trx);
    const grantsRevoked = await grants.revokeAllForUser(userId, now);
    await grants.deleteConsentsForUser(userId);
    // The notice is queued with the change: sent if and only if the password changed.
    await sendAccountMail(services, passwordChangedMail(user, pageUrl(services.config.issuer, 'login').toString()), { tx: trx });
    return { grantsRevoked, sessionsEnded };
  });
  if (!result) {
    audit(logger, 'password.reset_refused', { user_id: user.id, address: reset.address, reason: 'link_used' });
    return { ok: false };
  }
  audit(logger, 'password.reset', { user_id: user.id, address: reset.address, grants_revoked: result.grantsRevoked, sessions_ended: result.sessionsEnded });
  return { ok: true, user, ...result };
}

/**
 * Hands a message to the mail queue (accounts/mail/queue.ts: SMTP_URL, else the outbox folder),
 * inside `tx` when given (then it is sent only if that commits). The queue is durable and its
 * sender works in the background, so this returns once the message is stored, never after an
 * SMTP conversation. The one place password reset sends mail from.
 */
export async function sendAccountMail(services: Pick<AccountServices, 'mail'>, mail: AccountMail, options: { expiresAt?: number; tx?: Kysely<Database> } = {}): Promise<void> {
  await services.mail.enqueue({
    to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, kind: mail.kind, userId: mail.userId, expiresAt: options.expiresAt ?? null,
  }, options.tx);
}
