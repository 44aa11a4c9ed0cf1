// "Secrets never rest in clear": after a full tour of the server — sign-up, login, the
// authorization-code flow, the password grant, refresh, client credentials, a secret reset —
// none of the passwords, client secrets, codes, tokens or session ids appear in the SQLite
// file (nor its WAL) or in the log output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resetClientSecret } from '../../src/accounts/client-registration.js';
import { startTestServer } from '../helpers/server.js';
import { createClient } from '../helpers/fixtures.js';
import { exchangeCode, postToken, refresh, secretPost, tokensOf } from '../helpers/token.js';
import { pkcePair } from '../helpers/pkce.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { authorize } from '../helpers/authorize.js';

test('no password, secret, code, token or session id is stored or logged in clear', async () => {
  const server = await startTestServer('sqlite', { overrides: { logLevel: 'debug' } });
  const secrets: Array<[string, string]> = [];
  try {
    // Sign up through the page (the password crosses HTTP, the logs and the database).
    const password = `Pw-${Date.now()}-unique-signup-password`;
    const jar = new CookieJar();
    const signup = await httpRequest(server, 'GET', '/signup', { jar });
    assert.equal(signup.status, 200);
    const created = await httpRequest(server, 'POST', '/signup', {
      jar, form: { ...hiddenFields(signup.body, '/signup'), name: 'Secret Keeper', email: 'keeper@example.com', password, password_confirm: password, locale: 'en' },
    });
    assert.equal(created.status, 303, `sign-up → ${created.status}`);
    secrets.push(['password', password]);
    for (const value of jar.cookies.values()) secrets.push(['session cookie', decodeURIComponent(value)]);

    const app = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'password', 'client_credentials'] });
    secrets.push(['client secret', app.clientSecret ?? '']);

    const { verifier, challenge } = pkcePair();
    const flow = await authorize(server, { clientId: app.clientId, redirectUri: app.redirectUri, state: 's', codeChallenge: challenge, cookies: jar });
    assert.ok(flow.code, `a code: ${flow.status} ${flow.error ?? ''}`);
    secrets.push(['code', flow.code]);
    secrets.push(['verifier', verifier]);
    const exchanged = tokensOf(await exchangeCode(server, app, flow.code, { code_verifier: verifier }));
    secrets.push(['access token', exchanged.accessToken], ['refresh token', exchanged.refreshToken]);
    const refreshed = tokensOf(await refresh(server, app, exchanged.refreshToken));
    secrets.push(['access token', refreshed.accessToken], ['refresh token', refreshed.refreshToken]);

    const pw = await postToken(server, { grant_type: 'password', username: 'keeper@example.com', password, ...secretPost(app) });
    assert.equal(pw.status, 200, JSON.stringify(pw.body));
    const pwTokens = tokensOf(pw);
    secrets.push(['access token', pwTokens.accessToken], ['refresh token', pwTokens.refreshToken]);
    const wrong = await postToken(server, { grant_type: 'password', username: 'keeper@example.com', password: `${password}-wrong`, ...secretPost(app) });
    assert.equal(wrong.status, 400);
    secrets.push(['wrong password', `${password}-wrong`]);

    const cc = await postToken(server, { grant_type: 'client_credentials', ...secretPost(app) });
    assert.equal(cc.status, 200);
    secrets.push(['client-credentials token', String(cc.body.access_token)]);

    const reset = await resetClientSecret(server.services, app.clientId);
    assert.ok(reset);
    secrets.push(['reset client secret', reset]);

    const file = server.db.file ?? '';
    const bytes = Buffer.concat([file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    const logs = server.logs.join('\n');
    assert.ok(bytes.length > 0 && logs.length > 0);
    for (const [what, value] of secrets) {
      assert.ok(value.length >= 8, `${what} is a real value`);
      assert.equal(bytes.includes(Buffer.from(value, 'utf8')), false, `${what} appears in clear in the database file`);
      assert.equal(logs.includes(value), false, `${what} appears in clear in the logs`);
    }
    process.stdout.write(`# checked ${secrets.length} secrets against ${bytes.length} database bytes and ${server.logs.length} log lines\n`);
  } finally {
    await server.close();
  }
});
