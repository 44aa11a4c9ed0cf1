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

/**
 * Censors, in `fields`, every secret field name (SECRET_FIELDS) at the top level and one
 * level down (`password`, `*.password`, …), and the authorization and cookie headers under
 * `headers` and `req.headers`. Returns `fields` itself when there is nothing to censor (the
 * usual case, so a log line costs no copy), otherwise a copy: the caller's objects are never
 * changed.
 *
 * This replaces pino's `redact` option, which clones and walks each line path by path: on the
 * token endpoint, whose every response writes an audit line, that was 4–5% of the CPU of a
 * grant (bench profile), for lines that almost never hold a secret.
 */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    let safe = value;
    if (SECRET_FIELDS.has(key)) safe = CENSOR;
    else if (isRecord(value)) safe = censorChild(value, key === 'headers', key === 'req');
    if (safe !== value) {
      copy ??= { ...fields };
      copy[key] = safe;
    }
  }
  return copy ?? fields;
}

function censorChild(child: Record<string, unknown>, isHeaders: boolean, isRequest: boolean): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(child)) {
    const value = child[key];
    let safe = value;
    if (SECRET_FIELDS.has(key) || (isHeaders && SECRET_HEADERS.has(key))) safe = CENSOR;
    else if (isRequest && key === 'headers' && isRecord(value)) safe = censorHeaders(value);
    if (safe !== value) {
      copy ??= { ...child };
      copy[key] = safe;
    }
  }
  return copy ?? child;
}

function censorHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const name of SECRET_HEADERS) {
    if (name in headers) {
      copy ??= { ...headers };
      copy[name] = CENSOR;
    }
  }
  return copy ?? headers;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { level, formatters: { log: redactSecrets }, base: { service: 'latchkey' } };
  return destination ? pino(options, destination) : pino(options);
}
