// Redirect URIs: registered as absolute URIs without fragment (RFC 6749 §3.1.2), matched by
// exact string comparison (RFC 9700 §4.1.3: no pattern matching, no normalisation).

export class RedirectUriError extends Error {
  override name = 'RedirectUriError';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_URI_LENGTH = 2000;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const UNSAFE_IN_REDIRECT_URI = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/;

export interface RedirectUriPolicy {
  /** Require https except for loopback hosts (the developer portal); the admin CLI allows any scheme. */
  requireHttps: boolean;
}

/** Throws RedirectUriError with a message fit to show next to the field. */
export function validateRedirectUri(uri: string, policy: RedirectUriPolicy = { requireHttps: false }): string {
  const value = uri.trim();
  if (value === '') throw new RedirectUriError('a redirect URI must not be empty');
  if (value.length > MAX_URI_LENGTH) throw new RedirectUriError(`a redirect URI must be at most ${MAX_URI_LENGTH} characters`);
  // The URL parser drops TAB/CR/LF and reads `\` as `/`, so such a URI is not what it looks
  // like, and a raw control character must never reach a Location header (issue 18).
  if (UNSAFE_IN_REDIRECT_URI.test(value)) throw new RedirectUriError(`${JSON.stringify(value)} must not contain control characters, line separators or backslashes`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new RedirectUriError(`${value} is not an absolute URI`);
  }
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value)) throw new RedirectUriError(`${value} is not an absolute URI`);
  if (value.includes('#')) throw new RedirectUriError(`${value} must not contain a fragment (#…)`);
  const scheme = parsed.protocol.toLowerCase();
  if (['javascript:', 'data:', 'vbscript:', 'file:'].includes(scheme)) throw new RedirectUriError(`${value} uses a scheme that is not allowed`);
  if (parsed.username || parsed.password) throw new RedirectUriError(`${value} must not contain user information (…@)`);
  if ((scheme === 'http:' || scheme === 'https:') && !parsed.hostname) throw new RedirectUriError(`${value} has no host`);
  if (policy.requireHttps && scheme !== 'https:') {
    const loopback = scheme === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname.toLowerCase());
    if (!loopback) throw new RedirectUriError(`${value} must use https (http is allowed only for localhost and 127.0.0.1)`);
  }
  return value;
}

/** Splits a list typed comma-separated (House Check) or one per line, dropping blanks and repeats. */
export function splitRedirectUris(text: string): string[] {
  return [...new Set(text.split(/[,\r\n]+/).map((s) => s.trim()).filter((s) => s !== ''))];
}

/** Exact match against the registered list (RFC 6749 §3.1.2.3, RFC 9700 §2.1). */
export function isRegisteredRedirectUri(registered: readonly string[], uri: string): boolean {
  return registered.includes(uri);
}
