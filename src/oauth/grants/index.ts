// The grants the token endpoint knows, by grant_type. Adding a grant = one file in this
// directory, one line here, one test file.
import type { Config } from '../../config/load.js';
import type { Clock } from '../clock.js';
import type { TokenIssuer } from '../tokens.js';
import type { IdTokenMinterDeps } from '../id-token.js';
import type { CodePort, GrantPort, RefreshTokenPort, ResourcePort, RunInTransaction } from '../ports.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import type { AuditLog, GrantHandler } from './grant.js';
import { passwordGrant, type CheckResourceOwner } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';

export type { GrantHandler, TokenRequest } from './grant.js';

/** Everything any grant needs; each factory takes only its own slice. */
export interface GrantDependencies {
  clock: Clock;
  config: Pick<Config, 'scopes' | 'refreshRetryWindow'> & Partial<Pick<Config, 'emailVerification' | 'issuer'>>;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  codes: CodePort;
  refreshTokens: RefreshTokenPort;
  grants: GrantPort;
  audit: AuditLog;
  checkPassword: CheckResourceOwner;
  idTokens: IdTokenMinterDeps;
  /** The registered resources (RFC 8707). */
  resources?: ResourcePort;
}

export type GrantRegistry = ReadonlyMap<string, GrantHandler>;

export function createGrantRegistry(deps: GrantDependencies): GrantRegistry {
  const handlers: GrantHandler[] = [
    authorizationCodeGrant(deps),
    refreshTokenGrant(deps),
    passwordGrant(deps),
    clientCredentialsGrant(deps),
  ];
  return new Map(handlers.map((h) => [h.grantType, h]));
}
