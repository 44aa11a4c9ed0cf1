// The messages Latchkey sends about an account's address, as text and HTML bodies. English
// for now (a later pass puts mail through the translation layer, in the recipient's language).
// Every value is escaped in the HTML body (views/html.ts); links are written out in full in the
// text body, so a person whose mail program shows text only can still follow them.
import { html } from '../../views/html.js';
import type { MailMessage } from './queue.js';

function frame(title: string, paragraphs: ReturnType<typeof html>[]): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1f24; max-width: 36rem; margin: 0 auto; padding: 1rem;">
${paragraphs}
</body></html>`.toString();
}

function button(link: string, label: string) {
  return html`<p><a href="${link}" style="display: inline-block; background: #1d4ed8; color: #fff; padding: 0.6rem 1rem; border-radius: 6px; text-decoration: none;">${label}</a></p>
<p style="font-size: 0.9em; color: #555;">Or copy this address into your browser: <br><span style="word-break: break-all;">${link}</span></p>`;
}

function hours(seconds: number): string {
  const h = Math.round(seconds / 3600);
  return h === 1 ? '1 hour' : `${h} hours`;
}

export function verificationMail(o: { to: string; name: string; link: string; ttlSeconds: number; userId: number; expiresAt: number }): MailMessage {
  const subject = 'Verify your e-mail address';
  const text = `Hello ${o.name},

Please confirm that ${o.to} is your e-mail address by opening this link:

${o.link}

The link works once and for ${hours(o.ttlSeconds)}. If you did not create an account, you can ignore this message.
`;
  return {
    to: o.to, subject, text, kind: 'verify_email', userId: o.userId, expiresAt: o.expiresAt,
    html: frame(subject, [
      html`<p>Hello ${o.name},</p>`,
      html`<p>Please confirm that <strong>${o.to}</strong> is your e-mail address.</p>`,
      button(o.link, 'Verify e-mail address'),
      html`<p>The link works once and for ${hours(o.ttlSeconds)}. If you did not create an account, you can ignore this message.</p>`,
    ]),
  };
}

export function emailChangeConfirmMail(o: { to: string; name: string; link: string; ttlSeconds: number; userId: number; expiresAt: number }): MailMessage {
  const subject = 'Confirm your new e-mail address';
  const text = `Hello ${o.name},

You asked to use ${o.to} as the e-mail address of your account. Confirm it by opening this link:

${o.link}

Until then your account keeps its current address. The link works once and for ${hours(o.ttlSeconds)}. If you did not ask for this, ignore this message: nothing changes.
`;
  return {
    to: o.to, subject, text, kind: 'email_change_confirm', userId: o.userId, expiresAt: o.expiresAt,
    html: frame(subject, [
      html`<p>Hello ${o.name},</p>`,
      html`<p>You asked to use <strong>${o.to}</strong> as the e-mail address of your account.</p>`,
      button(o.link, 'Confirm new address'),
      html`<p>Until then your account keeps its current address. The link works once and for ${hours(o.ttlSeconds)}. If you did not ask for this, ignore this message: nothing changes.</p>`,
    ]),
  };
}

export function emailChangedNoticeMail(o: { to: string; name: string; newEmail: string; accountUrl: string; userId: number }): MailMessage {
  const subject = 'Your e-mail address was changed';
  const text = `Hello ${o.name},

The e-mail address of your account was changed from ${o.to} to ${o.newEmail}. Messages about your account now go to the new address.

If you did not make this change, someone else may have your password: sign in at ${o.accountUrl} with the new address and change your password, or contact the people who run this service.
`;
  return {
    to: o.to, subject, text, kind: 'email_change_notice', userId: o.userId,
    html: frame(subject, [
      html`<p>Hello ${o.name},</p>`,
      html`<p>The e-mail address of your account was changed from <strong>${o.to}</strong> to <strong>${o.newEmail}</strong>. Messages about your account now go to the new address.</p>`,
      html`<p>If you did not make this change, someone else may have your password: <a href="${o.accountUrl}">sign in</a> with the new address and change your password, or contact the people who run this service.</p>`,
    ]),
  };
}
