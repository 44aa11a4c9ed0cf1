// Fuzzing (fast-check): at least 10,000 generated malformed requests to the token, authorize,
// revocation, introspection and identity endpoints of one started server — random methods,
// paths, content types, bodies (broken form encoding, invalid UTF-8, huge and deeply nested
// JSON, multipart), headers and query strings with repeated parameters, and the OpenID Connect
// parameters of the authorization endpoint over GET and POST (claims, max_age, prompt,
// id_token_hint spoilt in every way, hints with control characters, response_mode, request and
// request_uri). Properties: never a 5xx; every OAuth error body is JSON with an RFC error code;
// the authorization endpoint never redirects anywhere but to us or to a registered redirect
// URI, and an error it redirects carries an RFC/OIDC code, iss, and an error_description in
// RFC 6749's character set; the server still answers afterwards. The counts are printed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createClient, createUser, mintCode, type TestClient } from '../helpers/fixtures.js';
import { exchangeCode, secretPost, tokensOf } from '../helpers/token.js';
import { type CookieJar } from '../helpers/browser.js';
import { hiddenFields, unescapeHtml } from '../helpers/html.js';
import { authorize, signIn } from '../helpers/authorize.js';
import { CONTROL_OR_BACKSLASH, HOSTILE_NEXT, hostileRedirectUris, NEXT_PIECES, RAW_IN_LOCATION } from '../helpers/hostile-values.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const RUNS = 520; // batches
const BATCH = 20; // concurrent requests a batch: RUNS × BATCH ≥ 10,000
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

/** Every error code an OAuth answer may carry (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009; RFC 8628 §3.5; OIDC). */
const RFC_CODES = new Set([
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope',
  'access_denied', 'unsupported_response_type', 'server_error', 'temporarily_unavailable', 'invalid_token', 'insufficient_scope',
  'unsupported_token_type', 'slow_down', 'login_required', 'consent_required', 'interaction_required', 'account_selection_required',
  'request_not_supported', 'request_uri_not_supported',
]);
/** RFC 6749 §4.1.2.1 / §5.2: the characters an error_description may hold. */
const ERROR_DESCRIPTION = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

const OAUTH_JSON_PATHS = new Set(['/oauth/token', '/token', '/refresh', '/oauth/revoke', '/oauth/introspect', '/api/user', '/oauth/userinfo']);
const PATHS = [...OAUTH_JSON_PATHS, '/oauth/authorize'];
const PARAM_NAMES = [
  'grant_type', 'client_id', 'client_secret', 'code', 'redirect_uri', 'refresh_token', 'username', 'password', 'scope', 'state',
  'response_type', 'code_challenge', 'code_challenge_method', 'code_verifier', 'prompt', 'token', 'token_type_hint', 'nonce', 'x',
  // OpenID Connect (Core §3.1.2.1, §5.5, §6).
  'max_age', 'id_token_hint', 'login_hint', 'ui_locales', 'claims_locales', 'acr_values', 'display', 'claims', 'response_mode', 'request', 'request_uri',
];

interface Fixtures {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  code: string;
  refreshToken: string;
  accessToken: string;
  /** A real ID token of ours for this client, to be spoilt as id_token_hint. */
  idToken: string;
}

/** JWT pieces: an unsigned token of these claims. */
function unsignedJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part(header)}.${part(payload)}.`;
}

/** Values for the OpenID Connect parameters: well-formed, spoilt, contradictory, huge, nested. */
function oidcValues(fx: Fixtures): string[] {
  const [header = '', payload = '', signature = ''] = fx.idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  return [
    // claims (Core §5.5)
    '{"id_token":{"name":{"essential":true}}}', '{"userinfo":{"email":null,"sub":{"value":"x"}}}', '{', '{"id_token":', '[]', 'null', '"x"',
    '{"id_token":[]}', '{"id_token":{"name":{"essential":"yes"}}}', '{"userinfo":{"email":{"value":{"a":1}}}}', '{"id_token":{"email":{"values":"x"}}}',
    '{"id_token":{"na\\"me\\\\\\u0000\\u2028":5}}', '{"__proto__":{"id_token":{}},"id_token":{"__proto__":null}}', `{"id_token":${'{"a":'.repeat(700)}1${'}'.repeat(700)}}`,
    `${'['.repeat(2000)}${']'.repeat(2000)}`, JSON.stringify({ id_token: { name: { value: 'v'.repeat(5000) } } }),
    // max_age
    '0', '1', '-1', '1.5', '1e3', '99999999999', '9999999999', 'NaN', ' 5', '０',
    // prompt
    'none login', 'login consent select_account', 'none none', 'LOGIN', 'select_account', 'none\tconsent',
    // id_token_hint
    fx.idToken, fx.idToken.slice(0, -7), `${header}.${payload}.`, `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'x' })).toString('base64url')}.${signature}`,
    unsignedJwt({ alg: 'none' }, claims), unsignedJwt({ alg: 'HS256', kid: 'k' }, claims), 'a.b.c', '....', `${header}.${payload}`,
    // hints, locales, display, response_mode, request objects
    'se', 'en-US nl', 'buffy@example.com', 'someone@app.example', '\u0000@\r\n', '\u202e\u2028', 'page', 'popup', 'touch', 'full',
    'query', 'form_post', 'fragment', 'query.jwt', 'https://rp.example/request#x', 'urn:ietf:params:oauth:request_uri:abc',
  ];
}

interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
}

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, where encodeURIComponent would throw). */
function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function arbitraries(fx: Fixtures) {
  const realValue = fc.constantFrom(fx.clientId, fx.clientSecret, fx.redirectUri, fx.code, fx.refreshToken, fx.accessToken,
    'authorization_code', 'refresh_token', 'password', 'client_credentials', 'Refresh_Token', 'code', 'token', 'S256', 'plain',
    'profile email', 'openid', 'login', 'consent', 'none', 'access_token');
  const hostile = fc.constantFrom(
    'javascript:alert(1)', 'JaVaScRiPt:alert(document.cookie)', `${fx.redirectUri}/../evil`, `${fx.redirectUri}/extra`,
    fx.redirectUri.replace('app.example', 'APP.EXAMPLE'), fx.redirectUri.replace('https://', 'https://evil.example@'),
    'https://app.example@evil.example/callback', 'https://evil.example/callback', '//evil.example', 'data:text/html,<script>1</script>',
    `${fx.redirectUri}#frag`, `${fx.redirectUri}?x=1`, `${fx.redirectUri}%00`, "' OR '1'='1", "'; DROP TABLE users; --",
    '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', '\u0000', '\u0000abc', '%00', '\uFEFF', '\uD800', '😀'.repeat(50),
    '../../etc/passwd', '${jndi:ldap://x}', '{{7*7}}', 'null', 'undefined', 'true', '-1', '1e309', '0x41',
    ...hostileRedirectUris(fx.redirectUri), ...HOSTILE_NEXT,
  );
  const oidc = fc.constantFrom(...oidcValues(fx));
  const value = fc.oneof(
    { weight: 4, arbitrary: realValue },
    { weight: 4, arbitrary: hostile },
    { weight: 3, arbitrary: oidc },
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 12_000 }).map((n) => 'A'.repeat(n)) },
  );
  const name = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PARAM_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) });
  // Name/value pairs, repeats allowed (RFC 6749 §3.2 says refuse them).
  const pairs = fc.array(fc.tuple(name, value), { maxLength: 8 });
  const encodePair = ([k, v]: [string, string]) => `${percentEncode(k)}=${percentEncode(v)}`;
  const brokenEncoding = fc.constantFrom('%', '%ZZ', '%C3%28', '%E0%80%AF', '%FF%FE', '%u0041', '%%', '%0', '+%2B+', '&&&', '=&=', 'a=%ED%A0%80',
    'ui_locales=%C0%AF', 'login_hint=a%ED%A0%80%40b', 'nonce=%00', 'claims=%7B%FF', 'state=%C3%28');
  const queryString = fc.oneof(
    { weight: 3, arbitrary: pairs.map((ps) => ps.map(encodePair).join('&')) },
    { weight: 1, arbitrary: fc.tuple(pairs, brokenEncoding).map(([ps, bad]) => `${ps.map(encodePair).join('&')}&${bad}`) },
    { weight: 1, arbitrary: fc.constant('') },
  );

  const nested = fc.integer({ min: 1, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);
  const nestedObject = fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
  const jsonBody = fc.oneof(
    pairs.map((ps) => JSON.stringify(Object.fromEntries(ps))),
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.constantFrom(...PARAM_NAMES), fc.oneof(value, fc.array(value, { maxLength: 3 }), fc.integer(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 2 })))
      .map((o) => JSON.stringify(o)),
    nested,
    nestedObject,
    fc.constantFrom('{', '{"a":', '[1,2', 'nul', '"str"', '123', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\uFEFF{}'),
  );
  const multipartBody = pairs.map((ps) => {
    const boundary = 'fuzzboundary';
    const parts = ps.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k.replace(/"/g, '')}"\r\n\r\n${v}\r\n`).join('');
    return { type: `multipart/form-data; boundary=${boundary}`, body: `${parts}--${boundary}--\r\n` };
  });
  const invalidUtf8 = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.concat([Buffer.from('grant_type=refresh_token&refresh_token='), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(bytes)]));

  const typedBody = fc.oneof(
    { weight: 4, arbitrary: queryString.map((b) => ({ type: 'application/x-www-form-urlencoded', body: b as string | Buffer })) },
    { weight: 3, arbitrary: jsonBody.map((b) => ({ type: 'application/json', body: b as string | Buffer })) },
    { weight: 2, arbitrary: multipartBody.map((m) => ({ type: m.type, body: m.body as string | Buffer })) },
    { weight: 2, arbitrary: invalidUtf8.map((b) => ({ type: 'application/x-www-form-urlencoded', body: b as string | Buffer })) },
    { weight: 1, arbitrary: invalidUtf8.map((b) => ({ type: 'application/json', body: b as string | Buffer })) },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constantFrom('text/plain', 'application/xml', 'application/json; charset=utf-16', 'multipart/form-data', 'application/x-www-form-urlencoded; charset=latin1', '*/*', 'garbage', ''),
        fc.oneof(queryString, jsonBody),
      ).map(([type, body]) => ({ type, body: body as string | Buffer })),
    },
    { weight: 1, arbitrary: fc.constant({ type: '', body: '' as string | Buffer }) },
  );

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const authorization = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.tuple(fc.oneof(realValue, fc.string({ maxLength: 20 })), fc.oneof(realValue, fc.string({ maxLength: 20 }))).map(([i, s]) => basic(i, s)) },
    { weight: 1, arbitrary: fc.constant(basic(fx.clientId, fx.clientSecret)) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('Bearer', 'bearer', 'OAuth2', 'Basic', 'Token', 'MAC', ''), fc.oneof(realValue, fc.string({ maxLength: 60 }))).map(([s, t]) => `${s} ${t}`) },
    { weight: 1, arbitrary: fc.constantFrom('Basic', 'Basic ====', 'Basic !!!', `Basic ${'QUFB'.repeat(1000)}`, 'Bearer', 'Bearer  a b c', `Bearer ${'x'.repeat(5000)}`) },
  );
  const headerText = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')); // header values must be visible ASCII

  const headerFields = fc.record({
    authorization,
    accept: fc.constantFrom(undefined, 'text/html', 'application/json', '*/*', 'image/png'),
    cookie: fc.oneof(fc.constant(undefined), fc.tuple(fc.constantFrom('lk_session', 'lk_csrf', '__Host-lk_session'), headerText).map(([n, v]) => `${n}=${v}`)),
    extra: fc.option(fc.tuple(fc.constantFrom('x-forwarded-for', 'x-http-method-override', 'origin', 'referer'), headerText)),
  });
  const withHeaders = (h: { authorization: string | undefined; accept: string | undefined; cookie: string | undefined; extra: [string, string] | null }) => {
    const headers: Record<string, string> = {};
    if (h.authorization !== undefined) headers.authorization = h.authorization;
    if (h.accept !== undefined) headers.accept = h.accept;
    if (h.cookie !== undefined) headers.cookie = h.cookie;
    if (h.extra) headers[h.extra[0]] = h.extra[1];
    return headers;
  };

  // 1. Anything at all: random method, path (with variants), query, body and headers.
  const anything = fc.record({
    method: fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    path: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PATHS) }, { weight: 1, arbitrary: fc.constantFrom(...PATHS).map((p) => `${p}/`) }, { weight: 1, arbitrary: fc.constantFrom(...PATHS).map((p) => p.toUpperCase()) }),
    query: queryString,
    body: typedBody,
    h: headerFields,
  }).map((r): FuzzRequest => {
    const headers = withHeaders(r.h);
    const hasBody = r.method !== 'GET' && r.method !== 'HEAD';
    if (hasBody && r.body.type !== '') headers['content-type'] = r.body.type;
    return { method: r.method, path: r.path, query: r.query, headers, body: hasBody ? r.body.body : undefined };
  });

  // 2. Nearly right: a valid request to each endpoint with one to three things broken, so
  // the requests get past parsing into client authentication, the grants and the checks.
  const basicAuth = basic(fx.clientId, fx.clientSecret);
  const templates: Array<{ method: 'GET' | 'POST'; path: string; params: Array<[string, string]>; authorization?: string }> = [
    { method: 'POST', path: '/oauth/token', params: [['grant_type', 'client_credentials'], ['client_id', fx.clientId], ['client_secret', fx.clientSecret]] },
    { method: 'POST', path: '/token', params: [['grant_type', 'authorization_code'], ['code', fx.code], ['redirect_uri', fx.redirectUri], ['client_id', fx.clientId], ['client_secret', fx.clientSecret]] },
    { method: 'POST', path: '/oauth/token', params: [['grant_type', 'refresh_token'], ['refresh_token', fx.refreshToken]], authorization: basicAuth },
    { method: 'POST', path: '/refresh', params: [['grant_type', 'refresh_token'], ['refresh_token', fx.refreshToken], ['client_id', fx.clientId]] },
    { method: 'POST', path: '/oauth/token', params: [['grant_type', 'password'], ['username', 'someone@example.com'], ['password', 'pw'], ['client_id', fx.clientId], ['client_secret', fx.clientSecret]] },
    { method: 'POST', path: '/oauth/revoke', params: [['token', fx.accessToken], ['token_type_hint', 'access_token']], authorization: basicAuth },
    { method: 'POST', path: '/oauth/introspect', params: [['token', fx.refreshToken], ['client_id', fx.clientId], ['client_secret', fx.clientSecret]] },
    { method: 'GET', path: '/oauth/authorize', params: [['response_type', 'code'], ['client_id', fx.clientId], ['redirect_uri', fx.redirectUri], ['state', 'st'], ['scope', 'profile'], ['code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'], ['code_challenge_method', 'S256']] },
    // An OpenID request over GET and over POST (Core §3.1.2.1: both), every OIDC parameter set.
    ...(['GET', 'POST'] as const).map((method) => ({
      method, path: '/oauth/authorize', params: [['response_type', 'code'], ['client_id', fx.clientId], ['redirect_uri', fx.redirectUri], ['state', 'st'],
        ['scope', 'openid profile'], ['nonce', 'n-0S6'], ['max_age', '3600'], ['prompt', 'login'], ['id_token_hint', fx.idToken], ['login_hint', 'buffy@example.com'],
        ['ui_locales', 'se'], ['claims_locales', 'se'], ['acr_values', '1 2'], ['display', 'page'], ['claims', '{"userinfo":{"name":{"essential":true}}}'],
        ['response_mode', 'query']] as Array<[string, string]>,
    })),
    { method: 'GET', path: '/api/user', params: [], authorization: `Bearer ${fx.accessToken}` },
    { method: 'GET', path: '/oauth/userinfo', params: [], authorization: `OAuth2 ${fx.accessToken}` },
  ];
  const mutation = fc.oneof(
    fc.tuple(fc.constant('set' as const), name, value),
    fc.tuple(fc.constant('drop' as const), fc.nat(10), fc.constant('')),
    fc.tuple(fc.constant('repeat' as const), fc.nat(10), value),
    fc.tuple(fc.constant('add' as const), name, value),
  );
  const nearlyRight = fc.record({
    template: fc.constantFrom(...templates),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    format: fc.constantFrom('form', 'form', 'json', 'multipart', 'query'),
    dropAuthorization: fc.boolean(),
    h: headerFields,
  }).map((r): FuzzRequest => {
    const params: Array<[string, string]> = r.template.params.map(([k, v]) => [k, v]);
    for (const [op, a, b] of r.mutations) {
      if (op === 'set') {
        const i = params.findIndex(([k]) => k === a);
        if (i === -1) params.push([a as string, b]);
        else params[i] = [a as string, b];
      } else if (op === 'drop') params.splice((a as number) % Math.max(1, params.length), 1);
      else if (op === 'repeat' && params.length > 0) params.push([params[(a as number) % params.length]?.[0] ?? 'x', b]);
      else if (op === 'add') params.push([a as string, b]);
    }
    const headers = withHeaders({ ...r.h, authorization: r.dropAuthorization ? r.h.authorization : r.template.authorization ?? r.h.authorization });
    if (r.template.method === 'GET' || r.format === 'query') {
      return { method: r.template.method, path: r.template.path, query: params.map(encodePair).join('&'), headers, body: undefined };
    }
    if (r.format === 'json') {
      headers['content-type'] = 'application/json';
      return { method: 'POST', path: r.template.path, query: '', headers, body: JSON.stringify(Object.fromEntries(params)) };
    }
    if (r.format === 'multipart') {
      const boundary = 'nearlyboundary';
      headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
      const parts = params.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k.replace(/["\r\n]/g, '')}"\r\n\r\n${v}\r\n`).join('');
      return { method: 'POST', path: r.template.path, query: '', headers, body: `${parts}--${boundary}--\r\n` };
    }
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return { method: 'POST', path: r.template.path, query: '', headers, body: params.map(encodePair).join('&') };
  });

  return fc.oneof({ weight: 2, arbitrary: anything }, { weight: 3, arbitrary: nearlyRight });
}

interface Tally {
  requests: number;
  byStatus: Map<number, number>;
  byPath: Map<string, number>;
  oauthErrors: number;
  /** Errors the authorization endpoint sent to the redirect URI. */
  authorizeErrors: number;
}

describe('fuzzing the OAuth endpoints', () => {
  let server: TestServer;
  let fixtures: Fixtures;
  let confidential: TestClient;

  before(async () => {
    server = await startTestServer('sqlite', { env: { LATCHKEY_TOKEN_RATE_LIMIT: '0', LATCHKEY_LOGIN_RATE_LIMIT: '0', LOG_LEVEL: 'warn' } });
    confidential = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    const user = await createUser(server);
    const spent = await mintCode(server, { client: confidential, userId: user.id });
    const pair = tokensOf(await exchangeCode(server, confidential, spent.code));
    const fresh = await mintCode(server, { client: confidential, userId: user.id });
    // A real ID token: an OpenID authorization through the pages, then the code exchange.
    const openid = await authorize(server, { clientId: confidential.clientId, redirectUri: confidential.redirectUri, scope: 'openid', login: { email: user.email, password: user.password } });
    const idToken = String((await exchangeCode(server, confidential, openid.code ?? '')).body.id_token);
    fixtures = {
      clientId: confidential.clientId, clientSecret: confidential.clientSecret ?? '', redirectUri: confidential.redirectUri,
      code: fresh.code, refreshToken: pair.refreshToken, accessToken: pair.accessToken, idToken,
    };
  });
  after(async () => {
    await server.close();
  });

  function check(req: FuzzRequest, status: number, headers: Headers, text: string, tally: Tally): void {
    const where = `${req.method} ${req.path}?${req.query.slice(0, 200)} → ${status} ${text.slice(0, 300)}`;
    assert.ok(status < 500, `5xx: ${where}`);
    const path = req.path;
    const routed = status !== 404;
    if (OAUTH_JSON_PATHS.has(path) && status >= 400 && routed && req.method !== 'HEAD') {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        assert.fail(`not JSON: ${where}`);
      }
      const error = (body as { error?: unknown }).error;
      assert.ok(typeof error === 'string' && RFC_CODES.has(error), `error code ${String(error)}: ${where}`);
      tally.oauthErrors += 1;
    }
    if (path === '/oauth/authorize') {
      const location = headers.get('location');
      if (location !== null) {
        // Resolved as a browser resolves it (TAB/CR/LF dropped, `\\` as `/`): ours, or the client's.
        assert.doesNotMatch(location, RAW_IN_LOCATION, `raw character in Location: ${where} → ${JSON.stringify(location)}`);
        const ours = new URL(location, server.config.issuer).origin === new URL(server.config.issuer).origin && location.startsWith('/');
        const registered = location === fixtures.redirectUri || location.startsWith(`${fixtures.redirectUri}?`);
        assert.ok(ours || registered, `open redirect: ${where} → ${location}`);
        // HTTP clients refuse response heads over 16 KiB: a POSTed request must not make one.
        assert.ok(location.length <= 15 * 1024, `Location of ${location.length} characters: ${where}`);
        if (registered) {
          // An error at the redirect URI: an RFC/OIDC code, our iss (RFC 9207), a description in the allowed characters.
          const answer = new URL(location).searchParams;
          const error = answer.get('error');
          assert.ok(error === null || RFC_CODES.has(error), `error code ${String(error)}: ${where}`);
          assert.equal(answer.get('iss'), server.config.issuer, `no iss: ${where}`);
          assert.match(answer.get('error_description') ?? '', ERROR_DESCRIPTION, `error_description: ${where}`);
          tally.authorizeErrors += error === null ? 0 : 1;
        }
      }
      if (status === 200 || status === 400) assert.ok(!/<script>alert|onerror=alert/.test(text), `unescaped input on a page: ${where}`);
    }
  }

  test(`${RUNS * BATCH} generated malformed requests: no 5xx, RFC error bodies, no open redirect`, { timeout: 300_000 }, async () => {
    const started = performance.now();
    const tally: Tally = { requests: 0, byStatus: new Map(), byPath: new Map(), oauthErrors: 0, authorizeErrors: 0 };
    const send = async (req: FuzzRequest) => {
      const url = `${server.url}${req.path}${req.query === '' ? '' : `?${req.query}`}`;
      const res = await fetch(url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual' });
      const text = await res.text();
      tally.requests += 1;
      tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
      tally.byPath.set(req.path, (tally.byPath.get(req.path) ?? 0) + 1);
      check(req, res.status, res.headers, text, tally);
    };
    await fc.assert(
      fc.asyncProperty(fc.array(arbitraries(fixtures), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(batch.map(send));
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    const statuses = [...tally.byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ');
    const paths = [...tally.byPath].sort(([, a], [, b]) => b - a).map(([p, n]) => `${p}:${n}`).join(' ');
    process.stdout.write(`# fuzz (seed ${SEED}): ${tally.requests} requests in ${seconds.toFixed(1)} s, 0 answered 5xx; ${tally.oauthErrors} OAuth error bodies, all JSON with an RFC code; ${tally.authorizeErrors} authorization errors at the redirect URI, all with iss\n`);
    process.stdout.write(`# fuzz statuses ${statuses}\n# fuzz paths ${paths}\n`);
    assert.ok(tally.requests >= 10_000);
    assert.equal([...tally.byStatus.keys()].filter((s) => s >= 500).length, 0);

    // Still answering, and still right.
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...secretPost(confidential) }).toString(),
    });
    assert.equal(res.status, 200);
  });
  test('generated next values (control characters, slashes, backslashes, dots, lookalikes) on the login and sign-up pages: no 5xx, never off the issuer', { timeout: 300_000 }, async () => {
    const issuer = server.config.issuer;
    const home = new URL(issuer).origin;
    const user = await createUser(server);
    const jar: CookieJar = await signIn(server, user.email, user.password);
    const csrf = hiddenFields((await fetch(`${server.url}/login?next=%2Faccount`, { headers: { cookie: jar.header() ?? '' } }).then((r) => r.text())), '/login').csrf_token ?? '';
    const nextValue = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.constantFrom(...NEXT_PIECES), { minLength: 1, maxLength: 8 }).map((parts) => parts.join('')) },
      { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NEXT) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((v) => `/${v}`) },
    );
    let requests = 0;
    const statuses = new Map<number, number>();
    const send = async (next: string, kind: number) => {
      const q = `next=${percentEncode(next)}`;
      const cookie = jar.header() ?? '';
      const [method, path, headers, body] = kind === 0
        ? ['GET', `/signup?${q}`, { cookie }, undefined]
        : kind === 1
          ? ['GET', `/login?${q}`, {}, undefined]
          : ['POST', '/login', { cookie, 'content-type': 'application/x-www-form-urlencoded' }, `csrf_token=${csrf}&email=nobody%40example.com&password=x&${q}`];
      const res = await fetch(`${server.url}${path}`, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      requests += 1;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const where = `${method} ${path.slice(0, 120)} → ${res.status}`;
      assert.ok(res.status < 500, `5xx: ${where} ${text.slice(0, 200)}`);
      const location = res.headers.get('location');
      if (location !== null) {
        assert.doesNotMatch(location, RAW_IN_LOCATION, `raw character in Location: ${where} → ${JSON.stringify(location)}`);
        assert.equal(new URL(location, issuer).origin, home, `open redirect: ${where} → ${location}`);
      }
      for (const m of text.matchAll(/name="next" value="([^"]*)"/g)) {
        const field = unescapeHtml(m[1] ?? '');
        assert.doesNotMatch(field, CONTROL_OR_BACKSLASH, `next field: ${where} → ${JSON.stringify(field)}`);
        assert.equal(new URL(field, issuer).origin, home, `next field: ${where} → ${field}`);
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(nextValue, fc.nat(2)), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(batch.map(([next, kind]) => send(next, kind)));
      }),
      { numRuns: 50, seed: SEED, endOnFailure: true },
    );
    process.stdout.write(`# fuzz next (seed ${SEED}): ${requests} requests, statuses ${[...statuses].sort(([a], [b]) => a - b).map(([k, n]) => `${k}:${n}`).join(' ')}\n`);
    assert.equal([...statuses.keys()].filter((st) => st >= 500).length, 0);
  });
});
