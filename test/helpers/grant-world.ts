// A store-only world for the grant unit tests (test/oauth/grants/): a migrated SQLite
// `sqlite::memory:` store with the services a server would build on it, a frozen MovableClock,
// the token issuer and an audit log that keeps its lines. No HTTP: a test builds a grant
// handler from src/oauth/grants/ with these real dependencies, wraps it in answeringBody (which
// checks the audit facts each answer comes with) and calls handle().
import type { IdTokenMinterDeps } from '../../src/oauth/id-token.js';
import assert from 'node:assert/strict';
import type { AuditLogger } from '../../src/audit.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { tokenKey } from '../../src/oauth/crypto.js';
import { OAuthError } from '../../src/oauth/errors.js';
import type { GrantHandler, TokenRequest } from '../../src/oauth/grants/index.js';
import { TokenIssuer, type TokenResponse } from '../../src/oauth/tokens.js';
import { createServices, type Services } from '../../src/services.js';
import { migrate, openDatabase } from '../../src/store/db.js';

// The development checks (src/store/dev-checks.ts) are on in every test that builds its services here.
process.env.LATCHKEY_DEV_CHECKS ??= '1';

/** An audit log that keeps each line's event and fields. */
export class RecordingAudit implements AuditLogger {
  readonly lines: Array<Record<string, unknown>> = [];
  info(fields: object, _message?: string): void {
    this.lines.push({ ...fields });
  }
  warn(fields: object, _message?: string): void {
    this.lines.push({ ...fields });
  }
  events(): unknown[] {
    return this.lines.map((l) => l.event);
  }
}

export interface GrantWorld {
  services: Services;
  clock: MovableClock;
  config: Config;
  issuer: TokenIssuer;
  /** ID token signing with the world's own keys (id-token.ts). */
  idTokens: IdTokenMinterDeps;
  audit: RecordingAudit;
  close(): Promise<void>;
}

export async function openGrantWorld(overrides: Partial<Config> = {}): Promise<GrantWorld> {
  const store = openDatabase('sqlite::memory:');
  await migrate(store);
  const clock = new MovableClock();
  // Expiry is checked to the second: only advance() moves the clock.
  clock.freeze();
  const config = loadConfig({ env: { DATABASE_URL: 'sqlite::memory:' }, overrides });
  const services = createServices(config, store, { clock });
  return {
    services,
    clock,
    config,
    issuer: new TokenIssuer(config),
    idTokens: { keys: services.signingKeys, config },
    audit: new RecordingAudit(),
    close: () => store.close(),
  };
}

/** Runs `fn` in a fresh world and closes it afterwards, pass or fail. */
export async function withGrantWorld(fn: (w: GrantWorld) => Promise<void>, overrides: Partial<Config> = {}): Promise<void> {
  const world = await openGrantWorld(overrides);
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

/**
 * A grant as the grant tests call it: handle() answers the response body, once the facts the
 * grant returned with it (whom it was issued for, for the token.issued audit line) are checked
 * against the access token it stored.
 */
export interface BodyGrant {
  grantType: GrantHandler['grantType'];
  clientAuthentication: GrantHandler['clientAuthentication'];
  handle(request: TokenRequest): Promise<TokenResponse>;
}

export function answeringBody(world: GrantWorld, grant: GrantHandler): BodyGrant {
  return {
    grantType: grant.grantType,
    clientAuthentication: grant.clientAuthentication,
    async handle(request) {
      const { body, issuedFor } = await grant.handle(request);
      const stored = await world.services.accessTokens.find(tokenKey(body.access_token));
      assert.ok(stored, 'the access token of the answer is stored');
      assert.deepEqual(issuedFor, { grantId: stored.grantId, userId: stored.userId }, 'the audit facts name the stored token\'s grant and user');
      return body;
    },
  };
}

/** Calls the grant and asserts that it refuses with `error` (and a description matching `description`, when given). */
export async function assertRefused(grant: Pick<GrantHandler | BodyGrant, 'handle'>, request: TokenRequest, error: string, description?: RegExp): Promise<OAuthError> {
  let refused: unknown;
  try {
    await grant.handle(request);
  } catch (err) {
    refused = err;
  }
  assert.ok(refused instanceof OAuthError, `expected an OAuthError ${error}, got ${refused === undefined ? 'a token response' : String(refused)}`);
  assert.equal(refused.code, error, refused.message);
  if (description) assert.match(refused.description, description);
  return refused;
}

/** The stored state of an access token the grant issued: 'active', 'revoked', 'expired', 'unknown'. */
export async function accessTokenState(world: GrantWorld, accessToken: string): Promise<'active' | 'revoked' | 'expired' | 'unknown'> {
  const row = await world.services.accessTokens.find(tokenKey(accessToken));
  if (!row) return 'unknown';
  if (row.revokedAt !== null || row.grantRevokedAt !== null) return 'revoked';
  return row.expiresAt <= Math.floor(world.clock.nowMs() / 1000) ? 'expired' : 'active';
}

/** A success response's fields, with the token values' presence and shape checked. */
export function assertTokenResponse(res: TokenResponse, expected: { expiresIn: number; scope: string | undefined; refresh: boolean }): void {
  assert.equal(res.token_type, 'Bearer');
  assert.equal(res.expires_in, expected.expiresIn);
  assert.match(res.access_token, /^[\x21-\x7e]{40,}$/);
  assert.equal(res.scope, expected.scope);
  if (expected.refresh) assert.match(res.refresh_token ?? '', /^[\x21-\x7e]{40,}$/);
  else assert.equal(res.refresh_token, undefined);
  const fields = ['access_token', 'expires_in', 'token_type', ...(expected.refresh ? ['refresh_token'] : []), ...(expected.scope !== undefined ? ['scope'] : [])];
  assert.deepEqual(Object.keys(res).sort(), fields.sort());
}
