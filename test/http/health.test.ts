import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';

for (const kind of databaseKinds()) {
  test(`[${kind}] /healthz and /readyz answer on a fresh database`, async () => {
    const started = performance.now();
    const server = await startTestServer(kind);
    try {
      const ready = await fetch(`${server.url}/readyz`);
      const elapsed = performance.now() - started;
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready' });
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.headers.get('x-frame-options'), 'DENY');
      process.stdout.write(`# [${kind}] empty database to /readyz 200 in ${elapsed.toFixed(0)} ms\n`);
    } finally {
      await server.close();
    }
  });
}

test('LATCHKEY_TRUST_PROXY: the client address comes from X-Forwarded-For only when told to trust the proxy', async () => {
  const { loadConfig, ConfigError } = await import('../../src/config/load.js');
  assert.equal(loadConfig({ env: {} }).trustProxy, false);
  assert.equal(loadConfig({ env: { LATCHKEY_TRUST_PROXY: '1' } }).trustProxy, 1);
  assert.deepEqual(loadConfig({ env: { LATCHKEY_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' } }).trustProxy, ['10.0.0.0/8', '127.0.0.1']);
  assert.throws(() => loadConfig({ env: { LATCHKEY_TRUST_PROXY: 'the balancer' } }), ConfigError);
});
