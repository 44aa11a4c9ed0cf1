// How a message leaves: over SMTP (SMTP_URL, nodemailer's SMTP transport), or — without
// SMTP_URL, so that `npm start` alone works — as an .eml file in the outbox folder (nodemailer's
// stream transport builds the same MIME message), with its links logged for the person at
// the console. Over SMTP nothing of the body is logged (the links are secrets).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';

export interface OutgoingMail {
  id: number;
  kind: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Delivery {
  /** The outbox file written (outbox mode). */
  file?: string;
  /** The links of the text body (outbox mode only: logged so that a developer can follow them). */
  links?: string[];
}

/** A permanent refusal (a 5xx answer to the recipient or the message): retrying will not help. */
export class PermanentMailError extends Error {
  override name = 'PermanentMailError';
}

export interface MailTransport {
  readonly mode: 'smtp' | 'outbox';
  send(mail: OutgoingMail): Promise<Delivery>;
  close(): void;
}

/** The URLs in a text body. */
export function linksIn(text: string): string[] {
  return text.match(/https?:\/\/[^\s<>"]+/g) ?? [];
}

// Nodemailer's waits, shorter than the sender's lease (sender.ts), so that a hung server fails
// the attempt before another sender may take the message over.
const SMTP_TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 };

function smtpTransport(url: string): MailTransport {
  const transporter = nodemailer.createTransport({ url, ...SMTP_TIMEOUTS });
  return {
    mode: 'smtp',
    async send(mail) {
      try {
        await transporter.sendMail({
          from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html,
          headers: { 'X-Latchkey-Kind': mail.kind },
        });
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        // 5xx to RCPT TO or DATA: the server will not take this message (RFC 5321 §4.2.1); an
        // authentication failure (535) is the operator's to fix, so it is retried.
        if (code !== undefined && code >= 500 && code !== 535 && code !== 530) throw new PermanentMailError(`SMTP ${code}`);
        throw err;
      }
      return {};
    },
    close() {
      transporter.close();
    },
  };
}

function outboxTransport(dir: string): MailTransport {
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const folder = resolve(dir);
  return {
    mode: 'outbox',
    async send(mail) {
      const info = await transporter.sendMail({
        from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html,
        headers: { 'X-Latchkey-Kind': mail.kind },
      });
      // The files hold live links: readable by the server's user only.
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      const file = join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.id}-${mail.kind}.eml`);
      // buffer: true makes `message` a Buffer (a stream otherwise).
      if (!Buffer.isBuffer(info.message)) throw new Error('the stream transport gave no buffer');
      writeFileSync(file, info.message, { mode: 0o600 });
      return { file, links: linksIn(mail.text) };
    },
    close() {
      transporter.close();
    },
  };
}

export function createMailTransport(options: { smtpUrl: string | null; outboxDir: string }): MailTransport {
  return options.smtpUrl ? smtpTransport(options.smtpUrl) : outboxTransport(options.outboxDir);
}
