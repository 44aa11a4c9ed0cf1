// The servers under test, seen the same way: an OAuth server (Latchkey or the peer) that the
// bench signs in to once, then mints codes and tokens from over HTTP, exactly as a client
// would; and for each operation, the load job that exercises it.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadJob, LoadMode, RequestTemplate } from '../load/jobs.js';
import { basicAuth, CookieJar, fillForm, form, request, type HttpResponse } from './http.js';
import type { StartedServer } from './proc.js';

/**
 * In the order they run. The OpenID Connect operations come after the plain OAuth ones (only
 * the password grant, whose cost is argon2, runs later), so they leave the database that the
 * earlier operations are measured on as it was before they were added.
 */
export const OPS = [
  'refresh', 'code', 'client_credentials', 'user_opaque', 'user_jwt', 'introspect', 'revoke', 'flow',
  'code_openid_rs256', 'code_openid_es256', 'userinfo_openid', 'password',
] as const;
export type OpName = (typeof OPS)[number];

export const OP_TITLES: Record<OpName, string> = {
  refresh: 'refresh-token rotation',
  code: 'code exchange',
  client_credentials: 'client credentials',
  user_opaque: '/api/user (opaque token)',
  user_jwt: '/api/user (JWT access token)',
  introspect: 'introspection',
  revoke: 'revocation',
  flow: 'returning user: authorize + token',
  code_openid_rs256: 'code exchange + ID token (RS256)',
  code_openid_es256: 'code exchange + ID token (ES256)',
  userinfo_openid: 'UserInfo (openid token)',
  password: 'password grant',
};

/** The OpenID Connect operations and their target against node-oidc-provider (SPEC: ≥ 1.5×). */
export const OPENID_OPS = ['code_openid_rs256', 'code_openid_es256', 'userinfo_openid'] as const satisfies readonly OpName[];

/** Operations answered by the token endpoint (the p99 ≤ 10 ms target). */
export const TOKEN_ENDPOINT_OPS: ReadonlySet<OpName> = new Set(['refresh', 'code', 'client_credentials', 'code_openid_rs256', 'code_openid_es256', 'password']);

/** The operation cannot run on this target: not supported, or its endpoint is missing. */
export class Unavailable extends Error {
  override name = 'Unavailable';
}

/** The server answered something the bench cannot work with (not a fault of the bench). */
export class ServerBehaviour extends Error {
  override name = 'ServerBehaviour';
}

export interface JobShape {
  mode: LoadMode;
  request: RequestTemplate;
  token?: RequestTemplate;
  valuesFile?: string;
  /** Where the load generator leaves the refresh tokens the run was given (see LoadJob). */
  harvestFile?: string;
  /** At most this many connections, whatever the run asks for (see PASSWORD_CONNECTIONS). */
  maxConnections?: number;
}

/**
 * Connections for the password grant: one client's share of Latchkey's password hashing
 * (accounts/passwords.ts) — more from one client are refused with 429 at once by design, and
 * the hashing itself runs one or two at a time on a small machine anyway.
 */
export const PASSWORD_CONNECTIONS = 4;

export interface BenchClient {
  id: string;
  secret: string;
  redirectUri: string;
}

export interface OAuthTargetOptions {
  /** Short name used in tables: "latchkey", "latchkey-jwt", "peer". */
  name: string;
  server: StartedServer;
  paths: { authorize: string; token: string; user: string; userinfo: string; introspect: string; revoke: string };
  /** The client every operation uses; its ID tokens are RS256 (the default). */
  client: BenchClient;
  /** A client registered with id_token_signed_response_alg ES256 (code_openid_es256 only). */
  es256Client: BenchClient;
  /**
   * Scope for the tokens of the token-endpoint operations, for tokens that read the user, and
   * for the OpenID Connect operations (an ID token at the code exchange, UserInfo).
   */
  scopes: { tokens: string; user: string; openid: string };
  credentials: { username: string; password: string };
  /** Accounts the password grant cycles through (each with credentials.password); else credentials.username alone. */
  passwordUsers?: readonly string[];
  supportsPassword: boolean;
  tmpDir: string;
}

const FORM = 'application/x-www-form-urlencoded';
const MINT_CONCURRENCY = 24;
/** Access tokens the read-only operations (/api/user, introspection) send in turn. */
const READ_TOKENS = 2000;

async function inParallel<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  });
  await Promise.all(workers);
  return out;
}

function snippet(r: HttpResponse): string {
  return `${r.status} ${r.body.replace(/\s+/g, ' ').slice(0, 200)}`;
}

/** The `alg` of a compact JWS's protected header, or undefined when it is not one. */
export function jwsAlg(token: unknown): string | undefined {
  if (typeof token !== 'string') return undefined;
  const [head] = token.split('.', 1);
  try {
    const header = JSON.parse(Buffer.from(head ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

export class OAuthTarget {
  readonly jar = new CookieJar();
  private signedIn: Promise<void> | undefined;
  /** Consent given per client and scope, after signing in (see consented()). */
  private readonly consents = new Map<string, Promise<void>>();
  /** The ID-token algorithm checked per client (checkIdToken()). */
  private readonly idTokenChecks = new Map<string, Promise<void>>();
  private readonly missing = new Map<string, boolean>();
  private fileSeq = 0;

  constructor(readonly o: OAuthTargetOptions) {}

  get name(): string {
    return this.o.name;
  }

  get origin(): string {
    return this.o.server.origin;
  }

  private get basic(): string {
    return basicAuth(this.o.client.id, this.o.client.secret);
  }

  /** Throws Unavailable when the route answers 404 (not there yet). */
  async requireEndpoint(method: 'GET' | 'POST', path: string): Promise<void> {
    const key = `${method} ${path}`;
    let gone = this.missing.get(key);
    if (gone === undefined) {
      const r = await request(`${this.origin}${path}`, { method, headers: method === 'POST' ? { 'content-type': FORM } : {}, ...(method === 'POST' ? { body: '' } : {}) });
      gone = r.status === 404;
      this.missing.set(key, gone);
    }
    if (gone) throw new Unavailable(`endpoint missing: ${key}`);
  }

  /** `nonce`: an OpenID request's nonce (a fresh random one per request, as a client sends). */
  authorizeUrl(scope: string, state: string, client: BenchClient = this.o.client, nonce?: string): string {
    const q = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope, state });
    if (nonce !== undefined) q.set('nonce', nonce);
    return `${this.o.paths.authorize}?${q.toString()}`;
  }

  /**
   * Follows an authorization request through the real pages (login form, consent form), as a
   * browser would, until the redirect to the client with a code.
   */
  private async authorizeInteractively(client: BenchClient, scope: string, what: string): Promise<void> {
    let url = `${this.origin}${this.authorizeUrl(scope, what, client)}`;
    let r = await request(url, { jar: this.jar });
    for (let step = 0; step < 12; step++) {
      if (r.status >= 300 && r.status < 400 && r.headers.location) {
        const next = new URL(r.headers.location, url).toString();
        if (next.startsWith(client.redirectUri)) {
          if (!new URL(next).searchParams.get('code')) throw new ServerBehaviour(`${this.name}: ${what} ended without a code: ${next}`);
          return;
        }
        url = next;
        r = await request(url, { jar: this.jar });
      } else if (r.status === 200 && /<form/i.test(r.body)) {
        const f = fillForm({ ...r, url }, { username: this.o.credentials.username, password: this.o.credentials.password });
        if (!f) throw new ServerBehaviour(`${this.name}: no form to fill at ${url}`);
        url = f.action;
        r = await request(url, { method: 'POST', jar: this.jar, body: f.body, headers: { 'content-type': FORM } });
      } else {
        throw new ServerBehaviour(`${this.name}: ${what} stopped at ${url}: ${snippet(r)}`);
      }
    }
    throw new ServerBehaviour(`${this.name}: ${what} did not finish in 12 steps`);
  }

  /** Signs in once through the real pages (login form, consent form), as a browser would. */
  signIn(): Promise<void> {
    this.signedIn ??= (async () => {
      await this.requireEndpoint('GET', this.o.paths.authorize);
      await this.authorizeInteractively(this.o.client, this.o.scopes.tokens, 'sign-in');
    })();
    return this.signedIn;
  }

  /**
   * Signed in, and consent given for `client` and `scope`: after the sign-in (the main client,
   * scopes.tokens), another client or scope may show its consent page once.
   */
  private consented(client: BenchClient, scope: string): Promise<void> {
    if (client === this.o.client && scope === this.o.scopes.tokens) return this.signIn();
    const key = `${client.id} ${scope}`;
    let done = this.consents.get(key);
    if (!done) {
      done = this.signIn().then(() => this.authorizeInteractively(client, scope, 'consent'));
      this.consents.set(key, done);
      done.catch(() => this.consents.delete(key));
    }
    return done;
  }

  /** One code through the authorization endpoint with the live session and remembered consent. */
  async mintCode(scope: string, client: BenchClient = this.o.client, openid = false): Promise<string> {
    const nonce = openid ? randomBytes(16).toString('base64url') : undefined;
    const r = await request(`${this.origin}${this.authorizeUrl(scope, 'mint', client, nonce)}`, { jar: this.jar });
    const location = r.headers.location;
    const code = r.status >= 300 && r.status < 400 && location ? new URL(location, this.origin).searchParams.get('code') : null;
    if (!code) throw new ServerBehaviour(`${this.name}: authorize with a live session did not redirect with a code: ${snippet(r)} location=${location ?? ''}`);
    return code;
  }

  async exchange(code: string, client: BenchClient = this.o.client): Promise<{ access_token: string; refresh_token?: string; id_token?: string }> {
    const r = await request(`${this.origin}${this.o.paths.token}`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, client.secret), 'content-type': FORM },
      body: form({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }),
    });
    if (r.status !== 200) throw new ServerBehaviour(`${this.name}: code exchange failed: ${snippet(r)}`);
    return JSON.parse(r.body) as { access_token: string; refresh_token?: string; id_token?: string };
  }

  async mintCodes(n: number, scope: string, client: BenchClient = this.o.client, openid = false): Promise<string[]> {
    await this.consented(client, scope);
    return inParallel(n, MINT_CONCURRENCY, () => this.mintCode(scope, client, openid));
  }

  async mintTokens(n: number, scope: string): Promise<Array<{ access_token: string; refresh_token?: string }>> {
    await this.consented(this.o.client, scope);
    return inParallel(n, MINT_CONCURRENCY, async () => this.exchange(await this.mintCode(scope)));
  }

  /**
   * Makes sure an OpenID code exchange of `client` answers an ID token signed with `alg`, once
   * per client: otherwise the operation would measure something else (a plain exchange).
   */
  private checkIdToken(client: BenchClient, alg: string): Promise<void> {
    let done = this.idTokenChecks.get(client.id);
    if (!done) {
      done = (async () => {
        const [code] = await this.mintCodes(1, this.o.scopes.openid, client, true);
        const tokens = await this.exchange(code ?? '', client);
        const got = jwsAlg(tokens.id_token);
        if (got !== alg) throw new ServerBehaviour(`${this.name}: the code exchange for ${this.o.scopes.openid} answered ${tokens.id_token === undefined ? 'no id_token' : `an id_token signed ${got ?? '(unreadable)'}`}, not ${alg}`);
      })();
      this.idTokenChecks.set(client.id, done);
      done.catch(() => this.idTokenChecks.delete(client.id));
    }
    return done;
  }

  private readonly accessTokenFiles = new Map<string, Promise<string>>();
  /** Live, unused refresh tokens handed out by earlier refresh runs (scope: scopes.tokens). */
  private spareRefreshTokens: string[] = [];

  /** `n` live refresh tokens: spares from earlier refresh runs first, the rest minted. */
  private async refreshTokens(n: number): Promise<string[]> {
    const spare = this.spareRefreshTokens.splice(0, n);
    if (spare.length >= n) return spare;
    const minted = await this.mintTokens(n - spare.length, this.o.scopes.tokens);
    const fresh = minted.map((t) => t.refresh_token).filter((t): t is string => typeof t === 'string');
    if (fresh.length === 0) throw new ServerBehaviour(`${this.name}: the code exchange issued no refresh token`);
    return [...spare, ...fresh];
  }

  /** Takes back the refresh tokens a run left in its harvest file. */
  collectHarvest(shape: JobShape): number {
    const file = shape.harvestFile;
    if (!file || !existsSync(file)) return 0;
    const tokens = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    rmSync(file, { force: true });
    this.spareRefreshTokens.push(...tokens);
    return tokens.length;
  }

  /** A file of `n` access tokens for `scope`, minted once and shared by the read-only operations. */
  private accessTokens(scope: string, n: number): Promise<string> {
    const key = `${scope}|${n}`;
    let file = this.accessTokenFiles.get(key);
    if (!file) {
      file = this.mintTokens(n, scope).then((tokens) => this.writeValues('access', tokens.map((t) => t.access_token)));
      this.accessTokenFiles.set(key, file);
      file.catch(() => this.accessTokenFiles.delete(key));
    }
    return file;
  }

  private writeValues(kind: string, values: string[]): string {
    const file = join(this.o.tmpDir, `${this.name}-${kind}-${this.fileSeq++}.txt`);
    writeFileSync(file, `${values.join('\n')}\n`);
    return file;
  }

  /** GET `path` with READ_TOKENS access tokens of `scope` in turn (/api/user, UserInfo). */
  private async readUser(path: string, scope: string): Promise<JobShape> {
    await this.requireEndpoint('GET', path);
    await this.requireEndpoint('POST', this.o.paths.token);
    return {
      mode: 'cycle',
      request: { method: 'GET', path, headers: { authorization: 'Bearer {v}' } },
      valuesFile: await this.accessTokens(scope, READ_TOKENS),
    };
  }

  private tokenRequest(body: string, client: BenchClient = this.o.client): RequestTemplate {
    return { method: 'POST', path: this.o.paths.token, headers: { authorization: client === this.o.client ? this.basic : basicAuth(client.id, client.secret), 'content-type': FORM }, body };
  }

  /**
   * The load job for one operation. `count` is how many single-use values (codes, refresh
   * tokens) the run may spend; reusable values (access tokens) come in a fixed set.
   */
  async job(op: OpName, count: number): Promise<JobShape> {
    const p = this.o.paths;
    switch (op) {
      case 'refresh': {
        await this.requireEndpoint('POST', p.token);
        const rts = await this.refreshTokens(count);
        return {
          mode: 'pool',
          request: this.tokenRequest('grant_type=refresh_token&refresh_token={v}'),
          valuesFile: this.writeValues('refresh', rts),
          harvestFile: join(this.o.tmpDir, `${this.name}-harvest-${this.fileSeq++}.txt`),
        };
      }
      case 'code': {
        await this.requireEndpoint('POST', p.token);
        const codes = await this.mintCodes(count, this.o.scopes.tokens);
        const redirect = encodeURIComponent(this.o.client.redirectUri);
        return { mode: 'pool', request: this.tokenRequest(`grant_type=authorization_code&code={v}&redirect_uri=${redirect}`), valuesFile: this.writeValues('code', codes) };
      }
      case 'code_openid_rs256':
      case 'code_openid_es256': {
        // scope openid and a nonce: the exchange signs an ID token with the client's algorithm.
        const alg = op === 'code_openid_es256' ? 'ES256' : 'RS256';
        const client = alg === 'ES256' ? this.o.es256Client : this.o.client;
        await this.requireEndpoint('POST', p.token);
        await this.checkIdToken(client, alg);
        const codes = await this.mintCodes(count, this.o.scopes.openid, client, true);
        const redirect = encodeURIComponent(client.redirectUri);
        return { mode: 'pool', request: this.tokenRequest(`grant_type=authorization_code&code={v}&redirect_uri=${redirect}`, client), valuesFile: this.writeValues(op, codes) };
      }
      case 'userinfo_openid':
        return this.readUser(p.userinfo, this.o.scopes.openid);
      case 'client_credentials':
        await this.requireEndpoint('POST', p.token);
        return { mode: 'static', request: this.tokenRequest('grant_type=client_credentials') };
      case 'user_opaque':
      case 'user_jwt':
        return this.readUser(p.user, this.o.scopes.user);
      case 'introspect': {
        await this.requireEndpoint('POST', p.introspect);
        await this.requireEndpoint('POST', p.token);
        return {
          mode: 'cycle',
          request: { method: 'POST', path: p.introspect, headers: { authorization: this.basic, 'content-type': FORM }, body: 'token={v}&token_type_hint=access_token' },
          valuesFile: await this.accessTokens(this.o.scopes.user, READ_TOKENS),
        };
      }
      case 'revoke': {
        await this.requireEndpoint('POST', p.revoke);
        await this.requireEndpoint('POST', p.token);
        const rts = await this.refreshTokens(count);
        return {
          mode: 'pool',
          request: { method: 'POST', path: p.revoke, headers: { authorization: this.basic, 'content-type': FORM }, body: 'token={v}&token_type_hint=refresh_token' },
          valuesFile: this.writeValues('revoke', rts),
        };
      }
      case 'flow': {
        await this.requireEndpoint('POST', p.token);
        await this.signIn();
        const redirect = encodeURIComponent(this.o.client.redirectUri);
        return {
          mode: 'flow',
          request: { method: 'GET', path: this.authorizeUrl(this.o.scopes.tokens, 'flow-{v}'), headers: { cookie: this.jar.header() } },
          token: this.tokenRequest(`grant_type=authorization_code&code={code}&redirect_uri=${redirect}`),
        };
      }
      case 'password': {
        if (!this.o.supportsPassword) throw new Unavailable('no password grant');
        await this.requireEndpoint('POST', p.token);
        const users = this.o.passwordUsers ?? [];
        if (users.length === 0) {
          const body = form({ grant_type: 'password', username: this.o.credentials.username, password: this.o.credentials.password, scope: this.o.scopes.tokens });
          return { mode: 'static', request: this.tokenRequest(body), maxConnections: PASSWORD_CONNECTIONS };
        }
        const body = `${form({ grant_type: 'password', password: this.o.credentials.password, scope: this.o.scopes.tokens })}&username={v}`;
        return {
          mode: 'cycle',
          request: this.tokenRequest(body),
          valuesFile: this.writeValues('password-users', users.map((u) => encodeURIComponent(u))),
          maxConnections: PASSWORD_CONNECTIONS,
        };
      }
    }
  }
}

export function toLoadJob(shape: JobShape, label: string, origin: string, connections: number, durationMs: number, overallRate?: number): LoadJob {
  return {
    ...(shape.harvestFile ? { harvestFile: shape.harvestFile } : {}),
    label,
    origin,
    connections: Math.min(connections, shape.maxConnections ?? connections),
    durationMs,
    mode: shape.mode,
    request: shape.request,
    ...(shape.token ? { token: shape.token } : {}),
    ...(shape.valuesFile ? { valuesFile: shape.valuesFile } : {}),
    ...(overallRate ? { overallRate } : {}),
  };
}
