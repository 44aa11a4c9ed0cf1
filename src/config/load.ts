// Configuration: defaults < profile < JSON config file < environment < command-line flags
// (SPEC.md "Running"). Everything is validated here so that a bad setting stops start-up
// with one clear line instead of failing later inside a request.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PROFILES, isProfileName, type ProfileName } from './profiles.js';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  issuer: string;
  profile: ProfileName;
  accessTokenTtl: number;
  refreshTokenTtl: number | null;
  authorizationCodeTtl: number;
  expiredTokenStatus: 401 | 403;
  tokenErrorStatus: 400 | 401;
  accessTokenFormat: 'opaque' | 'jwt';
  signup: boolean;
  refreshRetryWindow: number;
  scopes: string[];
  /** 32-byte key for encrypting signing keys at rest; null when LATCHKEY_ENCRYPTION_KEY is unset. */
  encryptionKey: Buffer | null;
  /**
   * LATCHKEY_ALLOW_LOOPBACK_FETCH=1: outbound fetches (a client's jwks_uri, net/fetch-json.ts)
   * may go to loopback addresses, over plain http too. For tests and development only; other
   * private addresses stay refused.
   */
  allowLoopbackFetch: boolean;
  /**
   * Config `client_id_metadata_documents` (default false): an unknown client_id that is an https
   * URL is looked up as a client ID metadata document (net/client-id-documents.ts).
   */
  clientIdMetadataDocuments: boolean;
  redisUrl: string | null;
  /**
   * Which proxies' X-Forwarded-For to believe (Fastify's trustProxy): false (default), a
   * number of hops, or a list of addresses/CIDRs. Behind a load balancer the per-address
   * limits need it, or every client looks like the balancer.
   */
  trustProxy: boolean | number | string[];
  /** Prefix of every Redis key (LATCHKEY_REDIS_PREFIX), so deployments can share one Redis. */
  redisPrefix: string;
  /** Requests a minute one address may make to the token endpoints (LATCHKEY_TOKEN_RATE_LIMIT; 0 = no limit). */
  tokenRateLimit: number;
  /** Requests a minute one address may make to /login (LATCHKEY_LOGIN_RATE_LIMIT; 0 = no limit). */
  loginRateLimit: number;
  logLevel: string;
  /** Seconds a login session lives at most, however active (LATCHKEY_SESSION_LIFETIME). */
  sessionTtl: number;
  /** Seconds a login session may go unused before it ends (LATCHKEY_SESSION_IDLE_TIMEOUT). */
  sessionIdleTimeout: number;
  /** Bearer token that opens GET /metrics from anywhere (LATCHKEY_METRICS_TOKEN); null: loopback callers only. */
  metricsToken: string | null;
  /** Seconds between runs of the expired-row cleanup (LATCHKEY_PURGE_INTERVAL; 0 turns the timer off). */
  purgeInterval: number;
  /** Seconds dead rows are kept for replay detection before the cleanup deletes them (LATCHKEY_PURGE_MARGIN, store/purge.ts). */
  purgeMargin: number;
  /**
   * Seconds a key made by `latchkey keys rotate` is published before it signs
   * (LATCHKEY_KEY_PUBLISH_LEAD): relying parties that cached the JWK Set meet it before any
   * token it signed.
   */
  keyPublishLead: number;
  /**
   * Processes serving together (LATCHKEY_WORKERS, `serve --workers N|auto`; default 1). 1 is
   * one process, no cluster at all; more runs a primary that forks this many workers (cli/cluster.ts).
   */
  workers: number;
  /** `smtp://user:pass@host:port` or `smtps://…` (SMTP_URL); null: mail goes to the outbox folder. */
  smtpUrl: string | null;
  /** The From of every mail (LATCHKEY_MAIL_FROM; default `Latchkey <no-reply@ISSUER-HOST>`). */
  mailFrom: string;
  /** Folder the .eml files go to without SMTP_URL (LATCHKEY_OUTBOX; default ./var/outbox). */
  outboxDir: string;
  /** Seconds before the first retry of a mail that could not be sent; doubled each time (LATCHKEY_MAIL_RETRY_BASE). */
  mailRetryBase: number;
  /**
   * Seconds a sender holds the messages it claimed (LATCHKEY_MAIL_LEASE, default 180): a sender
   * killed meanwhile leaves them to the others this long. Keep it above the longest SMTP send.
   */
  mailLease: number;
  /** Config key `email_verification`: `optional` (default) or `required` (no sign-in or token for an unverified account). */
  emailVerification: 'optional' | 'required';
  /**
   * Config key `registration` (SPEC.md "Client registration and resources"): who may use
   * RFC 7591 dynamic registration at POST /oauth/register — nobody (`closed`, default), anyone
   * (`open`), or whoever holds an initial access token from `latchkey registration token create` (`token`).
   */
  registration: RegistrationMode;
  /**
   * Config key `registration_unused_ttl`: seconds a dynamically registered client that has
   * never had a grant is kept before the purge deletes it (default 86400).
   */
  registrationUnusedTtl: number;
  /** Requests a minute one address may make to /oauth/register and its RFC 7592 URIs (LATCHKEY_REGISTRATION_RATE_LIMIT; 0 = no limit). */
  registrationRateLimit: number;
}

export const REGISTRATION_MODES = ['closed', 'open', 'token'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];
/** One day: long enough to finish an interrupted first authorization, short enough that abandoned registrations do not pile up. */
export const DEFAULT_REGISTRATION_UNUSED_TTL = 86_400;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An on/off environment variable: unset, empty, 0 or false is off; 1 or true is on. */
function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new ConfigError(`${name} must be 1 or 0, got ${JSON.stringify(value)}`);
}

export const DEFAULT_DATABASE_URL = 'sqlite:./var/latchkey.db';
export const DEFAULT_SCOPES = ['openid', 'profile', 'email'];
/**
 * One hour: longer than relying parties commonly keep a JWK Set without re-fetching (jose
 * 10 minutes, mod_auth_openidc an hour), and a rotation seldom needs to be quicker (a
 * compromised key: `keys rotate --lead 0`).
 */
export const DEFAULT_KEY_PUBLISH_LEAD = 3600;
/** 30 days. */
export const MAX_KEY_PUBLISH_LEAD = 30 * 86_400;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 §3.3 scope-token

/** Keys of the JSON config file (SPEC.md), mapped to Config fields. */
const FILE_KEYS = {
  access_token_ttl: 'accessTokenTtl',
  refresh_token_ttl: 'refreshTokenTtl',
  authorization_code_ttl: 'authorizationCodeTtl',
  expired_token_status: 'expiredTokenStatus',
  token_error_status: 'tokenErrorStatus',
  access_token_format: 'accessTokenFormat',
  signup: 'signup',
  refresh_retry_window: 'refreshRetryWindow',
  scopes: 'scopes',
  email_verification: 'emailVerification',
  registration: 'registration',
  registration_unused_ttl: 'registrationUnusedTtl',
  client_id_metadata_documents: 'clientIdMetadataDocuments',
} as const;

export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  /** Command-line flags of `latchkey serve`, already parsed (camelCase keys). */
  flags?: Partial<Record<'port' | 'host' | 'databaseUrl' | 'issuer' | 'profile' | 'config' | 'workers', string>>;
  /** Direct overrides (tests): applied last, after validation of the rest. */
  overrides?: Partial<Config>;
}

function positiveInt(value: unknown, what: string, opts: { min?: number; max?: number } = {}): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(`${what} must be a whole number, got ${JSON.stringify(value)}`);
  const min = opts.min ?? 1;
  if (n < min) throw new ConfigError(`${what} must be at least ${min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new ConfigError(`${what} must be at most ${opts.max}, got ${n}`);
  return n;
}

export function validateDatabaseUrl(url: string): string {
  if (url.startsWith('sqlite:')) {
    if (url.length === 'sqlite:'.length) throw new ConfigError(`DATABASE_URL ${JSON.stringify(url)} names no file (use sqlite:./var/latchkey.db or sqlite::memory:)`);
    return url;
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    try {
      const parsed = new URL(url);
      if (!parsed.hostname) throw new Error('no host');
    } catch {
      throw new ConfigError(`DATABASE_URL ${JSON.stringify(url)} is not a valid postgres:// URL`);
    }
    return url;
  }
  throw new ConfigError(`DATABASE_URL ${JSON.stringify(url)} must start with sqlite: or postgres://`);
}

function validateIssuer(issuer: string): string {
  let parsed: URL;
  try {
    parsed = new URL(issuer);
  } catch {
    throw new ConfigError(`LATCHKEY_ISSUER ${JSON.stringify(issuer)} is not an absolute URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ConfigError(`LATCHKEY_ISSUER must be an http(s) URL, got ${JSON.stringify(issuer)}`);
  if (parsed.search || parsed.hash) throw new ConfigError('LATCHKEY_ISSUER must not have a query or fragment (RFC 8414 §2)');
  return issuer.replace(/\/+$/, '');
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Applies the JSON config file's keys onto `config`, validating each. */
export function applyFileSettings(config: Config, settings: Record<string, unknown>, source: string): void {
  for (const [key, value] of Object.entries(settings)) {
    if (!Object.prototype.hasOwnProperty.call(FILE_KEYS, key)) {
      throw new ConfigError(`${source}: unknown key ${JSON.stringify(key)} (known: ${Object.keys(FILE_KEYS).join(', ')})`);
    }
    const what = `${source}: ${key}`;
    switch (key as keyof typeof FILE_KEYS) {
      case 'access_token_ttl': config.accessTokenTtl = positiveInt(value, what); break;
      case 'authorization_code_ttl': config.authorizationCodeTtl = positiveInt(value, what); break;
      case 'refresh_token_ttl': config.refreshTokenTtl = value === null ? null : positiveInt(value, what); break;
      case 'expired_token_status':
        if (value !== 401 && value !== 403) throw new ConfigError(`${what} must be 401 or 403`);
        config.expiredTokenStatus = value; break;
      case 'token_error_status':
        if (value !== 400 && value !== 401) throw new ConfigError(`${what} must be 400 or 401`);
        config.tokenErrorStatus = value; break;
      case 'access_token_format':
        if (value !== 'opaque' && value !== 'jwt') throw new ConfigError(`${what} must be "opaque" or "jwt"`);
        config.accessTokenFormat = value; break;
      case 'signup':
        if (typeof value !== 'boolean') throw new ConfigError(`${what} must be true or false`);
        config.signup = value; break;
      case 'client_id_metadata_documents':
        if (typeof value !== 'boolean') throw new ConfigError(`${what} must be true or false`);
        config.clientIdMetadataDocuments = value; break;
      case 'refresh_retry_window': config.refreshRetryWindow = positiveInt(value, what, { min: 0, max: 60 }); break;
      case 'scopes': {
        if (!Array.isArray(value) || value.length === 0 || !value.every((s) => typeof s === 'string' && SCOPE_TOKEN.test(s))) {
          throw new ConfigError(`${what} must be a non-empty list of scope names`);
        }
        config.scopes = [...new Set(value as string[])];
        break;
      }
      case 'email_verification':
        if (value !== 'optional' && value !== 'required') throw new ConfigError(`${what} must be "optional" or "required"`);
        config.emailVerification = value; break;
      case 'registration':
        if (typeof value !== 'string' || !(REGISTRATION_MODES as readonly string[]).includes(value)) {
          throw new ConfigError(`${what} must be "closed", "open" or "token", got ${typeof value === 'string' ? shownValue(value) : value === null ? 'null' : `a ${Array.isArray(value) ? 'list' : typeof value}`}`);
        }
        config.registration = value as RegistrationMode; break;
      case 'registration_unused_ttl': config.registrationUnusedTtl = positiveInt(value, what, { min: 60, max: 365 * 86_400 }); break;
    }
  }
}

function parseTrustProxy(value: string | undefined): boolean | number | string[] {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^[0-9]+$/.test(value)) return Number(value);
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0 || !list.every((s) => /^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/.test(s))) {
    throw new ConfigError(`LATCHKEY_TRUST_PROXY must be true, false, a number of hops or a comma-separated list of addresses, got ${JSON.stringify(value)}`);
  }
  return list;
}

/**
 * The most workers `serve` forks. Each is a whole Node process (tens of MB resident) with its
 * own database connections (a PostgreSQL pool of 10 each: 64 workers already need 640, six
 * times PostgreSQL's default max_connections), and SQLite has one writer whatever the count;
 * beyond the machine's cores more processes only add memory. The cap turns a typo (1000) into
 * an error instead of a fork bomb; `auto` takes the cores, up to this.
 */
export const MAX_WORKERS = 64;

/**
 * A value as an error message shows it: quoted, every control or invisible formatting
 * character escaped (JSON.stringify leaves DEL, C1 controls, line separators and bidi marks
 * as they are), cut to 40 characters, so that the message stays one readable line.
 */
export function shownValue(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** LATCHKEY_WORKERS / --workers: `auto` (the cores, at most MAX_WORKERS) or 1 to MAX_WORKERS. */
export function parseWorkers(value: string | undefined, cores: number = availableParallelism()): number {
  if (value === undefined) return 1;
  if (value === 'auto') return Math.max(1, Math.min(cores, MAX_WORKERS));
  if (/^[0-9]{1,6}$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= MAX_WORKERS) return n;
  }
  throw new ConfigError(`LATCHKEY_WORKERS (--workers) must be auto or a whole number from 1 to ${MAX_WORKERS}, got ${shownValue(value)}${/^[0-9]{1,6}$/.test(value) && Number(value) > MAX_WORKERS ? ` (each worker is a process of its own with its own database connections; auto gives one a core)` : ''}`);
}

function parseMetricsToken(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  // Sent as `Authorization: Bearer <token>`: RFC 6750 b64token characters, long enough not to guess.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(value) || value.length < 16) {
    throw new ConfigError('LATCHKEY_METRICS_TOKEN must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (e.g. openssl rand -hex 32)');
  }
  return value;
}

/** SMTP_URL: smtp:// or smtps:// with a host (credentials in the URL, percent-encoded). */
function parseSmtpUrl(value: string | undefined): string | null {
  if (value === undefined || value.trim() === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError('SMTP_URL is not a valid URL (use smtp://user:pass@host:587 or smtps://user:pass@host:465)');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') throw new ConfigError(`SMTP_URL must start with smtp:// or smtps://, got ${shownValue(parsed.protocol)}`);
  if (parsed.hostname === '') throw new ConfigError('SMTP_URL names no host');
  return value;
}

/** LATCHKEY_MAIL_FROM: an address, or `Name <address>`, on one line. */
function parseMailFrom(value: string | undefined, issuer: string): string {
  if (value === undefined || value.trim() === '') return `Latchkey <no-reply@${new URL(issuer).hostname.replace(/^\[|\]$/g, '')}>`;
  if (/[\r\n\0]/.test(value) || !/@/.test(value)) throw new ConfigError(`LATCHKEY_MAIL_FROM must be an e-mail address (or "Name <address>") on one line, got ${shownValue(value)}`);
  return value.trim();
}

function parseEncryptionKey(value: string | undefined): Buffer | null {
  if (value === undefined || value === '') return null;
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new ConfigError(`LATCHKEY_ENCRYPTION_KEY must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const profileName = flags.profile ?? env.LATCHKEY_PROFILE ?? 'standard';
  if (!isProfileName(profileName)) throw new ConfigError(`unknown profile ${JSON.stringify(profileName)} (known: ${Object.keys(PROFILES).join(', ')})`);

  const port = positiveInt(flags.port ?? env.PORT ?? 8080, 'PORT', { min: 0, max: 65535 });
  const host = flags.host ?? env.HOST ?? '127.0.0.1';
  if (host.trim() === '') throw new ConfigError('HOST must not be empty');
  const databaseUrl = validateDatabaseUrl(flags.databaseUrl ?? env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
  const displayHost = host.includes(':') ? `[${host}]` : host;
  const issuer = validateIssuer(flags.issuer ?? env.LATCHKEY_ISSUER ?? `http://${displayHost}:${port}`);

  const config: Config = {
    port,
    host,
    databaseUrl,
    issuer,
    profile: profileName,
    ...PROFILES[profileName],
    accessTokenFormat: 'opaque',
    signup: true,
    clientIdMetadataDocuments: false,
    refreshRetryWindow: 0,
    scopes: [...DEFAULT_SCOPES],
    encryptionKey: parseEncryptionKey(env.LATCHKEY_ENCRYPTION_KEY),
    allowLoopbackFetch: parseFlag(env.LATCHKEY_ALLOW_LOOPBACK_FETCH, 'LATCHKEY_ALLOW_LOOPBACK_FETCH'),
    redisUrl: env.REDIS_URL && env.REDIS_URL !== '' ? env.REDIS_URL : null,
    redisPrefix: env.LATCHKEY_REDIS_PREFIX ?? 'latchkey:',
    tokenRateLimit: positiveInt(env.LATCHKEY_TOKEN_RATE_LIMIT ?? 6000, 'LATCHKEY_TOKEN_RATE_LIMIT', { min: 0 }),
    loginRateLimit: positiveInt(env.LATCHKEY_LOGIN_RATE_LIMIT ?? 120, 'LATCHKEY_LOGIN_RATE_LIMIT', { min: 0 }),
    logLevel: env.LOG_LEVEL ?? 'info',
    trustProxy: parseTrustProxy(env.LATCHKEY_TRUST_PROXY),
    sessionTtl: positiveInt(env.LATCHKEY_SESSION_LIFETIME ?? 7 * 86_400, 'LATCHKEY_SESSION_LIFETIME', { min: 60 }),
    sessionIdleTimeout: positiveInt(env.LATCHKEY_SESSION_IDLE_TIMEOUT ?? 3 * 86_400, 'LATCHKEY_SESSION_IDLE_TIMEOUT', { min: 60 }),
    metricsToken: parseMetricsToken(env.LATCHKEY_METRICS_TOKEN),
    purgeInterval: positiveInt(env.LATCHKEY_PURGE_INTERVAL ?? 300, 'LATCHKEY_PURGE_INTERVAL', { min: 0 }),
    purgeMargin: positiveInt(env.LATCHKEY_PURGE_MARGIN ?? 3600, 'LATCHKEY_PURGE_MARGIN', { min: 0 }),
    keyPublishLead: positiveInt(env.LATCHKEY_KEY_PUBLISH_LEAD ?? DEFAULT_KEY_PUBLISH_LEAD, 'LATCHKEY_KEY_PUBLISH_LEAD', { min: 0, max: MAX_KEY_PUBLISH_LEAD }),
    // An empty LATCHKEY_WORKERS is unset (as REDIS_URL); an empty --workers is a mistake.
    workers: parseWorkers(flags.workers ?? (env.LATCHKEY_WORKERS === '' ? undefined : env.LATCHKEY_WORKERS)),
    smtpUrl: parseSmtpUrl(env.SMTP_URL),
    mailFrom: parseMailFrom(env.LATCHKEY_MAIL_FROM, issuer),
    outboxDir: env.LATCHKEY_OUTBOX && env.LATCHKEY_OUTBOX !== '' ? env.LATCHKEY_OUTBOX : './var/outbox',
    mailRetryBase: positiveInt(env.LATCHKEY_MAIL_RETRY_BASE ?? 30, 'LATCHKEY_MAIL_RETRY_BASE', { min: 1, max: 3600 }),
    mailLease: positiveInt(env.LATCHKEY_MAIL_LEASE ?? 180, 'LATCHKEY_MAIL_LEASE', { min: 5, max: 3600 }),
    emailVerification: 'optional',
    registration: 'closed',
    registrationUnusedTtl: DEFAULT_REGISTRATION_UNUSED_TTL,
    registrationRateLimit: positiveInt(env.LATCHKEY_REGISTRATION_RATE_LIMIT ?? 20, 'LATCHKEY_REGISTRATION_RATE_LIMIT', { min: 0 }),
  };

  const configPath = flags.config ?? env.LATCHKEY_CONFIG;
  if (configPath) applyFileSettings(config, readConfigFile(configPath), configPath);
  return { ...config, ...sources.overrides };
}
