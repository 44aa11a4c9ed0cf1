// OpenID Connect ID tokens (Core §2, §3.1.3.6): minted at the code exchange and on refresh
// for grants whose scope holds `openid`, and read back as `id_token_hint` (authorization
// endpoint, RP-initiated logout).
//
// Minting: a JWS signed with the client's id_token_signed_response_alg (RS256 unless the
// client chose ES256), `kid` and `typ: JWT` in the header. The private key is imported once
// (SigningKeys); jose signs through WebCrypto, which runs the RSA or ECDSA operation on the
// libuv thread pool, so the event loop does not wait on the signature (docs/PERFORMANCE.md).
// Claims: iss, sub (users.subject), aud (the client_id), exp, iat, auth_time, nonce (code
// exchange only), at_hash, sid, amr, and the user claims of the granted scopes and of the
// `claims` request's id_token member (claims.ts), organization when bound.
import { compactVerify, decodeProtectedHeader, SignJWT } from 'jose';
import { hash } from 'node:crypto';
import type { Config } from '../config/load.js';
import type { Client, IdTokenContext } from './model.js';
import type { GrantPort, RootPick } from './ports.js';
import { OPENID_SCOPE, userClaims } from './claims.js';
import { hasScope } from './scope.js';
import type { IssuedTokens } from './tokens.js';
import { isSigningAlg, type SigningAlg, type SigningKeys } from './signing-keys.js';

/** Seconds an ID token is valid (node-oidc-provider's default too); not a setting. */
export const ID_TOKEN_TTL = 3600;

export interface IdTokenMinterDeps {
  keys: Pick<SigningKeys, 'signingKey'>;
  /** Read at each signing (the issuer is fixed once the server listens). */
  config: Pick<Config, 'issuer'>;
}

export interface IdTokenInput {
  client: Pick<Client, 'clientId' | 'idTokenSignedResponseAlg'>;
  context: IdTokenContext;
  /** The scope of the access token issued beside it. */
  scope: string;
  /** The authorization request's nonce; null on refresh (Core §12.2: never on refreshed ID tokens). */
  nonce: string | null;
  /** The access token issued beside it (at_hash). */
  accessToken: string;
  now: number;
}

/**
 * at_hash (Core §3.1.3.6): the left half of the hash of the access token's ASCII octets,
 * base64url. RS256 and ES256 both hash with SHA-256, so the left 128 bits.
 */
export function accessTokenHash(accessToken: string): string {
  return hash('sha256', accessToken, 'buffer').subarray(0, 16).toString('base64url');
}

/** The signed ID token. */
export async function mintIdToken(deps: IdTokenMinterDeps, input: IdTokenInput): Promise<string> {
  const { context, client, now } = input;
  const login = context.login;
  const claims: Record<string, unknown> = {
    ...userClaims(context.user, input.scope, login?.claims?.id_token, context.organization),
    iss: deps.config.issuer,
    aud: client.clientId,
    exp: now + ID_TOKEN_TTL,
    iat: now,
  };
  if (login !== null) {
    claims.auth_time = login.authTime;
    claims.sid = login.sid;
    claims.amr = [...login.amr];
  }
  if (input.nonce !== null) claims.nonce = input.nonce;
  claims.at_hash = accessTokenHash(input.accessToken);
  const key = await deps.keys.signingKey(client.idTokenSignedResponseAlg);
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

/** What a verified `id_token_hint` says: whom it names and for which client. */
export interface IdTokenHint {
  sub: string;
  /** The audience (a client_id); the first one when several. */
  aud: string;
  sid: string | null;
}

/** The longest hint read; our ID tokens are about 1 KB. */
const MAX_HINT_LENGTH = 8192;

/**
 * Verifies an ID token of ours presented back to us (`id_token_hint`): compact JWS, signed
 * RS256 or ES256 (never `none`, never HMAC) by a key we publish, `iss` ours, a string `sub`
 * and an audience. Expiry is not checked: Core §3.1.2.1 and RP-Initiated Logout §2 accept
 * an expired hint, which still proves who it was issued for. Returns null for anything else.
 */
export async function verifyIdTokenHint(
  deps: { keys: Pick<SigningKeys, 'verificationKey'>; issuer: string },
  token: string,
): Promise<IdTokenHint | null> {
  if (token.length > MAX_HINT_LENGTH || token.split('.').length !== 3) return null;
  let alg: SigningAlg;
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (!isSigningAlg(header.alg)) return null;
    alg = header.alg;
    kid = typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return null;
  }
  const key = await deps.keys.verificationKey(kid, alg);
  if (key === undefined) return null;
  let payload: unknown;
  try {
    const verified = await compactVerify(token, key, { algorithms: [alg] });
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(verified.payload));
  } catch {
    return null;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const claims = payload as Record<string, unknown>;
  if (claims.iss !== deps.issuer || typeof claims.sub !== 'string' || claims.sub === '') return null;
  const aud = typeof claims.aud === 'string' ? claims.aud : Array.isArray(claims.aud) && typeof claims.aud[0] === 'string' ? claims.aud[0] : null;
  if (aud === null) return null;
  return { sub: claims.sub, aud, sid: typeof claims.sid === 'string' ? claims.sid : null };
}

export interface IdTokenIssuerDeps extends IdTokenMinterDeps {
  grants: RootPick<GrantPort, 'findIdTokenContext'>;
}

/**
 * Adds `id_token` to a token response (Core §3.1.3.3) when its access token's scope holds
 * `openid` and its grant was made in an OpenID login (authorization endpoint): the code
 * exchange passes the request's nonce, a refresh passes null and repeats the grant's sub,
 * aud, auth_time, sid and amr (Core §12.2). Runs after the token transaction has committed:
 * the signature and the one read of the grant's user never hold the transaction (on SQLite,
 * the group commit) open.
 */
export async function withIdToken(
  deps: IdTokenIssuerDeps,
  issued: IssuedTokens,
  client: Pick<Client, 'clientId' | 'idTokenSignedResponseAlg'>,
  nonce: string | null,
  now: number,
): Promise<IssuedTokens> {
  const scope = issued.body.scope ?? '';
  if (!hasScope(scope, OPENID_SCOPE)) return issued;
  const context = await deps.grants.findIdTokenContext(issued.issuedFor.grantId);
  // A grant made without an OpenID login (the password grant, asked for openid) gets none.
  if (context === undefined || context.login === null) return issued;
  const idToken = await mintIdToken(deps, { client, context, scope, nonce, accessToken: issued.body.access_token, now });
  return { ...issued, body: { ...issued.body, id_token: idToken } };
}
