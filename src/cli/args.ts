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

/** Read from standard input at most: a password is far shorter; the rest is not read. */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * The first line of `input` (standard input), without its line ending (LF or CR LF): how
 * `--password-stdin` takes a secret that must not appear on the command line (shell history,
 * `ps`). Reads until the first newline, the end of the stream, or MAX_LINE_BYTES.
 */
export async function readFirstLine(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const newline = buffer.indexOf(0x0a);
    chunks.push(newline === -1 ? buffer : buffer.subarray(0, newline));
    length += buffer.length;
    if (newline !== -1 || length >= MAX_LINE_BYTES) break;
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r$/, '');
}

/**
 * The password of `--password P` or `--password-stdin` (exactly one of them), for commands
 * that create an account.
 */
export async function passwordOption(values: Record<string, string | boolean | undefined>, readStdin: () => Promise<string> = readFirstLine): Promise<string> {
  const fromStdin = values['password-stdin'] === true;
  if (fromStdin && values.password !== undefined) throw new UsageError('give either --password or --password-stdin, not both');
  if (!fromStdin) {
    const v = values.password;
    if (typeof v !== 'string' || v === '') throw new UsageError('--password or --password-stdin is required');
    return v;
  }
  const password = await readStdin();
  if (password === '') throw new UsageError('--password-stdin: no password on the first line of standard input');
  return password;
}
