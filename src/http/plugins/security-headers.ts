// Headers every response carries: no framing (clickjacking), a CSP without inline scripts
// or styles, no MIME sniffing, no referrer leaking codes or state to other sites. And a
// Location never carries a raw control character, space or non-ASCII character: Node refuses
// CR/LF in a header (a 500) and a browser drops TAB/CR/LF before following it (issue 18).
import type { FastifyInstance } from 'fastify';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The CSP source (CSP3 host-source or scheme-source) that lets a form on our page lead the
 * browser to `uri`: Chromium applies `form-action` to where the form's response redirects,
 * so a page whose form ends in a redirect to a client names the client's origin (or, for an
 * origin that cannot be written as a plain host-source, its scheme; for an app's own scheme,
 * that scheme). Null for what is no URL.
 */
export function formActionSource(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  const plainOrigin = /^https?:\/\/(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
  if ((url.protocol === 'http:' || url.protocol === 'https:') && plainOrigin.test(url.origin)) return url.origin;
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : null;
}

/**
 * The default policy with `form-action` allowing our own origin and `destinations` (the client
 * a form's response redirects to). A route sets it as its own Content-Security-Policy header;
 * the hook below leaves a policy a route set alone. With a destination that cannot be named
 * (formActionSource null) `form-action` is left out, as in the default policy.
 */
export function formActionPolicy(destinations: readonly string[]): string {
  const sources = destinations.map(formActionSource);
  if (sources.some((s) => s === null)) return CONTENT_SECURITY_POLICY;
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
    // A page whose form leads elsewhere sets its own policy (formActionPolicy); the rest get this one.
    if (!reply.hasHeader('content-security-policy')) reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    if (options.https) reply.header('Strict-Transport-Security', 'max-age=31536000');
    const location = reply.getHeader('location');
    if (typeof location === 'string' && UNSAFE_IN_LOCATION.test(location)) reply.header('location', percentEncodeUnsafe(location));
    done(null, payload);
  });
}
