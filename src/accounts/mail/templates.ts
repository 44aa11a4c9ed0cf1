// The messages Latchkey sends about an account's address, as text and HTML bodies, in the
// account's language (`locale`: the account's locale, through i18n translatorFor; English when
// it names none we speak). A change-of-address mail to the new address speaks the account's
// language too. Every value is escaped in the HTML body (src/html.ts); links are written out
// in full in the text body, so a person whose mail program shows text only can still follow them.
import { html } from '../../html.js';
import { translatorFor, type Translator } from '../../i18n/index.js';
import type { MailMessage } from './queue.js';

function frame(tr: Translator, title: string, paragraphs: ReturnType<typeof html>[]): string {
  return html`<!doctype html>
<html lang="${tr.locale}"><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1f24; max-width: 36rem; margin: 0 auto; padding: 1rem;">
${paragraphs}
</body></html>`.toString();
}

function button({ t }: Translator, link: string, label: string) {
  return html`<p><a href="${link}" style="display: inline-block; background: #1d4ed8; color: #fff; padding: 0.6rem 1rem; border-radius: 6px; text-decoration: none;">${label}</a></p>
<p style="font-size: 0.9em; color: #555;">${t('mail.copyAddress')} <br><span style="word-break: break-all;">${link}</span></p>`;
}

function hours({ t }: Translator, seconds: number): string {
  const h = Math.round(seconds / 3600);
  return h === 1 ? t('mail.hours.one') : t('mail.hours.many', { count: h });
}

/** `locale`: the recipient account's locale (any tag; one we do not speak means English). */
type Locale = { locale?: string | null | undefined };

export function verificationMail(o: { to: string; name: string; link: string; ttlSeconds: number; userId: number; expiresAt: number } & Locale): MailMessage {
  const tr = translatorFor({ accountLocale: o.locale });
  const { t, th } = tr;
  const subject = t('mail.verify.subject');
  const text = `${t('mail.hello', { name: o.name })}

${t('mail.verify.confirmByLink', { email: o.to })}

${o.link}

${t('mail.verify.validity', { hours: hours(tr, o.ttlSeconds) })}
`;
  return {
    to: o.to, subject, text, kind: 'verify_email', userId: o.userId, expiresAt: o.expiresAt,
    html: frame(tr, subject, [
      html`<p>${t('mail.hello', { name: o.name })}</p>`,
      html`<p>${th('mail.verify.confirm', { email: o.to })}</p>`,
      button(tr, o.link, t('mail.verify.button')),
      html`<p>${t('mail.verify.validity', { hours: hours(tr, o.ttlSeconds) })}</p>`,
    ]),
  };
}

export function emailChangeConfirmMail(o: { to: string; name: string; link: string; ttlSeconds: number; userId: number; expiresAt: number } & Locale): MailMessage {
  const tr = translatorFor({ accountLocale: o.locale });
  const { t, th } = tr;
  const subject = t('mail.change.subject');
  const text = `${t('mail.hello', { name: o.name })}

${t('mail.change.askedByLink', { email: o.to })}

${o.link}

${t('mail.change.until', { hours: hours(tr, o.ttlSeconds) })}
`;
  return {
    to: o.to, subject, text, kind: 'email_change_confirm', userId: o.userId, expiresAt: o.expiresAt,
    html: frame(tr, subject, [
      html`<p>${t('mail.hello', { name: o.name })}</p>`,
      html`<p>${th('mail.change.asked', { email: o.to })}</p>`,
      button(tr, o.link, t('mail.change.button')),
      html`<p>${t('mail.change.until', { hours: hours(tr, o.ttlSeconds) })}</p>`,
    ]),
  };
}

export function emailChangedNoticeMail(o: { to: string; name: string; newEmail: string; accountUrl: string; userId: number } & Locale): MailMessage {
  const tr = translatorFor({ accountLocale: o.locale });
  const { t, th } = tr;
  const subject = t('mail.notice.subject');
  const text = `${t('mail.hello', { name: o.name })}

${t('mail.notice.changed', { old: o.to, new: o.newEmail })}

${t('mail.notice.notYouText', { url: o.accountUrl })}
`;
  return {
    to: o.to, subject, text, kind: 'email_change_notice', userId: o.userId,
    html: frame(tr, subject, [
      html`<p>${t('mail.hello', { name: o.name })}</p>`,
      html`<p>${th('mail.notice.changed', { old: o.to, new: o.newEmail })}</p>`,
      html`<p>${th('mail.notice.notYouHtml', { signIn: html`<a href="${o.accountUrl}">${t('mail.notice.signIn')}</a>` })}</p>`,
    ]),
  };
}
