// Who is calling the token endpoint (and revocation, RFC 7009 §2.1, and introspection,
// RFC 7662 §2.1): client_secret_basic (RFC 6749 §2.3.1, HTTP Basic), client_secret_post
// (RFC 6749 §2.3.1, client_id + client_secret in the body) or a public client that sends
// client_id alone (RFC 6749 §2.3, §3.2.1). Framework-free: it takes the Authorization header,
// the flat parameters and a way to look a client up, and returns the Client or throws.
// authenticateClientGuarded adds the brute-force guard (a port, ClientAuthGuard) around it.
//
// Clients may also authenticate by assertion (client-assertion.ts: private_key_jwt and
// client_secret_jwt, RFC 7523 §2.2). The client's registered token_endpoint_auth_method
// decides: a client registered for private_key_jwt or client_secret_jwt must send an
// assertion and nothing else, and every other client (client_secret_basic or _post, none,
// and the clients made before migration 013, whose method is null) must not send one.
// client_secret_basic and client_secret_post stay interchangeable, as they always were.
import { audit, type AuditLogger } from '../audit.js';
import { AssertionRefused, CLIENT_ASSERTION_TYPE, readAssertion, verifyClientAssertion, type AssertionEndpoint, type ClientAssertionDeps, type PresentedAssertion } from './client-assertion.js';
import { OAuthError } from './errors.js';
import { lockoutError, type Lockout } from './lockout.js';
import { secretMatchesHash, sha256Hex } from './crypto.js';
import type { Client } from './model.js';
import type { ClientPort, RootPick } from './ports.js';

export type ClientLookup = (clientId: string) => Promise<Client | undefined>;

export interface ClientAuthRequest {
  /** The Authorization header as received (undefined when absent). */
  authorization: string | undefined;
  /** Flat request parameters (http/plugins/params.ts toParams). */
  params: Readonly<Record<string, string>>;
  /**
   * POST /refresh only (SPEC.md, Huddle's guide): a client registered with
   * refresh_without_secret may identify itself by client_id alone there.
   */
  allowRefreshWithoutSecret?: boolean;
  /** Where the request was sent: that endpoint's URL is an accepted client assertion `aud` (default token). */
  endpoint?: AssertionEndpoint;
}

// Client ids are ours (newId: 22 characters); anything far longer is not worth a lookup.
const MAX_CLIENT_ID_LENGTH = 200;
const MAX_SECRET_LENGTH = 512;
/** No control characters (C0, DEL). */
const PRINTABLE = /^[^\p{Cc}]*$/u;

// Compared against when the client is unknown or has no secret, so that a wrong client_id
// costs the same hash and comparison as a wrong secret.
const DUMMY_SECRET_HASH = sha256Hex('latchkey-no-such-client');

interface PresentedCredentials {
  clientId: string;
  /** undefined: no secret presented (public client, or refresh_without_secret). */
  secret: string | undefined;
  basic: boolean;
}

/**
 * One application/x-www-form-urlencoded name or value: "+" is a space and %XX a byte of UTF-8
 * (RFC 6749 §2.3.1: the id and secret inside Basic are encoded so too, as is a form body).
 * Most values (tokens, client ids, grant types) hold neither and are returned as they are.
 * Throws URIError on invalid percent-encoding or UTF-8.
 */
export function formDecode(value: string): string {
  const spaced = value.includes('+') ? value.replaceAll('+', ' ') : value;
  return spaced.includes('%') ? decodeURIComponent(spaced) : spaced;
}

/** Parses `Basic base64(id:secret)`; returns undefined when the header uses another scheme. */
export function parseBasicAuthorization(header: string | undefined): { clientId: string; secret: string } | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  // Auth schemes are case-insensitive (RFC 9110 §11.1).
  if (scheme.toLowerCase() !== 'basic') return undefined;
  const malformed = () => new OAuthError('invalid_client', 'the Authorization: Basic header is malformed', { basicAuthAttempted: true });
  const encoded = space === -1 ? '' : trimmed.slice(space + 1).trim();
  if (encoded === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw malformed();
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) throw malformed();
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw malformed();
  }
}

/**
 * Who the request says it is, from the Authorization header parsed once (`basic`, from
 * parseBasicAuthorization) and the body. Throws invalid_request for conflicting methods and
 * invalid_client when no client is named.
 */
function presentedCredentials(request: ClientAuthRequest, basic: { clientId: string; secret: string } | undefined): PresentedCredentials {
  const bodyId = request.params.client_id;
  // An empty client_secret is no secret (some libraries send "client_secret=" for public clients).
  const bodySecret = request.params.client_secret === '' ? undefined : request.params.client_secret;

  if (basic) {
    // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
    if (bodySecret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method: either HTTP Basic or client_secret in the body, not both');
    }
    // client_id in the body as well is harmless when it names the same client.
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body does not match the client of the Authorization header');
    }
    if (basic.clientId === '') throw new OAuthError('invalid_client', 'the Authorization: Basic header names no client', { basicAuthAttempted: true });
    return { clientId: basic.clientId, secret: basic.secret === '' ? undefined : basic.secret, basic: true };
  }
  if (bodyId === undefined || bodyId === '') {
    if (bodySecret !== undefined) throw new OAuthError('invalid_request', 'client_secret was sent without client_id');
    throw new OAuthError('invalid_client', 'client authentication is required: send HTTP Basic credentials, or client_id (and client_secret)');
  }
  return { clientId: bodyId, secret: bodySecret, basic: false };
}

function failed(presented: { basic: boolean }, debug: string): OAuthError {
  return new OAuthError('invalid_client', 'client authentication failed', { basicAuthAttempted: presented.basic, debug });
}

/** The methods that authenticate by assertion, never by a secret sent along. */
function assertionMethod(client: Client | undefined): 'private_key_jwt' | 'client_secret_jwt' | undefined {
  const method = client?.tokenEndpointAuthMethod;
  return method === 'private_key_jwt' || method === 'client_secret_jwt' ? method : undefined;
}

const NO_BASIC = { basic: false } as const;

/**
 * The client assertion the request carries, read but not verified (client-assertion.ts
 * readAssertion); undefined when it carries none. Throws invalid_request for an incomplete
 * pair or a second method beside it, invalid_client for anything else wrong with it.
 */
function presentedAssertion(request: ClientAuthRequest, basic: { clientId: string; secret: string } | undefined): PresentedAssertion | undefined {
  const type = request.params.client_assertion_type;
  const jwt = request.params.client_assertion;
  if (type === undefined && jwt === undefined) return undefined;
  // RFC 6749 §2.3: one method per request.
  if (basic) throw new OAuthError('invalid_request', 'use one client authentication method: either HTTP Basic or a client assertion, not both');
  if (request.params.client_secret !== undefined && request.params.client_secret !== '') {
    throw new OAuthError('invalid_request', 'use one client authentication method: either client_secret or a client assertion, not both');
  }
  if (type === undefined || type === '') throw new OAuthError('invalid_request', 'client_assertion_type is required with client_assertion');
  if (jwt === undefined || jwt === '') throw new OAuthError('invalid_request', 'client_assertion is required with client_assertion_type');
  // RFC 7521 §4.2.1: an assertion that cannot be used is invalid_client.
  if (type !== CLIENT_ASSERTION_TYPE) throw failed(NO_BASIC, `unsupported client_assertion_type ${JSON.stringify(type.slice(0, 100))}`);
  let read: PresentedAssertion;
  try {
    read = readAssertion(jwt);
  } catch (err) {
    throw failed(NO_BASIC, (err as Error).message);
  }
  if (!presentableId(read.clientId)) throw failed(NO_BASIC, UNPRESENTABLE);
  // RFC 7521 §4.2: client_id, when sent, names the same client as the assertion.
  const bodyId = request.params.client_id;
  if (bodyId !== undefined && bodyId !== '' && bodyId !== read.clientId) throw failed(NO_BASIC, 'client_id does not match the client assertion\'s iss and sub');
  return read;
}

/** Judges a client assertion against the client it names; throws invalid_client. */
async function verifyAssertion(assertion: PresentedAssertion, client: Client | undefined, endpoint: AssertionEndpoint, deps: ClientAssertionDeps | undefined, onReplay?: () => void): Promise<Client> {
  if (!client) throw failed(NO_BASIC, `unknown client ${assertion.clientId}`);
  if (!deps) throw failed(NO_BASIC, 'client assertions are not accepted here');
  try {
    await verifyClientAssertion(client, assertion, endpoint, deps);
  } catch (err) {
    if (err instanceof AssertionRefused) {
      if (err.replay) onReplay?.();
      throw failed(NO_BASIC, err.message);
    }
    throw err;
  }
  return client;
}

const UNPRESENTABLE = 'client_id too long or not printable, or client_secret too long';

/**
 * Client ids are printable (ours are base64url); anything else, a NUL above all, cannot name
 * a client and must not reach the database.
 */
function presentableId(clientId: string): boolean {
  return clientId.length <= MAX_CLIENT_ID_LENGTH && PRINTABLE.test(clientId);
}

/** Judges the presented credentials against the client they name (`client`: the one lookup's answer). */
function verifyClient(presented: PresentedCredentials, client: Client | undefined, allowRefreshWithoutSecret: boolean | undefined): Client {
  const byAssertion = assertionMethod(client);
  if (presented.secret !== undefined) {
    if (presented.secret.length > MAX_SECRET_LENGTH) throw failed(presented, UNPRESENTABLE);
    // Always one hash and one constant-time comparison, whether or not the client exists.
    const matches = secretMatchesHash(presented.secret, client?.secretHash ?? DUMMY_SECRET_HASH);
    if (!client) throw failed(presented, `unknown client ${presented.clientId}`);
    if (byAssertion) throw failed(presented, `client ${client.clientId} is registered for ${byAssertion} and sent a secret`);
    if (client.isPublic || client.secretHash === null) throw failed(presented, `public client ${client.clientId} sent a secret`);
    if (!matches) throw failed(presented, `wrong secret for client ${client.clientId}`);
    return client;
  }

  if (!client) throw failed(presented, `unknown client ${presented.clientId}`);
  if (byAssertion) throw failed(presented, `client ${client.clientId} is registered for ${byAssertion} and sent no client assertion`);
  if (client.isPublic) return client;
  if (allowRefreshWithoutSecret && client.refreshWithoutSecret) return client;
  throw failed(presented, `confidential client ${client.clientId} sent no secret`);
}

/**
 * Authenticates the caller. Throws invalid_request for conflicting methods and
 * invalid_client (401; WWW-Authenticate: Basic when Basic was tried, RFC 6749 §5.2) for an
 * unknown client, a wrong secret, or a confidential client that sent no secret.
 */
export async function authenticateClient(request: ClientAuthRequest, findClient: ClientLookup, assertions?: ClientAssertionDeps): Promise<Client> {
  const basic = parseBasicAuthorization(request.authorization);
  const assertion = presentedAssertion(request, basic);
  if (assertion) return verifyAssertion(assertion, await findClient(assertion.clientId), request.endpoint ?? 'token', assertions);
  const presented = presentedCredentials(request, basic);
  if (!presentableId(presented.clientId)) throw failed(presented, UNPRESENTABLE);
  return verifyClient(presented, await findClient(presented.clientId), request.allowRefreshWithoutSecret);
}

/**
 * The brute-force guard's client side, as client authentication uses it
 * (accounts/backoff.ts BruteForceGuard is one): a lockout check before, a failure or a
 * success reported after. A lockout is the wait, in whole seconds.
 */
export interface ClientAuthGuard {
  checkClient(clientId: string, address: string): Promise<Lockout | null>;
  clientSucceeded(clientId: string, address: string): Promise<void>;
  clientFailed(clientId: string): Promise<Lockout | null>;
}

export interface ClientAuthDeps {
  /** The one client lookup client authentication makes. */
  clients: RootPick<ClientPort, 'findByClientId'>;
  guard: ClientAuthGuard;
  /** What client assertions are verified with; without it every assertion is refused (invalid_client). */
  clientAssertions?: ClientAssertionDeps;
}

export interface GuardedClientAuthRequest extends ClientAuthRequest {
  /** The caller's address (backoff: known-good addresses). */
  address: string;
  /** Where this request's client_auth.failed / client_auth.locked lines go. */
  log: AuditLogger;
}

/**
 * Client authentication with the per-client_id backoff, for the token, revocation and
 * introspection endpoints: a client_id with too many recent failures is answered 429
 * (Retry-After) without checking, except from an address where it has authenticated before
 * (accounts/backoff.ts); each invalid_client of a confidential client counts one failure.
 * The Authorization header is parsed once and the client looked up once, whatever happens.
 */
export async function authenticateClientGuarded(request: GuardedClientAuthRequest, deps: ClientAuthDeps): Promise<Client> {
  // A malformed Basic header names no client: invalid_client, with nothing checked or counted.
  const basic = parseBasicAuthorization(request.authorization);
  // An assertion is read (not yet verified) first: the client it names is the one checked for a lockout.
  const assertion = presentedAssertion(request, basic);
  const bodyId = request.params.client_id;
  const claimedId = assertion ? assertion.clientId
    : basic ? basic.clientId : bodyId === undefined || bodyId === '' || bodyId.length > MAX_CLIENT_ID_LENGTH ? undefined : bodyId;
  if (claimedId !== undefined) {
    const lockout = await deps.guard.checkClient(claimedId, request.address);
    if (lockout) {
      audit(request.log, 'client_auth.locked', { client_id: claimedId, address: request.address, retry_after: lockout.retryAfter });
      throw lockoutError(lockout);
    }
  }
  let clientId: string;
  let client: Client | undefined;
  let verify: () => Client | Promise<Client>;
  if (assertion) {
    clientId = assertion.clientId;
    client = await deps.clients.findByClientId(clientId);
    verify = () => verifyAssertion(assertion, client, request.endpoint ?? 'token', deps.clientAssertions, () => {
      audit(request.log, 'client_auth.assertion_replayed', { client_id: clientId, address: request.address });
    });
  } else {
    const presented = presentedCredentials(request, basic);
    // An id no client can have (empty, too long, control characters): nothing looked up or counted.
    if (!presentableId(presented.clientId)) throw failed(presented, UNPRESENTABLE);
    clientId = presented.clientId;
    client = await deps.clients.findByClientId(clientId);
    verify = () => verifyClient(presented, client, request.allowRefreshWithoutSecret);
  }
  let verified: Client;
  try {
    verified = await verify();
  } catch (err) {
    // Only a confidential client's failures count: an unknown client_id has nothing to guess,
    // and counting a public client's would let anyone lock every user of an app out.
    if (client !== undefined && !client.isPublic) {
      const lockout = await deps.guard.clientFailed(clientId);
      audit(request.log, 'client_auth.failed', { client_id: clientId, address: request.address });
      if (lockout) audit(request.log, 'client_auth.locked', { client_id: clientId, address: request.address, retry_after: lockout.retryAfter });
    }
    throw err;
  }
  // Public clients prove nothing, so they earn no "known good" address.
  if (!verified.isPublic) await deps.guard.clientSucceeded(verified.clientId, request.address);
  return verified;
}
