// grant_type=password (src/oauth/grants/password.ts) without HTTP. The grant's one password
// dependency is the real check of accounts/password-check.ts, with a real BruteForceGuard on
// MemoryCounters and the moved clock; SQLite :memory: store. RFC 6749 §4.3, RFC 9700 §2.4.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCOUNT_POLICY, BruteForceGuard, MemoryCounters } from '../../../src/accounts/backoff.js';
import type { ClientRegistration } from '../../../src/accounts/client-registration.js';
import { passwordChecker } from '../../../src/accounts/password-check.js';
import { MAX_PASSWORD_LENGTH } from '../../../src/accounts/passwords.js';
import type { Config } from '../../../src/config/load.js';
import { tokenKey } from '../../../src/oauth/crypto.js';
import { passwordGrant } from '../../../src/oauth/grants/password.js';
import { createClient, createUser, type TestClient, type TestUser } from '../../helpers/fixtures.js';
import { answeringBody, assertRefused, assertTokenResponse, withGrantWorld, type BodyGrant, type GrantWorld } from '../../helpers/grant-world.js';

const ADDRESS = '198.51.100.7';

interface Scene {
  w: GrantWorld;
  grant: BodyGrant;
  user: TestUser;
  client: TestClient;
}

async function scene(
  fn: (s: Scene) => Promise<void>,
  options: { client?: Partial<ClientRegistration>; config?: Partial<Config>; grantConfig?: Pick<Config, 'scopes'> } = {},
): Promise<void> {
  await withGrantWorld(async (w) => {
    const guard = new BruteForceGuard(new MemoryCounters(), w.clock);
    const grant = answeringBody(w, passwordGrant({
      checkPassword: passwordChecker({ guard, users: w.services.users, logger: w.audit }),
      audit: w.audit,
      clock: w.clock,
      config: options.grantConfig ?? w.config,
      issuer: w.issuer,
      transaction: w.services.transaction,
    }));
    const user = await createUser(w);
    const client = await createClient(w, { grantTypes: ['password', 'refresh_token'], ...options.client });
    await fn({ w, grant, user, client });
  }, options.config);
}

function credentials(user: TestUser, extra: Record<string, string> = {}): Record<string, string> {
  return { username: user.email, password: user.password, ...extra };
}

describe('password grant', () => {
  test('is the password grant and for confidential clients only (RFC 9700 §2.4)', async () => {
    await scene(async ({ grant }) => {
      assert.equal(grant.grantType, 'password');
      assert.equal(grant.clientAuthentication, 'confidential');
    });
  });

  test('the right e-mail and password get a token pair with every scope the client may have, and one login.succeeded line', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const res = await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: true });
      const stored = await w.services.accessTokens.find(tokenKey(res.access_token));
      assert.equal(stored?.userId, user.id);
      assert.equal(stored?.organizationId, null);
      assert.deepEqual(w.audit.lines, [{ audit: true, event: 'login.succeeded', user_id: user.id, client_id: client.clientId, grant_type: 'password', address: ADDRESS }]);
    });
  });

  test('the e-mail is matched as the login page matches it, case-insensitively', async () => {
    await scene(async ({ grant, user, client }) => {
      const res = await grant.handle({ client: client.client, params: credentials(user, { username: user.email.toUpperCase() }), address: ADDRESS });
      assert.equal(res.token_type, 'Bearer');
    });
  });

  test('no refresh token for a client not registered for the refresh_token grant', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const res = await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS });
      assertTokenResponse(res, { expiresIn: w.config.accessTokenTtl, scope: 'profile email', refresh: false });
    }, { client: { grantTypes: ['password'] } });
  });

  test('the scope may be narrowed to the client\'s registered scopes the server still offers', async () => {
    await scene(async ({ grant, user, client }) => {
      assert.equal((await grant.handle({ client: client.client, params: credentials(user, { scope: 'email' }), address: ADDRESS })).scope, 'email');
    });
    await scene(async ({ grant, user, client }) => {
      assert.equal((await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS })).scope, 'profile');
      await assertRefused(grant, { client: client.client, params: credentials(user, { scope: 'email' }), address: ADDRESS }, 'invalid_scope', /scope not allowed: email/);
    }, { client: { scopes: ['profile'] } });
    await scene(async ({ grant, user, client }) => {
      // Registered with both; the server has since stopped offering e-mail.
      assert.equal((await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS })).scope, 'profile');
    }, { grantConfig: { scopes: ['profile'] } });
  });

  test('a scope error is answered before the password is checked: a wrong password then is invalid_scope, and nothing is counted or audited', async () => {
    await scene(async ({ w, grant, user, client }) => {
      await assertRefused(grant, { client: client.client, params: credentials(user, { password: 'wrong', scope: 'admin' }), address: ADDRESS }, 'invalid_scope');
      await assertRefused(grant, { client: client.client, params: credentials(user, { scope: 'profile "x"' }), address: ADDRESS }, 'invalid_scope', /malformed/);
      assert.deepEqual(w.audit.events(), []);
    });
  });

  test('a missing or empty username or password is invalid_request', async () => {
    await scene(async ({ w, grant, user, client }) => {
      await assertRefused(grant, { client: client.client, params: { password: user.password }, address: ADDRESS }, 'invalid_request', /the username parameter is required/);
      await assertRefused(grant, { client: client.client, params: { username: '', password: user.password }, address: ADDRESS }, 'invalid_request', /the username parameter is required/);
      await assertRefused(grant, { client: client.client, params: { username: user.email }, address: ADDRESS }, 'invalid_request', /the password parameter is required/);
      await assertRefused(grant, { client: client.client, params: { username: user.email, password: '' }, address: ADDRESS }, 'invalid_request', /the password parameter is required/);
      assert.deepEqual(w.audit.events(), []);
    });
  });

  test('a wrong password and an unknown e-mail get the same invalid_grant, and each is audited as login.failed', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const wrong = await assertRefused(grant, { client: client.client, params: credentials(user, { password: 'not the password' }), address: ADDRESS }, 'invalid_grant');
      const unknown = await assertRefused(grant, { client: client.client, params: credentials(user, { username: 'nobody@example.com' }), address: ADDRESS }, 'invalid_grant');
      assert.equal(wrong.description, 'the username or password is incorrect');
      assert.equal(unknown.description, wrong.description);
      assert.equal(wrong.status, unknown.status);
      assert.deepEqual(w.audit.lines, [
        { audit: true, event: 'login.failed', user_id: user.id, address: ADDRESS, client_id: client.clientId, grant_type: 'password' },
        { audit: true, event: 'login.failed', user_id: null, address: ADDRESS, client_id: client.clientId, grant_type: 'password' },
      ]);
    });
  });

  test('out-of-bounds input is a wrong password: an overlong password, a NUL in the e-mail or the password', async () => {
    await scene(async ({ grant, user, client }) => {
      const tooLong = user.password + 'x'.repeat(MAX_PASSWORD_LENGTH);
      await assertRefused(grant, { client: client.client, params: credentials(user, { password: tooLong }), address: ADDRESS }, 'invalid_grant', /the username or password is incorrect/);
      await assertRefused(grant, { client: client.client, params: credentials(user, { username: `${user.email}\0` }), address: ADDRESS }, 'invalid_grant');
      await assertRefused(grant, { client: client.client, params: credentials(user, { password: `${user.password}\0` }), address: ADDRESS }, 'invalid_grant');
    });
  });

  test('repeated wrong passwords lock the account: slow_down with 429 and Retry-After, even for the right password, until the wait is over', async () => {
    await scene(async ({ w, grant, user, client }) => {
      let locked: Awaited<ReturnType<typeof assertRefused>> | undefined;
      for (let attempt = 1; attempt <= ACCOUNT_POLICY.threshold && !locked; attempt++) {
        try {
          await grant.handle({ client: client.client, params: credentials(user, { password: `wrong ${attempt}` }), address: ADDRESS });
          assert.fail('a wrong password was accepted');
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'slow_down') locked = err as typeof locked;
          else assert.equal(code, 'invalid_grant');
        }
      }
      assert.ok(locked, `locked by the ${ACCOUNT_POLICY.threshold}th wrong password`);
      const refused = await assertRefused(grant, { client: client.client, params: credentials(user), address: ADDRESS }, 'slow_down');
      assert.equal(refused.status, 429);
      assert.ok(refused.retryAfter !== undefined && refused.retryAfter > 0, `Retry-After ${refused.retryAfter}`);
      assert.ok(w.audit.events().includes('login.locked'));

      w.clock.advance(Math.ceil(refused.retryAfter));
      const res = await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS });
      assert.equal(res.token_type, 'Bearer');
    });
  });

  test('each success is a grant of its own, with the user and no organization', async () => {
    await scene(async ({ w, grant, user, client }) => {
      const a = await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS });
      const b = await grant.handle({ client: client.client, params: credentials(user), address: ADDRESS });
      const [sa, sb] = await Promise.all([a, b].map((r) => w.services.accessTokens.find(tokenKey(r.access_token))));
      assert.ok(sa && sb);
      assert.notEqual(sa.grantId, sb.grantId);
      assert.equal(sb.userId, user.id);
      assert.equal(sb.scope, 'profile email');
    });
  });
});
