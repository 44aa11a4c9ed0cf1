// The page frame every HTML page shares: one stylesheet of our own, no inline script or style
// (the CSP forbids both), a skip link and landmarks for screen readers, and `<html lang>` in the
// page's language (i18n/index.ts).
import { html, type Html, type HtmlValue } from '../html.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export interface LayoutOptions {
  title: string;
  body: HtmlValue;
  /** The signed-in user's name, for the header; omitted on pages for anonymous visitors. */
  userName?: string | null;
  /** The session's CSRF token, needed for the header's sign-out form. */
  csrfToken?: string | null;
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

export function layout(options: LayoutOptions): Html {
  const signedIn = options.userName != null && options.csrfToken != null;
  const { t, locale } = options.t ?? ENGLISH;
  return html`<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Latchkey</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<a class="skip" href="#main">${t('layout.skip')}</a>
<header class="site-header">
  <a class="brand" href="/">Latchkey</a>
  ${signedIn
    ? html`<nav aria-label="${t('layout.navLabel')}">
    <a href="/account">${t('layout.account')}</a>
    <a href="/developer/clients">${t('layout.developer')}</a>
    <a href="/orgs">${t('layout.organizations')}</a>
    <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf_token" value="${options.csrfToken}"><button type="submit" class="link">${t('layout.signOut')}</button></form>
  </nav>`
    : html`<nav aria-label="${t('layout.navLabel')}"><a href="/login">${t('layout.signIn')}</a></nav>`}
</header>
<main id="main">
${options.body}
</main>
</body>
</html>`;
}

/** An error page: status and a plain sentence; never a stack trace. */
export function errorPage(title: string, message: string, t?: Translator): Html {
  return layout({
    title,
    t,
    body: html`<section class="card narrow"><h1>${title}</h1><p>${message}</p></section>`,
  });
}
