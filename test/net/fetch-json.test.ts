// The outbound JSON fetcher (net/fetch-json.ts) and the jwks_uri cache (net/jwks-cache.ts) on
// their own: which URLs and addresses are refused before any connection (with the loopback
// flag off and on), names that resolve to loopback, the time and size limits against
// hostile loopback servers, no redirects; the cache's TTL, its one refetch per 30 s,
// its memory of failures and its coalescing of concurrent fetches (a moved clock).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { checkFetchUrl, fetchJson, FetchJsonError, isAllowedAddress, type FetchJsonFailure } from '../../src/net/fetch-json.js';
import { JwksCache, toJwks } from '../../src/net/jwks-cache.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { startLoopbackServer, type LoopbackServer } from '../helpers/assertion-clients.js';

async function refused(promise: Promise<unknown>, reason: FetchJsonFailure): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof FetchJsonError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

describe('fetchJson: what it refuses before connecting', () => {
  test('addresses that are not public', () => {
    for (const address of [
      '127.0.0.1', '127.5.6.7', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.254',
      '0.0.0.0', '224.0.0.1', '255.255.255.255', '198.18.0.1', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
      '64:ff9b::7f00:1', 'ff02::1', 'not-an-ip',
    ]) assert.equal(isAllowedAddress(address, false), false, address);
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111']) assert.equal(isAllowedAddress(address, false), true, address);
    // The flag opens loopback only.
    assert.equal(isAllowedAddress('127.0.0.1', true), true);
    assert.equal(isAllowedAddress('::1', true), true);
    for (const address of ['10.1.2.3', '169.254.169.254', 'fd00::1', '::ffff:127.0.0.1']) assert.equal(isAllowedAddress(address, true), false, address);
  });

  test('URLs: https only (http to loopback with the flag), no credentials, no private literals', async () => {
    for (const [url, reason] of [
      ['http://127.0.0.1:1/x', 'url'], ['http://example.com/jwks', 'url'], ['ftp://example.com/jwks', 'url'], ['file:///etc/passwd', 'url'],
      ['https://user:pw@example.com/jwks', 'url'], ['not a url', 'url'], [`https://example.com/${'a'.repeat(3000)}`, 'url'],
      ['https://127.0.0.1/jwks', 'address'], ['https://[::1]/jwks', 'address'], ['https://10.0.0.1/jwks', 'address'],
      ['https://169.254.169.254/latest/meta-data/', 'address'], ['https://[::ffff:127.0.0.1]/x', 'address'], ['https://0x7f000001/x', 'address'],
      ['https://2130706433/x', 'address'], ['https://[fe80::1]/x', 'address'],
    ] as const) {
      await refused(fetchJson(url), reason);
    }
    // With the flag: http to a loopback literal is fine, other private addresses are not.
    assert.equal(checkFetchUrl('http://127.0.0.1:8080/x', true).hostname, '127.0.0.1');
    assert.throws(() => checkFetchUrl('http://10.0.0.1/x', true), FetchJsonError);
    assert.throws(() => checkFetchUrl('http://example.com/x', true), FetchJsonError);
  });

  test('a name that resolves to loopback is refused (the lookup is checked, not just the URL)', async () => {
    await refused(fetchJson('https://localhost:9/jwks'), 'address');
  });
});

describe('fetchJson against hostile loopback servers (loopback allowed)', () => {
  const servers: LoopbackServer[] = [];
  const serve = async (handle: Parameters<typeof startLoopbackServer>[0]) => {
    const s = await startLoopbackServer(handle);
    servers.push(s);
    return s.url;
  };
  const opts = { allowLoopback: true, timeoutMs: 1000 };
  after(async () => {
    for (const s of servers) await s.close();
  });

  test('a good document', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json; charset=utf-8' });
      res.end('{"keys":[]}');
    });
    assert.deepEqual(await fetchJson(url, opts), { keys: [] });
  });

  test('never answers / drips bytes: timeout, the whole exchange bounded', async () => {
    const silent = await serve(() => { /* never answers */ });
    let started = Date.now();
    await refused(fetchJson(silent, opts), 'timeout');
    assert.ok(Date.now() - started < 5000, 'bounded by the timeout, not by the server');
    const drip = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => { if (!res.destroyed) res.write(' '); }, 50);
      res.on('close', () => clearInterval(t));
    });
    started = Date.now();
    await refused(fetchJson(drip, opts), 'timeout');
    assert.ok(Date.now() - started < 5000, 'bounded by the timeout, not by the server');
  });

  test('too big: counted as it streams, whatever Content-Length says', async () => {
    const huge = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`"${'x'.repeat(10 * 1024 * 1024)}"`);
    });
    await refused(fetchJson(huge, opts), 'size');
    const lying = await serve((req, res) => {
      // Claims 10 bytes, then a chunked-looking flood on the raw socket.
      req.socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      for (let i = 0; i < 20; i += 1) req.socket.write(`10000\r\n${'x'.repeat(0x10000)}\r\n`);
      res.destroy();
    });
    await refused(fetchJson(lying, opts), 'size');
    assert.deepEqual(await fetchJson(await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"a":1}');
    }), { ...opts, maxBytes: 7 }), { a: 1 });
  });

  test('redirects are not followed; non-200, non-JSON types and bodies refused', async () => {
    await refused(fetchJson(await serve((_req, res) => { res.writeHead(302, { location: 'http://127.0.0.1:1/' }); res.end(); }), opts), 'redirect');
    await refused(fetchJson(await serve((_req, res) => { res.writeHead(307, { location: '/x' }); res.end(); }), opts), 'redirect');
    await refused(fetchJson(await serve((_req, res) => { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{}'); }), opts), 'status');
    await refused(fetchJson(await serve((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('{}'); }), opts), 'content_type');
    await refused(fetchJson(await serve((_req, res) => { res.writeHead(200); res.end('{}'); }), opts), 'content_type');
    await refused(fetchJson(await serve((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"keys":'); }), opts), 'json');
    await refused(fetchJson(await serve((req) => { req.socket.destroy(); }), opts), 'network');
  });
});

describe('JwksCache', () => {
  // Real public keys: a fetched set is held to the registered jwks' rules (keys node:crypto can import).
  const publicKeys = Array.from({ length: 12 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }));
  const set = (n: number) => ({ keys: [{ ...publicKeys[n]!, kid: `k${n}` }] });
  let clock: MovableClock;
  let calls: number;
  let answer: () => Promise<unknown>;
  let cache: JwksCache;

  before(() => {
    clock = new MovableClock();
  });
  const fresh = () => {
    calls = 0;
    cache = new JwksCache({ clock, fetch: () => { calls += 1; return answer(); } });
  };

  test('kept for 5 minutes; a refresh at most once per 30 s', async () => {
    fresh();
    let n = 0;
    answer = () => Promise.resolve(set(++n));
    const first = await cache.get('https://a.example/jwks', { refresh: false });
    assert.equal(await cache.get('https://a.example/jwks', { refresh: false }), first);
    assert.equal(await cache.get('https://a.example/jwks', { refresh: true }), first, 'too soon to refetch');
    assert.equal(calls, 1);
    clock.advance(31);
    const second = await cache.get('https://a.example/jwks', { refresh: true });
    assert.notEqual(second, first);
    assert.equal(calls, 2);
    clock.advance(299);
    assert.equal(await cache.get('https://a.example/jwks', { refresh: false }), second);
    clock.advance(2);
    await cache.get('https://a.example/jwks', { refresh: false });
    assert.equal(calls, 3, 'stale after 5 minutes');
  });

  test('concurrent gets of one URI share one fetch; a failure is remembered for 30 s', async () => {
    fresh();
    let release: (v: unknown) => void = () => {};
    answer = () => new Promise((resolve) => { release = resolve; });
    const all = Promise.all(Array.from({ length: 20 }, () => cache.get('https://b.example/jwks', { refresh: false })));
    release(set(1));
    const sets = await all;
    assert.equal(calls, 1);
    assert.ok(sets.every((s) => s === sets[0]));

    answer = () => Promise.reject(new Error('boom'));
    await assert.rejects(cache.get('https://c.example/jwks', { refresh: false }), /boom/);
    await assert.rejects(cache.get('https://c.example/jwks', { refresh: false }), /boom/);
    await assert.rejects(cache.get('https://c.example/jwks', { refresh: true }), /boom/);
    assert.equal(calls, 2, 'the failed URI is not fetched again within 30 s');
    clock.advance(31);
    answer = () => Promise.resolve(set(9));
    assert.deepEqual(await cache.get('https://c.example/jwks', { refresh: false }), set(9));
  });

  test('only public JWK Sets', () => {
    assert.throws(() => toJwks({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }), /kty must be RSA, EC or OKP/);
    assert.throws(() => toJwks({ keys: [{ kty: 'EC', d: 'private' }] }), /private/);
    assert.throws(() => toJwks({ keys: 'no' }), /keys/);
    assert.throws(() => toJwks({ keys: Array.from({ length: 11 }, (_, i) => ({ ...set(i).keys[0] })) }), /at most 10 keys/);
    // As for a registered jwks: a point off its curve, an RSA private member, one kid twice, a short RSA key.
    assert.throws(() => toJwks({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] }), /not a valid EC public key/);
    assert.throws(() => toJwks({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', p: 'AQAB' }] }), /private key material/);
    assert.throws(() => toJwks({ keys: [set(1).keys[0], { ...set(2).keys[0], kid: 'k1' }] }), /share the kid/);
    assert.throws(() => toJwks({ keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }) }] }), /2048 bits/);
    assert.ok(Object.isFrozen(toJwks(set(3)).keys[0]), 'a kept set is frozen');
    assert.throws(() => toJwks(null), /keys/);
  });
});
