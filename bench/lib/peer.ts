// The comparison servers: node-oidc-provider (see servers/peer.ts for how it is configured) and
// the bare node:http ceiling, each its own process.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort, startServer, type StartedServer } from './proc.js';
import { OAuthTarget } from './targets.js';
import { REDIRECT_URI } from './latchkey.js';

export async function startPeer(peerFile: string, tmpDir: string): Promise<{ target: OAuthTarget; server: StartedServer }> {
  const port = await freePort();
  const client = { id: 'bench-client', secret: randomBytes(32).toString('base64url'), redirectUri: REDIRECT_URI };
  const es256Client = { id: 'bench-client-es256', secret: randomBytes(32).toString('base64url'), redirectUri: REDIRECT_URI };
  const clients = [{
    client_id: client.id,
    client_secret: client.secret,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirect_uris: [REDIRECT_URI],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email api',
  }, {
    // Its ID tokens are ES256 (the first client's RS256, node-oidc-provider's default).
    client_id: es256Client.id,
    client_secret: es256Client.secret,
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: [REDIRECT_URI],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email',
    id_token_signed_response_alg: 'ES256',
  }];
  const server = await startServer({
    name: 'peer',
    command: process.execPath,
    args: [peerFile, '--port', String(port)],
    env: { NODE_ENV: 'production', PEER_CLIENTS: JSON.stringify(clients) },
    port,
    readyPath: '/.well-known/openid-configuration',
    logFile: join(tmpDir, 'peer.log'),
  });
  const target = new OAuthTarget({
    name: 'peer',
    server,
    paths: { authorize: '/auth', token: '/token', user: '/me', userinfo: '/me', introspect: '/token/introspection', revoke: '/token/revocation' },
    client,
    es256Client,
    // No openid on the plain token-endpoint operations: no ID token to sign, as with Latchkey.
    // Its userinfo needs openid, so user_opaque's tokens have it too: its user_opaque and
    // userinfo_openid are the same request.
    scopes: { tokens: 'api', user: 'openid profile email', openid: 'openid profile email' },
    credentials: { username: 'john', password: 'any' },
    supportsPassword: false,
    tmpDir,
  });
  return { target, server };
}

export async function startCeiling(ceilingFile: string, tmpDir: string): Promise<StartedServer> {
  const port = await freePort();
  return startServer({
    name: 'ceiling',
    command: process.execPath,
    args: [ceilingFile, '--port', String(port)],
    env: { NODE_ENV: 'production' },
    port,
    readyPath: '/',
    logFile: join(tmpDir, 'ceiling.log'),
  });
}
