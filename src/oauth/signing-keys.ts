// The keys that sign our JWTs: RS256 (RSA 2048) and ES256 (P-256) key pairs kept in the
// database, the private half sealed with AES-256-GCM under LATCHKEY_ENCRYPTION_KEY (SPEC.md).
// Both algorithms have keys from the first start, whatever `access_token_format` is: JWT
// access tokens are ES256 (jwt.ts), ID tokens RS256 by default or ES256 per client.
//
// - Per algorithm one key signs at a time: the oldest one not retired (`retired_at` null or
//   still in the future; signingOrder). `rotate()` publishes a new key at once but lets it sign only
//   `publishLead` seconds later (publish before sign: relying parties cache the JWK Set), by
//   retiring the keys before it at that moment; they then stay published until every token
//   they signed has expired (`publish_until`), and drop out of the key set.
// - Which key signs is decided at each signature from the cached keys and the clock, so every
//   process switches at the same second without a restart, provided it has re-read the keys
//   since the rotation (each re-reads every KEY_REFRESH_SECONDS in the background, and on an
//   unknown `kid`). A retired key stays published KEY_CACHE_SECONDS longer than the tokens
//   it signed, covering a process that had not yet seen the new key.
// - Signing never waits for the database: a token is minted inside the transaction that
//   consumed the code or refresh token, and on SQLite (one connection) a second query there
//   would wait for that very transaction. Verifying may re-read (it runs outside any).
// - Keys are imported once per load (CryptoKey objects, kept across re-reads), so signing or
//   verifying a token costs one signature operation and no database round trip.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type GenerateKeyPairOptions, type JWK } from 'jose';
import { BoundedMap } from '../bounded-map.js';
import { nowSeconds, type Clock } from './clock.js';
import type { NewSigningKey, SigningKey } from './model.js';
import type { SigningKeyPort } from './ports.js';

/** The algorithms we sign with (JWA, RFC 7518 §3.1), each with its own keys. */
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export function isSigningAlg(value: unknown): value is SigningAlg {
  return value === 'RS256' || value === 'ES256';
}

/** RS256: RSA 2048 (RFC 7518 §3.3, at least 2048 bits); ES256: P-256 (the curve the alg names). */
const KEY_PARAMS: Record<SigningAlg, GenerateKeyPairOptions> = {
  RS256: { modulusLength: 2048, extractable: true },
  ES256: { extractable: true },
};

/** What `rotate()` and the functions here default to: the access-token algorithm (jwt.ts). */
const DEFAULT_ALG: SigningAlg = 'ES256';
/** Seconds a process trusts its cached key set; past that, verifying re-reads first. */
export const KEY_CACHE_SECONDS = 30;
/** How often a serving process re-reads the keys in the background. */
export const KEY_REFRESH_SECONDS = 5;
/** At most one extra database read per this many seconds for a `kid` we do not know. */
const UNKNOWN_KID_RELOAD_SECONDS = 1;

export interface SigningKeysOptions {
  /** 32-byte AES-256-GCM key (LATCHKEY_ENCRYPTION_KEY), or null to store private keys in plain. */
  encryptionKey: Buffer | null;
  clock: Clock;
  /** The longest an access token lives: how long a retired key must stay published. */
  accessTokenTtl: number;
  /** The longest an ID token lives, when longer than an access token (the ID-token code sets it). */
  idTokenTtl?: number;
  /**
   * Seconds a key made by `rotate()` is published before it signs (config.keyPublishLead,
   * LATCHKEY_KEY_PUBLISH_LEAD); 0, the default here, lets it sign at once.
   */
  publishLead?: number;
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

/** A public key as published in the JWK Set (RFC 7517 §4). */
export interface PublicJwk extends JWK {
  kid: string;
  alg: string;
  use: 'sig';
}

interface LoadedKey {
  kid: string;
  /** Undefined for a row of an algorithm we do not sign with: published, never used to sign. */
  alg: SigningAlg | undefined;
  publicJwk: PublicJwk;
  publicKey: CryptoKey;
  sealedPrivateJwk: string;
  createdAt: number;
  retiredAt: number | null;
  publishUntil: number | null;
  /** Imported on first use (only the signing key is ever decrypted). */
  privateKey?: Promise<CryptoKey>;
}

interface KeyCache {
  /** performance.now() at load: cache age is wall time, whatever the injected clock says. */
  loadedAtMs: number;
  /** Published keys by kid. */
  byKid: Map<string, LoadedKey>;
  /** Per algorithm its published keys in signing order: the first one not retired signs (activeSigner). */
  byAlg: Record<SigningAlg, LoadedKey[]>;
}

/**
 * The order in which the keys of one algorithm take turns: oldest first (a rotation retires
 * every earlier key by the time the new one takes over); for keys made within the same second,
 * the one whose turn ends first (no end set: last), then by kid.
 */
function signingOrder(x: { retiredAt: number | null; createdAt: number; kid: string }, y: typeof x): number {
  return x.createdAt - y.createdAt
    || (x.retiredAt ?? Number.POSITIVE_INFINITY) - (y.retiredAt ?? Number.POSITIVE_INFINITY)
    || (x.kid < y.kid ? -1 : x.kid > y.kid ? 1 : 0);
}

/** A key still signing at `now`, or about to (its predecessor not yet retired). */
function isActive(key: { retiredAt: number | null }, now: number): boolean {
  return key.retiredAt === null || key.retiredAt > now;
}

/** The key of `keys` (in signingOrder) that signs at `now`: the first one still active. */
function activeSigner<K extends { retiredAt: number | null }>(keys: readonly K[], now: number): K | undefined {
  for (const key of keys) if (isActive(key, now)) return key;
  return undefined;
}

const ENC = 'enc:';
const PLAIN = 'plain:';

/**
 * Seals a private JWK: AES-256-GCM with a random 96-bit IV, the kid as additional data (a
 * sealed key copied onto another row does not open), stored as
 * `enc:` base64url(iv) `.` base64url(ciphertext) `.` base64url(tag). Without a key: `plain:` JSON.
 */
export function sealPrivateJwk(jwk: JWK, kid: string, key: Buffer | null): string {
  const json = JSON.stringify(jwk);
  if (key === null) return PLAIN + json;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
  return `${ENC}${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** Opens what sealPrivateJwk wrote; throws SigningKeyError when it cannot. */
export function openPrivateJwk(sealed: string, kid: string, key: Buffer | null): JWK {
  if (sealed.startsWith(PLAIN)) return JSON.parse(sealed.slice(PLAIN.length)) as JWK;
  if (!sealed.startsWith(ENC)) throw new SigningKeyError(`signing key ${kid} is stored in an unknown format`);
  if (key === null) throw new SigningKeyError(`signing key ${kid} is encrypted but LATCHKEY_ENCRYPTION_KEY is not set`);
  const [iv, ciphertext, tag] = sealed.slice(ENC.length).split('.');
  if (iv === undefined || ciphertext === undefined || tag === undefined) throw new SigningKeyError(`signing key ${kid} is stored in an unknown format`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const json = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    return JSON.parse(json) as JWK;
  } catch {
    throw new SigningKeyError(`signing key ${kid} cannot be decrypted: LATCHKEY_ENCRYPTION_KEY is not the key it was stored with`);
  }
}

export function isSealed(privateJwk: string): boolean {
  return privateJwk.startsWith(ENC);
}

/** A new key pair of `alg` as a row to insert; the kid is the RFC 7638 JWK thumbprint. */
export async function newSigningKeyRow(encryptionKey: Buffer | null, now: number, alg: SigningAlg = DEFAULT_ALG): Promise<NewSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, KEY_PARAMS[alg]);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const published: PublicJwk = { ...publicJwk, kid, alg, use: 'sig' };
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    publicJwk: JSON.stringify(published),
    privateJwk: sealPrivateJwk({ ...privateJwk, kid, alg }, kid, encryptionKey),
    createdAt: now,
  };
}

/** A key is published from its creation; once retired, until publish_until. */
function isPublished(key: { retiredAt: number | null; publishUntil: number | null }, now: number): boolean {
  return key.retiredAt === null || (key.publishUntil !== null && key.publishUntil > now);
}

export interface RotationResult {
  alg: SigningAlg;
  kid: string;
  /** When the new key starts signing (now + the publish lead). */
  signsFrom: number;
  /** The keys of `alg` it takes over from: they sign until `signsFrom`. */
  retired: string[];
  /** Until when the retired keys stay published. */
  publishUntil: number;
}

/** A stored key as `latchkey keys list` shows it (signingSchedule). */
export interface KeyState {
  /** It signs the tokens of its algorithm now. */
  signing: boolean;
  /** When it signs (or signed) first; null while no rotation has scheduled it. */
  signsFrom: number | null;
  published: boolean;
}

/**
 * The state at `now` of each stored key, by the rules SigningKeys signs with: per algorithm
 * the first key in signingOrder not retired signs, so a key signs from the moment every key
 * before it is retired (and not before it was made).
 */
export function signingSchedule(rows: readonly SigningKey[], now: number): Map<string, KeyState> {
  const states = new Map<string, KeyState>();
  const ordered = [...rows].sort(signingOrder);
  for (const alg of SIGNING_ALGS) {
    const ofAlg = ordered.filter((r) => r.alg === alg);
    const signer = activeSigner(ofAlg, now);
    // The moment every key before this one is retired; null while one of them is not scheduled to be.
    let olderRetired: number | null = Number.NEGATIVE_INFINITY;
    for (const row of ofAlg) {
      const from = olderRetired === null ? null : Math.max(row.createdAt, olderRetired);
      const signsFrom = from !== null && (row.retiredAt === null || from < row.retiredAt) ? from : null;
      states.set(row.kid, { signing: row === signer, signsFrom, published: isPublished(row, now) });
      olderRetired = olderRetired === null || row.retiredAt === null ? null : Math.max(olderRetired, row.retiredAt);
    }
  }
  for (const row of rows) if (!states.has(row.kid)) states.set(row.kid, { signing: false, signsFrom: null, published: isPublished(row, now) });
  return states;
}

/** What verifying one exact JWT access token against a key set established (jwt.ts lookupAccessToken). */
export interface VerifiedToken {
  jti: string;
  kid: string;
  /** Epoch seconds. */
  exp: number;
}

/** Verified tokens a key set remembers; beyond this the oldest are forgotten (and verified again if seen). */
const VERIFIED_TOKENS_KEPT = 10_000;

export class SigningKeys {
  /**
   * The access tokens whose signature these keys verified, by the token's SHA-256: jwt.ts
   * lookupAccessToken fills and reads it (and says why). Held by the key set, so each server
   * has its own.
   */
  readonly verifiedTokens = new BoundedMap<string, VerifiedToken>(VERIFIED_TOKENS_KEPT);
  private cache: KeyCache | undefined;
  private loading: Promise<KeyCache> | undefined;
  private lastUnknownKidReloadMs = Number.NEGATIVE_INFINITY;
  /** The same limit for re-reads asked for by signing with a key found retired. */
  private lastRetiredReloadMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: SigningKeyPort, private readonly options: SigningKeysOptions) {}

  get encrypted(): boolean {
    return this.options.encryptionKey !== null;
  }

  private now(): number {
    return nowSeconds(this.options.clock);
  }

  private async load(): Promise<KeyCache> {
    const loadedAtMs = performance.now();
    const rows = await this.store.listPublished(this.now());
    const previous = this.cache?.byKid;
    const byKid = new Map<string, LoadedKey>();
    const byAlg: Record<SigningAlg, LoadedKey[]> = { RS256: [], ES256: [] };
    for (const row of rows) {
      const known = previous?.get(row.kid);
      const publicJwk = JSON.parse(row.publicJwk) as PublicJwk;
      const alg = isSigningAlg(row.alg) ? row.alg : undefined;
      const loaded: LoadedKey = {
        kid: row.kid,
        alg,
        publicJwk,
        // A key's public half never changes: reuse what was imported before.
        publicKey: known ? known.publicKey : ((await importJWK(publicJwk, row.alg)) as CryptoKey),
        sealedPrivateJwk: row.privateJwk,
        createdAt: row.createdAt,
        retiredAt: row.retiredAt,
        publishUntil: row.publishUntil,
        ...(known?.privateKey && known.sealedPrivateJwk === row.privateJwk ? { privateKey: known.privateKey } : {}),
      };
      byKid.set(row.kid, loaded);
      if (alg !== undefined) byAlg[alg].push(loaded);
    }
    for (const alg of SIGNING_ALGS) byAlg[alg].sort(signingOrder);
    const cache = { loadedAtMs, byKid, byAlg };
    this.cache = cache;
    return cache;
  }

  /** Re-reads the keys; concurrent callers share one read. */
  private reload(): Promise<KeyCache> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private isFresh(cache: KeyCache): boolean {
    return performance.now() - cache.loadedAtMs < KEY_CACHE_SECONDS * 1000;
  }

  private async current(): Promise<KeyCache> {
    const cache = this.cache;
    if (cache && this.isFresh(cache)) return cache;
    return this.reload();
  }

  /** Re-reads the keys now (what the background refresh does). */
  async refresh(): Promise<void> {
    await this.reload();
  }

  /** Starts the background refresh (a serving process); `stop()` ends it. */
  start(onError: (err: unknown) => void = () => undefined): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.reload().catch(onError);
    }, KEY_REFRESH_SECONDS * 1000);
    // The refresh alone never keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Makes sure a key of `alg` exists to sign with (creating one on first need) and opens its
   * private half; returns its kid.
   */
  async ensureSigningKey(alg: SigningAlg = DEFAULT_ALG): Promise<string> {
    let cache = await this.current();
    if (!activeSigner(cache.byAlg[alg], this.now())) {
      // Two processes starting together may both create one: both are published and the
      // older one signs, so nothing breaks; the next rotation retires both.
      await this.store.insert(await newSigningKeyRow(this.options.encryptionKey, this.now(), alg));
      cache = await this.reload();
    }
    const signer = activeSigner(cache.byAlg[alg], this.now());
    if (!signer) throw new SigningKeyError(`no ${alg} signing key could be created`);
    // Opening the private key now makes a wrong LATCHKEY_ENCRYPTION_KEY fail at start, not at the first token.
    await this.privateKeyOf(signer);
    return signer.kid;
  }

  /** ensureSigningKey for every algorithm (start-up): returns the kid that signs per algorithm. */
  async ensureSigningKeys(): Promise<Record<SigningAlg, string>> {
    const cache = await this.current();
    const now = this.now();
    const missing = SIGNING_ALGS.filter((alg) => !activeSigner(cache.byAlg[alg], now));
    if (missing.length > 0) {
      // Made side by side (key generation runs off the event loop); an RSA key takes longest.
      const rows = await Promise.all(missing.map((alg) => newSigningKeyRow(this.options.encryptionKey, now, alg)));
      for (const row of rows) await this.store.insert(row);
      await this.reload();
    }
    return { RS256: await this.ensureSigningKey('RS256'), ES256: await this.ensureSigningKey('ES256') };
  }

  private privateKeyOf(key: LoadedKey): Promise<CryptoKey> {
    if (!key.privateKey) {
      const alg = key.alg;
      const opened = (async () => {
        if (alg === undefined) throw new SigningKeyError(`signing key ${key.kid} is of an algorithm Latchkey does not sign with`);
        return (await importJWK(openPrivateJwk(key.sealedPrivateJwk, key.kid, this.options.encryptionKey), alg)) as CryptoKey;
      })();
      // A failure is not cached: the next attempt tries again.
      opened.catch(() => {
        if (key.privateKey === opened) delete key.privateKey;
      });
      key.privateKey = opened;
    }
    return key.privateKey;
  }

  /**
   * The key that signs new tokens of `alg` now. Answers from memory whenever a key of `alg`
   * is loaded (see the header: it runs inside the token transaction); a stale cache is
   * refreshed in the background. When every loaded key of `alg` is retired (this process has
   * not yet seen the key that took over), the newest of them signs until the re-read, which
   * the cache margin of `publish_until` covers. Only a process that never loaded keys
   * (start-up did not prepare them) reads first, creating a key on first need.
   */
  async signingKey(alg: SigningAlg = DEFAULT_ALG): Promise<{ kid: string; alg: SigningAlg; privateKey: CryptoKey }> {
    let keys = this.cache?.byAlg[alg];
    if (keys !== undefined && keys.length > 0) {
      if (!this.isFresh(this.cache!)) this.reload().catch(() => undefined);
    } else {
      await this.ensureSigningKey(alg);
      keys = this.cache?.byAlg[alg];
    }
    if (keys === undefined || keys.length === 0) throw new SigningKeyError(`no ${alg} signing key`);
    let key = activeSigner(keys, this.now());
    if (key === undefined) {
      key = keys[keys.length - 1]!;
      const wallMs = performance.now();
      if (wallMs - this.lastRetiredReloadMs >= UNKNOWN_KID_RELOAD_SECONDS * 1000) {
        this.lastRetiredReloadMs = wallMs;
        this.reload().catch(() => undefined);
      }
    }
    return { kid: key.kid, alg, privateKey: await this.privateKeyOf(key) };
  }

  /**
   * The public key for `kid` if it is still published (and of `alg`, when given), else
   * undefined. An unknown kid triggers one re-read (rate limited), so a key another process
   * just created is found.
   */
  async verificationKey(kid: string | undefined, alg?: SigningAlg): Promise<CryptoKey | undefined> {
    if (kid === undefined || kid.length > 200) return undefined;
    let cache = await this.current();
    let key = cache.byKid.get(kid);
    const wallMs = performance.now();
    if (!key && wallMs - this.lastUnknownKidReloadMs >= UNKNOWN_KID_RELOAD_SECONDS * 1000) {
      this.lastUnknownKidReloadMs = wallMs;
      cache = await this.reload();
      key = cache.byKid.get(kid);
    }
    if (!key || !isPublished(key, this.now())) return undefined;
    if (alg !== undefined && key.alg !== alg) return undefined;
    return key.publicKey;
  }

  /** True when `kid` is published now, by what is cached (no database read). */
  isPublished(kid: string): boolean {
    const key = this.cache?.byKid.get(kid);
    return key !== undefined && isPublished(key, this.now());
  }

  /** The JWK Set to publish (RFC 7517 §5): every algorithm's keys that sign, will sign, or signed tokens still valid. */
  async publishedJwks(): Promise<{ keys: PublicJwk[] }> {
    const cache = await this.current();
    const now = this.now();
    const keys: PublicJwk[] = [];
    for (const key of cache.byKid.values()) if (isPublished(key, now)) keys.push(key.publicJwk);
    return { keys };
  }

  /**
   * Adds a new key of `alg`, published at once, that signs `lead` seconds from now (publish
   * before sign). Every key of `alg` not retired by then is retired at that moment and stays
   * published until every token it may have signed has expired: the longest token lifetime
   * plus the cache time (other processes keep signing with it until they re-read), and at
   * least until the latest JWT on record expires.
   */
  async rotate(alg: SigningAlg = DEFAULT_ALG, lead: number = this.options.publishLead ?? 0): Promise<RotationResult> {
    const [result] = await this.rotateAll([alg], lead);
    return result!;
  }

  /** rotate() for several algorithms at once: one instant, so their new keys take over at the same second. */
  async rotateAll(algs: readonly SigningAlg[], lead: number = this.options.publishLead ?? 0): Promise<RotationResult[]> {
    const now = this.now();
    const rows = await Promise.all(algs.map((alg) => newSigningKeyRow(this.options.encryptionKey, now, alg)));
    const signsFrom = now + lead;
    const latest = await this.store.latestJwtExpiry();
    const ttl = Math.max(this.options.accessTokenTtl, this.options.idTokenTtl ?? 0);
    const publishUntil = Math.max(signsFrom + ttl + KEY_CACHE_SECONDS, latest ?? 0);
    const results: RotationResult[] = [];
    for (const [i, alg] of algs.entries()) {
      const row = rows[i]!;
      const retired = await this.store.rotate(row, signsFrom, publishUntil);
      results.push({ alg, kid: row.kid, signsFrom, retired, publishUntil });
    }
    await this.reload();
    return results;
  }

  /**
   * With an encryption key set, seals every private key still stored in plain (keys made
   * before LATCHKEY_ENCRYPTION_KEY was set). Returns how many it sealed.
   */
  async sealPlainKeys(): Promise<number> {
    const key = this.options.encryptionKey;
    if (key === null) return 0;
    let sealed = 0;
    for (const row of await this.store.listAll()) {
      if (!row.privateJwk.startsWith(PLAIN)) continue;
      await this.store.updatePrivateJwk(row.kid, sealPrivateJwk(openPrivateJwk(row.privateJwk, row.kid, null), row.kid, key));
      sealed += 1;
    }
    if (sealed > 0) await this.reload();
    return sealed;
  }

  /** True when any stored private key is not encrypted. */
  async hasPlainKeys(): Promise<boolean> {
    return (await this.store.listAll()).some((row) => !isSealed(row.privateJwk));
  }
}

/** The slice of a logger start-up needs (pino's shape). */
export interface KeyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const UNENCRYPTED_WARNING = 'signing keys are stored unencrypted; set LATCHKEY_ENCRYPTION_KEY';

/**
 * Start-up (SPEC.md): with an encryption key, seals any key stored in plain before it was
 * set; without one, logs exactly one warning that keys are stored in plain — never silently.
 * Then makes sure both algorithms have a key to sign with, whatever `access_token_format` is
 * (ID tokens need them), and opens them, so that a wrong LATCHKEY_ENCRYPTION_KEY stops
 * start-up instead of the first token request; and starts the background re-read.
 */
export async function prepareSigningKeys(keys: SigningKeys, logger: KeyLogger): Promise<void> {
  if (keys.encrypted) {
    const sealed = await keys.sealPlainKeys();
    if (sealed > 0) logger.info({ event: 'signing_keys.sealed', count: sealed }, 'encrypted the signing keys that were stored in plain');
  } else {
    logger.warn({ event: 'signing_keys.unencrypted' }, UNENCRYPTED_WARNING);
  }
  const kids = await keys.ensureSigningKeys();
  keys.start((err) => logger.warn({ event: 'signing_keys.refresh_failed', err }, 'could not re-read the signing keys'));
  logger.info({ event: 'signing_keys.ready', kids }, `signing with key ${kids.RS256} (RS256) and ${kids.ES256} (ES256)`);
}
