// Creating and changing user accounts: the rules shared by the CLI, sign-up and the account page.
import { nowSeconds } from '../oauth/clock.js';
import type { AccountServices } from './services.js';
import type { User } from '../oauth/model.js';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, type HashShare } from './passwords.js';

/** Why a value was refused, for pages that say it in the reader's language (http/locale.ts). */
export type AccountErrorReason =
  | 'email_control' | 'email_invalid' | 'name_empty' | 'name_too_long' | 'locale_invalid' | 'password_space' | 'password_too_short' | 'password_too_long';

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    message: string,
    readonly field: 'email' | 'name' | 'password' | 'locale' | 'current_password' = 'email',
    /** Set by the validators below; the message stays English (CLI, logs). */
    readonly reason?: AccountErrorReason,
  ) {
    super(message);
  }
}

// Deliberately loose (RFC 5321 allows much); one @, something each side, no spaces.
const EMAIL = /^[^\s@]+@[^\s@]+$/;
// BCP 47 language tag, simplified: "nl", "en-GB", "zh-Hant-TW".
const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

// Control and format characters (CR, LF, DEL, C1 controls, bidi overrides) have no place in an
// address that is shown on pages and handed to apps.
const CONTROL = /[\p{Cc}\p{Cf}]/u;

export function validateEmail(email: string): string {
  const value = email.trim();
  if (CONTROL.test(value)) throw new AccountError('the e-mail address must not contain control characters or line breaks', 'email', 'email_control');
  if (!EMAIL.test(value) || value.length > 254) throw new AccountError(`${JSON.stringify(value)} is not an e-mail address`, 'email', 'email_invalid');
  return value;
}

export function validateName(name: string): string {
  const value = name.trim();
  if (value === '') throw new AccountError('the name must not be empty', 'name', 'name_empty');
  if (value.length > 200) throw new AccountError('the name must be at most 200 characters', 'name', 'name_too_long');
  return value;
}

export function validateLocale(locale: string): string {
  const value = locale.trim();
  if (!LOCALE.test(value)) throw new AccountError(`${JSON.stringify(value)} is not a language tag such as en or nl`, 'locale', 'locale_invalid');
  return value;
}

export function validatePassword(password: string): string {
  // The token endpoint ignores white space around every parameter value (SPEC.md; Huddle's
  // example sends "password=aValidPassword "), so a password that began or ended with a
  // space could never be used there: refuse it when it is chosen.
  if (password !== password.trim()) throw new AccountError('the password must not begin or end with a space', 'password', 'password_space');
  if (password.length < MIN_PASSWORD_LENGTH) throw new AccountError(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`, 'password', 'password_too_short');
  if (password.length > MAX_PASSWORD_LENGTH) throw new AccountError(`the password must be at most ${MAX_PASSWORD_LENGTH} characters`, 'password', 'password_too_long');
  return password;
}

/** `share`: whose turn at the password hashing this is (sign-up: the caller's address). */
/** `emailVerified`: the operator vouches for the address (CLI `user create --verified`). */
export async function createUser(services: AccountServices, input: { email: string; name: string; password: string; locale?: string; share?: HashShare; emailVerified?: boolean }): Promise<User> {
  const email = validateEmail(input.email);
  const name = validateName(input.name);
  const locale = validateLocale(input.locale ?? 'en');
  const password = validatePassword(input.password);
  const passwordHash = await hashPassword(password, input.share);
  return services.users.insert({ email, name, locale, passwordHash, now: nowSeconds(services.clock), emailVerified: input.emailVerified === true });
}
