// The mail port: what the account rules call to send a message (verification, change of
// address, password reset, …). `enqueue` only inserts a row into the durable queue
// (store/mail-queue.ts), optionally inside the caller's transaction, so that sending never
// blocks a request and a message is never lost to a restart or an SMTP outage: the sender loop
// of the running servers (sender.ts) delivers it.
//
// The bodies carry link tokens, so they are sealed (AES-256-GCM) under LATCHKEY_ENCRYPTION_KEY
// when it is set, and emptied once the message is sent or given up.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../oauth/clock.js';
import { nowSeconds } from '../../oauth/clock.js';
import type { Database } from '../../store/schema.js';
import type { MailQueueStore } from '../../store/mail-queue.js';

/** What a message is for: the label of its metrics and audit lines. */
export type MailKind =
  | 'verify_email'
  | 'email_change_confirm'
  | 'email_change_notice'
  | 'password_reset'
  | 'password_changed'
  | (string & { readonly mailKind?: never });

export interface MailMessage {
  /** One recipient address. */
  to: string;
  subject: string;
  /** Plain-text body (links written out in full). */
  text: string;
  /** HTML body (escape what you put in: src/html.ts). */
  html: string;
  kind: MailKind;
  /** The account the message is about (audit lines). */
  userId?: number | null;
  /** Epoch seconds after which the message is not worth sending (its link has expired). */
  expiresAt?: number | null;
}

/** The port: queue a message; `tx`: the transaction it belongs to (it is sent only if that commits). */
export interface Mailer {
  enqueue(message: MailMessage, tx?: Kysely<Database>): Promise<number>;
}

export class MailError extends Error {
  override name = 'MailError';
}

// CR, LF and other controls in a header would let a value add headers of its own.
const HEADER_UNSAFE = /[\p{Cc}\p{Cf}]/u;

function checkMessage(message: MailMessage): void {
  if (HEADER_UNSAFE.test(message.to) || !/^[^\s@]+@[^\s@]+$/.test(message.to)) throw new MailError('the recipient is not one e-mail address');
  if (HEADER_UNSAFE.test(message.subject)) throw new MailError('the subject must be one line without control characters');
  if (!/^[a-z0-9_.-]{1,64}$/.test(message.kind)) throw new MailError('the kind must be a short lower-case word');
}

export interface MailContent {
  text: string;
  html: string;
}

const ENC = 'enc:';
const PLAIN = 'plain:';
const AAD = Buffer.from('latchkey-mail', 'utf8');

export function sealContent(content: MailContent, key: Buffer | null): string {
  const json = JSON.stringify(content);
  if (key === null) return PLAIN + json;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(AAD);
  const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  return `${ENC}${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** Opens what sealContent wrote; throws MailError when it cannot (another key, no key, damaged). */
export function openContent(sealed: string, key: Buffer | null): MailContent {
  let json: string;
  if (sealed.startsWith(PLAIN)) {
    json = sealed.slice(PLAIN.length);
  } else if (sealed.startsWith(ENC)) {
    if (key === null) throw new MailError('the message is encrypted but LATCHKEY_ENCRYPTION_KEY is not set');
    const [iv, ciphertext, tag] = sealed.slice(ENC.length).split('.');
    if (iv === undefined || ciphertext === undefined || tag === undefined) throw new MailError('the message is stored in an unknown format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(AAD);
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      json = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new MailError('the message cannot be decrypted: LATCHKEY_ENCRYPTION_KEY is not the key it was stored with');
    }
  } else {
    throw new MailError('the message has no body (already sent?)');
  }
  const parsed = JSON.parse(json) as Partial<MailContent>;
  return { text: typeof parsed.text === 'string' ? parsed.text : '', html: typeof parsed.html === 'string' ? parsed.html : '' };
}

export class MailQueue implements Mailer {
  /** Called after each enqueue: the local sender looks at the queue at once instead of at its next poll. */
  onEnqueued: (() => void) | undefined;

  constructor(
    private readonly store: MailQueueStore,
    private readonly clock: Clock,
    private readonly encryptionKey: Buffer | null,
  ) {}

  async enqueue(message: MailMessage, tx?: Kysely<Database>): Promise<number> {
    checkMessage(message);
    const id = await this.store.insert({
      kind: message.kind,
      recipient: message.to,
      subject: message.subject,
      content: sealContent({ text: message.text, html: message.html }, this.encryptionKey),
      userId: message.userId ?? null,
      expiresAt: message.expiresAt ?? null,
      now: nowSeconds(this.clock),
    }, tx);
    // Inside a transaction the row is visible only once it commits: a moment later (the
    // sender's poll catches anything this misses).
    const wake = this.onEnqueued;
    if (wake) setTimeout(wake, tx ? 50 : 0).unref();
    return id;
  }
}
