// One list of token routes (src/http/token-routes.ts): every route in it is registered, limited
// per address (plugins/rate-limit.ts) and measured as a token request (plugins/metrics.ts), and
// no other route is.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN_LIMITED_ROUTES } from '../../src/http/plugins/rate-limit.js';
import { TOKEN_ROUTES, TOKEN_ROUTES_BY_PATH } from '../../src/http/token-routes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The sum of a counter's samples whose labels include `labels`. */
function total(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{(.*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const found = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

describe('the token routes, listed once', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite', { overrides: { tokenRateLimit: 1000 } });
  });
  after(async () => {
    await server.close();
  });

  test('the list: /oauth/token, /token and /refresh (refresh only), as the rate limit names them', () => {
    assert.deepEqual(TOKEN_ROUTES.map((r) => `${r.method} ${r.path}${r.refreshOnly ? ' (refresh only)' : ''}`), [
      'POST /oauth/token', 'POST /token', 'POST /refresh (refresh only)',
    ]);
    assert.deepEqual([...TOKEN_LIMITED_ROUTES], TOKEN_ROUTES.map((r) => `${r.method} ${r.path}`));
    assert.deepEqual([...TOKEN_ROUTES_BY_PATH.values()], TOKEN_ROUTES);
  });

  test('every route in the list is registered, rate-limited and counted as a token request; revocation is none of these', async () => {
    for (const route of TOKEN_ROUTES) {
      const res = await fetch(`${server.url}${route.path}`, { method: route.method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      assert.equal(res.status, 400, `${route.method} ${route.path} is registered`);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      assert.equal(res.headers.get('x-ratelimit-limit'), '1000', `${route.method} ${route.path} is rate-limited`);
    }
    const revoke = await fetch(`${server.url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.notEqual(revoke.status, 404);
    assert.equal(revoke.headers.get('x-ratelimit-limit'), null);

    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(total(text, 'latchkey_token_requests_total', { outcome: 'invalid_request' }), TOKEN_ROUTES.length);
    assert.equal(total(text, 'latchkey_token_requests_total', {}), TOKEN_ROUTES.length, 'revocation is not a token request');
    for (const route of TOKEN_ROUTES) {
      assert.equal(total(text, 'latchkey_http_requests_total', { method: route.method, route: route.path, status: '400' }), 1);
    }
    // /refresh answers refresh_token only, so its requests are labelled so whatever they say.
    assert.equal(total(text, 'latchkey_token_requests_total', { grant_type: 'refresh_token' }), TOKEN_ROUTES.filter((r) => r.refreshOnly).length);
  });
});
