// Scopes (RFC 6749 §3.3): space-delimited, case-sensitive, order-insensitive.

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Parses a scope parameter; returns null when it is malformed. */
export function parseScope(value: string): string[] | null {
  const parts = value.split(' ').filter((s) => s !== '');
  if (!parts.every((s) => SCOPE_TOKEN.test(s))) return null;
  return [...new Set(parts)];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/** True when every scope of `requested` is in `allowed`. */
export function isSubset(requested: readonly string[], allowed: readonly string[]): boolean {
  const set = new Set(allowed);
  return requested.every((s) => set.has(s));
}

export function hasScope(scope: string, wanted: string): boolean {
  return scope.split(' ').includes(wanted);
}

/** What each well-known scope means, in words a person understands: the consent and account pages. */
export const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Sign you in with your Latchkey account (it learns an identifier for you, not your password)',
  offline_access: 'Stay connected when you are not using it',
  profile: 'Your name, your language, and your account id',
  email: 'Your e-mail address',
};

export function describeScope(scope: string): string {
  return SCOPE_DESCRIPTIONS[scope] ?? `Access named “${scope}”`;
}
