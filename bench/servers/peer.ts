// The peer: node-oidc-provider 9 configured as the nearest equivalent of Latchkey's hot paths —
// authorization code + refresh-token rotation on every use, client credentials, introspection,
// revocation, opaque access tokens, userinfo, ID tokens (RS256, or ES256 for the client that
// asks for it) — on its bundled in-memory adapter.
//
// Two deliberate changes from its defaults, both to keep the comparison fair to it:
// - the bundled MemoryAdapter keeps its data in an LRU of 1,000 entries, which would evict the
//   pre-minted token pools and turn the peer's requests into cheap failures; we hand the same
//   adapter class the same LRU class, just large enough.
// - a returning user's authorization reuses one grant per session in its design, which makes
//   every write to that grant walk all its tokens; we give each authorization its own grant
//   (remembered consent, like Latchkey's one grant per code), so no operation degrades with time.
// Its development interactions (any login, no password) stand in for the login page.
import { createServer } from 'node:http';
import Provider, { type KoaContextLike } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { generateKeyPairSync } from 'node:crypto';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const clientsArg = process.env.PEER_CLIENTS;
if (!clientsArg) throw new Error('PEER_CLIENTS must hold the client list (JSON)');
const clients = JSON.parse(clientsArg) as Array<Record<string, unknown>>;
const issuer = `http://127.0.0.1:${port}`;

const store = new LRU({ maxSize: 20_000_000 });
// One key per ID-token algorithm the bench asks for: RS256 (its default) and ES256 (P-256).
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const keys = [
  { ...rsa.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'bench-rs256' },
  { ...ec.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'bench-es256' },
];

const provider = new Provider(issuer, {
  adapter: (model: string) => new MemoryAdapter(model, store, 0),
  clients,
  jwks: { keys },
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api'],
  claims: { openid: ['sub'], profile: ['name', 'locale'], email: ['email'] },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    devInteractions: { enabled: true },
  },
  ttl: { AccessToken: 3600, AuthorizationCode: 600, RefreshToken: 30 * 86_400, ClientCredentials: 3600, Grant: 30 * 86_400, Session: 14 * 86_400, Interaction: 600 },
  pkce: { required: () => false },
  // Latchkey rotates every refresh token and ties no token to the login session.
  rotateRefreshToken: () => true,
  issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  // Remembered consent: every authorization gets its own grant for the scopes it asks for.
  loadExistingGrant: async (ctx: KoaContextLike) => {
    const accountId = ctx.oidc.session?.accountId;
    const clientId = ctx.oidc.client?.clientId;
    if (!accountId || !clientId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ accountId, clientId });
    const scope = typeof ctx.oidc.params?.scope === 'string' ? ctx.oidc.params.scope : 'openid';
    grant.addOIDCScope(scope);
    await grant.save();
    return grant;
  },
  findAccount: async (_ctx: unknown, sub: string) => ({
    accountId: sub,
    claims: async () => ({ sub, name: 'John Doe', email: 'john@doe.com', locale: 'nl' }),
  }),
});
provider.on('server_error', (...args: unknown[]) => process.stderr.write(`peer server_error: ${String(args[1])}\n`));

const server = createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
