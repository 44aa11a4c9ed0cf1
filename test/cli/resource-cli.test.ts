// `latchkey resource create|list|delete|metadata` as a real process on each database (SPEC.md
// "Client registration and resources"): one JSON object and exit 0; bad input one line on
// stderr with exit 2 (usage) or 1 (failure), nothing written.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { databaseKinds, freshDatabase, type FreshDatabase } from '../helpers/databases.js';

const BIN = new URL('../../bin/latchkey.js', import.meta.url).pathname;
const ISSUER = 'https://id.example';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

function latchkey(db: FreshDatabase, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args, '--database-url', db.url], {
    encoding: 'utf8', env: { ...process.env, DATABASE_URL: '', LATCHKEY_ISSUER: ISSUER },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: r.status === 0 ? JSON.parse(r.stdout) as Record<string, unknown> : {} };
}

function refused(run: Run, status: 1 | 2, pattern: RegExp): void {
  assert.equal(run.status, status, `exit ${status} expected, got ${run.status}: ${run.stderr}`);
  assert.equal(run.stdout, '');
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${run.stderr}`);
  assert.match(lines[0] ?? '', pattern);
}

for (const kind of databaseKinds()) {
  describe(`latchkey resource [${kind}]`, () => {
    test('create, list, metadata, delete; clients may be given a resource\'s scopes; refusals are one line', async () => {
      const db = await freshDatabase(kind);
      try {
        const created = latchkey(db, 'resource', 'create', '--identifier', 'https://notes.example/api', '--name', 'Notes', '--scopes', 'notes:read notes:write');
        assert.equal(created.status, 0, created.stderr);
        assert.deepEqual(created.json, { identifier: 'https://notes.example/api', name: 'Notes', scopes: ['notes:read', 'notes:write'] });
        const bare = latchkey(db, 'resource', 'create', '--identifier', 'urn:example:calendar', '--name', 'Calendar');
        assert.deepEqual(bare.json, { identifier: 'urn:example:calendar', name: 'Calendar', scopes: [] });

        const list = latchkey(db, 'resource', 'list');
        assert.equal(list.status, 0, list.stderr);
        assert.deepEqual(list.json, {
          resources: [
            { identifier: `${ISSUER}/api`, name: 'Latchkey user API', scopes: ['profile', 'email'], built_in: true },
            { identifier: 'https://notes.example/api', name: 'Notes', scopes: ['notes:read', 'notes:write'] },
            { identifier: 'urn:example:calendar', name: 'Calendar', scopes: [] },
          ],
        });

        const metadata = latchkey(db, 'resource', 'metadata', '--identifier', 'https://notes.example/api');
        assert.equal(metadata.status, 0, metadata.stderr);
        assert.deepEqual(metadata.json, {
          resource: 'https://notes.example/api', authorization_servers: [ISSUER], scopes_supported: ['notes:read', 'notes:write'],
          bearer_methods_supported: ['header'], resource_name: 'Notes',
        });
        assert.equal(latchkey(db, 'resource', 'metadata', '--identifier', `${ISSUER}/api`).json.resource, `${ISSUER}/api`);

        const client = latchkey(db, 'client', 'create', '--name', 'Notes app', '--redirect-uris', 'https://app.example/cb', '--scopes', 'openid profile notes:read');
        assert.equal(client.status, 0, client.stderr);
        assert.deepEqual(client.json.scopes, ['openid', 'profile', 'notes:read']);
        refused(latchkey(db, 'client', 'create', '--name', 'X', '--redirect-uris', 'https://app.example/cb', '--scopes', 'notes:admin'), 1, /unknown scope "notes:admin"/);

        refused(latchkey(db, 'resource', 'create', '--identifier', 'https://notes.example/api', '--name', 'Again'), 1, /exists already/);
        refused(latchkey(db, 'resource', 'create', '--identifier', `${ISSUER}/api`, '--name', 'Mine'), 1, /built-in/);
        for (const [identifier, why] of [
          ['/relative', /absolute URI/], ['notes', /absolute URI/], ['https://notes.example/api#x', /fragment/], ['https://a.example/b c', /white space/],
          ['https://a.example/\u0007', /control/], ['https://a.example/%zz', /percent-encoding/], [`https://a.example/${'x'.repeat(3000)}`, /at most 2048/],
        ] as Array<[string, RegExp]>) {
          refused(latchkey(db, 'resource', 'create', '--identifier', identifier, '--name', 'N'), 2, why);
        }
        refused(latchkey(db, 'resource', 'create', '--identifier', 'https://x.example/', '--name', ''), 2, /--name/);
        refused(latchkey(db, 'resource', 'create', '--identifier', 'https://x.example/', '--name', 'X', '--scopes', 'openid'), 2, /openid concerns the authorization server/);
        refused(latchkey(db, 'resource', 'create', '--identifier', 'https://x.example/', '--name', 'X', '--scopes', 'a"b'), 2, /--scopes/);
        refused(latchkey(db, 'resource', 'create', '--name', 'X'), 2, /--identifier/);
        refused(latchkey(db, 'resource', 'delete', '--identifier', 'https://nothing.example/'), 1, /no resource/);
        refused(latchkey(db, 'resource', 'delete', '--identifier', `${ISSUER}/api`), 1, /built in/);
        refused(latchkey(db, 'resource', 'metadata', '--identifier', 'https://nothing.example/'), 1, /no resource/);

        const deleted = latchkey(db, 'resource', 'delete', '--identifier', 'https://notes.example/api');
        assert.deepEqual(deleted.json, { identifier: 'https://notes.example/api', deleted: true });
        assert.equal((latchkey(db, 'resource', 'list').json.resources as unknown[]).length, 2, 'the built-in one and Calendar');
      } finally {
        await db.drop();
      }
    });
  });
}
