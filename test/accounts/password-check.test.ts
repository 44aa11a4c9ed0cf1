// accounts/password-check.ts, the one password check, on a real store of each kind (no HTTP).
// A signed-in user's own password is checked against the account by id: another request of the
// same user may change the account's e-mail between the moment the page read it and the check
// (a burst of e-mail changes from one session), and the right password must still be right.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BruteForceGuard, MemoryCounters } from '../../src/accounts/backoff.js';
import { passwordChecker } from '../../src/accounts/password-check.js';
import { databaseKinds } from '../helpers/databases.js';
import { createUser } from '../helpers/fixtures.js';
import { withStore } from '../helpers/store.js';

const silent = { info() {}, warn() {} };

for (const kind of databaseKinds()) {
  describe(`the password check (${kind})`, () => {
    test('a signed-in user\'s password is checked by account id, whatever its e-mail became meanwhile', async () => {
      await withStore(kind, async ({ services, clock }) => {
        const check = passwordChecker({ guard: new BruteForceGuard(new MemoryCounters(), clock), users: services.users, logger: silent });
        const user = await createUser({ services, clock, config: services.config }, { email: 'dave@example.com' });
        const other = await createUser({ services, clock, config: services.config }, { email: 'erin@example.com' });
        // Another request of the same session changed the e-mail after this one read it.
        await services.users.update(user.id, { email: 'dave0@example.com' }, 1);

        const own = await check({ email: 'dave@example.com', password: user.password, address: '192.0.2.1', purpose: 'email_change', userId: user.id });
        assert.equal(own.ok, true);
        assert.equal(own.ok && own.user.email, 'dave0@example.com');
        assert.equal(own.ok && own.user.id, user.id);
        // By e-mail alone (the login page) the old address names no account any more.
        assert.deepEqual(await check({ email: 'dave@example.com', password: user.password, address: '192.0.2.1' }), { ok: false, refusal: 'wrong' });
        // The id decides the account, not the e-mail given beside it; a wrong password stays wrong.
        const byId = await check({ email: 'dave0@example.com', password: other.password, address: '192.0.2.1', purpose: 'password_change', userId: other.id });
        assert.equal(byId.ok && byId.user.id, other.id);
        assert.deepEqual(await check({ email: 'dave0@example.com', password: 'not the password', address: '192.0.2.1', purpose: 'password_change', userId: user.id }), { ok: false, refusal: 'wrong' });
      });
    });
  });
}
