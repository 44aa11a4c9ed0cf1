// src/bounded-map.ts: the one bounded map (kept rows, verified JWTs, brute-force counters).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMap } from '../src/bounded-map.js';

const keys = (map: BoundedMap<string, number>) => [...map].map(([k]) => k);

describe('BoundedMap', () => {
  test('beyond its capacity it forgets the oldest entry first', () => {
    const map = new BoundedMap<string, number>(3);
    map.set('a', 1).set('b', 2).set('c', 3);
    assert.deepEqual(keys(map), ['a', 'b', 'c']);
    map.set('d', 4);
    assert.equal(map.size, 3);
    assert.equal(map.has('a'), false);
    assert.equal(map.get('a'), undefined);
    assert.deepEqual(keys(map), ['b', 'c', 'd']);
    map.set('e', 5);
    assert.deepEqual(keys(map), ['c', 'd', 'e']);
  });

  test('setting a key again makes it the newest (and evicts nothing); reading does not', () => {
    const map = new BoundedMap<string, number>(3);
    map.set('a', 1).set('b', 2).set('c', 3);
    map.set('a', 10);
    assert.deepEqual(keys(map), ['b', 'c', 'a'], 'a set moves the key to the newest place');
    assert.equal(map.size, 3);
    assert.equal(map.get('b'), 2);
    assert.deepEqual(keys(map), ['b', 'c', 'a'], 'a get leaves the order alone');
    map.set('d', 4);
    assert.deepEqual(keys(map), ['c', 'a', 'd'], 'b, read but not set, was still the oldest');
    assert.equal(map.get('a'), 10);
  });

  test('delete, clear, and deleting while iterating', () => {
    const map = new BoundedMap<string, number>(5);
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) map.set(k, v);
    assert.equal(map.delete('b'), true);
    assert.equal(map.delete('b'), false);
    for (const [k, v] of map) if (v % 2 === 1) map.delete(k);
    assert.deepEqual(keys(map), ['d']);
    map.clear();
    assert.equal(map.size, 0);
  });

  test('capacity 0 keeps nothing; a capacity that is not a whole number ≥ 0 is refused', () => {
    const none = new BoundedMap<string, number>(0);
    none.set('a', 1);
    assert.equal(none.size, 0);
    for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => new BoundedMap(bad), RangeError);
  });
});
