// Second factors (SPEC.md "Accounts: e-mail, recovery, second factors"): the authenticator
// app (TOTP, RFC 6238, through otpauth), ten single-use recovery codes, and the RFC 8176
// `amr` a login records. Passkeys (WebAuthn) have their ceremony in accounts/passkeys.ts.
//
// - The TOTP secret is 160 random bits (RFC 4226 §4 recommends 160), kept sealed exactly like
//   a JWT signing key: as a symmetric JWK (`kty: oct`) through sealPrivateJwk, AES-256-GCM
//   under LATCHKEY_ENCRYPTION_KEY with `totp:<user id>` as additional data (a sealed secret
//   copied onto another account does not open).
// - A code is accepted for the current 30-second step and one step either side (clock drift),
//   and only for a step newer than the last one accepted: a code seen over a shoulder or
//   replayed from a log fails, even within its window (RFC 6238 §5.2).
// - Recovery codes are 80 random bits each (16 base32 characters, shown in groups of four);
//   only their SHA-256 is stored. 80 bits make a fast hash enough: a stolen table is no
//   shortcut to a code. Using one is a single UPDATE … WHERE used_at IS NULL.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { JWK } from 'jose';
import { sha256Hex } from '../oauth/crypto.js';
import { nowSeconds } from '../oauth/clock.js';
import { openPrivateJwk, sealPrivateJwk } from '../oauth/signing-keys.js';
import { ACR_MFA, ACR_PASSWORD, ACR_PHISHING_RESISTANT, type AcrValue } from '../oauth/acr.js';
import type { AccountServices } from './services.js';

export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one. */
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;
/** How long a login may wait for its second factor. */
export const PENDING_LOGIN_SECONDS = 300;

type FactorServices = Pick<AccountServices, 'factors' | 'clock' | 'config'>;

function secretAad(userId: number): string {
  return `totp:${userId}`;
}

/** A new TOTP secret, base32 (what authenticator apps take). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

export function sealTotpSecret(base32: string, userId: number, key: Buffer | null): string {
  const bytes = Buffer.from(Secret.fromBase32(base32).bytes);
  return sealPrivateJwk({ kty: 'oct', k: bytes.toString('base64url') } satisfies JWK, secretAad(userId), key);
}

export function openTotpSecret(sealed: string, userId: number, key: Buffer | null): string {
  const jwk = openPrivateJwk(sealed, secretAad(userId), key);
  if (typeof jwk.k !== 'string') throw new Error('stored TOTP secret has no key');
  return new Secret({ buffer: Uint8Array.from(Buffer.from(jwk.k, 'base64url')).buffer }).base32;
}

function totp(base32: string, issuer = 'Latchkey', label = 'account'): TOTP {
  return new TOTP({ issuer, label, secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD });
}

/** The otpauth:// URI the QR code carries (Key Uri Format). */
export function totpUri(base32: string, issuer: string, label: string): string {
  return totp(base32, issuer, label).toString();
}

/** The secret in groups of four, easier to type by hand. */
export function groupSecret(base32: string): string {
  return base32.replace(/(.{4})/g, '$1 ').trim();
}

/** A code as typed: digits only (spaces dropped), exactly six of them; else null. */
export function normalizeTotpCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '');
  return /^[0-9]{6}$/.test(code) ? code : null;
}

/** The time step `code` belongs to under `base32` at `nowMs` (within the window), or null. */
export function matchingStep(base32: string, code: string, nowMs: number): number | null {
  const delta = totp(base32).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  if (delta === null) return null;
  return Math.floor(nowMs / 1000 / TOTP_PERIOD) + delta;
}

export type TotpOutcome = 'ok' | 'wrong' | 'replayed';

/**
 * Checks an authenticator code of the user's confirmed app and takes its time step.
 * `confirm`: the enrolment's first code, which confirms the app.
 */
export async function checkTotp(s: FactorServices, userId: number, input: string, confirm = false): Promise<TotpOutcome> {
  const record = await s.factors.findTotp(userId);
  if (!record || (confirm ? record.confirmedAt !== null : record.confirmedAt === null)) return 'wrong';
  const code = normalizeTotpCode(input);
  if (code === null) return 'wrong';
  const base32 = openTotpSecret(record.sealedSecret, userId, s.config.encryptionKey);
  const nowMs = s.clock.nowMs();
  const step = matchingStep(base32, code, nowMs);
  if (step === null) return 'wrong';
  const taken = await s.factors.takeTotpStep(userId, step, confirm ? { confirmSealed: record.sealedSecret, now: nowSeconds(s.clock) } : { now: nowSeconds(s.clock) });
  return taken ? 'ok' : 'replayed';
}

/** Starts an enrolment: a new secret stored unconfirmed. null when an app is already confirmed. */
export async function startTotpEnrolment(s: FactorServices, userId: number): Promise<string | null> {
  const base32 = newTotpSecret();
  const started = await s.factors.startTotp(userId, sealTotpSecret(base32, userId, s.config.encryptionKey), nowSeconds(s.clock));
  return started ? base32 : null;
}

/** The secret of an enrolment still waiting for its first code, or null. */
export async function pendingTotpSecret(s: FactorServices, userId: number): Promise<string | null> {
  const record = await s.factors.findTotp(userId);
  if (!record || record.confirmedAt !== null) return null;
  return openTotpSecret(record.sealedSecret, userId, s.config.encryptionKey);
}

// Crockford-style base32 without I, L, O, U: nothing to misread.
const CODE_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A recovery code as typed: lower case, spaces and hyphens dropped; 16 characters, else null. */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, '');
  return code.length === 16 && [...code].every((c) => CODE_ALPHABET.includes(c)) ? code : null;
}

export function hashRecoveryCode(normalized: string): string {
  return sha256Hex(`recovery:${normalized}`);
}

function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let code = '';
  for (let i = 0; i < 16; i++) code += CODE_ALPHABET[Number((bits >> BigInt(5 * (15 - i))) & 31n)];
  return code.replace(/(.{4})(?=.)/g, '$1-');
}

/** Makes the user's ten recovery codes (any earlier ones stop working) and returns them, once. */
export async function replaceRecoveryCodes(s: FactorServices, userId: number): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await s.factors.replaceRecoveryCodes(userId, codes.map((c) => hashRecoveryCode(normalizeRecoveryCode(c) ?? c)), nowSeconds(s.clock));
  return codes;
}

/** Uses one recovery code: true for exactly one caller. */
export async function useRecoveryCode(s: FactorServices, userId: number, input: string): Promise<boolean> {
  const code = normalizeRecoveryCode(input);
  if (code === null) return false;
  return s.factors.consumeRecoveryCode(userId, hashRecoveryCode(code), nowSeconds(s.clock));
}

/** Removes every factor of the user (the operator's reset): how many were removed. */
export async function resetFactors(s: Pick<AccountServices, 'factors'>, userId: number): Promise<number> {
  const totpRemoved = await s.factors.deleteTotp(userId);
  const passkeys = await s.factors.deletePasskeys(userId);
  const codes = await s.factors.deleteRecoveryCodes(userId);
  await s.factors.deleteChallengesForUser(userId);
  return totpRemoved + passkeys + codes;
}

/**
 * The strongest `acr` (oauth/acr.ts) a new sign-in of the account can reach with its factors:
 * a passkey (always registered with user verification) → phr, a confirmed authenticator app →
 * mfa, else a password only.
 */
export async function strongestAcr(s: Pick<AccountServices, 'factors'>, userId: number): Promise<AcrValue> {
  if ((await s.factors.listPasskeys(userId)).length > 0) return ACR_PHISHING_RESISTANT;
  const totp = await s.factors.findTotp(userId);
  return totp !== undefined && totp.confirmedAt !== null ? ACR_MFA : ACR_PASSWORD;
}

/** What a second factor adds to a login's RFC 8176 methods. */
export type FactorKind = 'otp' | 'recovery' | 'hwk' | 'swk';

/**
 * The `amr` of a login: the first factor's methods, then the second's, and `mfa` when more
 * than one kind of factor was used (RFC 8176 §2). A recovery code is a one-time password
 * (`otp`). A passkey verified with the user's PIN or biometric is two factors in one.
 */
export function combineAmr(first: readonly string[], second: FactorKind | null, userVerified = false): string[] {
  const out = [...first];
  if (second !== null) {
    const method = second === 'recovery' ? 'otp' : second;
    if (!out.includes(method)) out.push(method);
  }
  const factors = out.filter((m) => m !== 'mfa' && m !== 'user' && m !== 'pin');
  if ((factors.length > 1 || userVerified) && !out.includes('mfa')) out.push('mfa');
  return out;
}
