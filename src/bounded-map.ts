// A Map that holds at most `capacity` entries: the one bounded map of the server (the kept rows
// of store/kept-rows.ts, the verified JWTs of oauth/signing-keys.ts, the brute-force
// counters and known-good pairs of accounts/backoff.ts). No imports, so any layer may use it.

/**
 * Entries in the order they were last set; beyond `capacity` the oldest is forgotten. `set`
 * counts as a use (an existing key moves to the newest place), `get` does not: none of the maps
 * it replaced refreshed on a read, and a read that did would cost a delete and an insert on
 * every hit of a hot path.
 */
export class BoundedMap<K, V> implements Iterable<[K, V]> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`a BoundedMap's capacity is a whole number ≥ 0, not ${capacity}`);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Sets `key` as the newest entry, then forgets the oldest if that made one too many. */
  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      // A Map iterates in insertion order: the first key is the oldest.
      this.map.delete(this.map.keys().next().value as K);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Oldest first; deleting the entry just visited is allowed (as for a Map). */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.map.entries();
  }
}
