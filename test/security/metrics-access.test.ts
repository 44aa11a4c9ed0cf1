// Issue 18 finding 10: GET /metrics was public. Now: without LATCHKEY_METRICS_TOKEN, loopback
// peers only (the socket's address; a relayed request is not local); with it, that bearer
// token from anywhere. (Tests run on loopback: remote socket addresses are covered by the unit
// tests of metricsAccess in test/http/client-address.test.ts.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';

const TOKEN = 'scrape-0123456789abcdef0123456789';

describe('/metrics access', () => {
  test('with LATCHKEY_METRICS_TOKEN: no or wrong token → 401 with WWW-Authenticate, the right one → 200', async () => {
    const server = await startTestServer('sqlite', { env: { LATCHKEY_METRICS_TOKEN: TOKEN } });
    try {
      for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, 'Bearer ']) {
        const res = await fetch(`${server.url}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
        assert.equal(res.status, 401, String(authorization));
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.doesNotMatch(await res.text(), /latchkey_http_requests_total|process_/);
      }
      const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /latchkey_http_requests_total/);
    } finally {
      await server.close();
    }
  });

  test('without a token: a loopback peer → 200; a request relayed by a proxy (even one claiming 127.0.0.1) → 404', async () => {
    const server = await startTestServer('sqlite', { env: { LATCHKEY_TRUST_PROXY: 'true' } });
    try {
      assert.equal((await fetch(`${server.url}/metrics`)).status, 200);
      const relayed: Array<Record<string, string>> = [{ 'x-forwarded-for': '127.0.0.1' }, { 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=127.0.0.1' }, { 'x-real-ip': '127.0.0.1' }];
      for (const headers of relayed) {
        const res = await fetch(`${server.url}/metrics`, { headers });
        assert.equal(res.status, 404, JSON.stringify(headers));
        assert.doesNotMatch(await res.text(), /latchkey_http_requests_total/);
      }
      // TRUST_PROXY=true is warned about at start.
      assert.ok(server.logs.some((l) => l.includes('"event":"config.trust_proxy_all"') && l.includes('"level":40')));
    } finally {
      await server.close();
    }
  });

  test('a metrics token that is too short or has odd characters stops start-up', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config/load.js');
    for (const bad of ['short', 'has space in it 1234', 'quote"0123456789abcdef']) {
      assert.throws(() => loadConfig({ env: { LATCHKEY_METRICS_TOKEN: bad } }), ConfigError);
    }
    assert.equal(loadConfig({ env: {} }).metricsToken, null);
  });
});
