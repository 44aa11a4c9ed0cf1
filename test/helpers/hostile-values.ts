// Hostile `next` and redirect URI values (issue 18, findings 2 and 3), shared by the security
// tests and the hostile-input and fuzz suites.

/** `next` values that a lax check lets through to another origin (or into a raw header). */
export const HOSTILE_NEXT = [
  '/\t/evil.example', '/\n/evil.example', '/\r\n/evil.example', '/\r/evil.example', '\t//evil.example', ' //evil.example',
  '\\/evil.example', '/\\/evil.example', '/\\evil.example', '\\\\evil.example', '//evil.example', '///evil.example',
  'https://evil.example', 'https:evil.example', 'HTTPS://evil.example/x', 'javascript:alert(1)', 'JaVaScRiPt:alert(1)//',
  'data:text/html,<script>alert(1)</script>', '/%09/evil.example', '/%2F/evil.example', '%2F%2Fevil.example', '/%5C/evil.example',
  '／／evil.example', '/／evil.example', '\uFF0F\uFF0Fevil.example', '/ /evil.example', '/..//evil.example', '/.//evil.example',
  '/a/../..//evil.example', '/%2e%2e//evil.example', '/\u0000/evil.example', '/\u000b/evil.example', '/\u007f/evil.example',
  '/\u0085/evil.example', '/\u009b/evil.example', '/\u2028/evil.example', '/\uD800/evil.example', '/@evil.example',
  '/\t\\\t/evil.example', '/\r\n\r\nLocation: https://evil.example', `/${'a'.repeat(5000)}`,
];

/** Characters and pieces a generated `next` or redirect URI is made of (fuzz.test.ts). */
export const NEXT_PIECES = [
  '/', '/', '//', '\\', '\t', '\n', '\r', '\r\n', '\u0000', '\u000b', '\u000c', '\u001f', '\u007f', '\u0085', '\u009f', ' ', '\u00a0',
  '\u2028', '\uFEFF', '\uFF0F', '\uFF3C', '.', '..', '%09', '%0a', '%0D', '%2F', '%2f', '%5C', '%2e', '%', '@', ':', '?', '#', '&',
  'evil.example', 'evil.example:443', 'https:', 'http:', 'javascript:', 'data:', 'account', 'oauth/authorize', '\uD800',
];

/** Redirect URIs a client might send: the registered one with control characters, backslashes and lookalikes. */
export function hostileRedirectUris(registered: string): string[] {
  return [
    `${registered}\r\n`, `${registered}\r\nLocation: https://evil.example`, `${registered}\t`, `\t${registered}`, ` ${registered}`,
    `${registered}\n`, `${registered}\u0000`, `${registered}\\`, registered.replace('https://', 'https:\\\\'), registered.replace('https://', 'https:/\\'),
    registered.replace('https://', 'https://evil.example\\@'), registered.replace('https://', '/\t/'), '/\t/evil.example', '\\\\evil.example',
    `${registered}%0D%0A`, `${registered}\u2028`, registered.replace('/', '\uFF0F'),
  ];
}

/** What must never be in a Location as sent: controls, space, non-ASCII, backslash (a browser reads `\\` as `/`). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const RAW_IN_LOCATION = /[\u0000-\u0020\u007f-\uffff\\]/;
/** What must never be in a `next` a page carries: C0 and C1 controls, DEL, backslash. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL_OR_BACKSLASH = /[\u0000-\u001f\u007f-\u009f\\]/;
