// The step the grants that start a new authorization at the token endpoint share
// (client_credentials, password): the RFC 8707 resources the request indicates, and the scope
// that goes with them (resources.ts scopeForResources).
import type { Config } from '../../config/load.js';
import type { Client } from '../model.js';
import type { ResourcePort } from '../ports.js';
import { OAuthError } from '../errors.js';
import { formatScope } from '../scope.js';
import { requestedResources, resolveResources, scopeForResources } from '../resources.js';
import { optionalParam } from './grant.js';

/** undefined when the request names no resource; else its audience and scope (invalid_target, invalid_scope). */
export async function scopeForIndicatedResources(
  deps: { config: Pick<Config, 'scopes'> & Partial<Pick<Config, 'issuer'>>; resources?: ResourcePort },
  client: Client,
  params: Readonly<Record<string, string>>,
  allowed: readonly string[],
): Promise<{ audience: readonly string[]; scope: string } | undefined> {
  const identifiers = requestedResources(params);
  if (identifiers === undefined) return undefined;
  const registry: Pick<ResourcePort, 'find'> = deps.resources ?? { find: async () => undefined };
  const resources = await resolveResources({ resources: registry, config: deps.config }, identifiers);
  const scope = scopeForResources(optionalParam(params, 'scope'), resources, client, allowed);
  if (scope.length === 0 && optionalParam(params, 'scope') !== undefined) throw new OAuthError('invalid_scope', 'no scope of the indicated resources is available to this client');
  return { audience: identifiers, scope: formatScope(scope) };
}
