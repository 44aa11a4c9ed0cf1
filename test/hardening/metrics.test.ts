// GET /metrics (Prometheus text): requests and errors per route pattern and status, token
// requests per grant type and outcome, token latency histogram, default process metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type TestClient } from '../helpers/fixtures.js';
import { postToken, secretPost } from '../helpers/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The value of one sample line, e.g. metric('x_total{a="b"}'); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const found = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[2]);
  }
  return undefined;
}

describe('/metrics', () => {
  let server: TestServer;
  let client: TestClient;
  before(async () => {
    server = await startTestServer('sqlite');
    client = await createClient(server, { grantTypes: ['client_credentials'] });
  });
  after(async () => {
    await server.close();
  });

  test('counts per route pattern, status, grant type and outcome; a latency histogram; process metrics', async () => {
    for (let i = 0; i < 3; i += 1) assert.equal((await postToken(server, { grant_type: 'client_credentials', ...secretPost(client) })).status, 200);
    assert.equal((await postToken(server, { grant_type: 'CLIENT_CREDENTIALS', client_id: client.clientId, client_secret: 'wrong' }, { path: '/token' })).status, 401);
    assert.equal((await postToken(server, { grant_type: 'password', ...secretPost(client) })).status, 400);
    assert.equal((await postToken(server, { grant_type: 'x'.repeat(50) })).status, 400);
    await fetch(`${server.url}/developer/clients/abc123?x=1`, { redirect: 'manual' });
    await fetch(`${server.url}/no/such/path?${'q'.repeat(50)}`);

    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();

    assert.equal(sample(text, 'latchkey_http_requests_total', { method: 'POST', route: '/oauth/token', status: '200' }), 3);
    assert.equal(sample(text, 'latchkey_http_requests_total', { method: 'POST', route: '/token', status: '401' }), 1);
    assert.equal(sample(text, 'latchkey_http_errors_total', { route: '/token', status: '401', error: 'invalid_client' }), 1);
    assert.equal(sample(text, 'latchkey_token_requests_total', { grant_type: 'client_credentials', outcome: 'success' }), 3);
    assert.equal(sample(text, 'latchkey_token_requests_total', { grant_type: 'client_credentials', outcome: 'invalid_client' }), 1, 'grant_type matched case-insensitively');
    assert.equal(sample(text, 'latchkey_token_requests_total', { grant_type: 'password', outcome: 'unauthorized_client' }), 1);
    assert.equal(sample(text, 'latchkey_token_requests_total', { grant_type: 'other', outcome: 'unsupported_grant_type' }), 1, 'unknown grant types share one label');
    assert.equal(sample(text, 'latchkey_token_request_duration_seconds_count', { grant_type: 'client_credentials' }), 4);
    assert.equal(sample(text, 'latchkey_token_request_duration_seconds_bucket', { grant_type: 'client_credentials', le: '+Inf' }), 4);
    // Route patterns, never raw URLs or query strings.
    assert.ok(text.includes('route="/developer/clients/:clientId"'));
    assert.ok(text.includes('route="unmatched"'));
    assert.ok(!text.includes('abc123') && !text.includes('qqqq'));
    // prom-client's default process metrics.
    assert.ok(text.includes('process_resident_memory_bytes'));
    assert.ok(text.includes('nodejs_eventloop_lag_seconds'));
  });
});
