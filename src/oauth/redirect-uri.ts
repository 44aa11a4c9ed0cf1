// Redirect URIs: registered as absolute URIs without fragment (RFC 6749 §3.1.2), matched by
// exact string comparison (RFC 9700 §4.1.3: no pattern matching, no normalisation).

/** Why a redirect URI was refused, for pages that say it in the reader's language. */
export type RedirectUriProblem = 'empty' | 'too_long' | 'unsafe' | 'not_absolute' | 'fragment' | 'scheme' | 'userinfo' | 'no_host' | 'https';

export class RedirectUriError extends Error {
  override name = 'RedirectUriError';
  constructor(
    message: string,
    readonly problem?: RedirectUriProblem,
    /** The URI as the message shows it. */
    readonly shown?: string,
  ) {
    super(message);
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
export const MAX_URI_LENGTH = 2000;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const UNSAFE_IN_REDIRECT_URI = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/;

export interface RedirectUriPolicy {
  /** Require https except for loopback hosts (the developer portal); the admin CLI allows any scheme. */
  requireHttps: boolean;
}

/** Throws RedirectUriError with a message fit to show next to the field. */
export function validateRedirectUri(uri: string, policy: RedirectUriPolicy = { requireHttps: false }): string {
  const value = uri.trim();
  if (value === '') throw new RedirectUriError('a redirect URI must not be empty', 'empty');
  if (value.length > MAX_URI_LENGTH) throw new RedirectUriError(`a redirect URI must be at most ${MAX_URI_LENGTH} characters`, 'too_long');
  // The URL parser drops TAB/CR/LF and reads `\` as `/`, so such a URI is not what it looks
  // like, and a raw control character must never reach a Location header (issue 18).
  if (UNSAFE_IN_REDIRECT_URI.test(value)) throw new RedirectUriError(`${JSON.stringify(value)} must not contain control characters, line separators or backslashes`, 'unsafe', JSON.stringify(value));
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new RedirectUriError(`${value} is not an absolute URI`, 'not_absolute', value);
  }
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value)) throw new RedirectUriError(`${value} is not an absolute URI`, 'not_absolute', value);
  if (value.includes('#')) throw new RedirectUriError(`${value} must not contain a fragment (#…)`, 'fragment', value);
  const scheme = parsed.protocol.toLowerCase();
  if (['javascript:', 'data:', 'vbscript:', 'file:'].includes(scheme)) throw new RedirectUriError(`${value} uses a scheme that is not allowed`, 'scheme', value);
  if (parsed.username || parsed.password) throw new RedirectUriError(`${value} must not contain user information (…@)`, 'userinfo', value);
  if ((scheme === 'http:' || scheme === 'https:') && !parsed.hostname) throw new RedirectUriError(`${value} has no host`, 'no_host', value);
  if (policy.requireHttps && scheme !== 'https:') {
    const loopback = scheme === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname.toLowerCase());
    if (!loopback) throw new RedirectUriError(`${value} must use https (http is allowed only for localhost and 127.0.0.1)`, 'https', value);
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
