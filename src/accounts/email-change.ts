// Changing the e-mail address of an account (issue 18, finding 5; issue 22: the new address is
// confirmed by a link before it replaces the old one, and the old address is told). The address is served to
// apps as `email`, so it is not changed on the strength of a session cookie alone: the account
// page asks for the current password (the route checks it before calling changeEmail). And
// the answer must not tell whether another account uses an address, so every refusal of an
// address that is not about its syntax — taken by another account, or a domain that can never
// receive mail — gets the one sentence below. What a successful change still tells (that the
// address was free) is bounded by a limit on attempts per account.
import type { AuditLogger } from '../audit.js';
import type { BackoffPolicy } from './backoff.js';
import { nowSeconds } from '../oauth/clock.js';
import type { AccountServices } from './services.js';
import type { User } from '../oauth/model.js';
import { requestEmailChange } from './email-verification.js';

/** The one answer for an address that cannot be used, whatever the reason (syntax aside). */
export const UNUSABLE_EMAIL_MESSAGE = "This e-mail address can't be used for your account. Choose another.";

/** E-mail change attempts an account may make before it waits. */
export const EMAIL_CHANGE_ATTEMPTS = 5;
/** How long the account waits then; the count is forgotten this long after the last attempt. */
export const EMAIL_CHANGE_WINDOW_SECONDS = 3600;

// Counted with the brute-force guard's counters (memory or Redis, atomic per key): the
// (ATTEMPTS + 1)-th attempt within the window starts a wait of the whole window.
const POLICY: BackoffPolicy = {
  threshold: EMAIL_CHANGE_ATTEMPTS + 1,
  baseSeconds: EMAIL_CHANGE_WINDOW_SECONDS,
  maxSeconds: EMAIL_CHANGE_WINDOW_SECONDS,
  forgetAfterSeconds: EMAIL_CHANGE_WINDOW_SECONDS,
};

const attemptKey = (userId: number) => `bf:email-change:${userId}`;

/**
 * Counts one attempt to change the account's e-mail address and says whether it may go on:
 * null, or the seconds to wait. The count and the decision are one atomic step, so attempts
 * sent at once cannot all slip through. Counters that cannot be reached let it go on (as the
 * guard does) and are logged.
 */
export async function countEmailChangeAttempt(services: Pick<AccountServices, 'guard' | 'clock' | 'logger'>, userId: number): Promise<{ retryAfter: number } | null> {
  const nowMs = services.clock.nowMs();
  try {
    const state = await services.guard.counters.fail(attemptKey(userId), POLICY, nowMs);
    if (state.failures <= EMAIL_CHANGE_ATTEMPTS) return null;
    return { retryAfter: Math.max(1, Math.ceil((state.blockedUntilMs - nowMs) / 1000)) };
  } catch (err) {
    services.logger.warn({ err }, 'e-mail change counters unreachable; not limiting');
    return null;
  }
}

/**
 * Domains that can never receive mail (RFC 6761: `.invalid`, `.localhost`): an address there
 * is refused like a taken one.
 */
export function isUnusableEmail(email: string): boolean {
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '');
  return domain === 'localhost' || domain.endsWith('.localhost') || domain === 'invalid' || domain.endsWith('.invalid');
}

/**
 * Starts a change of the account's e-mail address (already validated, the current password
 * already checked): the rest of the profile is saved at once, and a confirmation link goes to
 * the new address (accounts/email-verification.ts); the address changes only when the link is
 * followed, and then the old address is told. 'unusable' (nothing sent, the profile not saved)
 * when the address cannot be used: taken by another account, or at a domain that never
 * receives mail — one answer for both. Audited as `email.change_requested` (and, once
 * confirmed, `email.changed`), never with the address itself.
 */
export async function startEmailChange(
  services: Pick<AccountServices, 'users' | 'clock' | 'config' | 'mail' | 'emailTokens' | 'store'>,
  logger: AuditLogger,
  change: { user: Pick<User, 'id' | 'name'>; email: string; address: string; profile: { name: string; locale: string } },
): Promise<'requested' | 'unusable'> {
  if (isUnusableEmail(change.email)) return 'unusable';
  const holder = await services.users.findByEmail(change.email);
  if (holder && holder.id !== change.user.id) return 'unusable';
  await services.users.update(change.user.id, change.profile, nowSeconds(services.clock));
  await requestEmailChange(services, logger, { user: { id: change.user.id, name: change.profile.name, locale: change.profile.locale }, newEmail: change.email, address: change.address });
  return 'requested';
}
