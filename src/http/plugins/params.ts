// Request parameters for the OAuth endpoints, whatever the body format (form, JSON,
// multipart): a flat map of strings. RFC 6749 §3.1/§3.2: parameters must not repeat; values
// are trimmed (SPEC.md: Huddle's example has a leading space in its refresh token).
import { formDecode } from '../../oauth/client-auth.js';
import { OAuthError } from '../../oauth/errors.js';

export type Params = Record<string, string>;

const MAX_PARAMS = 50;
/** Characters no parameter name or value may hold (both are explained in toParams). */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
const REFUSED = /[\u0000\uFFFD]/;

/**
 * Flattens a parsed body (or query) into strings. Repeated parameters (arrays), nested
 * objects and more than MAX_PARAMS keys are invalid_request. JSON numbers and booleans are
 * accepted as their text (Hover's example client_id is a number).
 */
export function toParams(input: unknown, where = 'body', repeatable: readonly string[] = NONE): Params {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new OAuthError('invalid_request', `the request ${where} must be a set of name/value parameters`);
  const source = input as Record<string, unknown>;
  const keys = Object.keys(source);
  if (keys.length > MAX_PARAMS) throw new OAuthError('invalid_request', `too many parameters in the request ${where}`);
  const out: Params = Object.create(null) as Params;
  for (const key of keys) {
    const value = source[key];
    // The usual case first: a string, tested for both refused characters in one pass.
    if (typeof value === 'string' && !REFUSED.test(key) && !REFUSED.test(value)) {
      out[key] = value.trim();
      continue;
    }
    if (Array.isArray(value)) {
      if (!repeatable.includes(key)) throw new OAuthError('invalid_request', `parameter ${key} must not be repeated (RFC 6749 §3.2)`);
      out[key] = joinRepeated(key, value, where);
      continue;
    }
    // No parameter of ours may hold a NUL, and PostgreSQL refuses one in text (a 500 otherwise).
    if (key.includes('\u0000') || (typeof value === 'string' && value.includes('\u0000'))) throw new OAuthError('invalid_request', 'parameters must not contain NUL characters');
    // U+FFFD is what the body decoders make of bytes that are not UTF-8 (RFC 6749 Appendix B).
    if (key.includes('\uFFFD') || (typeof value === 'string' && value.includes('\uFFFD'))) throw new OAuthError('invalid_request', `the request ${where} is not valid UTF-8`);
    if (typeof value === 'number' && Number.isFinite(value)) out[key] = String(value);
    else if (typeof value === 'boolean') out[key] = String(value);
    else if (value === null) continue;
    else throw new OAuthError('invalid_request', `parameter ${key} must be a string`);
  }
  return out;
}

const NONE: readonly string[] = [];

/**
 * The values of a parameter that may repeat (RFC 8707 `resource`), joined by NUL: a character
 * no value may hold, so the core splits them apart exactly (oauth/resources.ts).
 */
function joinRepeated(key: string, values: readonly unknown[], where: string): string {
  const out: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string') throw new OAuthError('invalid_request', `parameter ${key} must be a string`);
    if (v.includes('\u0000')) throw new OAuthError('invalid_request', 'parameters must not contain NUL characters');
    if (v.includes('\uFFFD')) throw new OAuthError('invalid_request', `the request ${where} is not valid UTF-8`);
    out.push(v.trim());
  }
  return out.join('\u0000');
}

/** Merges query and body parameters, refusing a parameter that appears in both. */
export function mergeParams(a: Params, b: Params): Params {
  const out: Params = Object.assign(Object.create(null) as Params, a);
  for (const [k, v] of Object.entries(b)) {
    if (k in out) throw new OAuthError('invalid_request', `parameter ${k} must not be repeated (RFC 6749 §3.2)`);
    out[k] = v;
  }
  return out;
}

/** Parses application/x-www-form-urlencoded strictly: invalid percent-encoding or UTF-8 is an error. */
export function parseFormBody(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  if (body === '') return out;
  for (let start = 0; start <= body.length; ) {
    let end = body.indexOf('&', start);
    if (end === -1) end = body.length;
    const pair = body.slice(start, end);
    start = end + 1;
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    let key = decodeFormPart(rawKey);
    const value = decodeFormPart(rawValue);
    // A name with white space around it (Huddle writes "grant_type=password &username=…")
    // is the same parameter.
    key = key.trim();
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

/**
 * Reads a form body however broken its encoding (URLSearchParams: invalid UTF-8 becomes
 * U+FFFD, a stray `%` stays), for a request that must still be attributed to its client
 * before it is refused (POST /oauth/authorize). Never used to act on a request.
 */
export function parseFormBodyLenient(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const key = rawKey.trim();
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

/** formDecode, with invalid encoding as the OAuth error it is. */
function decodeFormPart(raw: string): string {
  try {
    return formDecode(raw);
  } catch {
    throw new OAuthError('invalid_request', 'the form body is not valid percent-encoded UTF-8');
  }
}
