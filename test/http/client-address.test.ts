// addressKey (the rate-limit and back-off key), isLoopback and metricsAccess (who reads
// /metrics): pure functions of the socket's address, tried with IPv4, IPv6, IPv4-mapped,
// zone ids, garbage and spoof attempts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, isLoopback, metricsAccess } from '../../src/http/client-address.js';

describe('addressKey', () => {
  test('IPv4 as is; IPv4-mapped IPv6 as IPv4', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::FFFF:cb00:7107'), '203.0.113.7');
    assert.equal(addressKey('0:0:0:0:0:ffff:203.0.113.7'), '203.0.113.7');
  });

  test('IPv6: every address of one /64 shares a key; the next /64 does not', () => {
    const key = addressKey('2001:db8:aa:1::1');
    assert.equal(key, '2001:db8:aa:1::/64');
    for (const ip of ['2001:db8:aa:1:ffff:ffff:ffff:ffff', '2001:0DB8:00aa:0001:1234:5678:9abc:def0', '2001:db8:aa:1::abcd%eth0', '2001:db8:aa:1::5:1.2.3.4']) {
      assert.equal(addressKey(ip), key, ip);
    }
    assert.notEqual(addressKey('2001:db8:aa:2::1'), key);
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1%25en0'), 'fe80:0:0:0::/64');
  });

  test('garbage never throws and stays bounded', () => {
    for (const junk of ['', 'unknown', 'not an ip', ':::', '1.2.3', '1.2.3.4.5', '::ffff:999.1.1.1', 'g::1', '1:2:3:4:5:6:7:8:9', '%', 'x'.repeat(5000), '\0\r\n']) {
      const key = addressKey(junk);
      assert.equal(typeof key, 'string');
      assert.ok(key.length <= 100, junk.slice(0, 20));
    }
    assert.equal(addressKey(undefined as unknown as string), 'unknown');
  });
});

describe('isLoopback', () => {
  test('loopback in each spelling', () => {
    for (const ip of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::1%lo']) assert.equal(isLoopback(ip), true, ip);
  });

  test('everything else, spoof attempts and garbage included', () => {
    for (const ip of [
      '10.0.0.1', '128.0.0.1', '0.0.0.0', '::', '::2', '::ffff:10.0.0.1', '2001:db8::1', 'fe80::1',
      // Not addresses, just strings that start like one.
      '127.0.0.1, 203.0.113.9', '127.0.0.1.evil.example', ' 127.0.0.1x', '127.0.0.1:8080', 'localhost', '', '::1::1', '::127.0.0.1',
    ]) assert.equal(isLoopback(ip), false, ip);
    assert.equal(isLoopback(undefined), false);
  });
});

describe('metricsAccess', () => {
  const remote = { socketAddress: '203.0.113.9', forwarded: false, authorization: undefined };
  const local = { socketAddress: '127.0.0.1', forwarded: false, authorization: undefined };

  test('no token: loopback peers only, never a relayed request', () => {
    assert.equal(metricsAccess(local, null), 'allowed');
    assert.equal(metricsAccess({ ...local, socketAddress: '::1' }, null), 'allowed');
    assert.equal(metricsAccess({ ...local, socketAddress: '::ffff:127.0.0.1' }, null), 'allowed');
    assert.equal(metricsAccess(remote, null), 'hidden');
    assert.equal(metricsAccess({ ...remote, socketAddress: '2001:db8::1' }, null), 'hidden');
    assert.equal(metricsAccess({ ...remote, socketAddress: '::ffff:203.0.113.9' }, null), 'hidden');
    assert.equal(metricsAccess({ ...remote, socketAddress: undefined }, null), 'hidden');
    // A local reverse proxy relaying a remote caller: the socket is loopback, the caller is not.
    assert.equal(metricsAccess({ ...local, forwarded: true }, null), 'hidden');
    // A bearer header without a configured token opens nothing.
    assert.equal(metricsAccess({ ...remote, authorization: 'Bearer anything-at-all-here' }, null), 'hidden');
  });

  test('with a token: the right bearer from anywhere; nothing else, loopback included', () => {
    const token = 'metrics-token-0123456789abcdef';
    assert.equal(metricsAccess({ ...remote, authorization: `Bearer ${token}` }, token), 'allowed');
    assert.equal(metricsAccess({ ...remote, authorization: `bearer ${token}` }, token), 'allowed');
    assert.equal(metricsAccess({ ...local, forwarded: true, authorization: `Bearer ${token}` }, token), 'allowed');
    for (const authorization of [undefined, '', 'Bearer', `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, token, `Bearer ${token} extra`]) {
      assert.equal(metricsAccess({ ...remote, authorization }, token), 'unauthorized', String(authorization));
      assert.equal(metricsAccess({ ...local, authorization }, token), 'unauthorized', `loopback ${String(authorization)}`);
    }
  });
});
