// Being held back: the answer to a caller the brute-force guard (accounts/backoff.ts) or a
// rate limit makes wait. 429 with Retry-After; `slow_down` (RFC 8628 §3.5) is the one RFC code
// for it. Here, in the core, so that client authentication (client-auth.ts) can answer a
// locked client_id without depending on accounts/.
import { OAuthError } from './errors.js';

/** Why a request is held back, and for how long. */
export interface Lockout {
  /** in_flight: too many attempts at once for the account or address; password_change: too many changes. */
  subject: 'account' | 'address' | 'client' | 'in_flight' | 'password_change';
  /** Whole seconds to wait (Retry-After). */
  retryAfter: number;
}

/** 429 with Retry-After as an OAuth error. */
export function tooManyRequests(retryAfter: number, message = `Too many requests. Try again in ${Math.max(1, Math.ceil(retryAfter))} seconds.`): OAuthError {
  return new OAuthError('slow_down', message, { status: 429, retryAfter: Math.max(1, Math.ceil(retryAfter)) });
}

export function lockoutError(lockout: Lockout): OAuthError {
  return tooManyRequests(lockout.retryAfter, lockoutMessage(lockout));
}

export function lockoutMessage(lockout: Lockout): string {
  const wait = lockout.retryAfter === 1 ? '1 second' : lockout.retryAfter < 120 ? `${lockout.retryAfter} seconds` : `${Math.ceil(lockout.retryAfter / 60)} minutes`;
  const what = lockout.subject === 'client' ? 'failed client authentications'
    : lockout.subject === 'in_flight' ? 'sign-in attempts at once'
      : lockout.subject === 'password_change' ? 'password changes' : 'failed sign-in attempts';
  return `Too many ${what}. Try again in ${wait}.`;
}
