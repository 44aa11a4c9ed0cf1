// Issue 18 finding 10: creating, changing and deleting a client (developer portal, CLI) left
// no "audit":true line. Now client.created / client.updated / client.deleted /
// client.secret_reset are audit lines with the address ("cli" from the command line), and
// none carries the client secret.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { freshDatabase } from '../helpers/databases.js';
import { signUp, textById } from '../helpers/pages.js';
import { startTestServer } from '../helpers/server.js';

type Line = Record<string, unknown>;

function auditLines(text: string[]): Line[] {
  return text.flatMap((l) => {
    try {
      const parsed = JSON.parse(l) as Line;
      return parsed.audit === true ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

describe('client changes are in the audit trail', () => {
  test('developer portal: create, update, reset secret, delete → audit lines with user, client and address; no secret', async () => {
    const server = await startTestServer('sqlite');
    try {
      const dev = await signUp(server.url, { email: 'dev@example.com' });
      const created = await dev.submit('/developer/clients/new', '/developer/clients/new', { name: 'Audit app', redirect_uris: 'https://app.example/cb' });
      assert.equal(created.status, 201);
      const clientId = textById(created.body, 'client-id');
      const secrets = [textById(created.body, 'client-secret')];
      const base = `/developer/clients/${clientId}`;
      assert.equal((await dev.submit(base, base, { name: 'Audit app 2', redirect_uris: 'https://app.example/cb2' })).status, 303);
      const reset = await dev.submit(`${base}/reset-secret`, `${base}/reset-secret`, { confirm: 'yes' });
      assert.equal(reset.status, 200);
      secrets.push(textById(reset.body, 'client-secret'));
      assert.equal((await dev.submit(`${base}/delete`, `${base}/delete`, { confirm: 'yes' })).status, 303);

      const user = await server.services.users.findByEmail('dev@example.com');
      const lines = auditLines(server.logs).filter((l) => l.client_id === clientId);
      assert.deepEqual(lines.map((l) => l.event), ['client.created', 'client.updated', 'client.secret_reset', 'client.deleted']);
      for (const line of lines) {
        assert.equal(line.user_id, user?.id, String(line.event));
        assert.equal(line.address, '127.0.0.1', String(line.event));
      }
      for (const secret of secrets) assert.ok(!server.logs.some((l) => l.includes(secret)), 'no log line carries a client secret');
    } finally {
      await server.close();
    }
  });

  test('CLI: client create and reset-secret → audit lines on stderr with address "cli"; no secret there', async () => {
    const db = await freshDatabase('sqlite');
    const BIN = new URL('../../bin/latchkey.js', import.meta.url).pathname;
    const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--database-url', db.url], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
    try {
      const created = run('client', 'create', '--name', 'CLI app', '--redirect-uris', 'https://cli.example/cb');
      assert.equal(created.status, 0, created.stderr);
      const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string };
      const reset = run('client', 'reset-secret', '--client-id', client.client_id);
      assert.equal(reset.status, 0, reset.stderr);
      const newSecret = (JSON.parse(reset.stdout) as { client_secret: string }).client_secret;

      const createdLines = auditLines(created.stderr.split('\n'));
      assert.deepEqual(createdLines.map((l) => [l.event, l.client_id, l.address]), [['client.created', client.client_id, 'cli']]);
      const resetLines = auditLines(reset.stderr.split('\n'));
      assert.deepEqual(resetLines.map((l) => [l.event, l.client_id, l.address]), [['client.secret_reset', client.client_id, 'cli']]);
      for (const text of [created.stderr, reset.stderr]) {
        assert.ok(!text.includes(client.client_secret) && !text.includes(newSecret), 'no secret on stderr');
      }
    } finally {
      await db.drop();
    }
  });
});
