// The process logger: pino, JSON lines. Anything that could carry a secret is redacted
// even if a future log call passes it by mistake.
import pino, { type Logger } from 'pino';

/** Field names whose values are secrets, at the top of a log line or one level down. */
const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'password', 'client_secret', 'code', 'refresh_token', 'access_token', 'token', 'code_verifier',
]);
/** Header names whose values are secrets, under `headers` or `req.headers`. */
const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie']);
export const CENSOR = '[redacted]';

/**
 * Only plain objects are looked into: an Error (`{ err }`) goes to pino's error serializer
 * whole — a copy would lose its message and stack — and its `code` is an error code.
 */
function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What one key's value becomes: CENSOR, a censored copy, or the value itself. */
type Rule = (key: string, value: unknown) => unknown;

/** Applies `rule` to each key; copies `obj` only when some value changes. */
function censorWith(obj: Record<string, unknown>, rule: Rule): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    const safe = rule(key, value);
    if (safe !== value) {
      copy ??= { ...obj };
      copy[key] = safe;
    }
  }
  return copy ?? obj;
}

const inHeaders: Rule = (key, value) => (SECRET_FIELDS.has(key) || SECRET_HEADERS.has(key) ? CENSOR : value);
const inRequest: Rule = (key, value) =>
  SECRET_FIELDS.has(key) ? CENSOR : key === 'headers' && isRecord(value) ? censorWith(value, inHeaders) : value;
const oneLevelDown: Rule = (key, value) => (SECRET_FIELDS.has(key) ? CENSOR : value);
const topLevel: Rule = (key, value) => {
  if (SECRET_FIELDS.has(key)) return CENSOR;
  if (!isRecord(value)) return value;
  return censorWith(value, key === 'headers' ? inHeaders : key === 'req' ? inRequest : oneLevelDown);
};

/**
 * Censors, in `fields`, every secret field name (SECRET_FIELDS) at the top level and one
 * level down (`password`, `*.password`, …), and the authorization and cookie headers under
 * `headers` and `req.headers`. Returns `fields` itself when there is nothing to censor (the
 * usual case, so a log line costs no copy), otherwise a copy: the caller's objects are never
 * changed.
 *
 * This replaces pino's `redact` option, which clones and walks each line path by path: on the
 * token endpoint, whose every response writes an audit line, that was a visible share of a
 * grant's CPU (see docs/PERFORMANCE.md, redact-in-formatter), for lines that almost never hold
 * a secret.
 */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  return censorWith(fields, topLevel);
}

/** `base`: fields of every line besides `service` (the processes of `serve --workers N` add their pid and role). */
export function createLogger(level: string, destination?: pino.DestinationStream, base: Record<string, string | number> = {}): Logger {
  const options: pino.LoggerOptions = { level, formatters: { log: redactSecrets }, base: { service: 'latchkey', ...base } };
  return destination ? pino(options, destination) : pino(options);
}
