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
