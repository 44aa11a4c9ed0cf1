// Clients' JWK Sets fetched from their jwks_uri (private_key_jwt, RFC 7523 §2.2), for
// oauth/client-assertion.ts (it implements ClientJwksPort). Fetched with net/fetch-json.ts
// (https, public addresses only, 3 s, 64 KiB), kept per URI:
// - for `ttl` seconds (5 min) a kept set is used as it is;
// - a refresh (the assertion's kid is not in the set: the client may have rotated) fetches
//   again only when the last fetch of that URI began at least `minRefetch` seconds (30 s)
//   ago, so that assertions with made-up kids cannot make the server hammer a URL;
// - a fetch that failed is not retried for `minRefetch` seconds either: until then the
//   failure is the answer (a slow or hostile URI costs one fetch per 30 s, not one a request);
// - concurrent requests for one URI share one fetch.
// At most `maxEntries` URIs are kept (the oldest forgotten first).
import { BoundedMap } from '../bounded-map.js';
import type { Clock } from '../oauth/clock.js';
import type { JsonWebKeySet } from '../oauth/model.js';
import type { ClientJwksPort } from '../oauth/ports.js';
import { OAuthError } from '../oauth/errors.js';
import { publicJwkSet } from '../oauth/registration.js';

export const JWKS_TTL_SECONDS = 300;
export const JWKS_MIN_REFETCH_SECONDS = 30;

export interface JwksCacheOptions {
  clock: Clock;
  /** GETs a URL's JSON (fetch-json.ts fetchJson, with the operator's options). */
  fetch: (uri: string) => Promise<unknown>;
  ttl?: number;
  minRefetch?: number;
  maxEntries?: number;
}

interface Entry {
  keys?: JsonWebKeySet;
  /** ms, when the kept keys were fetched. */
  fetchedAt: number;
  /** ms, when the last fetch began. */
  attemptedAt: number;
  /** The last fetch's failure, when it failed. */
  error?: Error;
  pending?: Promise<JsonWebKeySet>;
}

export class JwksError extends Error {
  override name = 'JwksError';
}

/**
 * A fetched JWK Set, held to the rules a registered `jwks` is held to (oauth/registration.ts
 * publicJwkSet: public RSA, EC or OKP keys that node:crypto can import, no private members,
 * distinct kids, at most 100), then frozen: the cached set is shared by every request.
 */
export function toJwks(value: unknown): JsonWebKeySet {
  let keys: JsonWebKeySet['keys'];
  try {
    keys = publicJwkSet(value).keys;
  } catch (err) {
    throw new JwksError(`the document at jwks_uri is not an acceptable JWK Set: ${err instanceof OAuthError ? err.description : String(err)}`);
  }
  return Object.freeze({ keys: Object.freeze(keys.map((k) => Object.freeze({ ...k }))) });
}

export class JwksCache implements ClientJwksPort {
  private readonly entries: BoundedMap<string, Entry>;
  private readonly ttlMs: number;
  private readonly minRefetchMs: number;
  /** Fetches begun (tests count them). */
  fetches = 0;

  constructor(private readonly options: JwksCacheOptions) {
    this.entries = new BoundedMap(options.maxEntries ?? 1000);
    this.ttlMs = (options.ttl ?? JWKS_TTL_SECONDS) * 1000;
    this.minRefetchMs = (options.minRefetch ?? JWKS_MIN_REFETCH_SECONDS) * 1000;
  }

  get(uri: string, { refresh }: { refresh: boolean }): Promise<JsonWebKeySet> {
    const now = this.options.clock.nowMs();
    const entry = this.entries.get(uri);
    if (entry?.pending) return entry.pending;
    if (entry) {
      const fresh = entry.keys !== undefined && now - entry.fetchedAt < this.ttlMs;
      if (fresh && !refresh) return Promise.resolve(entry.keys!);
      const tooSoon = now - entry.attemptedAt < this.minRefetchMs && now >= entry.attemptedAt;
      if (tooSoon) {
        if (entry.error === undefined && entry.keys !== undefined) return Promise.resolve(entry.keys);
        return Promise.reject(entry.error ?? new JwksError('the JWK Set could not be fetched'));
      }
    }
    return this.fetch(uri, entry, now);
  }

  private fetch(uri: string, previous: Entry | undefined, now: number): Promise<JsonWebKeySet> {
    const entry: Entry = { ...(previous?.keys ? { keys: previous.keys } : {}), fetchedAt: previous?.fetchedAt ?? 0, attemptedAt: now };
    this.fetches += 1;
    const pending = (async () => {
      try {
        const keys = toJwks(await this.options.fetch(uri));
        entry.keys = keys;
        entry.fetchedAt = this.options.clock.nowMs();
        delete entry.error;
        return keys;
      } catch (err) {
        entry.error = err instanceof Error ? err : new JwksError(String(err));
        throw entry.error;
      } finally {
        delete entry.pending;
      }
    })();
    entry.pending = pending;
    this.entries.set(uri, entry);
    return pending;
  }
}
