// Headers every response carries: no framing (clickjacking), a CSP without inline scripts
// or styles, no MIME sniffing, no referrer leaking codes or state to other sites. And a
// Location never carries a raw control character, space or non-ASCII character: Node refuses
// CR/LF in a header (a 500) and a browser drops TAB/CR/LF before following it (issue 18).
import type { FastifyInstance } from 'fastify';
import { formActionSource } from '../../views/form-post.js';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Pages with a passkey button (login, its second step, the account page): /assets/webauthn.js
 * fetches the ceremony's options from our own origin, which `default-src 'none'` would refuse.
 */
export const PASSKEY_PAGE_POLICY = `${CONTENT_SECURITY_POLICY}; connect-src 'self'`;

/** What a CSP source may hold here: no space, `;` or `,`, which would end it, its directive or the policy. */
const PLAIN_SOURCE = /^(?:https?:\/\/(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?|[a-z][a-z0-9+.-]*:)$/;

/**
 * The default policy with `form-action` allowing our own origin and `destinations`: Chromium
 * applies `form-action` to where a form's response redirects, so a page whose form ends in a
 * redirect to a client (the logout confirmation) names the client's origin, or its scheme for
 * an app's own scheme (form-post.ts formActionSource). A route sets it as its own
 * Content-Security-Policy header; the hook below leaves a policy a route set alone. A source
 * that is not plain (a host the URL parser let through with `;` or `,`) is not written:
 * `form-action` is then left out, as in the default policy.
 */
export function formActionPolicy(destinations: readonly string[]): string {
  const sources = destinations.map(formActionSource);
  if (!sources.every((s) => PLAIN_SOURCE.test(s))) return CONTENT_SECURITY_POLICY;
  return `${CONTENT_SECURITY_POLICY}; form-action 'self'${sources.map((s) => ` ${s}`).join('')}`;
}

const UNSAFE_IN_LOCATION = /[^\x21-\x7e]/u;

/** Percent-encodes (as UTF-8) every character of a Location outside visible ASCII. */
export function percentEncodeUnsafe(location: string): string {
  return location.replace(/[^\x21-\x7e]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate: U+FFFD
    }
  });
}

export function registerSecurityHeaders(app: FastifyInstance, options: { https: boolean }): void {
  // Callback style, not async: every response runs it, and an async hook costs Fastify a
  // promise and a microtask turn each time.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('X-Frame-Options', 'DENY');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    // A page that needs another policy (form_post's self-submitting form, a logout confirmation
    // whose form leads to the client: formActionPolicy) sets its own; the rest get this one.
    if (!reply.hasHeader('content-security-policy')) reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    if (options.https) reply.header('Strict-Transport-Security', 'max-age=31536000');
    const location = reply.getHeader('location');
    if (typeof location === 'string' && UNSAFE_IN_LOCATION.test(location)) reply.header('location', percentEncodeUnsafe(location));
    done(null, payload);
  });
}
