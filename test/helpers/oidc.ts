// OpenID Connect grants and their access tokens, written straight into the server's store the
// way the token endpoint writes them (TokenIssuer, in the server's access-token format): a grant
// with the login it was made in (auth_time, sid, amr, the `claims` request), then an access token
// for it. For tests of what an `openid` token reads, independent of the authorization flow.
import { randomBytes } from 'node:crypto';
import { nowSeconds } from '../../src/oauth/clock.js';
import { accessTokenFormatter } from '../../src/oauth/jwt.js';
import type { ClaimsRequest } from '../../src/oauth/model.js';
import { TokenIssuer } from '../../src/oauth/tokens.js';
import type { TestClient } from './fixtures.js';
import type { TestServer } from './server.js';

export interface OpenIdGrantOptions {
  client: TestClient;
  /** null: a client acting for itself (client_credentials). */
  userId: number | null;
  scope: string;
  organizationId?: number | null;
  /** The grant's `claims` request (OIDC Core §5.5); null when none was sent. */
  claims?: ClaimsRequest | null;
  grantType?: 'authorization_code' | 'client_credentials';
}

export interface IssuedAccessToken {
  accessToken: string;
  grantId: number;
}

/** A grant (an OpenID one, with its login, when a user is behind it) and one access token for it. */
export async function issueOpenIdAccessToken(server: TestServer, options: OpenIdGrantOptions): Promise<IssuedAccessToken> {
  const now = nowSeconds(server.clock);
  const organizationId = options.organizationId ?? null;
  const services = server.services;
  const grantId = await services.grants.insert({
    clientId: options.client.client.id,
    userId: options.userId,
    organizationId,
    scope: options.scope,
    grantType: options.grantType ?? (options.userId === null ? 'client_credentials' : 'authorization_code'),
    now,
    ...(options.userId === null ? {} : {
      login: { authTime: now, sid: randomBytes(16).toString('base64url'), amr: ['pwd'], claims: options.claims ?? null },
    }),
  });
  const issuer = new TokenIssuer(server.config, accessTokenFormatter(server.config, services.signingKeys));
  const issued = await services.transaction((tx) => issuer.issue(tx, {
    grantId, client: options.client.client, userId: options.userId, organizationId, scope: options.scope,
  }, now, null));
  return { accessToken: issued.body.access_token, grantId };
}
