// The keys that sign JWT access tokens (RFC 9068): ES256 key pairs kept in the database,
// the private half sealed with AES-256-GCM under LATCHKEY_ENCRYPTION_KEY (SPEC.md).
//
// - One key signs at a time: the newest one not retired. `rotate()` adds a new key and
//   retires the old ones, which stay published at /.well-known/jwks.json until every token
//   they signed has expired (`publish_until`), then drop out of the key set.
// - Several server processes share one database, so each re-reads the keys every
//   KEY_REFRESH_SECONDS in the background (and on an unknown `kid`): a rotation made by
//   another process (the CLI) is picked up within seconds. A retired key stays published
//   KEY_CACHE_SECONDS longer than the tokens it signed, covering a process that signed with
//   it before it noticed the rotation.
// - Signing never waits for the database: a token is minted inside the transaction that
//   consumed the code or refresh token, and on SQLite (one connection) a second query there
//   would wait for that very transaction. Verifying may re-read (it runs outside any).
// - Keys are imported once per load (CryptoKey objects), so signing or verifying a token
//   costs one ECDSA operation and no database round trip.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { BoundedMap } from '../bounded-map.js';
import { nowSeconds, type Clock } from './clock.js';
import type { NewSigningKey } from './model.js';
import type { SigningKeyPort } from './ports.js';

export const SIGNING_ALG = 'ES256';
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
  publicJwk: PublicJwk;
  publicKey: CryptoKey;
  sealedPrivateJwk: string;
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
  /** The key that signs: the newest one not retired. */
  signing: LoadedKey | undefined;
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

/** A new ES256 key pair as a row to insert; the kid is the RFC 7638 JWK thumbprint. */
export async function newSigningKeyRow(encryptionKey: Buffer | null, now: number): Promise<NewSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const published: PublicJwk = { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' };
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg: SIGNING_ALG,
    publicJwk: JSON.stringify(published),
    privateJwk: sealPrivateJwk({ ...privateJwk, kid, alg: SIGNING_ALG }, kid, encryptionKey),
    createdAt: now,
  };
}

/** A key signs until retired, then is published until publish_until. */
function isPublished(key: LoadedKey, now: number): boolean {
  return key.retiredAt === null || (key.publishUntil !== null && key.publishUntil > now);
}

export interface RotationResult {
  kid: string;
  retired: string[];
  /** Until when the retired keys stay published. */
  publishUntil: number;
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
    let signing: LoadedKey | undefined;
    for (const row of rows) {
      const known = previous?.get(row.kid);
      const publicJwk = JSON.parse(row.publicJwk) as PublicJwk;
      const loaded: LoadedKey = {
        kid: row.kid,
        publicJwk,
        // A key's public half never changes: reuse what was imported before.
        publicKey: known ? known.publicKey : ((await importJWK(publicJwk, row.alg)) as CryptoKey),
        sealedPrivateJwk: row.privateJwk,
        retiredAt: row.retiredAt,
        publishUntil: row.publishUntil,
        ...(known?.privateKey && known.sealedPrivateJwk === row.privateJwk ? { privateKey: known.privateKey } : {}),
      };
      byKid.set(row.kid, loaded);
      // Rows come newest first: the first one not retired signs.
      if (signing === undefined && row.retiredAt === null) signing = loaded;
    }
    const cache = { loadedAtMs, byKid, signing };
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

  /** Makes sure a key exists to sign with (creating one on first need); returns its kid. */
  async ensureSigningKey(): Promise<string> {
    let cache = await this.current();
    if (!cache.signing) {
      // Two processes starting together may both create one: both are published and the
      // newer one signs, so nothing breaks; the next rotation retires both.
      await this.store.insert(await newSigningKeyRow(this.options.encryptionKey, this.now()));
      cache = await this.reload();
    }
    if (!cache.signing) throw new SigningKeyError('no signing key could be created');
    // Opening the private key now makes a wrong LATCHKEY_ENCRYPTION_KEY fail at start, not at the first token.
    await this.privateKeyOf(cache.signing);
    return cache.signing.kid;
  }

  private privateKeyOf(key: LoadedKey): Promise<CryptoKey> {
    if (!key.privateKey) {
      const opened = (async () => (await importJWK(openPrivateJwk(key.sealedPrivateJwk, key.kid, this.options.encryptionKey), SIGNING_ALG)) as CryptoKey)();
      // A failure is not cached: the next attempt tries again.
      opened.catch(() => {
        if (key.privateKey === opened) delete key.privateKey;
      });
      key.privateKey = opened;
    }
    return key.privateKey;
  }

  /**
   * The key that signs new tokens. Answers from memory whenever a key is loaded (see the
   * header: it runs inside the token transaction); a stale cache is refreshed in the
   * background. Only a process that never loaded keys (start-up did not prepare them) reads
   * first, creating a key on first need.
   */
  async signingKey(): Promise<{ kid: string; privateKey: CryptoKey }> {
    let cache = this.cache;
    if (cache?.signing) {
      if (!this.isFresh(cache)) this.reload().catch(() => undefined);
    } else {
      await this.ensureSigningKey();
      cache = this.cache;
    }
    const key = cache?.signing;
    if (!key) throw new SigningKeyError('no signing key');
    return { kid: key.kid, privateKey: await this.privateKeyOf(key) };
  }

  /**
   * The public key for `kid` if it is still published, else undefined. An unknown kid
   * triggers one re-read (rate limited), so a key another process just created is found.
   */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
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
    return key.publicKey;
  }

  /** True when `kid` is published now, by what is cached (no database read). */
  isPublished(kid: string): boolean {
    const key = this.cache?.byKid.get(kid);
    return key !== undefined && isPublished(key, this.now());
  }

  /** The JWK Set to publish (RFC 7517 §5): the signing key and the retired keys still needed. */
  async publishedJwks(): Promise<{ keys: PublicJwk[] }> {
    const cache = await this.current();
    const now = this.now();
    const keys: PublicJwk[] = [];
    for (const key of cache.byKid.values()) if (isPublished(key, now)) keys.push(key.publicJwk);
    return { keys };
  }

  /**
   * Adds a new key that signs from now on. Every key still signing is retired now and stays
   * published until every token it may have signed has expired: the access-token lifetime
   * plus the cache time (other processes keep signing with it until they re-read), and at
   * least until the latest JWT on record expires.
   */
  async rotate(): Promise<RotationResult> {
    const now = this.now();
    const row = await newSigningKeyRow(this.options.encryptionKey, now);
    const latest = await this.store.latestJwtExpiry();
    const publishUntil = Math.max(now + this.options.accessTokenTtl + KEY_CACHE_SECONDS, latest ?? 0);
    const retired = await this.store.rotate(row, now, publishUntil);
    await this.reload();
    return { kid: row.kid, retired, publishUntil };
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
 * set; without one, logs exactly one warning when keys are (or are about to be) stored in
 * plain — never silently. With JWT access tokens on, makes sure a key exists to sign with,
 * and opens it, so that a wrong LATCHKEY_ENCRYPTION_KEY stops start-up instead of the first
 * token request.
 */
export async function prepareSigningKeys(keys: SigningKeys, jwtAccessTokens: boolean, logger: KeyLogger): Promise<void> {
  if (keys.encrypted) {
    const sealed = await keys.sealPlainKeys();
    if (sealed > 0) logger.info({ event: 'signing_keys.sealed', count: sealed }, 'encrypted the signing keys that were stored in plain');
  } else if (jwtAccessTokens || (await keys.hasPlainKeys())) {
    logger.warn({ event: 'signing_keys.unencrypted' }, UNENCRYPTED_WARNING);
  }
  if (jwtAccessTokens) {
    const kid = await keys.ensureSigningKey();
    keys.start((err) => logger.warn({ event: 'signing_keys.refresh_failed', err }, 'could not re-read the signing keys'));
    logger.info({ event: 'signing_keys.ready', kid }, 'JWT access tokens are signed with key ' + kid);
  }
}
