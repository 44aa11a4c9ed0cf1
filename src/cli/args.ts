// Command-line parsing for the admin commands: unknown or missing flags are usage errors (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure of the command itself (exit 1): unknown user, duplicate e-mail, database down. */
export class CommandError extends Error {
  override name = 'CommandError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Joins `--name value` into `--name=value` for a string option whose value begins with a dash
 * (a generated client id does one time in 64: base64url), which parseArgs would otherwise
 * refuse as ambiguous. Only a single dash is joined: anything that begins `--` is left to be
 * read as a flag, so a forgotten value or a mistyped flag stays a usage error (a value that
 * begins `--` can still be given as `--name=--value`, as parseArgs's error says).
 */
function joinDashValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    const takesValue = Object.hasOwn(options, name) && options[name]?.type === 'string';
    if (takesValue && next !== undefined && next.startsWith('-') && !next.startsWith('--')) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function parseFlags<O extends Options>(argv: string[], options: O): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args: joinDashValues(argv, options), options, allowPositionals: false, strict: true });
    return values as Record<string, string | boolean | undefined>;
  } catch (err) {
    // parseArgs explains over several lines (how to pass a value that begins with a dash): one line here.
    throw new UsageError((err as Error).message.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ') || 'bad arguments');
  }
}

export function requireString(values: Record<string, string | boolean | undefined>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function optionalString(values: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requireId(values: Record<string, string | boolean | undefined>, name: string): number {
  const raw = requireString(values, name);
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new UsageError(`--${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function parseBoolean(raw: string, name: string): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new UsageError(`--${name} must be true or false, got ${JSON.stringify(raw)}`);
}

export function splitList(raw: string, separator: RegExp): string[] {
  return raw.split(separator).map((s) => s.trim()).filter((s) => s !== '');
}
