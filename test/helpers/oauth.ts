// Building blocks for token-endpoint and protected-resource tests: users, clients, codes
// minted straight into the database (as the authorization endpoint would), and HTTP helpers
// for the token endpoint and /api/user; and the browser side of the authorization code flow
// (signIn, authorize: GET /oauth/authorize → login → consent → decision, over real HTTP).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { registerClient, type ClientRegistration } from '../../src/accounts/client-registration.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { s256Challenge } from '../../src/oauth/pkce.js';
import type { Client } from '../../src/store/clients.js';
import type { Organization } from '../../src/store/orgs.js';
import type { TestServer } from './server.js';

export interface TestUser {
  id: number;
  email: string;
  name: string;
  locale: string;
  password: string;
}

let userCounter = 0;

// One argon2 hash for every test user: hashing costs tens of milliseconds each.
const PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;

export async function createUser(server: TestServer, overrides: Partial<Pick<TestUser, 'email' | 'name' | 'locale'>> = {}): Promise<TestUser> {
  userCounter += 1;
  passwordHash ??= hashPassword(PASSWORD);
  const email = overrides.email ?? `user${userCounter}-${randomBytes(3).toString('hex')}@example.com`;
  const user = await server.services.users.insert({
    email,
    name: overrides.name ?? `User ${userCounter}`,
    locale: overrides.locale ?? 'nl',
    passwordHash: await passwordHash,
    now: nowSeconds(server.clock),
  });
  return { ...user, password: PASSWORD };
}

export interface TestClient {
  client: Client;
  clientId: string;
  /** null for public clients. */
  clientSecret: string | null;
  redirectUri: string;
}

export async function createClient(server: TestServer, options: Partial<ClientRegistration> = {}): Promise<TestClient> {
  const redirectUris = options.redirectUris ?? ['https://app.example/callback'];
  // Operator-made by default (trusted: errors redirect at once), as the CLI makes them; pass
  // trusted: false for a client as the developer portal makes it.
  const { client, clientSecret } = await registerClient(server.services, { name: 'Test app', trusted: true, ...options, redirectUris });
  return { client, clientId: client.clientId, clientSecret, redirectUri: redirectUris[0] ?? '' };
}

export interface MintCodeOptions {
  client: TestClient;
  userId: number;
  organizationId?: number | null;
  scope?: string;
  /** Defaults to the client's first redirect URI. */
  redirectUri?: string;
  /** Whether the authorization request carried redirect_uri (default true). */
  redirectUriSent?: boolean;
  /** A PKCE verifier: its S256 challenge is stored with the code. */
  codeVerifier?: string;
  /** Seconds the code lives (default: the server's authorization_code_ttl). */
  ttl?: number;
}

export interface MintedCode {
  code: string;
  grantId: number;
}

/** Issues a code the way the authorization endpoint does: a grant row and a hashed code row. */
export async function mintCode(server: TestServer, options: MintCodeOptions): Promise<MintedCode> {
  const now = nowSeconds(server.clock);
  const scope = options.scope ?? 'profile email';
  const organizationId = options.organizationId ?? null;
  const grantId = await server.services.grants.insert({
    clientId: options.client.client.id, userId: options.userId, organizationId, scope, grantType: 'authorization_code', now,
  });
  const code = randomBytes(32).toString('base64url');
  await server.services.tokens.insertCode({
    code_hash: sha256Hex(code),
    grant_id: grantId,
    client_id: options.client.client.id,
    user_id: options.userId,
    organization_id: organizationId,
    redirect_uri: options.redirectUri ?? options.client.redirectUri,
    redirect_uri_sent: options.redirectUriSent === false ? 0 : 1,
    scope,
    code_challenge: options.codeVerifier === undefined ? null : s256Challenge(options.codeVerifier),
    code_challenge_method: options.codeVerifier === undefined ? null : 'S256',
    created_at: now,
    expires_at: now + (options.ttl ?? server.config.authorizationCodeTtl),
  });
  return { code, grantId };
}

/** A PKCE verifier: 43 characters of base64url (RFC 7636 §4.1). */
export function newVerifier(): string {
  return randomBytes(32).toString('base64url');
}

export type BodyFormat = 'form' | 'json' | 'multipart';

export interface TokenCall {
  path?: '/oauth/token' | '/token' | '/refresh';
  format?: BodyFormat;
  /** HTTP Basic credentials (RFC 6749 §2.3.1: form-urlencoded before base64). */
  basic?: { id: string; secret: string };
  headers?: Record<string, string>;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  // Tests read fields freely and assert on them.
  body: Record<string, unknown>;
}

export function basicHeader(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** Encodes parameters as a request body; sets content-type in `headers` (fetch sets multipart's own). */
export function encodeBody(params: Record<string, string>, format: BodyFormat, headers: Record<string, string>): string | FormData {
  switch (format) {
    case 'form':
      headers['content-type'] = 'application/x-www-form-urlencoded';
      return new URLSearchParams(params).toString();
    case 'json':
      headers['content-type'] = 'application/json';
      return JSON.stringify(params);
    case 'multipart': {
      const form = new FormData();
      for (const [k, v] of Object.entries(params)) form.append(k, v);
      return form;
    }
  }
}

export async function postToken(server: TestServer, params: Record<string, string>, call: TokenCall = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.basic) headers.authorization = basicHeader(call.basic.id, call.basic.secret);
  const body = encodeBody(params, call.format ?? 'form', headers);
  const res = await fetch(`${server.url}${call.path ?? '/oauth/token'}`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The client credentials of a confidential client for client_secret_post. */
export function secretPost(client: TestClient): Record<string, string> {
  return { client_id: client.clientId, client_secret: client.clientSecret ?? '' };
}

/** Exchanges a code as a confidential client (client_secret_post). */
export async function exchangeCode(server: TestServer, client: TestClient, code: string, extra: Record<string, string> = {}): Promise<JsonResponse> {
  return postToken(server, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, ...secretPost(client), ...extra });
}

export async function refresh(server: TestServer, client: TestClient, refreshToken: string, extra: Record<string, string> = {}, call: TokenCall = {}): Promise<JsonResponse> {
  return postToken(server, { grant_type: 'refresh_token', refresh_token: refreshToken, ...secretPost(client), ...extra }, call);
}

export async function getUser(server: TestServer, token: string, options: { scheme?: string; path?: string } = {}): Promise<JsonResponse> {
  const res = await fetch(`${server.url}${options.path ?? '/api/user'}`, { headers: { authorization: `${options.scheme ?? 'Bearer'} ${token}` } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The token pair of a successful response, typed. */
export function tokensOf(res: JsonResponse): { accessToken: string; refreshToken: string } {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${JSON.stringify(res.body)}`);
  return { accessToken: String(res.body.access_token), refreshToken: String(res.body.refresh_token) };
}

/**
 * Stops the server's clock at the current instant (advance() still moves it), so that a
 * test asserting an exact expiry boundary is not upset by a real second ticking between two
 * requests. Returns the function that lets it run again.
 */
export function freezeClock(server: TestServer): () => void {
  const clock = server.clock;
  const frozenAt = Date.now();
  clock.nowMs = () => frozenAt + clock.offsetMs;
  return () => {
    delete (clock as Partial<typeof clock>).nowMs;
  };
}

// ---- the browser side: login, consent, decision (GET /oauth/authorize → … → redirect) -----------
// Drives the flow over real HTTP the way a browser would: keeps cookies, never follows
// redirects on its own, and reads the forms' hidden fields from the HTML.

/** The cookies one browser holds for the server. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  header(): string | undefined {
    return this.cookies.size === 0 ? undefined : [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=(0|-\d+)\s*$/i.test(a) || /^\s*expires=.*1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: string;
  /** The Location header as sent (null when none). */
  location: string | null;
}

export interface HttpOptions {
  jar?: CookieJar;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string> | URLSearchParams;
  headers?: Record<string, string>;
}

/** One request, redirects not followed; cookies read from and stored into `jar`. */
export async function httpRequest(server: { url: string }, method: string, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { accept: 'text/html', ...options.headers };
  const cookie = options.jar?.header();
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (options.form) {
    body = (options.form instanceof URLSearchParams ? options.form : new URLSearchParams(options.form)).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const response = await fetch(new URL(path, server.url), { method, headers, body, redirect: 'manual' });
  options.jar?.store(response);
  return { status: response.status, headers: response.headers, body: await response.text(), location: response.headers.get('location') };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' };

export function unescapeHtml(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_m, name: string) => ENTITIES[name] ?? '');
}

function attribute(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m?.[1] === undefined ? undefined : unescapeHtml(m[1]);
}

/** The markup of the first form whose action is `action`, or undefined. */
export function formMarkup(html: string, action: string): string | undefined {
  for (const m of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)) {
    const open = /<form\b[^>]*>/.exec(m[0])?.[0] ?? '';
    if (attribute(open, 'action') === action) return m[0];
  }
  return undefined;
}

/** The hidden fields of the form posting to `action`, as a browser would submit them. */
export function hiddenFields(html: string, action: string): Record<string, string> {
  const form = formMarkup(html, action);
  assert.ok(form !== undefined, `the page has a form posting to ${action}`);
  const out: Record<string, string> = {};
  for (const m of form.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    if (attribute(tag, 'type') !== 'hidden') continue;
    const name = attribute(tag, 'name');
    if (name !== undefined) out[name] = attribute(tag, 'value') ?? '';
  }
  return out;
}

/** The radio buttons named `name`: their values, and whether each is disabled or checked. */
export function radioOptions(html: string, name: string): Array<{ value: string; disabled: boolean; checked: boolean }> {
  const out: Array<{ value: string; disabled: boolean; checked: boolean }> = [];
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    if (attribute(tag, 'type') !== 'radio' || attribute(tag, 'name') !== name) continue;
    out.push({ value: attribute(tag, 'value') ?? '', disabled: /\sdisabled[\s>]/.test(tag), checked: /\schecked[\s>]/.test(tag) });
  }
  return out;
}

/** An organization with the given users as members. */
export async function createOrganization(server: TestServer, input: { name?: string; integrationsEnabled?: boolean; memberIds?: number[] } = {}): Promise<Organization> {
  const now = nowSeconds(server.clock);
  const org = await server.services.orgs.insert({ name: input.name ?? 'Test Org', integrationsEnabled: input.integrationsEnabled ?? true, now });
  for (const userId of input.memberIds ?? []) await server.services.orgs.upsertMember(org.id, userId, 'member', now);
  return org;
}

/** A PKCE verifier and its S256 challenge (RFC 7636 §4.1, §4.2). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = newVerifier();
  return { verifier, challenge: s256Challenge(verifier) };
}

export const LOGIN_PATH = '/login';
export const DECISION_PATH = '/oauth/authorize/decision';

/** Signs in through the login page; returns the browser's cookies. Fails the test if refused. */
export async function signIn(server: { url: string }, email: string, password: string, jar = new CookieJar()): Promise<CookieJar> {
  const page = await httpRequest(server, 'GET', LOGIN_PATH, { jar });
  assert.equal(page.status, 200, `GET /login → ${page.status}`);
  const res = await httpRequest(server, 'POST', LOGIN_PATH, { jar, form: { ...hiddenFields(page.body, LOGIN_PATH), email, password } });
  assert.equal(res.status, 303, `sign-in of ${email} → ${res.status}`);
  return jar;
}

export interface AuthorizeOptions {
  clientId?: string;
  redirectUri?: string;
  /** Default `code`; null leaves it out. */
  responseType?: string | null;
  scope?: string;
  state?: string;
  codeChallenge?: string;
  /** Default S256 when codeChallenge is given. */
  codeChallengeMethod?: string;
  prompt?: string;
  /** Any further query parameters, appended as given (repeats allowed). */
  extra?: Array<[string, string]>;
  /** The organization to pick on the consent page (default: the preselected one, if any). */
  organizationId?: number | string;
  /** What to press on the consent page (default allow); 'stop' returns the consent page itself. */
  decision?: 'allow' | 'deny' | 'stop';
  /** Extra fields posted with the decision. */
  decisionFields?: Record<string, string>;
  /** The browser's cookies (a signed-in session, or a fresh jar); updated in place. */
  cookies?: CookieJar;
  /** Credentials for the login page, when it is shown; without them the flow stops there. */
  login?: { email: string; password: string };
}

export interface AuthorizeResult {
  /** The last response. */
  final: HttpResult;
  status: number;
  location: string | null;
  /** The Location parsed, when the flow ended with a redirect to the client. */
  redirect: URL | null;
  code: string | null;
  state: string | null;
  error: string | null;
  errorDescription: string | null;
  loginShown: boolean;
  consentShown: boolean;
  /** The consent page's HTML when it was shown (the last one). */
  consentPage: string | null;
  cookies: CookieJar;
}

/** The authorization request's path and query. */
export function authorizePath(options: AuthorizeOptions): string {
  const q = new URLSearchParams();
  if (options.responseType !== null) q.append('response_type', options.responseType ?? 'code');
  if (options.clientId !== undefined) q.append('client_id', options.clientId);
  if (options.redirectUri !== undefined) q.append('redirect_uri', options.redirectUri);
  if (options.scope !== undefined) q.append('scope', options.scope);
  if (options.state !== undefined) q.append('state', options.state);
  if (options.codeChallenge !== undefined) q.append('code_challenge', options.codeChallenge);
  const method = options.codeChallengeMethod ?? (options.codeChallenge !== undefined ? 'S256' : undefined);
  if (method !== undefined) q.append('code_challenge_method', method);
  if (options.prompt !== undefined) q.append('prompt', options.prompt);
  for (const [k, v] of options.extra ?? []) q.append(k, v);
  return `/oauth/authorize?${q.toString()}`;
}

function isOurs(server: { url: string }, location: string): boolean {
  return new URL(location, server.url).origin === new URL(server.url).origin;
}

/**
 * Runs the flow from GET /oauth/authorize to the redirect back to the client, or to wherever
 * it stops: an error page, the login page without (or with wrong) credentials, the consent
 * page with decision 'stop' or a refused choice. Returns the final Location's code, state, error.
 */
export async function authorize(server: { url: string }, options: AuthorizeOptions): Promise<AuthorizeResult> {
  const jar = options.cookies ?? new CookieJar();
  let loginShown = false;
  let consentShown = false;
  let consentPage: string | null = null;
  let response = await httpRequest(server, 'GET', authorizePath(options), { jar });

  for (let step = 0; step < 10; step++) {
    const location = response.location;
    if (location !== null && response.status >= 300 && response.status < 400) {
      if (!isOurs(server, location)) break; // back at the client
      const target = new URL(location, server.url);
      const page = await httpRequest(server, 'GET', target.pathname + target.search, { jar });
      if (target.pathname !== LOGIN_PATH) {
        response = page;
        continue;
      }
      loginShown = true;
      if (!options.login || page.status !== 200) {
        response = page;
        break;
      }
      response = await httpRequest(server, 'POST', LOGIN_PATH, {
        jar, form: { ...hiddenFields(page.body, LOGIN_PATH), email: options.login.email, password: options.login.password },
      });
      if (response.status !== 303) break; // refused: the login page again
      continue;
    }
    if (response.status !== 200 || formMarkup(response.body, DECISION_PATH) === undefined) break;
    consentShown = true;
    consentPage = response.body;
    if (options.decision === 'stop') break;
    const form: Record<string, string> = { ...hiddenFields(response.body, DECISION_PATH), decision: options.decision ?? 'allow' };
    const preselected = radioOptions(response.body, 'organization_id').find((o) => o.checked);
    if (options.organizationId !== undefined) form.organization_id = String(options.organizationId);
    else if (preselected) form.organization_id = preselected.value;
    Object.assign(form, options.decisionFields);
    response = await httpRequest(server, 'POST', DECISION_PATH, { jar, form });
    if (response.status === 302 || response.status === 303) continue;
    // A refused choice shows the consent page again: stop there rather than loop.
    if (formMarkup(response.body, DECISION_PATH) !== undefined) consentPage = response.body;
    break;
  }

  const location = response.location;
  const redirect = location !== null && response.status >= 300 && response.status < 400 && !isOurs(server, location) ? new URL(location) : null;
  const param = (name: string) => redirect?.searchParams.get(name) ?? null;
  return {
    final: response,
    status: response.status,
    location,
    redirect,
    code: param('code'),
    state: param('state'),
    error: param('error'),
    errorDescription: param('error_description'),
    loginShown,
    consentShown,
    consentPage,
    cookies: jar,
  };
}
