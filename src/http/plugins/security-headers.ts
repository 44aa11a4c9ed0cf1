// Headers every response carries: no framing (clickjacking), a CSP without inline scripts
// or styles, no MIME sniffing, no referrer leaking codes or state to other sites. And a
// Location never carries a raw control character, space or non-ASCII character: Node refuses
// CR/LF in a header (a 500) and a browser drops TAB/CR/LF before following it (issue 18).
import type { FastifyInstance } from 'fastify';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

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
    // A page that needs another policy (form_post's self-submitting form) sets its own.
    if (!reply.hasHeader('content-security-policy')) reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    if (options.https) reply.header('Strict-Transport-Security', 'max-age=31536000');
    const location = reply.getHeader('location');
    if (typeof location === 'string' && UNSAFE_IN_LOCATION.test(location)) reply.header('location', percentEncodeUnsafe(location));
    done(null, payload);
  });
}
