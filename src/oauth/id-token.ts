// OpenID Connect ID tokens (Core §2, §3.1.3.6): minted at the code exchange and on refresh
// for grants whose scope holds `openid`, and read back as `id_token_hint` (authorization
// endpoint, RP-initiated logout).
//
// Minting: a JWS signed with the client's id_token_signed_response_alg (RS256 unless the
// client chose ES256), `kid` and `typ: JWT` in the header. The private key is imported once
// (SigningKeys) and its KeyObject kept; the compact JWS is put together here and signed with
// node:crypto, not jose's SignJWT (see docs/PERFORMANCE.md, id-token-node-sign): an RSA
// signature runs on the libuv thread pool, so the event loop does not wait on it, while an
// ECDSA P-256 one is cheaper done at once than handed to the pool and back.
// Claims: iss, sub (users.subject), aud (the client_id), exp, iat, auth_time, nonce (code
// exchange only), at_hash, sid, amr, acr (acr.ts), and the user claims of the granted scopes and of the
// `claims` request's id_token member (claims.ts), organization when bound.
import { compactVerify, decodeProtectedHeader, type CryptoKey } from 'jose';
import { hash, KeyObject, sign } from 'node:crypto';
import type { Config } from '../config/load.js';
import type { Client, IdTokenContext } from './model.js';
import type { GrantPort, RootPick } from './ports.js';
import { acrForIdToken } from './acr.js';
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

/** Each signing key's KeyObject, made once from the CryptoKey SigningKeys keeps. */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function keyObjectOf(key: CryptoKey): KeyObject {
  let object = keyObjects.get(key);
  if (object === undefined) {
    object = KeyObject.from(key);
    keyObjects.set(key, object);
  }
  return object;
}

const base64url = (json: string): string => Buffer.from(json, 'utf8').toString('base64url');

/**
 * A compact JWS (RFC 7515 §7.1) of `claims` as RS256 (RSASSA-PKCS1-v1_5 with SHA-256) or ES256
 * (ECDSA P-256 with SHA-256, the signature as R ‖ S, RFC 7518 §3.4), the same bytes jose's
 * SignJWT would sign. RS256 is signed on the thread pool, ES256 at once.
 */
export async function signJws(claims: Record<string, unknown>, key: { kid: string; alg: SigningAlg; privateKey: CryptoKey }): Promise<string> {
  const input = `${base64url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`;
  const data = Buffer.from(input, 'latin1');
  const privateKey = keyObjectOf(key.privateKey);
  const signature = key.alg === 'ES256'
    ? sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
    : await new Promise<Buffer>((resolve, reject) => {
      sign('sha256', data, privateKey, (err, sig) => (err ? reject(err) : resolve(sig)));
    });
  return `${input}.${signature.toString('base64url')}`;
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
    claims.acr = acrForIdToken(login.amr, login.claims);
  }
  if (input.nonce !== null) claims.nonce = input.nonce;
  claims.at_hash = accessTokenHash(input.accessToken);
  return signJws(claims, await deps.keys.signingKey(client.idTokenSignedResponseAlg));
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
 * RS256 or ES256 (never `none`, never HMAC) by a key we publish, `typ` JWT or absent, `iss` ours, a string `sub`
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
    // A `typ` other than JWT (a JWT access token's at+jwt, RFC 9068) is no ID token.
    if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) return null;
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
 * the signature never holds the transaction (on SQLite, the group commit) open. The grant's
 * user and login are read inside the transaction when the grant passes them (`prefetched`:
 * on SQLite a read of its own costs more than its share of the batch, docs/PERFORMANCE.md
 * id-token-context-in-transaction), else here.
 */
export async function withIdToken(
  deps: IdTokenIssuerDeps,
  issued: IssuedTokens,
  client: Pick<Client, 'clientId' | 'idTokenSignedResponseAlg'>,
  nonce: string | null,
  now: number,
  prefetched?: IdTokenContext,
): Promise<IssuedTokens> {
  const scope = issued.body.scope ?? '';
  if (!hasScope(scope, OPENID_SCOPE)) return issued;
  const context = prefetched ?? await deps.grants.findIdTokenContext(issued.issuedFor.grantId);
  // A grant made without an OpenID login (the password grant, asked for openid) gets none.
  if (context === undefined || context.login === null) return issued;
  const idToken = await mintIdToken(deps, { client, context, scope, nonce, accessToken: issued.body.access_token, now });
  return { ...issued, body: { ...issued.body, id_token: idToken } };
}
