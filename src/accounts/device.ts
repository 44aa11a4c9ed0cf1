// A person-readable name for the device a session signed in from, from its User-Agent:
// "Firefox on Windows", "Safari on iPhone", "curl". The account page shows it beside each
// session so a person can tell their own devices from someone else's. A small table, not a
// full parser: the browser families and systems people use, checked in the order that matters
// (Edge and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux", iPadOS may
// say "Macintosh").

const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\bVivaldi\//, 'Vivaldi'],
  [/(Chrome|CriOS|Chromium)\//, 'Chrome'], // HeadlessChrome too
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\bcurl\//, 'curl'],
  [/\b(python-requests|Python-urllib|aiohttp)\//, 'Python'],
  [/\bnode-fetch\b|\bundici\b|^node\b/i, 'Node.js'],
];

const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/** The browser family and the system a User-Agent names (product names: never translated); each undefined when unknown. */
export function deviceParts(userAgent: string | null | undefined): { browser?: string; system?: string } {
  if (!userAgent) return {};
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  return { ...(browser ? { browser } : {}), ...(system ? { system } : {}) };
}

/**
 * "Browser on System", one of them when the other is unknown, or "Unknown device", in English
 * (logs, tests); pages word it in their language (views/account-sessions.ts).
 */
export function describeDevice(userAgent: string | null | undefined): string {
  const { browser, system } = deviceParts(userAgent);
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? 'Unknown device';
}
