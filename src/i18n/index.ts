// The one translation layer for pages and mails (SPEC.md "Accounts…": pages and mails speak the
// account's `locale`, else `ui_locales`, else `Accept-Language`; English, Dutch, German).
//
// pickLocale chooses the language; translator(locale) gives `t` (plain text: titles, labels,
// messages, mail subjects and bodies) and `th` (HTML: the catalogue's few tags kept, every
// placeholder value escaped unless it is already Html). The catalogues are en.ts (which defines
// the keys), nl.ts and de.ts; placeholders are typed from the English text, so a call that
// forgets one, or names one that does not exist, does not compile.
import { escapeHtml, Html, type HtmlValue } from '../html.js';
import { en, type Catalogue, type MessageKey } from './en.js';
import { nl } from './nl.js';
import { de } from './de.js';

export type { Catalogue, MessageKey } from './en.js';

export const LOCALES = ['en', 'nl', 'de'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

const CATALOGUES: Readonly<Record<Locale, Catalogue>> = { en, nl, de };

/** The catalogue of a language (for tests that compare them). */
export function catalogue(locale: Locale): Catalogue {
  return CATALOGUES[locale];
}

// ---- choosing the language -------------------------------------------------------------------

/** Longest header or parameter read; anything longer is noise (or an attack). */
const MAX_INPUT = 1000;
/** At most this many language ranges are considered. */
const MAX_RANGES = 40;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A language range of RFC 9110 §12.5.4 (a BCP 47 tag, or `*`), case-insensitive. */
const RANGE = /^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/i;
/** RFC 9110 §12.4.2 qvalue. */
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** The language we speak for one tag: its primary subtag (nl-BE → nl, de-CH → de), or null. */
export function supportedLocale(tag: string): Locale | null {
  if (typeof tag !== 'string' || tag.length > 100 || CONTROL.test(tag)) return null;
  const primary = tag.trim().split(/[-_]/, 1)[0]?.toLowerCase() ?? '';
  return (LOCALES as readonly string[]).includes(primary) ? (primary as Locale) : null;
}

/** The first language we speak in a space-separated preference list (OpenID `ui_locales`). */
function fromList(value: string): Locale | null {
  if (value.length > MAX_INPUT || CONTROL.test(value)) return null;
  for (const tag of value.split(' ').slice(0, MAX_RANGES)) {
    if (!RANGE.test(tag) || tag === '*') continue;
    const locale = supportedLocale(tag);
    if (locale !== null) return locale;
  }
  return null;
}

/**
 * The best language we speak in an Accept-Language header (RFC 9110 §12.5.4): ranges by
 * descending q (equal q in the order sent), q=0 meaning "not this one". A malformed range or
 * q-value is skipped; a header with control characters, or too long, is not read at all.
 */
export function fromAcceptLanguage(header: string): Locale | null {
  if (header.length > MAX_INPUT || CONTROL.test(header)) return null;
  const ranges: { locale: Locale | null; wildcard: boolean; q: number; order: number }[] = [];
  const refused = new Set<Locale>();
  const parts = header.split(',').slice(0, MAX_RANGES);
  parts.forEach((part, order) => {
    const [rawRange = '', ...params] = part.split(';');
    const range = rawRange.trim();
    if (!RANGE.test(range)) return;
    let q = 1;
    for (const param of params) {
      const [name = '', value = ''] = param.split('=').map((s) => s.trim());
      if (name.toLowerCase() !== 'q') continue;
      if (!QVALUE.test(value)) return;
      q = Number(value);
    }
    const locale = range === '*' ? null : supportedLocale(range);
    // "nl;q=0" refuses Dutch; only a plain primary tag refuses the whole language.
    if (q === 0) {
      if (locale !== null && !range.includes('-')) refused.add(locale);
      return;
    }
    ranges.push({ locale, wildcard: range === '*', q, order });
  });
  ranges.sort((a, b) => b.q - a.q || a.order - b.order);
  for (const r of ranges) {
    if (r.locale !== null && !refused.has(r.locale)) return r.locale;
    // `*` before any language we speak: the default, unless refused.
    if (r.wildcard && !refused.has(DEFAULT_LOCALE)) return DEFAULT_LOCALE;
  }
  return null;
}

export interface LocaleSources {
  /** The signed-in account's `locale` (any BCP 47 tag; one we do not speak is passed over). */
  accountLocale?: string | null | undefined;
  /** OpenID Connect's `ui_locales`: space-separated tags in order of preference. */
  uiLocales?: string | null | undefined;
  /** The Accept-Language request header (Node gives a string; an array is read in order). */
  acceptLanguage?: string | readonly string[] | null | undefined;
}

/**
 * The language of a page or mail: the account's locale, else ui_locales, else Accept-Language,
 * else English. Each source counts only when it names a language we speak. Never throws:
 * anything malformed is passed over.
 */
export function pickLocale(sources: LocaleSources): Locale {
  try {
    const { accountLocale, uiLocales, acceptLanguage } = sources;
    if (typeof accountLocale === 'string') {
      const locale = supportedLocale(accountLocale);
      if (locale !== null) return locale;
    }
    if (typeof uiLocales === 'string') {
      const locale = fromList(uiLocales);
      if (locale !== null) return locale;
    }
    const header = Array.isArray(acceptLanguage) ? acceptLanguage.filter((h) => typeof h === 'string').join(',') : acceptLanguage;
    if (typeof header === 'string') {
      const locale = fromAcceptLanguage(header);
      if (locale !== null) return locale;
    }
  } catch {
    // Unreachable by construction; a language is never worth a 500.
  }
  return DEFAULT_LOCALE;
}

// ---- translating -----------------------------------------------------------------------------

/** The placeholder names in a text: `'Hello {name}'` → `'name'`. */
type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
type ParamsOf<K extends MessageKey> = Placeholders<(typeof en)[K]>;
/** No second argument for a text without placeholders; exactly its placeholders otherwise. */
export type TextArgs<K extends MessageKey, V> = [ParamsOf<K>] extends [never] ? [] : [params: Record<ParamsOf<K>, V>];

export interface Translator {
  readonly locale: Locale;
  /** Plain text (tags stripped): for titles, labels, attributes, messages and mails. */
  t<K extends MessageKey>(key: K, ...args: TextArgs<K, string | number>): string;
  /** HTML: the catalogue's tags kept, the text and string values escaped, Html values as they are. */
  th<K extends MessageKey>(key: K, ...args: TextArgs<K, HtmlValue>): Html;
}

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;
/** The only markup a catalogue text may hold. */
const TAG = /<(\/?)(strong|em|code|hidden)>/g;

function renderValue(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(renderValue).join('');
  return escapeHtml(String(value));
}

/** Catalogue text as HTML: the allowed tags become elements, everything else is escaped. */
function textAsHtml(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(TAG)) {
    out += escapeHtml(text.slice(last, m.index));
    const [, close, tag] = m;
    out += tag === 'hidden' ? (close ? '</span>' : '<span class="visually-hidden">') : `<${close ?? ''}${tag ?? ''}>`;
    last = m.index + m[0].length;
  }
  return out + escapeHtml(text.slice(last));
}

function textOf(locale: Locale, key: MessageKey): string {
  // A key is in every catalogue (the type says so); English if a JavaScript caller passes another.
  return CATALOGUES[locale][key] ?? en[key] ?? key;
}

function format(text: string, params: Record<string, unknown> | undefined, piece: (literal: string) => string, value: (v: unknown) => string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    out += piece(text.slice(last, m.index));
    const name = m[1] ?? '';
    out += params !== undefined && Object.hasOwn(params, name) ? value(params[name]) : m[0];
    last = m.index + m[0].length;
  }
  return out + piece(text.slice(last));
}

function makeTranslator(locale: Locale): Translator {
  return {
    locale,
    t(key, ...args) {
      const params = args[0] as Record<string, unknown> | undefined;
      return format(textOf(locale, key), params, (s) => s.replace(TAG, ''), (v) => String(v));
    },
    th(key, ...args) {
      const params = args[0] as Record<string, unknown> | undefined;
      return new Html(format(textOf(locale, key), params, textAsHtml, (v) => renderValue(v as HtmlValue)));
    },
  };
}

const TRANSLATORS: Readonly<Record<Locale, Translator>> = { en: makeTranslator('en'), nl: makeTranslator('nl'), de: makeTranslator('de') };

/** The translator of a language we speak. */
export function translator(locale: Locale): Translator {
  return TRANSLATORS[locale];
}

/** English: the default, and what a view renders when its caller passes no translator. */
export const ENGLISH: Translator = TRANSLATORS.en;

/**
 * For mails: the translator for a recipient, from their account's locale (and, where a mail
 * answers a browser request, that request's ui_locales and Accept-Language).
 */
export function translatorFor(sources: LocaleSources): Translator {
  return TRANSLATORS[pickLocale(sources)];
}

/** A wait as people say it: "1 second", "45 seconds", "3 minutes" (as oauth/lockout.ts words it in English). */
export function waitText({ t }: Translator, seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return s === 1 ? t('time.oneSecond') : s < 120 ? t('time.seconds', { count: s }) : t('time.minutes', { count: Math.ceil(s / 60) });
}
