// grant_type=authorization_code (RFC 6749 §4.1.3, PKCE RFC 7636 §4.5-4.6).
//
// The code is consumed and the tokens are inserted in one transaction: the consume is an
// `UPDATE … WHERE consumed_at IS NULL RETURNING`, so of any number of concurrent exchanges
// exactly one gets the row. A check that fails after the consume (expiry, redirect_uri,
// PKCE) rolls the transaction back, so only a successful exchange uses the code up.
import { audit } from '../../audit.js';
import type { Clock } from '../clock.js';
import { nowSeconds } from '../clock.js';
import { tokenKey } from '../crypto.js';
import { OAuthError } from '../errors.js';
import { verifyCodeVerifier } from '../pkce.js';
import { newOpaqueToken, type TokenIssuer } from '../tokens.js';
import type { AuthorizationCode, Client, IdTokenContext } from '../model.js';
import type { CodePort, GrantPort, RootPick, RunInTransaction } from '../ports.js';
import { withIdToken, type IdTokenMinterDeps } from '../id-token.js';
import { OPENID_SCOPE } from '../claims.js';
import { hasScope } from '../scope.js';
import { optionalParam, requireParam, type AuditLog, type GrantHandler } from './grant.js';
import type { Config } from '../../config/load.js';
import { narrowedAudience, requestedResources } from '../resources.js';

export interface AuthorizationCodeGrantDeps {
  clock: Clock;
  issuer: TokenIssuer;
  transaction: RunInTransaction;
  codes: RootPick<CodePort, 'find'>;
  grants: RootPick<GrantPort, 'revoke' | 'isRevoked' | 'findIdTokenContext'>;
  audit: AuditLog;
  /** Signs ID tokens for OpenID grants (id-token.ts). */
  idTokens: IdTokenMinterDeps;
  /** The issuer names the built-in resource ISSUER/api (resources.ts). */
  config?: Partial<Pick<Config, 'issuer'>>;
}

export function authorizationCodeGrant(deps: AuthorizationCodeGrantDeps): GrantHandler {
  return {
    grantType: 'authorization_code',
    clientAuthentication: 'any',
    async handle({ client, params }) {
      const code = requireParam(params, 'code');
      const redirectUri = optionalParam(params, 'redirect_uri');
      const verifier = optionalParam(params, 'code_verifier');
      // RFC 8707 §2.2: the token request may name some of the resources the authorization indicated.
      const resources = requestedResources(params);
      const codeHash = tokenKey(code);
      const now = nowSeconds(deps.clock);

      let nonce: string | null = null;
      let context: IdTokenContext | undefined;
      const response = await deps.transaction(async (tx) => {
        const stored = await tx.codes.consume(codeHash, client.id, now);
        if (!stored) return undefined;
        nonce = stored.nonce;
        // What the ID token says of the user, read in the same transaction (id-token.ts withIdToken).
        context = hasScope(stored.scope, OPENID_SCOPE) ? await tx.grants.findIdTokenContext(stored.grantId) : undefined;
        // RFC 6749 §4.1.2: codes are short-lived (authorization_code_ttl, SPEC.md: 10 minutes).
        if (stored.expiresAt <= now) throw new OAuthError('invalid_grant', 'the authorization code has expired');
        checkRedirectUri(stored, redirectUri);
        checkPkce(stored, verifier, client);
        // Refused inside the transaction: the consume is rolled back and the code stays usable.
        const audience = narrowedAudience(resources, stored.resources, deps.config?.issuer);
        const refresh = client.grantTypes.includes('refresh_token') ? newOpaqueToken() : null;
        return deps.issuer.issue(tx, {
          grantId: stored.grantId, client, userId: stored.userId, organizationId: stored.organizationId, scope: stored.scope,
          audience, refreshResources: stored.resources,
        }, now, refresh);
      });
      if (response) return withIdToken({ ...deps.idTokens, grants: deps.grants }, response, client, nonce, now, context);
      throw await whyNotConsumed(deps, codeHash, client, now);
    },
  };
}

/**
 * RFC 6749 §4.1.3: redirect_uri must be present and identical when the authorization
 * request carried one; when it did not, it may be left out, and if sent must still be the
 * one the code was issued for.
 */
function checkRedirectUri(code: AuthorizationCode, redirectUri: string | undefined): void {
  if (redirectUri === undefined) {
    if (code.redirectUriSent) throw new OAuthError('invalid_grant', 'redirect_uri is required: the authorization request carried one');
    return;
  }
  if (redirectUri !== code.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the one of the authorization request');
}

function checkPkce(code: AuthorizationCode, verifier: string | undefined, client: Client): void {
  if (code.codeChallenge !== null) {
    // RFC 7636 §4.6.
    if (verifier === undefined) throw new OAuthError('invalid_grant', 'code_verifier is required: the authorization request carried a code_challenge');
    if (!verifyCodeVerifier(verifier, code.codeChallenge, code.codeChallengeMethod)) {
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    }
    return;
  }
  // RFC 9700 §2.1.1: a verifier without a challenge is refused, so that PKCE cannot be
  // downgraded by an attacker who strips the challenge from the authorization request.
  if (verifier !== undefined) throw new OAuthError('invalid_grant', 'code_verifier was sent but the authorization request carried no code_challenge');
  // SPEC.md, RFC 9700 §2.1.1: public clients must use PKCE.
  if (client.isPublic) throw new OAuthError('invalid_grant', 'a public client must use PKCE (code_challenge with S256)');
}

/** The consume matched nothing: find out why, and revoke the grant when the code is replayed. */
async function whyNotConsumed(deps: AuthorizationCodeGrantDeps, codeHash: string, client: Client, now: number): Promise<OAuthError> {
  const code = await deps.codes.find(codeHash);
  // An unknown code and another client's code read the same (RFC 6749 §4.1.3: the code must
  // have been issued to this client); the other client's code is left untouched.
  if (!code || code.clientId !== client.id) {
    return new OAuthError('invalid_grant', 'the authorization code is invalid', { debug: code ? `code of client row ${code.clientId} presented by ${client.clientId}` : 'unknown code' });
  }
  if (code.consumedAt !== null) {
    // RFC 6749 §4.1.2 / §10.5: a code used twice revokes every token issued from it.
    await deps.grants.revoke(code.grantId, now);
    audit(deps.audit, 'code.reuse_detected', { client_id: client.clientId, user_id: code.userId, grant_id: code.grantId });
    return new OAuthError('invalid_grant', 'the authorization code has already been used; every token issued from it is revoked');
  }
  if (await deps.grants.isRevoked(code.grantId)) return new OAuthError('invalid_grant', 'the authorization has been revoked');
  return new OAuthError('invalid_grant', 'third-party integrations are not available on the organization\'s plan');
}
