// The servers under test, seen the same way: an OAuth server (Latchkey or the peer) that the
// bench signs in to once, then mints codes and tokens from over HTTP, exactly as a client
// would; and for each operation, the load job that exercises it.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadJob, LoadMode, RequestTemplate } from '../load/jobs.js';
import { basicAuth, CookieJar, fillForm, form, request, type HttpResponse } from './http.js';
import type { StartedServer } from './proc.js';

export const OPS = ['refresh', 'code', 'client_credentials', 'user_opaque', 'user_jwt', 'introspect', 'revoke', 'flow', 'password'] as const;
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
  password: 'password grant',
};

/** Operations answered by the token endpoint (the p99 ≤ 10 ms target). */
export const TOKEN_ENDPOINT_OPS: ReadonlySet<OpName> = new Set(['refresh', 'code', 'client_credentials', 'password']);

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

export interface OAuthTargetOptions {
  /** Short name used in tables: "latchkey", "latchkey-jwt", "peer". */
  name: string;
  server: StartedServer;
  paths: { authorize: string; token: string; user: string; introspect: string; revoke: string };
  client: { id: string; secret: string; redirectUri: string };
  /** Scope for the tokens of the token-endpoint operations, and for tokens that read the user. */
  scopes: { tokens: string; user: string };
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

export class OAuthTarget {
  readonly jar = new CookieJar();
  private signedIn: Promise<void> | undefined;
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

  authorizeUrl(scope: string, state: string): string {
    const q = new URLSearchParams({ response_type: 'code', client_id: this.o.client.id, redirect_uri: this.o.client.redirectUri, scope, state });
    return `${this.o.paths.authorize}?${q.toString()}`;
  }

  /** Signs in once through the real pages (login form, consent form), as a browser would. */
  signIn(): Promise<void> {
    this.signedIn ??= (async () => {
      await this.requireEndpoint('GET', this.o.paths.authorize);
      let url = `${this.origin}${this.authorizeUrl(this.o.scopes.tokens, 'sign-in')}`;
      let r = await request(url, { jar: this.jar });
      for (let step = 0; step < 12; step++) {
        if (r.status >= 300 && r.status < 400 && r.headers.location) {
          const next = new URL(r.headers.location, url).toString();
          if (next.startsWith(this.o.client.redirectUri)) {
            if (!new URL(next).searchParams.get('code')) throw new ServerBehaviour(`${this.name}: sign-in ended without a code: ${next}`);
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
          throw new ServerBehaviour(`${this.name}: sign-in stopped at ${url}: ${snippet(r)}`);
        }
      }
      throw new ServerBehaviour(`${this.name}: sign-in did not finish in 12 steps`);
    })();
    return this.signedIn;
  }

  /** One code through the authorization endpoint with the live session and remembered consent. */
  async mintCode(scope: string): Promise<string> {
    const r = await request(`${this.origin}${this.authorizeUrl(scope, 'mint')}`, { jar: this.jar });
    const location = r.headers.location;
    const code = r.status >= 300 && r.status < 400 && location ? new URL(location, this.origin).searchParams.get('code') : null;
    if (!code) throw new ServerBehaviour(`${this.name}: authorize with a live session did not redirect with a code: ${snippet(r)} location=${location ?? ''}`);
    return code;
  }

  async exchange(code: string): Promise<{ access_token: string; refresh_token?: string }> {
    const r = await request(`${this.origin}${this.o.paths.token}`, {
      method: 'POST',
      headers: { authorization: this.basic, 'content-type': FORM },
      body: form({ grant_type: 'authorization_code', code, redirect_uri: this.o.client.redirectUri }),
    });
    if (r.status !== 200) throw new ServerBehaviour(`${this.name}: code exchange failed: ${snippet(r)}`);
    return JSON.parse(r.body) as { access_token: string; refresh_token?: string };
  }

  async mintCodes(n: number, scope: string): Promise<string[]> {
    await this.signIn();
    return inParallel(n, MINT_CONCURRENCY, () => this.mintCode(scope));
  }

  async mintTokens(n: number, scope: string): Promise<Array<{ access_token: string; refresh_token?: string }>> {
    await this.signIn();
    return inParallel(n, MINT_CONCURRENCY, async () => this.exchange(await this.mintCode(scope)));
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

  private tokenRequest(body: string): RequestTemplate {
    return { method: 'POST', path: this.o.paths.token, headers: { authorization: this.basic, 'content-type': FORM }, body };
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
      case 'client_credentials':
        await this.requireEndpoint('POST', p.token);
        return { mode: 'static', request: this.tokenRequest('grant_type=client_credentials') };
      case 'user_opaque':
      case 'user_jwt': {
        await this.requireEndpoint('GET', p.user);
        await this.requireEndpoint('POST', p.token);
        return {
          mode: 'cycle',
          request: { method: 'GET', path: p.user, headers: { authorization: 'Bearer {v}' } },
          valuesFile: await this.accessTokens(this.o.scopes.user, READ_TOKENS),
        };
      }
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
