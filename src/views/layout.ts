// The page frame every HTML page shares: one stylesheet of our own, no inline script or style
// (the CSP forbids both), a skip link and landmarks for screen readers.
import { html, type Html, type HtmlValue } from './html.js';

export interface LayoutOptions {
  title: string;
  body: HtmlValue;
  /** The signed-in user's name, for the header; omitted on pages for anonymous visitors. */
  userName?: string | null;
  /** The session's CSRF token, needed for the header's sign-out form. */
  csrfToken?: string | null;
}

export function layout(options: LayoutOptions): Html {
  const signedIn = options.userName != null && options.csrfToken != null;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Latchkey</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site-header">
  <a class="brand" href="/">Latchkey</a>
  ${signedIn
    ? html`<nav aria-label="Account">
    <a href="/account">Account</a>
    <a href="/developer/clients">Developer</a>
    <a href="/orgs">Organizations</a>
    <form method="post" action="/logout" class="inline"><input type="hidden" name="csrf_token" value="${options.csrfToken}"><button type="submit" class="link">Sign out</button></form>
  </nav>`
    : html`<nav aria-label="Account"><a href="/login">Sign in</a></nav>`}
</header>
<main id="main">
${options.body}
</main>
</body>
</html>`;
}

/** An error page: status and a plain sentence; never a stack trace. */
export function errorPage(title: string, message: string): Html {
  return layout({
    title,
    body: html`<section class="card narrow"><h1>${title}</h1><p>${message}</p></section>`,
  });
}
