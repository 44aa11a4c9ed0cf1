// `latchkey user create … [--verified]` (issue 22): the operator may vouch for the address;
// without --verified the account is sent a verification link, queued in the database for the
// servers to send (the command itself sends nothing and never blocks on SMTP).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/store/db.js';
import { databaseKinds, freshDatabase } from '../helpers/databases.js';
import { runCli } from '../hardening/process.js';

for (const kind of databaseKinds()) {
  test(`[${kind}] user create --verified marks the address verified; without it a verification link is queued`, async () => {
    const db = await freshDatabase(kind);
    try {
      const env = { DATABASE_URL: db.url, LATCHKEY_ISSUER: 'https://id.example.com' };
      const vouched = await runCli(['user', 'create', '--email', 'ops@example.com', '--name', 'Ops', '--password', 'a long password', '--verified'], env);
      assert.equal(vouched.code, 0, vouched.stderr);
      assert.deepEqual(JSON.parse(vouched.stdout), { id: 1, email: 'ops@example.com', name: 'Ops', locale: 'en' });
      const plain = await runCli(['user', 'create', '--email', 'new@example.com', '--name', 'New', '--password', 'a long password'], env);
      assert.equal(plain.code, 0, plain.stderr);

      const store = openDatabase(db.url);
      try {
        const users = await store.db.selectFrom('users').select(['email', 'email_verified']).orderBy('id').execute();
        assert.deepEqual(users, [{ email: 'ops@example.com', email_verified: 1 }, { email: 'new@example.com', email_verified: 0 }]);
        const queued = await store.db.selectFrom('mail_queue').select(['recipient', 'kind', 'status', 'content']).execute();
        assert.equal(queued.length, 1, 'one message, for the unverified account only');
        assert.equal(queued[0]?.recipient, 'new@example.com');
        assert.equal(queued[0]?.kind, 'verify_email');
        assert.equal(queued[0]?.status, 'pending');
        // The link names the servers' issuer (LATCHKEY_ISSUER of the command's environment).
        assert.match(queued[0]?.content ?? '', /https:\/\/id\.example\.com\/verify-email\?token=/);
        const tokens = await store.db.selectFrom('email_tokens').select(['purpose', 'email']).execute();
        assert.deepEqual(tokens, [{ purpose: 'verify', email: 'new@example.com' }]);
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });
}
