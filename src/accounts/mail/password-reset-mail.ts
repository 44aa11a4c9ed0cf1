// The mails of password reset: the link, and the notice that the password was changed, each
// as text and HTML, in the account's language (i18n translatorFor; English when it has none
// we speak). accounts/password-reset.ts hands them to the mail queue.
import { html } from '../../html.js';
import type { User } from '../../oauth/model.js';
import { translatorFor } from '../../i18n/index.js';

export interface AccountMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A word for logs and metrics: what kind of message this is. */
  kind: 'password_reset' | 'password_changed';
  userId: number;
}

/** The reset link mail. `link` carries the token: it is in this message and nowhere else. */
export function passwordResetMail(user: User, link: string, minutes: number): AccountMail {
  const { t } = translatorFor({ accountLocale: user.locale });
  const subject = t('mail.reset.subject');
  const text = [
    t('mail.hello', { name: user.name }),
    '',
    t('mail.reset.asked'),
    t('mail.reset.within', { minutes }),
    '',
    link,
    '',
    t('mail.reset.ignore'),
  ].join('\n');
  const body = html`<p>${t('mail.hello', { name: user.name })}</p>
<p>${t('mail.reset.asked')}
${t('mail.reset.within', { minutes })}</p>
<p><a href="${link}">${t('mail.reset.button')}</a></p>
<p>${t('mail.reset.copy')}<br>${link}</p>
<p>${t('mail.reset.ignore')}</p>`;
  return { to: user.email, subject, text, html: body.toString(), kind: 'password_reset', userId: user.id };
}

/** The notice after a reset: every session and app was signed out. */
export function passwordChangedMail(user: User, loginUrl: string): AccountMail {
  const { t } = translatorFor({ accountLocale: user.locale });
  const subject = t('mail.changed.subject');
  const text = [
    t('mail.hello', { name: user.name }),
    '',
    t('mail.changed.what'),
    t('mail.changed.signedOut'),
    '',
    `${t('mail.changed.ifYou')} ${t('mail.changed.signInAt', { url: loginUrl })}`,
    t('mail.changed.notYouText'),
  ].join('\n');
  const body = html`<p>${t('mail.hello', { name: user.name })}</p>
<p>${t('mail.changed.what')}
${t('mail.changed.signedOut')}</p>
<p>${t('mail.changed.ifYou')} <a href="${loginUrl}">${t('mail.changed.signInAgain')}</a>.</p>
<p>${t('mail.changed.notYouHtml')}</p>`;
  return { to: user.email, subject, text, html: body.toString(), kind: 'password_changed', userId: user.id };
}
