// The world a token-endpoint or page test starts from, written straight into the server's
// database: users, clients, organizations, and codes minted as the authorization endpoint
// would mint them.
import { randomBytes } from 'node:crypto';
import { registerClient, type ClientRegistration } from '../../src/accounts/client-registration.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { s256Challenge } from '../../src/oauth/pkce.js';
import type { Client, Organization } from '../../src/oauth/model.js';
import type { TestServer } from './server.js';

/**
 * Where fixtures are written: a running test server, or a bare store with its services, clock
 * and config (test/helpers/grant-world.ts).
 */
export type FixtureHost = Pick<TestServer, 'services' | 'clock' | 'config'>;

export interface TestUser {
  id: number;
  /** The OpenID Connect `sub`. */
  subject: string;
  email: string;
  name: string;
  locale: string;
  password: string;
}

let userCounter = 0;

// One argon2 hash for every test user: hashing costs tens of milliseconds each.
const PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;

export async function createUser(server: FixtureHost, overrides: Partial<Pick<TestUser, 'email' | 'name' | 'locale'>> = {}): Promise<TestUser> {
  userCounter += 1;
  passwordHash ??= hashPassword(PASSWORD);
  const email = overrides.email ?? `user${userCounter}-${randomBytes(3).toString('hex')}@example.com`;
  const user = await server.services.users.insert({
    email,
    name: overrides.name ?? `User ${userCounter}`,
    locale: overrides.locale ?? 'nl',
    passwordHash: await passwordHash,
    now: nowSeconds(server.clock),
  });
  return { ...user, password: PASSWORD };
}

export interface TestClient {
  client: Client;
  clientId: string;
  /** null for public clients. */
  clientSecret: string | null;
  redirectUri: string;
}

export async function createClient(server: FixtureHost, options: Partial<ClientRegistration> = {}): Promise<TestClient> {
  const redirectUris = options.redirectUris ?? ['https://app.example/callback'];
  // Operator-made by default (trusted: errors redirect at once), as the CLI makes them; pass
  // trusted: false for a client as the developer portal makes it.
  const { client, clientSecret } = await registerClient(server.services, { name: 'Test app', trusted: true, ...options, redirectUris });
  return { client, clientId: client.clientId, clientSecret, redirectUri: redirectUris[0] ?? '' };
}

/** An organization with the given users as members. */
export async function createOrganization(server: FixtureHost, input: { name?: string; integrationsEnabled?: boolean; memberIds?: number[] } = {}): Promise<Organization> {
  const now = nowSeconds(server.clock);
  const org = await server.services.orgs.insert({ name: input.name ?? 'Test Org', integrationsEnabled: input.integrationsEnabled ?? true, now });
  for (const userId of input.memberIds ?? []) await server.services.orgs.upsertMember(org.id, userId, 'member', now);
  return org;
}

export interface MintCodeOptions {
  client: TestClient;
  userId: number;
  organizationId?: number | null;
  scope?: string;
  /** Defaults to the client's first redirect URI. */
  redirectUri?: string;
  /** Whether the authorization request carried redirect_uri (default true). */
  redirectUriSent?: boolean;
  /** A PKCE verifier: its S256 challenge is stored with the code. */
  codeVerifier?: string;
  /** Seconds the code lives (default: the server's authorization_code_ttl). */
  ttl?: number;
}

export interface MintedCode {
  code: string;
  grantId: number;
}

/** Issues a code the way the authorization endpoint does: a grant row and a hashed code row. */
export async function mintCode(server: FixtureHost, options: MintCodeOptions): Promise<MintedCode> {
  const now = nowSeconds(server.clock);
  const scope = options.scope ?? 'profile email';
  const organizationId = options.organizationId ?? null;
  const grantId = await server.services.grants.insert({
    clientId: options.client.client.id, userId: options.userId, organizationId, scope, grantType: 'authorization_code', now,
  });
  const code = randomBytes(32).toString('base64url');
  await server.services.codes.insert({
    codeHash: sha256Hex(code),
    grantId: grantId,
    clientId: options.client.client.id,
    userId: options.userId,
    organizationId: organizationId,
    redirectUri: options.redirectUri ?? options.client.redirectUri,
    redirectUriSent: options.redirectUriSent !== false,
    scope,
    codeChallenge: options.codeVerifier === undefined ? null : s256Challenge(options.codeVerifier),
    codeChallengeMethod: options.codeVerifier === undefined ? null : 'S256',
    createdAt: now,
    expiresAt: now + (options.ttl ?? server.config.authorizationCodeTtl),
  });
  return { code, grantId };
}
