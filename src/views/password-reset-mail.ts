// The mails of password reset: the link, and the notice that the password was changed, each
// as text and HTML (English). accounts/password-reset.ts hands them to the mail queue.
import { html } from './html.js';
import type { User } from '../oauth/model.js';

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
  const subject = 'Reset your Latchkey password';
  const text = [
    `Hello ${user.name},`,
    '',
    'Someone (we hope you) asked to reset the password of your Latchkey account.',
    `To choose a new password, open this link within ${minutes} minutes. It works once.`,
    '',
    link,
    '',
    'If you did not ask for this, ignore this message: your password stays as it is.',
  ].join('\n');
  const body = html`<p>Hello ${user.name},</p>
<p>Someone (we hope you) asked to reset the password of your Latchkey account.
To choose a new password, open this link within ${minutes} minutes. It works once.</p>
<p><a href="${link}">Choose a new password</a></p>
<p>If the link does not open, copy this address into your browser:<br>${link}</p>
<p>If you did not ask for this, ignore this message: your password stays as it is.</p>`;
  return { to: user.email, subject, text, html: body.toString(), kind: 'password_reset', userId: user.id };
}

/** The notice after a reset: every session and app was signed out. */
export function passwordChangedMail(user: User, loginUrl: string): AccountMail {
  const subject = 'Your Latchkey password was changed';
  const text = [
    `Hello ${user.name},`,
    '',
    'The password of your Latchkey account was just changed with a reset link.',
    'Every browser where you were signed in and every app connected to your account was signed out.',
    '',
    `If this was you, there is nothing more to do. Sign in again at ${loginUrl}`,
    'If it was not you, reset your password at once with "Forgot password?" on the sign-in page, and check the e-mail address of your account.',
  ].join('\n');
  const body = html`<p>Hello ${user.name},</p>
<p>The password of your Latchkey account was just changed with a reset link.
Every browser where you were signed in and every app connected to your account was signed out.</p>
<p>If this was you, there is nothing more to do. <a href="${loginUrl}">Sign in again</a>.</p>
<p>If it was not you, reset your password at once with “Forgot password?” on the sign-in page, and check the e-mail address of your account.</p>`;
  return { to: user.email, subject, text, html: body.toString(), kind: 'password_changed', userId: user.id };
}
