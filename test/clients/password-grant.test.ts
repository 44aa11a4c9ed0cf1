// A second real client, written by other people: Debian's python3-requests-oauthlib drives
// the password grant, refresh (Basic, body and Huddle's /refresh without a secret), the
// automatic refresh of OAuth2Session, the identity call and the failure paths
// (test/clients/password_grant.py). Skipped, visibly, where python3 or the module is missing
// (.ci/run installs the Debian package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createUser } from '../../src/accounts/users.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';

const SCRIPT = fileURLToPath(new URL('./password_grant.py', import.meta.url));

/** Debian's interpreter first (apt installs the module there), then whatever python3 is on PATH. */
function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', 'import requests_oauthlib, oauthlib'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = findPython();
if (!python) {
  process.stdout.write('# SKIPPING the requests-oauthlib client test: python3 with requests_oauthlib is missing (apt-get install -y python3-requests-oauthlib)\n');
}

for (const kind of databaseKinds()) {
  test(`[${kind}] requests-oauthlib (LegacyApplicationClient) drives the password grant and refresh`, { skip: python ? false : 'python3-requests-oauthlib is not installed' }, async () => {
    assert.ok(python);
    const server = await startTestServer(kind, { profile: 'huddle' });
    try {
      const password = 'correct horse battery staple';
      const user = await createUser(server.services, { email: 'john@doe.com', name: 'John Doe', password, locale: 'nl' });
      const grantTypes = ['password', 'refresh_token'];
      const plain = await registerClient(server.services, { name: 'requests-oauthlib', redirectUris: ['https://client.example/cb'], grantTypes });
      const huddle = await registerClient(server.services, { name: 'CloudHack', redirectUris: ['https://client.example/cb'], grantTypes, refreshWithoutSecret: true });
      assert.ok(plain.clientSecret && huddle.clientSecret);

      // Asynchronously: spawnSync would block the event loop the server runs on.
      const child = spawn(python, [SCRIPT], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          OAUTHLIB_INSECURE_TRANSPORT: '1',
          LATCHKEY_URL: server.url,
          LATCHKEY_CLIENT_ID: plain.client.clientId,
          LATCHKEY_CLIENT_SECRET: plain.clientSecret,
          LATCHKEY_HUDDLE_ID: huddle.client.clientId,
          LATCHKEY_HUDDLE_SECRET: huddle.clientSecret,
          LATCHKEY_USERNAME: user.email,
          LATCHKEY_PASSWORD: password,
          LATCHKEY_EXPIRES_IN: String(server.config.accessTokenTtl),
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, `password_grant.py failed: ${stderr}`);
      const steps = JSON.parse(stdout) as Record<string, unknown>;
      // oauthlib hands the granted scope back as a list.
      assert.deepEqual(steps.password_basic, { token_type: 'Bearer', expires_in: 1200, scope: ['profile', 'email'] });
      assert.deepEqual(steps.api_user, { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl' });
      assert.equal(steps.reused_refresh_token, 'invalid_grant');
      assert.equal(steps.auto_refresh, 1);
      assert.equal(steps.huddle_refresh_without_secret, 1200);
      assert.equal(steps.wrong_password, 'invalid_grant');
      assert.equal(steps.wrong_client_secret, 'invalid_client');
    } finally {
      await server.close();
    }
  });
}
