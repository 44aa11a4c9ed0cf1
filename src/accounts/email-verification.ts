// Proving an e-mail address (issue 22; SPEC.md "Accounts: e-mail, recovery, second factors").
//
// - Sign-up (and `user create` without --verified) sends a verification link; following it
//   sets email_verified, which the OpenID `email_verified` claim reads.
// - A change of address sends a link to the new address; the account keeps its old address
//   until the link is followed, and then the old address is told by mail.
// Both links are single use and expire (VERIFY_TTL_SECONDS, CHANGE_TTL_SECONDS); the token is
// 256 random bits and only its SHA-256 is stored (store/email-tokens.ts). The link leads to a
// page with a button (GET changes nothing, so a mail scanner that fetches links does not use
// them up); the button's POST uses the token in one statement.
import type { Kysely } from 'kysely';
import { audit, type AuditLogger } from '../audit.js';
import { nowSeconds } from '../oauth/clock.js';
import { newSecret, sha256Hex } from '../oauth/crypto.js';
import { normalizeEmail, type User } from '../oauth/model.js';
import type { Database } from '../store/schema.js';
import type { EmailToken } from '../store/email-tokens.js';
import { DuplicateEmailError, UserStore } from '../store/users.js';
import { emailChangeConfirmMail, emailChangedNoticeMail, verificationMail } from './mail/templates.js';
import type { AccountServices } from './services.js';
import type { BackoffPolicy } from './backoff.js';

export const VERIFY_TTL_SECONDS = 24 * 3600;
export const CHANGE_TTL_SECONDS = 24 * 3600;
/** The path of the links in the mails. */
export const EMAIL_LINK_PATH = '/verify-email';

type Deps = Pick<AccountServices, 'config' | 'clock' | 'mail' | 'emailTokens'>;

function linkFor(issuer: string, token: string): string {
  return `${issuer}${EMAIL_LINK_PATH}?token=${encodeURIComponent(token)}`;
}

/**
 * Queues a verification mail for the account's current address (in `tx` when given, e.g. the
 * sign-up's own insert). `address`: who asked, for the audit line ("cli" for the command line).
 */
export async function sendVerification(services: Deps, logger: AuditLogger, user: Pick<User, 'id' | 'email' | 'name'> & Partial<Pick<User, 'locale'>>, address: string, tx?: Kysely<Database>): Promise<void> {
  const token = newSecret();
  const now = nowSeconds(services.clock);
  const expiresAt = now + VERIFY_TTL_SECONDS;
  await services.emailTokens.insert({ tokenHash: sha256Hex(token), userId: user.id, purpose: 'verify', email: user.email, now, expiresAt }, tx);
  await services.mail.enqueue(verificationMail({ to: user.email, name: user.name, locale: user.locale, link: linkFor(services.config.issuer, token), ttlSeconds: VERIFY_TTL_SECONDS, userId: user.id, expiresAt }), tx);
  audit(logger, 'email.verification_sent', { user_id: user.id, address });
}

/**
 * A change of address asked for (password checked, address validated and free): any earlier
 * pending change is cancelled, and a confirmation link goes to the new address.
 */
export async function requestEmailChange(services: Deps & Pick<AccountServices, 'store'>, logger: AuditLogger, change: { user: Pick<User, 'id' | 'name' | 'locale'>; newEmail: string; address: string }): Promise<void> {
  const token = newSecret();
  const now = nowSeconds(services.clock);
  const expiresAt = now + CHANGE_TTL_SECONDS;
  await services.store.db.transaction().execute(async (trx) => {
    await services.emailTokens.cancelPending(change.user.id, 'change', now, trx);
    await services.emailTokens.insert({ tokenHash: sha256Hex(token), userId: change.user.id, purpose: 'change', email: change.newEmail, now, expiresAt }, trx);
    await services.mail.enqueue(emailChangeConfirmMail({
      to: change.newEmail, name: change.user.name, locale: change.user.locale, link: linkFor(services.config.issuer, token), ttlSeconds: CHANGE_TTL_SECONDS, userId: change.user.id, expiresAt,
    }), trx);
  });
  audit(logger, 'email.change_requested', { user_id: change.user.id, address: change.address });
}

/** What a link would do, for the page the link opens (nothing changes). */
export async function inspectEmailLink(services: Pick<AccountServices, 'clock' | 'emailTokens'>, token: string): Promise<EmailToken | undefined> {
  if (token === '' || token.length > 200) return undefined;
  return services.emailTokens.findUsable(sha256Hex(token), nowSeconds(services.clock));
}

export type EmailLinkOutcome =
  | { outcome: 'verified'; userId: number; email: string }
  | { outcome: 'changed'; userId: number; email: string }
  /** Unknown, used, or expired (one answer: the page cannot tell them apart for anyone). */
  | { outcome: 'invalid' }
  /** A verification link for an address the account no longer has. */
  | { outcome: 'stale' }
  /** The new address was taken by another account meanwhile. */
  | { outcome: 'taken' };

class Taken extends Error {}

/**
 * Uses a link: the token is consumed and its effect applied in one transaction, so that of
 * any number of uses at once exactly one succeeds, and a failed effect leaves it unused.
 */
export async function useEmailLink(services: Deps & Pick<AccountServices, 'store'>, logger: AuditLogger, token: string, address: string): Promise<EmailLinkOutcome> {
  if (token === '' || token.length > 200) return { outcome: 'invalid' };
  const now = nowSeconds(services.clock);
  const hash = sha256Hex(token);
  let result: EmailLinkOutcome;
  try {
    result = await services.store.db.transaction().execute(async (trx): Promise<EmailLinkOutcome> => {
      const used = await services.emailTokens.consume(hash, now, trx);
      if (!used) return { outcome: 'invalid' };
      const users = new UserStore(trx);
      const user = await users.findById(used.userId);
      if (!user) return { outcome: 'invalid' };
      if (used.purpose === 'verify') {
        if (normalizeEmail(user.email) !== normalizeEmail(used.email)) return { outcome: 'stale' };
        if (!user.emailVerified) await users.update(user.id, { emailVerified: true }, now);
        return { outcome: 'verified', userId: user.id, email: user.email };
      }
      try {
        // The link proves the new address: it is verified from the moment it is the account's.
        await users.update(user.id, { email: used.email, emailVerified: true }, now);
      } catch (err) {
        if (err instanceof DuplicateEmailError) throw new Taken();
        throw err;
      }
      // Any other change still pending (an older link) is void now.
      await services.emailTokens.cancelPending(user.id, 'change', now, trx);
      // The old address is told, in case the change was not its owner's doing.
      if (normalizeEmail(user.email) !== normalizeEmail(used.email)) {
        await services.mail.enqueue(emailChangedNoticeMail({ to: user.email, name: user.name, locale: user.locale, newEmail: used.email, accountUrl: `${services.config.issuer}/account`, userId: user.id }), trx);
      }
      return { outcome: 'changed', userId: user.id, email: used.email };
    });
  } catch (err) {
    if (err instanceof Taken) return { outcome: 'taken' };
    throw err;
  }
  if (result.outcome === 'verified') audit(logger, 'email.verified', { user_id: result.userId, address });
  if (result.outcome === 'changed') audit(logger, 'email.changed', { user_id: result.userId, address, reason: 'confirmed_by_link' });
  return result;
}

/** Verification mails one account (or one typed address) may ask for again per hour. */
export const RESEND_ATTEMPTS = 3;
const RESEND_WINDOW_SECONDS = 3600;
const RESEND_POLICY: BackoffPolicy = {
  threshold: RESEND_ATTEMPTS + 1,
  baseSeconds: RESEND_WINDOW_SECONDS,
  maxSeconds: RESEND_WINDOW_SECONDS,
  forgetAfterSeconds: RESEND_WINDOW_SECONDS,
};

/**
 * Asks for a new verification link for the account with `email`, if there is one and it is not
 * verified yet. The caller answers the same whatever happened (no account enumeration), so
 * this returns only whether the caller must wait: null, or the seconds to wait. Counted per
 * typed address (memory or Redis, atomic), so a burst cannot fill someone's inbox.
 */
export async function resendVerification(
  services: Deps & Pick<AccountServices, 'users' | 'guard' | 'logger'>, logger: AuditLogger, email: string, address: string,
): Promise<{ retryAfter: number } | null> {
  const nowMs = services.clock.nowMs();
  try {
    const state = await services.guard.counters.fail(`bf:verify-resend:${normalizeEmail(email)}`, RESEND_POLICY, nowMs);
    if (state.failures > RESEND_ATTEMPTS) return { retryAfter: Math.max(1, Math.ceil((state.blockedUntilMs - nowMs) / 1000)) };
  } catch (err) {
    services.logger.warn({ err }, 'verification resend counters unreachable; not limiting');
  }
  const user = await services.users.findByEmail(email);
  if (user && !user.emailVerified) await sendVerification(services, logger, user, address);
  return null;
}
