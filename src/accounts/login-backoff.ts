// Where failed logins back off (SPEC.md "Security commitments": "failed logins back off").
// POST /login asks checkLoginLockout before it checks a password, and reports each outcome
// through recordFailedLogin / recordSuccessfulLogin; a lockout is answered with 429,
// Retry-After and the lockout's message on the login page. The policy (per account and per
// address, in Redis or process memory) is the brute-force guard of accounts/backoff.ts; this
// file is the login page's one seam onto it, so a change of policy touches nothing else.
import { audit } from '../audit.js';
import type { Services } from '../services.js';
import { lockoutMessage, type Lockout } from './backoff.js';

export interface LoginAttempt {
  /** The e-mail as typed (the guard normalises it). */
  email: string;
  /** The client's address as Fastify sees it. */
  ip: string;
}

export interface LoginLockout {
  /** Whole seconds to wait (Retry-After). */
  retryAfter: number;
  /** A sentence for the login page. */
  message: string;
}

function toLoginLockout(lockout: Lockout | null): LoginLockout | null {
  return lockout && { retryAfter: lockout.retryAfter, message: lockoutMessage(lockout) };
}

/** The lockout in force for this attempt, or null to let the password be checked. */
export async function checkLoginLockout(services: Services, attempt: LoginAttempt): Promise<LoginLockout | null> {
  const lockout = await services.guard.checkPassword(attempt.email, attempt.ip);
  if (lockout) audit(services.logger, 'login.locked', { address: attempt.ip, reason: lockout.subject, retry_after: lockout.retryAfter });
  return toLoginLockout(lockout);
}

/** Called after a wrong e-mail or password; returns the lockout that failure starts, if any. */
export async function recordFailedLogin(services: Services, attempt: LoginAttempt): Promise<LoginLockout | null> {
  const lockout = await services.guard.passwordFailed(attempt.email, attempt.ip);
  if (lockout) audit(services.logger, 'login.locked', { address: attempt.ip, reason: lockout.subject, retry_after: lockout.retryAfter });
  return toLoginLockout(lockout);
}

/** Called after a correct password: the account's failures are forgotten, the address known good. */
export async function recordSuccessfulLogin(services: Services, attempt: LoginAttempt): Promise<void> {
  await services.guard.passwordSucceeded(attempt.email, attempt.ip);
}
