// The token endpoint's pipeline (src/oauth/token-endpoint.ts) without HTTP, on a SQLite
// :memory: store with the movable clock: each named step's refusal, client authentication with
// the backoff (one Basic parse, one client lookup), and the body with its audit facts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BruteForceGuard, MemoryCounters } from '../../src/accounts/backoff.js';
import { passwordChecker } from '../../src/accounts/password-check.js';
import type { ClientAuthGuard } from '../../src/oauth/client-auth.js';
import { sha256Hex, tokenKey } from '../../src/oauth/crypto.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { createGrantRegistry, type GrantHandler } from '../../src/oauth/grants/index.js';
import type { Lockout } from '../../src/oauth/lockout.js';
import { createTokenEndpoint, TOKEN_STEPS, type TokenEndpoint, type TokenEndpointRequest } from '../../src/oauth/token-endpoint.js';
import type { Client } from '../../src/oauth/model.js';
import { createClient, createUser, mintCode, type TestClient } from '../helpers/fixtures.js';
import { withGrantWorld, type GrantWorld } from '../helpers/grant-world.js';

const ADDRESS = '203.0.113.9';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** The real guard, with every call written down; `lockout` makes checkClient refuse. */
class RecordingGuard implements ClientAuthGuard {
  readonly calls: string[] = [];
  lockout: Lockout | null = null;
  constructor(private readonly inner: ClientAuthGuard) {}
  async checkClient(clientId: string, address: string): Promise<Lockout | null> {
    this.calls.push(`check ${clientId}`);
    return this.lockout ?? this.inner.checkClient(clientId, address);
  }
  async clientSucceeded(clientId: string, address: string): Promise<void> {
    this.calls.push(`succeeded ${clientId}`);
    return this.inner.clientSucceeded(clientId, address);
  }
  async clientFailed(clientId: string): Promise<Lockout | null> {
    this.calls.push(`failed ${clientId}`);
    return this.inner.clientFailed(clientId);
  }
}

interface Scene {
  w: GrantWorld;
  endpoint: TokenEndpoint;
  guard: RecordingGuard;
  /** Every client_id looked up, in order. */
  lookups: string[];
  /** A request with the defaults filled in. */
  request(params: Record<string, string>, options?: { authorization?: string; refreshOnly?: boolean }): TokenEndpointRequest;
}

async function scene(fn: (s: Scene) => Promise<void>, options: { grants?: GrantHandler[]; clients?: Client[] } = {}): Promise<void> {
  await withGrantWorld(async (w) => {
    const guard = new RecordingGuard(new BruteForceGuard(new MemoryCounters(), w.clock));
    const lookups: string[] = [];
    const stubs = options.clients;
    const registry = options.grants
      ? new Map(options.grants.map((g) => [g.grantType, g]))
      : createGrantRegistry({
        clock: w.clock,
        config: w.config,
        issuer: w.issuer,
        transaction: w.services.transaction,
        idTokens: w.idTokens,
        codes: w.services.codes,
        refreshTokens: w.services.refreshTokens,
        grants: w.services.grants,
        audit: w.audit,
        checkPassword: passwordChecker({ guard: new BruteForceGuard(new MemoryCounters(), w.clock), users: w.services.users, logger: w.audit }),
      });
    const endpoint = createTokenEndpoint({
      grants: registry,
      guard,
      clients: {
        findByClientId: async (id) => {
          lookups.push(id);
          return stubs ? stubs.find((c) => c.clientId === id) : w.services.clients.findByClientId(id);
        },
      },
    });
    const request = (params: Record<string, string>, o: { authorization?: string; refreshOnly?: boolean } = {}): TokenEndpointRequest => ({
      params, authorization: o.authorization, address: ADDRESS, refreshOnly: o.refreshOnly ?? false, log: w.audit,
    });
    await fn({ w, endpoint, guard, lookups, request });
  });
}

async function refused(promise: Promise<unknown>, code: string, description?: RegExp): Promise<OAuthError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof OAuthError, `expected ${code}, got ${error === undefined ? 'a token response' : String(error)}`);
  assert.equal(error.code, code, error.message);
  if (description) assert.match(error.description, description);
  return error;
}

function confidential(client: TestClient): string {
  return basic(client.clientId, client.clientSecret ?? '');
}

/** A grant that must not be reached. */
function unreachable(grantType: GrantHandler['grantType'], clientAuthentication: GrantHandler['clientAuthentication']): GrantHandler {
  return { grantType, clientAuthentication, handle: async () => assert.fail('the grant was reached') };
}

function stubClient(overrides: Partial<Client>): Client {
  return {
    id: 1, clientId: 'stub', secretHash: null, name: 'Stub', redirectUris: ['https://a/cb'], ownerUserId: null,
    isPublic: true, grantTypes: ['client_credentials'], scopes: ['profile'], refreshWithoutSecret: false, createdAt: 0, trusted: true,
    postLogoutRedirectUris: [], idTokenSignedResponseAlg: 'RS256',
    tokenEndpointAuthMethod: null, jwks: null, jwksUri: null, secretSealed: null, metadata: {}, registration: null, registrationTokenHash: null,
    ...overrides,
  };
}

describe('token endpoint pipeline', () => {
  test('the steps, by name and in order', () => {
    assert.deepEqual(TOKEN_STEPS.map((s) => s.name), [
      'grantTypeRequired', 'grantSupported', 'clientAuthenticated', 'clientMayUseGrant', 'confidentialOnly', 'grantHandled',
    ]);
  });

  test('grantTypeRequired: no grant_type (or an empty one) is invalid_request, before any client lookup', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      await refused(endpoint(request({}, { authorization: confidential(client) })), 'invalid_request', /grant_type parameter is required/);
      await refused(endpoint(request({ grant_type: '' }, { authorization: confidential(client) })), 'invalid_request', /grant_type parameter is required/);
      assert.deepEqual(lookups, []);
      assert.deepEqual(guard.calls, []);
    });
  });

  test('grantSupported: an unknown grant_type is unsupported_grant_type and names the supported ones; the match ignores case', async () => {
    await scene(async ({ endpoint, request, lookups, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      await refused(endpoint(request({ grant_type: 'urn:x' }, { authorization: confidential(client) })), 'unsupported_grant_type',
        /^grant_type "urn:x" is not supported here \(supported: authorization_code, refresh_token, password, client_credentials\)$/);
      assert.deepEqual(lookups, []);
      const result = await endpoint(request({ grant_type: 'Client_Credentials' }, { authorization: confidential(client) }));
      assert.equal(result.body.token_type, 'Bearer');
    });
  });

  test('grantSupported: refreshOnly (POST /refresh) answers refresh_token only', async () => {
    await scene(async ({ endpoint, request, lookups, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      await refused(endpoint(request({ grant_type: 'client_credentials' }, { authorization: confidential(client), refreshOnly: true })), 'unsupported_grant_type',
        /\(supported: refresh_token\)$/);
      assert.deepEqual(lookups, []);
    });
  });

  test('clientMayUseGrant: a client not registered for the grant is unauthorized_client, after one lookup', async () => {
    await scene(async ({ endpoint, request, lookups, w }) => {
      const client = await createClient(w, { grantTypes: ['authorization_code'] });
      await refused(endpoint(request({ grant_type: 'client_credentials' }, { authorization: confidential(client) })), 'unauthorized_client',
        /^this client is not allowed the client_credentials grant$/);
      assert.deepEqual(lookups, [client.clientId]);
    });
  });

  test('confidentialOnly: a public client is kept from a confidential grant even when registered for it', async () => {
    const pub = stubClient({ clientId: 'pub', isPublic: true, grantTypes: ['client_credentials'] });
    await scene(async ({ endpoint, request, guard }) => {
      await refused(endpoint(request({ grant_type: 'client_credentials', client_id: 'pub' })), 'unauthorized_client',
        /^the client_credentials grant is for confidential clients only$/);
      // A public client proves nothing: no known-good address, no failure counted.
      assert.deepEqual(guard.calls, ['check pub']);
    }, { grants: [unreachable('client_credentials', 'confidential')], clients: [pub] });
  });

  test('clientAuthenticated: a locked client_id is answered 429 without a lookup, and audited', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      guard.lockout = { subject: 'client', retryAfter: 90 };
      const error = await refused(endpoint(request({ grant_type: 'client_credentials' }, { authorization: confidential(client) })), 'slow_down',
        /^Too many failed client authentications\. Try again in 90 seconds\.$/);
      assert.equal(error.status, 429);
      assert.equal(error.retryAfter, 90);
      assert.deepEqual(lookups, []);
      assert.deepEqual(guard.calls, [`check ${client.clientId}`]);
      assert.deepEqual(w.audit.lines, [{ audit: true, event: 'client_auth.locked', client_id: client.clientId, address: ADDRESS, retry_after: 90 }]);
    });
  });

  test('clientAuthenticated: a malformed Basic header is invalid_client once, with nothing looked up, checked or counted', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      for (const authorization of ['Basic %%%', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Basic']) {
        const error = await refused(endpoint(request({ grant_type: 'client_credentials' }, { authorization })), 'invalid_client', /malformed/);
        assert.equal(error.basicAuthAttempted, true);
      }
      assert.deepEqual(lookups, []);
      assert.deepEqual(guard.calls, []);
      assert.deepEqual(w.audit.lines, []);
    });
  });

  test('clientAuthenticated: a client_id no client can have (control characters, too long) is invalid_client with nothing looked up or counted', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      for (const id of ['app\u0000x', 'app\r\nx', 'x'.repeat(201)]) {
        const error = await refused(endpoint(request({ grant_type: 'client_credentials' }, { authorization: basic(id, 'secret') })), 'invalid_client');
        assert.doesNotMatch(error.debug ?? '', /app|xxxx/, 'the raw id is not echoed');
      }
      assert.deepEqual(lookups, []);
      assert.ok(guard.calls.every((c) => !c.startsWith('failed')), `nothing counted: ${guard.calls.join(', ')}`);
      assert.deepEqual(w.audit.lines, []);
    });
  });

  test('clientAuthenticated: the Basic header is decoded once, and the guard and the lookup see the same client_id', async () => {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic; this id has a space and a colon.
    const weird = stubClient({ clientId: 'we ird:id', secretHash: sha256Hex('p@ss word+'), isPublic: false });
    const issuing: GrantHandler = {
      grantType: 'client_credentials',
      clientAuthentication: 'confidential',
      handle: async ({ client }) => ({ body: { token_type: 'Bearer', expires_in: 60, access_token: `for ${client.clientId}` }, issuedFor: { grantId: 7, userId: null } }),
    };
    await scene(async ({ endpoint, request, guard, lookups }) => {
      const result = await endpoint(request({ grant_type: 'client_credentials' }, { authorization: basic('we+ird%3Aid', 'p%40ss+word%2B') }));
      assert.equal(result.body.access_token, 'for we ird:id');
      assert.deepEqual(result.audit, { user_id: null, client_id: 'we ird:id', grant_id: 7, grant_type: 'client_credentials', address: ADDRESS });
      assert.deepEqual(lookups, ['we ird:id']);
      assert.deepEqual(guard.calls, ['check we ird:id', 'succeeded we ird:id']);
    }, { grants: [issuing], clients: [weird] });
  });

  test('clientAuthenticated: a wrong secret is one lookup, one failure counted, one client_auth.failed line', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      const error = await refused(endpoint(request({ grant_type: 'client_credentials' }, { authorization: basic(client.clientId, 'wrong') })), 'invalid_client');
      assert.equal(error.basicAuthAttempted, true);
      assert.deepEqual(lookups, [client.clientId]);
      assert.deepEqual(guard.calls, [`check ${client.clientId}`, `failed ${client.clientId}`]);
      assert.deepEqual(w.audit.lines, [{ audit: true, event: 'client_auth.failed', client_id: client.clientId, address: ADDRESS }]);
    });
  });

  test('clientAuthenticated: an unknown client_id and a public client\'s failure count nothing (one lookup each)', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      const pub = await createClient(w, { isPublic: true, grantTypes: ['authorization_code'] });
      await refused(endpoint(request({ grant_type: 'client_credentials', client_id: 'nosuch', client_secret: 'x' })), 'invalid_client');
      await refused(endpoint(request({ grant_type: 'client_credentials', client_id: pub.clientId, client_secret: 'x' })), 'invalid_client');
      assert.deepEqual(lookups, ['nosuch', pub.clientId]);
      assert.deepEqual(guard.calls, ['check nosuch', `check ${pub.clientId}`]);
      assert.deepEqual(w.audit.lines, []);
    });
  });

  test('clientAuthenticated: a confidential client over the limit is locked out, and the lockout is audited', async () => {
    await scene(async ({ endpoint, request, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      const codes: string[] = [];
      for (let i = 0; i < 20 && !codes.includes('slow_down'); i += 1) {
        const attempt = endpoint(request({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: `wrong ${i}` }));
        codes.push(await attempt.then(() => 'issued', (err: unknown) => (err instanceof OAuthError ? err.code : String(err))));
      }
      assert.equal(codes.at(-1), 'slow_down', codes.join());
      assert.ok(codes.slice(0, -1).every((c) => c === 'invalid_client'), codes.join());
      assert.ok(w.audit.events().includes('client_auth.locked'));
    });
  });

  test('grantHandled: the body, and the token.issued facts of the grant and user it was issued for', async () => {
    await scene(async ({ endpoint, request, guard, lookups, w }) => {
      const user = await createUser(w);
      const client = await createClient(w);
      const { code, grantId } = await mintCode(w, { client, userId: user.id, scope: 'profile' });
      const result = await endpoint(request({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }, { authorization: confidential(client) }));
      assert.equal(result.body.scope, 'profile');
      assert.ok(result.body.refresh_token);
      assert.deepEqual(result.audit, { user_id: user.id, client_id: client.clientId, grant_id: grantId, grant_type: 'authorization_code', address: ADDRESS, scope: 'profile' });
      assert.equal((await w.services.accessTokens.find(tokenKey(result.body.access_token)))?.grantId, grantId);
      // Success: one lookup, and the address becomes known good.
      assert.deepEqual(lookups, [client.clientId]);
      assert.deepEqual(guard.calls, [`check ${client.clientId}`, `succeeded ${client.clientId}`]);
      // The core logs no token.issued line itself: the facts are the caller's to log.
      assert.deepEqual(w.audit.lines, []);
    });
  });

  test('refreshOnly: a client registered with refresh_without_secret refreshes with its client_id alone; elsewhere it may not', async () => {
    await scene(async ({ endpoint, request, w }) => {
      const user = await createUser(w);
      const client = await createClient(w, { refreshWithoutSecret: true });
      const { code } = await mintCode(w, { client, userId: user.id });
      const first = await endpoint(request({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }, { authorization: confidential(client) }));
      const refreshToken = first.body.refresh_token ?? '';
      await refused(endpoint(request({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.clientId })), 'invalid_client');
      const second = await endpoint(request({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.clientId }, { refreshOnly: true }));
      assert.equal(second.audit.grant_type, 'refresh_token');
      assert.equal(second.audit.user_id, user.id);
      assert.equal(second.audit.grant_id, first.audit.grant_id);
    });
  });

  test('client_credentials: the facts say no user', async () => {
    await scene(async ({ endpoint, request, w }) => {
      const client = await createClient(w, { grantTypes: ['client_credentials'] });
      const result = await endpoint(request({ grant_type: 'client_credentials', scope: 'email' }, { authorization: confidential(client) }));
      assert.equal(result.audit.user_id, null);
      assert.equal(result.audit.scope, 'email');
      assert.equal(typeof result.audit.grant_id, 'number');
    });
  });
});
