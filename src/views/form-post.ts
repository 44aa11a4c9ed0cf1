// OAuth 2.0 Form Post Response Mode (response_mode=form_post): the authorization response as
// an HTML form that posts itself to the client's redirect URI. The page carries its own CSP
// (formPostPolicy): exactly its one inline script may run (by hash), and the form may go only
// to the redirect URI's origin. Without JavaScript the visitor presses the button.
import { createHash } from 'node:crypto';
import { withoutLoneSurrogates } from '../oauth/authorize.js';
import { html, raw, type Html } from '../html.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

/** The whole script: submit the one form. Its hash is what the CSP allows. */
const SUBMIT_SCRIPT = 'document.forms[0].submit();';
const SUBMIT_SCRIPT_HASH = `'sha256-${createHash('sha256').update(SUBMIT_SCRIPT).digest('base64')}'`;

/**
 * The CSP source for a form action: the origin of an http(s) URI, or the scheme of any other
 * (a native app's `com.example.app:/cb`). Neither can hold a space or `;`, which would break out
 * of the directive.
 */
export function formActionSource(uri: string): string {
  try {
    const url = new URL(uri);
    // A host the URL parser lets through may still hold `;` or `,` (`https://a;b.example`),
    // which in a policy would start a new directive: such an origin gets no form action at all.
    if (url.protocol === 'http:' || url.protocol === 'https:') return /^https?:\/\/[^\s;,'"]+$/.test(url.origin) ? url.origin : "'none'";
    if (/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) return url.protocol;
  } catch {
    // fall through: a registered redirect URI always parses
  }
  return "'none'";
}

/** The page's own Content-Security-Policy. */
export function formPostPolicy(redirectUri: string): string {
  return `default-src 'none'; script-src ${SUBMIT_SCRIPT_HASH}; form-action ${formActionSource(redirectUri)}; frame-ancestors 'none'; base-uri 'none'`;
}

export function formPostPage(redirectUri: string, parameters: Record<string, string | undefined>, { t, locale }: Translator = ENGLISH): Html {
  const fields = Object.entries(parameters)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${withoutLoneSurrogates(value)}">`);
  return html`<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t('formPost.title')} · Latchkey</title>
</head>
<body>
<form method="post" action="${redirectUri}">
${fields}
<noscript><p>${t('formPost.noscript')}</p><button type="submit">${t('formPost.continue')}</button></noscript>
</form>
<script>${raw(SUBMIT_SCRIPT)}</script>
</body>
</html>`;
}
