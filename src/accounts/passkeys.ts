// Passkeys (WebAuthn Level 2 through @simplewebauthn/server 13): registration on the account
// page, and authentication either as the first factor ("Sign in with a passkey": a
// discoverable credential, no e-mail typed, the user handle names the account) or as the
// second factor after a password.
//
// The relying party is the issuer: RP ID its host name, origin its origin. Every ceremony's
// challenge is 256 random bits, stored (login_challenges) under the SHA-256 of the challenge
// itself, bound to its purpose and (for registration and second factors) its user, for two
// minutes, and consumed by one UPDATE … RETURNING before the response is verified: a
// challenge answers at most one ceremony. The user handle is the account's OpenID subject
// (random, no personal data). Attestation is not asked for ('none').
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import type { AuthenticationResponseJSON, AuthenticatorTransportFuture, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../oauth/crypto.js';
import { nowSeconds } from '../oauth/clock.js';
import type { User } from '../oauth/model.js';
import type { ChallengeKind, PasskeyRecord } from '../store/factors.js';
import type { AccountServices } from './services.js';

/** Seconds a ceremony's challenge lives. */
export const CHALLENGE_SECONDS = 120;
/** Passkeys one account may hold. */
export const MAX_PASSKEYS = 20;
const TRANSPORTS: ReadonlySet<string> = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

type PasskeyServices = Pick<AccountServices, 'factors' | 'clock' | 'config'>;

/** Why a passkey ceremony was refused: pages say it in their language (http/locale.ts passkeyErrorText). */
export type PasskeyErrorReason = 'unreadable' | 'expired' | 'too_many' | 'other_sign_in' | 'not_verified' | 'registered_already' | 'unknown' | 'other_account' | 'no_account';

export class PasskeyError extends Error {
  override name = 'PasskeyError';
  /** `message` stays English (logs); `reason` is what pages translate. */
  constructor(message: string, readonly reason: PasskeyErrorReason) {
    super(message);
  }
}

function relyingParty(issuer: string): { rpID: string; origin: string } {
  const url = new URL(issuer);
  return { rpID: url.hostname, origin: url.origin };
}

/**
 * A new challenge, stored: its 32 bytes for the library (which sends them base64url-encoded:
 * a string would be taken as UTF-8 text and encoded again), and that encoding, which the
 * browser's clientDataJSON carries back.
 */
async function storeChallenge(s: PasskeyServices, kind: ChallengeKind, userId: number | null): Promise<{ bytes: Uint8Array<ArrayBuffer>; text: string }> {
  const bytes = new Uint8Array(randomBytes(32));
  const text = Buffer.from(bytes).toString('base64url');
  const now = nowSeconds(s.clock);
  await s.factors.insertChallenge(sha256Hex(`webauthn:${text}`), { kind, userId, challenge: text, amr: [], next: null, createdAt: now, expiresAt: now + CHALLENGE_SECONDS });
  return { bytes, text };
}

/** The challenge a response answers (from its clientDataJSON), or null when unreadable. */
function answeredChallenge(clientDataJSON: unknown): string | null {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length > 4096) return null;
  try {
    const data: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const challenge = (data as { challenge?: unknown } | null)?.challenge;
    return typeof challenge === 'string' && /^[A-Za-z0-9_-]{43}$/.test(challenge) ? challenge : null;
  } catch {
    return null;
  }
}

/** Consumes the challenge a response answers: its stored row, once, if live and of `kind`. */
async function consumeAnswered(s: PasskeyServices, kind: ChallengeKind, clientDataJSON: unknown): Promise<{ challenge: string; userId: number | null }> {
  const challenge = answeredChallenge(clientDataJSON);
  if (challenge === null) throw new PasskeyError('the passkey response is not readable', 'unreadable');
  const row = await s.factors.consumeChallenge(sha256Hex(`webauthn:${challenge}`), kind, nowSeconds(s.clock));
  if (!row) throw new PasskeyError('this passkey request has expired or was already used; try again', 'expired');
  return { challenge, userId: row.userId };
}

/** A response as it arrived in a JSON body: only its shape is checked here; the library checks the rest. */
function asResponse<T>(value: unknown): T {
  const v = value as { id?: unknown; rawId?: unknown; type?: unknown; response?: { clientDataJSON?: unknown } } | null;
  if (!v || typeof v !== 'object' || typeof v.id !== 'string' || v.id.length > 1024 || typeof v.rawId !== 'string' || v.type !== 'public-key'
    || !v.response || typeof v.response !== 'object' || typeof v.response.clientDataJSON !== 'string') {
    throw new PasskeyError('the passkey response is not readable', 'unreadable');
  }
  return value as T;
}

/** A library error's message, short (never a stack). */
function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}

/** The transports we know, from whatever the browser (or anyone) sent. */
function transportsOf(list: unknown): AuthenticatorTransportFuture[] {
  return Array.isArray(list) ? list.filter((t): t is AuthenticatorTransportFuture => typeof t === 'string' && TRANSPORTS.has(t)) : [];
}

export async function registrationOptions(s: PasskeyServices, user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await s.factors.listPasskeys(user.id);
  if (existing.length >= MAX_PASSKEYS) throw new PasskeyError(`an account may hold at most ${MAX_PASSKEYS} passkeys`, 'too_many');
  const challenge = await storeChallenge(s, 'passkey_register', user.id);
  const { rpID } = relyingParty(s.config.issuer);
  return generateRegistrationOptions({
    rpName: 'Latchkey',
    rpID,
    userName: user.email,
    userDisplayName: user.name,
    userID: new TextEncoder().encode(user.subject),
    challenge: challenge.bytes,
    timeout: CHALLENGE_SECONDS * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: transportsOf(p.transports) })),
    // Discoverable, so that it also signs in without an e-mail; verified by PIN or biometric.
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    supportedAlgorithmIDs: [-7, -257, -8],
  });
}

/** Verifies a registration and stores the passkey. */
export async function finishRegistration(s: PasskeyServices, user: User, body: unknown, name: string): Promise<PasskeyRecord> {
  const response = asResponse<RegistrationResponseJSON>(body);
  const { challenge, userId } = await consumeAnswered(s, 'passkey_register', response.response.clientDataJSON);
  if (userId !== user.id) throw new PasskeyError('this passkey request belongs to another sign-in; try again', 'other_sign_in');
  const { rpID, origin } = relyingParty(s.config.issuer);
  let verified;
  try {
    verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true });
  } catch (err) {
    throw new PasskeyError(`the passkey could not be verified (${reason(err)})`, 'not_verified');
  }
  if (!verified.verified) throw new PasskeyError('the passkey could not be verified', 'not_verified');
  const info = verified.registrationInfo;
  if (await s.factors.findPasskey(info.credential.id)) throw new PasskeyError('this passkey is registered already', 'registered_already');
  const record = {
    credentialId: info.credential.id,
    userId: user.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: transportsOf(response.response.transports),
    backedUp: info.credentialBackedUp,
    // eslint-disable-next-line no-control-regex -- control characters have no place in a label
    name: name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim().slice(0, 100) || 'Passkey',
    createdAt: nowSeconds(s.clock),
  };
  await s.factors.insertPasskey(record);
  return { ...record, lastUsedAt: null };
}

/**
 * Options to sign in: `userId` null for "Sign in with a passkey" (any discoverable passkey of
 * this site), else the second factor of that user's pending login (only their passkeys).
 */
export async function authenticationOptions(s: PasskeyServices, userId: number | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { rpID } = relyingParty(s.config.issuer);
  const allow = userId === null ? [] : await s.factors.listPasskeys(userId);
  const challenge = await storeChallenge(s, userId === null ? 'passkey_login' : 'passkey_factor', userId);
  return generateAuthenticationOptions({
    rpID,
    challenge: challenge.bytes,
    timeout: CHALLENGE_SECONDS * 1000,
    userVerification: userId === null ? 'required' : 'preferred',
    ...(userId === null ? {} : { allowCredentials: allow.map((p) => ({ id: p.credentialId, transports: transportsOf(p.transports) })) }),
  });
}

export interface PasskeyLogin {
  userId: number;
  passkey: PasskeyRecord;
  userVerified: boolean;
  /** RFC 8176: `swk` for a synced (backed-up) passkey, else `hwk`. */
  method: 'hwk' | 'swk';
}

/**
 * Verifies an authentication. `expectedUserId` null: a passkey-only sign-in (the passkey's
 * user handle must name its owner, and the user must have been verified); else the second
 * factor of that user.
 */
export async function finishAuthentication(s: PasskeyServices, body: unknown, expectedUserId: number | null): Promise<PasskeyLogin> {
  const response = asResponse<AuthenticationResponseJSON>(body);
  const kind = expectedUserId === null ? 'passkey_login' : 'passkey_factor';
  const { challenge, userId } = await consumeAnswered(s, kind, response.response.clientDataJSON);
  if (userId !== expectedUserId) throw new PasskeyError('this passkey request belongs to another sign-in; try again', 'other_sign_in');
  const passkey = await s.factors.findPasskey(response.id);
  if (!passkey) throw new PasskeyError('this passkey is not registered here', 'unknown');
  if (expectedUserId !== null && passkey.userId !== expectedUserId) throw new PasskeyError('this passkey belongs to another account', 'other_account');
  if (expectedUserId === null) {
    const handle = response.response.userHandle;
    const owner = typeof handle === 'string' ? await s.factors.userIdBySubject(Buffer.from(handle, 'base64url').toString('utf8')) : undefined;
    if (owner !== passkey.userId) throw new PasskeyError('this passkey does not name its account', 'no_account');
  }
  const { rpID, origin } = relyingParty(s.config.issuer);
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID,
      credential: { id: passkey.credentialId, publicKey: Uint8Array.from(Buffer.from(passkey.publicKey, 'base64url')), counter: passkey.counter, transports: transportsOf(passkey.transports) },
      requireUserVerification: expectedUserId === null,
    });
  } catch (err) {
    throw new PasskeyError(`the passkey could not be verified (${reason(err)})`, 'not_verified');
  }
  if (!verified.verified) throw new PasskeyError('the passkey could not be verified', 'not_verified');
  const info = verified.authenticationInfo;
  await s.factors.passkeyUsed(passkey.credentialId, info.newCounter, nowSeconds(s.clock));
  return { userId: passkey.userId, passkey, userVerified: info.userVerified, method: info.credentialBackedUp ? 'swk' : 'hwk' };
}
