// RP-Initiated Logout 1.0 (SPEC.md "Logout"): what GET/POST /oauth/logout decides, without HTTP.
// The route (http/routes/logout.ts) reads the parameters and the session, asks decideLogout,
// and ends the session, redirects, or shows the confirmation or signed-out page.
//
// - id_token_hint is trusted only as a JWS that one of our published keys signed with RS256 or
//   ES256 (never `none`, HS*, a key not ours, or an altered token), whose `iss` is ours and whose
//   `aud` names a registered client. Its `exp` is not checked (§2: an expired ID token is
//   still a fine hint); a key that is no longer published ends its tokens' use as hints.
// - A valid hint issued in the browser's current session (its `sub` the signed-in user, its
//   `sid` this session's), or with nobody signed in, ends the session without asking and
//   redirects to `post_logout_redirect_uri` with `state`, or shows the signed-out page.
//   Anything else a signed-in user must confirm: §6, a logout request without a valid hint is
//   a denial of service otherwise; §2, a hint whose `sid` is not the current session's is
//   "suspect" (an ID token from an earlier sign-in, or another user's).
// - The browser goes back only to a URI that is exactly one of the post-logout redirect URIs
//   of a client named by a valid hint or by `client_id` (§3). An unregistered URI of a known
//   client is a 400 page; a URI without such a client (no hint and no client_id, or a hint we
//   did not sign) is dropped: the user ends on our signed-out page, never elsewhere.
import { appendQuery } from './authorize.js';
import { OAuthError } from './errors.js';
import { verifyIdTokenHint } from './id-token.js';
import type { Client } from './model.js';
import type { ClientPort, RootPick } from './ports.js';
import { isRegisteredRedirectUri } from './redirect-uri.js';
import type { SigningKeys } from './signing-keys.js';

/** The parameters of a logout request (§2); `ui_locales` and `logout_hint` are read and need nothing more. */
export interface LogoutRequest {
  idTokenHint?: string;
  clientId?: string;
  postLogoutRedirectUri?: string;
  state?: string;
}

/** The parameters read; `ui_locales` (the pages' language, read by http/routes/logout.ts) and `logout_hint` are accepted too. */
const PARAMETERS = { id_token_hint: 'idTokenHint', client_id: 'clientId', post_logout_redirect_uri: 'postLogoutRedirectUri', state: 'state' } as const;
const ACCEPTED = new Set<string>([...Object.keys(PARAMETERS), 'ui_locales', 'logout_hint']);

/**
 * Reads a logout request from the query and (for POST) the form body. Values are taken as
 * sent, not trimmed: the URI must match exactly. An empty value counts as absent; a parameter
 * repeated (or in both query and body), not text, or holding NUL is a 400.
 */
export function logoutRequest(...sources: unknown[]): LogoutRequest {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const source of sources) {
    if (source === null || typeof source !== 'object') continue;
    for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
      if (!ACCEPTED.has(name)) continue;
      if (seen.has(name) || Array.isArray(value)) throw refuse(`The sign-out request names ${name} more than once, so nothing was done. Go back to the application and try again.`);
      seen.add(name);
      if (typeof value !== 'string' || value.includes('\0')) throw refuse(`The sign-out request's ${name} is not a text value, so nothing was done.`);
      const field = PARAMETERS[name as keyof typeof PARAMETERS] as keyof LogoutRequest | undefined;
      if (field !== undefined && value !== '') out[field] = value;
    }
  }
  return out;
}

export interface LogoutDeps {
  clients: RootPick<ClientPort, 'findByClientId'>;
  signingKeys: Pick<SigningKeys, 'verificationKey'>;
  issuer: string;
}

/** What a valid hint says: the client it was issued to, the user, and the session it was issued in. */
export interface VerifiedHint {
  client: Client;
  subject: string;
  sid: string | null;
}

export type HintCheck = { ok: true; hint: VerifiedHint } | { ok: false; reason: string };

/**
 * Verifies an id_token_hint (id-token.ts verifyIdTokenHint: one of our published keys signed
 * it with RS256 or ES256, `iss` ours, a `sub`; `exp` not checked) and that its `aud` is a
 * registered client. Never throws.
 */
export async function verifyLogoutHint(token: string, deps: LogoutDeps): Promise<HintCheck> {
  const hint = await verifyIdTokenHint({ keys: deps.signingKeys, issuer: deps.issuer }, token);
  if (hint === null) return { ok: false, reason: 'not an ID token of ours' };
  const client = await deps.clients.findByClientId(hint.aud);
  if (!client) return { ok: false, reason: 'aud names no registered client' };
  return { ok: true, hint: { client, subject: hint.sub, sid: hint.sid } };
}

/** Why a signed-in user is asked before being signed out. */
export type ConfirmReason = 'no_hint' | 'invalid_hint' | 'other_user' | 'other_session';

/** Who is signed in to the browser: the user's subject and the session's public id (http/session.ts sessionSid). */
export interface SignedIn {
  subject: string;
  sid: string | null;
}

export type LogoutDecision =
  /**
   * End the session (if any); then redirect to `location`, or show the signed-out page when
   * null — with `offer` on it as a link the visitor may follow (a client anyone could
   * register, asking for a signed-out visitor: see withoutBlindRedirect).
   */
  | { action: 'end'; location: string | null; client: Client | null; offer?: string }
  /**
   * Ask the signed-in user. `client` and `postLogoutRedirectUri` are set only when the URI is
   * one of that client's: the confirmation may then go back there (with `state`).
   */
  | { action: 'confirm'; reason: ConfirmReason; client: Client | null; postLogoutRedirectUri: string | null; state: string | null };

/** A 400 page: the request names something we cannot honour, and nothing is ended or redirected. */
function refuse(description: string): OAuthError {
  return new OAuthError('invalid_request', description, { status: 400 });
}

/** Where the browser goes back to: the registered URI with `state` added, its own query kept. */
export function postLogoutLocation(uri: string, state: string | undefined | null): string {
  return appendQuery(uri, { state: state ?? undefined });
}

/** The post-logout redirect URI if it is exactly one of `client`'s; a 400 when it is not. */
function registeredUri(client: Client, uri: string | undefined): string | null {
  if (uri === undefined) return null;
  if (!isRegisteredRedirectUri(client.postLogoutRedirectUris, uri)) {
    throw refuse(`${client.name} asked to send you to an address it has not registered for after signing out, so you were not sent there and are still signed in. Go back to ${client.name} and sign out there again, or sign out from your account page.`);
  }
  return uri;
}

/**
 * A signed-out visitor is sent on at once only to a client the operator created: a client
 * from the developer portal registers whatever URI its maker likes, and its maker holds valid
 * hints (their own ID tokens) and knows its client_id, so a link to /oauth/logout would make
 * us an open redirector for anyone (RP-Initiated Logout §3: no redirection without "other
 * means of confirming the legitimacy" of the target; RFC 9700 §4.11.2 as at the
 * authorization endpoint). Such a visitor gets the signed-out page with a link naming where
 * it leads. A signed-in user's own session ended by its own hint still goes back at once.
 */
function withoutBlindRedirect(client: Client, location: string | null): LogoutDecision {
  if (location === null || client.trusted) return { action: 'end', location, client };
  return { action: 'end', location: null, client, offer: location };
}

/**
 * Decides a logout request. `signedIn` is who is signed in, or null when nobody is. Throws OAuthError (a 400 page) for a client_id that names no client or does not
 * match the hint, and for a post-logout redirect URI the named client has not registered.
 */
export async function decideLogout(request: LogoutRequest, deps: LogoutDeps, signedIn: SignedIn | null): Promise<LogoutDecision> {
  if (request.idTokenHint !== undefined) {
    const check = await verifyLogoutHint(request.idTokenHint, deps);
    if (check.ok) {
      const { client, subject, sid } = check.hint;
      if (request.clientId !== undefined && request.clientId !== client.clientId) {
        throw refuse('The sign-out request names one application in client_id and another in its ID token, so nothing was done and you are still signed in.');
      }
      const uri = registeredUri(client, request.postLogoutRedirectUri);
      const location = uri === null ? null : postLogoutLocation(uri, request.state);
      if (signedIn === null) return withoutBlindRedirect(client, location);
      if (signedIn.subject === subject && (sid === null || sid === signedIn.sid)) return { action: 'end', location, client };
      const reason = signedIn.subject === subject ? 'other_session' : 'other_user';
      return { action: 'confirm', reason, client, postLogoutRedirectUri: uri, state: uri === null ? null : (request.state ?? null) };
    }
    // A hint we did not sign (or cannot read): nothing in the request is trusted to redirect.
    return signedIn === null
      ? { action: 'end', location: null, client: null }
      : { action: 'confirm', reason: 'invalid_hint', client: null, postLogoutRedirectUri: null, state: null };
  }
  if (request.clientId !== undefined) {
    const client = await deps.clients.findByClientId(request.clientId);
    if (!client) throw refuse('The sign-out request names an application that is not registered here, so nothing was done.');
    const uri = registeredUri(client, request.postLogoutRedirectUri);
    const state = uri === null ? null : (request.state ?? null);
    if (signedIn === null) return withoutBlindRedirect(client, uri === null ? null : postLogoutLocation(uri, state));
    return { action: 'confirm', reason: 'no_hint', client, postLogoutRedirectUri: uri, state };
  }
  // No client named: a post_logout_redirect_uri cannot be attributed to anyone and is dropped.
  return signedIn === null
    ? { action: 'end', location: null, client: null }
    : { action: 'confirm', reason: 'no_hint', client: null, postLogoutRedirectUri: null, state: null };
}

/**
 * After the user pressed "Sign out" on the confirmation page: where to go. The form's fields
 * are checked again (they are in the user's hands): a URI only with the client it is
 * registered for. Returns the location, or null for the signed-out page; throws a 400 OAuthError.
 */
export async function confirmedLogoutLocation(fields: Omit<LogoutRequest, 'idTokenHint'>, deps: LogoutDeps): Promise<string | null> {
  if (fields.postLogoutRedirectUri === undefined) return null;
  const client = fields.clientId === undefined ? undefined : await deps.clients.findByClientId(fields.clientId);
  if (!client) throw refuse('The sign-out form does not say which application to go back to, so nothing was done.');
  const uri = registeredUri(client, fields.postLogoutRedirectUri);
  return uri === null ? null : postLogoutLocation(uri, fields.state);
}
