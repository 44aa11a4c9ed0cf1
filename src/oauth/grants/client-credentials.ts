// grant_type=client_credentials (RFC 6749 §4.4): a confidential client acting for itself.
// The access token has no user, and no refresh token is issued (RFC 6749 §4.4.3: "A refresh
// token SHOULD NOT be included").
import type { Config } from '../../config/load.js';
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import type { TokenIssuer } from '../tokens.js';
import type { ResourcePort, RunInTransaction } from '../ports.js';
import { clientScopes, defaultScope, grantedScope, optionalParam, type GrantHandler } from './grant.js';
import { scopeForIndicatedResources } from './resource-scope.js';

export interface ClientCredentialsGrantDeps {
  clock: Clock;
  config: Pick<Config, 'scopes'> & Partial<Pick<Config, 'issuer'>>;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  /** The registered resources (RFC 8707); without them a `resource` other than ISSUER/api is unknown. */
  resources?: ResourcePort;
}

export function clientCredentialsGrant(deps: ClientCredentialsGrantDeps): GrantHandler {
  return {
    grantType: 'client_credentials',
    // RFC 6749 §4.4: "MUST only be used by confidential clients".
    clientAuthentication: 'confidential',
    async handle({ client, params }) {
      const allowed = clientScopes(client, deps.config.scopes);
      // RFC 8707: with `resource`, the token is for those resources and carries their scopes.
      const indicated = await scopeForIndicatedResources(deps, client, params, allowed);
      const scope = indicated?.scope ?? grantedScope(optionalParam(params, 'scope'), allowed, defaultScope(allowed));
      const audience = indicated?.audience ?? null;
      const now = nowSeconds(deps.clock);
      return deps.transaction(async (tx) => {
        const grantId = await tx.grants.insert({ clientId: client.id, userId: null, organizationId: null, scope, grantType: 'client_credentials', now });
        return deps.issuer.issue(tx, { grantId, client, userId: null, organizationId: null, scope, audience }, now, null);
      });
    },
  };
}
