// Bad OpenID Connect parameters at the authorization endpoint, over GET and POST, on both
// databases: `claims` broken, huge, deeply nested or oddly typed; `max_age` that is not a
// whole number of seconds; contradictory `prompt` values; `id_token_hint` that is garbage,
// truncated, signed by a foreign key, alg=none, HS256 with our public key as the secret, or
// issued to another client; `ui_locales`/`login_hint` noise with control characters and
// invalid UTF-8; `response_mode` junk; `request`/`request_uri`. Each one is the OIDC error at
// the redirect URI (with the state, iss and an error_description in RFC 6749's character
// set), or, for a hint that is only a hint, ignored — never a 5xx, never a redirect elsewhere.
// Values that are stored with the code (nonce, claims) are also sent by a signed-in user, so
// they reach the database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { BODY_LIMIT } from '../../src/http/app.js';
import { databaseKinds } from '../helpers/databases.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { signIn } from '../helpers/authorize.js';
import { ERROR_DESCRIPTION, RP_REDIRECT_URI, codeFlow, rpRequest, serverJwks, startOp, type Op } from '../helpers/conformance.js';

/** What a case must come to: an error at the redirect URI, or (a hint ignored, a valid request) the login page / a code. */
type Outcome = { error: string } | 'accepted';

interface Case {
  name: string;
  /** Raw `name=value` pairs, already percent-encoded (so that invalid encodings can be sent). */
  raw: string[];
  outcome: Outcome;
  /** Also sent by a signed-in user (the value would be stored with the code). */
  signedIn?: boolean;
  /** The state that comes back, when the case sends its own. */
  state?: string;
}

const enc = encodeURIComponent;
const pair = (name: string, value: string) => `${enc(name)}=${enc(value)}`;

function nestedObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function nestedArray(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

function unsignedJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part(header)}.${part(payload)}.`;
}

const INVALID = { error: 'invalid_request' } as const;

/** Cases that need no ID token of ours. */
function staticCases(): Case[] {
  const claims = (name: string, value: string, outcome: Outcome = INVALID, signedIn = false): Case => ({ name: `claims ${name}`, raw: [pair('claims', value)], outcome, signedIn });
  const maxAge = (value: string, outcome: Outcome = INVALID): Case => ({ name: `max_age ${JSON.stringify(value)}`, raw: [pair('max_age', value)], outcome });
  const prompt = (value: string, outcome: Outcome = INVALID): Case => ({ name: `prompt ${JSON.stringify(value)}`, raw: [pair('prompt', value)], outcome });
  const noise = (name: string, raw: string, outcome: Outcome = 'accepted'): Case[] => ['ui_locales', 'login_hint', 'claims_locales', 'acr_values']
    .map((p) => ({ name: `${p} ${name}`, raw: [`${p}=${raw}`], outcome, signedIn: true }));
  return [
    // claims: broken JSON, not an object, huge, deep, wrong types, odd names.
    ...['{', '{"id_token":', '{"userinfo":{"name":', 'nul', 'undefined', "{'id_token':{}}", '{"id_token":{},}', '\uFEFF{}', '{"a":1}}'].map((v) => claims(`broken ${JSON.stringify(v)}`, v)),
    ...['[]', '"str"', '123', 'null', 'true', '[{"id_token":{}}]'].map((v) => claims(`not an object ${v}`, v)),
    claims('longer than 4096 characters', JSON.stringify({ id_token: { name: { value: 'x'.repeat(5000) } } })),
    claims('10,000 levels of objects', nestedObject(10_000)),
    claims('10,000 levels of arrays', nestedArray(10_000)),
    claims('2,000 levels of arrays (under the length limit)', nestedArray(2000)),
    claims('300 levels of objects under userinfo (unknown claim: ignored)', `{"userinfo":${nestedObject(300)}}`, 'accepted'),
    claims('id_token an array', '{"id_token":[]}'),
    claims('userinfo a number', '{"userinfo":5}'),
    claims('id_token a string', '{"id_token":"name"}'),
    claims('essential a string', '{"id_token":{"name":{"essential":"yes"}}}'),
    claims('value an object', '{"userinfo":{"email":{"value":{"x":1}}}}'),
    claims('values not an array', '{"id_token":{"email":{"values":"a@b"}}}'),
    claims('values holding an object', '{"id_token":{"email":{"values":[{"x":1}]}}}'),
    claims('a claim request that is a number', '{"id_token":{"name":1}}'),
    claims('a claim name with quotes, a backslash, controls and Unicode (echoed in the description)', '{"id_token":{"na\\"me\\\\\\u0001\\u0085\\u2028é😀":5}}'),
    claims('a 3,000-character claim name', `{"id_token":{"${'q'.repeat(3000)}":5}}`),
    claims('__proto__ member (an unknown claim: ignored)', '{"id_token":{"__proto__":{"essential":true}},"__proto__":{"x":1}}', 'accepted', true),
    claims('NUL and lone surrogate in a value (stored with the grant)', '{"id_token":{"name":{"value":"a\\u0000b\\ud800"}}}', 'accepted', true),
    claims('sub value not the signed-in user', '{"id_token":{"sub":{"value":"someone-else"}}}', 'accepted'),
    // max_age: a whole, non-negative number of seconds.
    ...['abc', '-1', '1.5', '1e3', ' 10', '10 ', '+10', '0x10', '99999999999', '１０', 'NaN', 'Infinity', '1'.repeat(400)].map((v) => maxAge(v)),
    maxAge('9999999999', 'accepted'),
    maxAge('0', 'accepted'),
    // prompt: none alone; only the four values.
    ...['none login', 'login none', 'none consent', 'consent none', 'none select_account', 'bogus', 'LOGIN', 'login,consent', 'none\tlogin'].map((v) => prompt(v)),
    prompt('login consent select_account', 'accepted'),
    prompt('none', { error: 'login_required' }),
    prompt('  none  ', { error: 'login_required' }),
    { name: 'prompt repeated', raw: [pair('prompt', 'login'), pair('prompt', 'none')], outcome: INVALID },
    { name: 'max_age repeated', raw: [pair('max_age', '1'), pair('max_age', '2')], outcome: INVALID },
    { name: 'claims repeated', raw: [pair('claims', '{}'), pair('claims', '{}')], outcome: INVALID },
    // id_token_hint that is no ID token of ours at all.
    ...['garbage', 'a.b.c', '...', 'a.b', 'a.b.c.d.e', `${'A'.repeat(9000)}.b.c`, '\u0000.\u0000.\u0000', 'eyJhbGciOiJSUzI1NiJ9.e30.'].map((v): Case => ({ name: `id_token_hint ${JSON.stringify(v.slice(0, 30))}`, raw: [pair('id_token_hint', v)], outcome: INVALID })),
    { name: 'id_token_hint alg none', raw: [pair('id_token_hint', unsignedJwt({ alg: 'none' }, { iss: 'x', sub: 'y', aud: 'z' }))], outcome: INVALID },
    // Hints that are only hints: ignored when they are noise.
    ...noise('with control characters', enc('en\u0000\r\n\t\u0085\u2028Set-Cookie: x=1')),
    // Broken encoding is no hint: the request cannot be read as sent (RFC 6749 Appendix B: UTF-8).
    ...noise('with invalid UTF-8 (overlong, lone byte, surrogate)', '%C0%AF%FF%ED%A0%80', INVALID),
    ...noise('truncated percent-encoding', 'en%', INVALID),
    ...noise('with a bad percent-escape', '%ZZen', INVALID),
    ...noise('8,000 characters', 'x'.repeat(8000)),
    { name: 'login_hint longer than 8192 characters', raw: [pair('login_hint', `${'a'.repeat(9000)}@example.com`)], outcome: INVALID },
    { name: 'nonce with NUL (stored with the code: PostgreSQL refuses NUL in text)', raw: ['nonce=a%00b'], outcome: INVALID, signedIn: true },
    { name: 'nonce with an encoded lone surrogate', raw: ['nonce=a%ED%A0%80b'], outcome: INVALID, signedIn: true },
    { name: 'nonce with invalid UTF-8', raw: ['nonce=a%C3%28%FFb'], outcome: INVALID, signedIn: true },
    { name: 'state with invalid UTF-8 (echoed as read)', raw: ['state=a%C3%28b'], outcome: INVALID, state: 'a\uFFFD(b' },
    { name: 'state with NUL', raw: ['state=a%00b'], outcome: 'accepted', signedIn: true },
    { name: 'nonce of 1,025 characters', raw: [pair('nonce', 'n'.repeat(1025))], outcome: INVALID },
    { name: 'nonce of 1,024 characters with controls (stored with the code)', raw: [pair('nonce', `\u0001\u007f${'n'.repeat(1022)}`)], outcome: 'accepted', signedIn: true },
    // response_mode: query or form_post.
    ...['fragment', 'FORM_POST', 'query.jwt', 'form_post ', 'web_message', '\u0000', '%'].map((v): Case => ({ name: `response_mode ${JSON.stringify(v)}`, raw: [pair('response_mode', v)], outcome: INVALID })),
    { name: 'response_mode repeated', raw: [pair('response_mode', 'query'), pair('response_mode', 'query')], outcome: INVALID },
    ...['full', 'PAGE', 'page popup'].map((v): Case => ({ name: `display ${JSON.stringify(v)}`, raw: [pair('display', v)], outcome: INVALID })),
    // Request objects are not supported.
    ...['x', unsignedJwt({ alg: 'none' }, { response_type: 'code' }), 'eyJ'.repeat(4000)].map((v): Case => ({ name: `request ${JSON.stringify(v.slice(0, 20))}`, raw: [pair('request', v)], outcome: { error: 'request_not_supported' } })),
    ...['https://rp.example/r#1', 'urn:ietf:params:oauth:request_uri:x', 'javascript:alert(1)'].map((v): Case => ({ name: `request_uri ${v}`, raw: [pair('request_uri', v)], outcome: { error: 'request_uri_not_supported' } })),
    { name: 'request and request_uri both', raw: [pair('request', 'x'), pair('request_uri', 'y')], outcome: { error: 'request_not_supported' } },
  ];
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] bad OpenID Connect parameters at the authorization endpoint`, () => {
    let op: Op;
    let cases: Case[];
    let signedIn: CookieJar;
    before(async () => {
      op = await startOp(kind);
      // Real ID tokens to spoil: one for this client, one for another.
      const own = (await codeFlow(op, rpRequest(op.client))).tokens.idToken;
      const foreignAud = (await codeFlow(op, rpRequest(op.client2))).tokens.idToken;
      const [, payload] = own.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const { kid } = decodeProtectedHeader(own);
      // Signed by a key that is not ours, under our kid.
      const stranger = await generateKeyPair('RS256');
      const foreignKey = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(stranger.privateKey);
      // HS256 with our public key as the shared secret (algorithm confusion).
      const ours = (await serverJwks(op)).keys.find((k) => k.kid === kid) as JWK;
      const pem = createPublicKey({ key: ours as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
      const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new TextEncoder().encode(pem));
      const hs256Jwk = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new TextEncoder().encode(JSON.stringify(ours)));
      // An embedded key (jwk header) naming itself.
      const embedded = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', jwk: await exportJWK(stranger.publicKey) }).sign(stranger.privateKey);
      const hint = (name: string, value: string): Case => ({ name: `id_token_hint ${name}`, raw: [pair('id_token_hint', value)], outcome: INVALID });
      cases = [
        ...staticCases(),
        hint('truncated by 10 characters', own.slice(0, -10)),
        hint('without its signature', own.slice(0, own.lastIndexOf('.') + 1)),
        hint('with its payload changed', `${own.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${own.split('.')[2]}`),
        hint('signed by a foreign key under our kid', foreignKey),
        hint('HS256 with our public key (PEM) as secret', hs256),
        hint('HS256 with our public key (JWK) as secret', hs256Jwk),
        hint('signed by the key in its own jwk header', embedded),
        hint('alg none with our claims', unsignedJwt({ alg: 'none', kid }, claims)),
        hint('issued to another client', foreignAud),
        { name: 'id_token_hint: our own, valid', raw: [pair('id_token_hint', own)], outcome: 'accepted' },
      ];
      signedIn = await signIn(op.server, op.user.email, op.user.password);
    });
    after(() => op.close());

    /** A valid OpenID request, less the parameters the case sends itself. */
    function base(state: string, c?: Case): string[] {
      const own = new Set((c?.raw ?? []).map((p) => p.slice(0, p.indexOf('='))));
      return [pair('response_type', 'code'), pair('client_id', op.client.clientId), pair('redirect_uri', RP_REDIRECT_URI), pair('scope', 'openid'), pair('state', state), pair('nonce', 'n-1')]
        .filter((p) => !own.has(p.slice(0, p.indexOf('='))));
    }

    function send(method: 'GET' | 'POST', raw: string[], jar?: CookieJar): Promise<HttpResult> {
      const query = raw.join('&');
      if (method === 'GET') return httpRequest(op.server, 'GET', `/oauth/authorize?${query}`, { jar });
      return fetch(`${op.server.url}/oauth/authorize`, {
        method: 'POST', redirect: 'manual', body: query,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...(jar?.header() ? { cookie: jar.header() as string } : {}) },
      }).then(async (res) => ({ status: res.status, headers: res.headers, body: await res.text(), location: res.headers.get('location') }));
    }

    /**
     * What HTTP refuses before the endpoint runs: a request head over Node's 16 KiB (431, JSON)
     * or a body over BODY_LIMIT (413, the error page). Nothing is known of the client then, so
     * nothing may redirect.
     */
    function transportLimit(method: 'GET' | 'POST', raw: string[]): 413 | 431 | null {
      const size = raw.join('&').length;
      if (method === 'GET') return size > 16_000 ? 431 : null;
      return size > BODY_LIMIT ? 413 : null;
    }

    /** The outcome of one case: never a 5xx; an error at the redirect URI, or accepted (login page, consent page or code). */
    function check(where: string, res: HttpResult, state: string, outcome: Outcome, signed: boolean, limit: 413 | 431 | null = null): void {
      assert.ok(res.status < 500, `${where}: ${res.status} ${res.body.slice(0, 200)}`);
      if (limit !== null) {
        assert.equal(res.status, limit, where);
        assert.equal(res.location, null, where);
        if (limit === 431) assert.equal((JSON.parse(res.body) as { error?: string }).error, 'invalid_request');
        return;
      }
      if (outcome === 'accepted') {
        if (!signed) {
          assert.equal(res.status, 303, `${where}: ${res.status} ${res.location ?? ''} ${res.body.slice(0, 200)}`);
          assert.match(res.location ?? '', /^\/login\?/, where);
          return;
        }
        // Signed in: the consent page (200) or, consent remembered, a code at the redirect URI.
        if (res.status === 200) {
          assert.match(res.body, /\/oauth\/authorize\/decision/, where);
          return;
        }
        assert.equal(res.status, 302, `${where}: ${res.status} ${res.location ?? ''}`);
        const location = new URL(res.location ?? '');
        assert.equal(location.searchParams.get('error'), null, `${where}: ${location.searchParams.get('error_description')}`);
        assert.ok(location.searchParams.get('code'), where);
        return;
      }
      assert.equal(res.status, 302, `${where}: ${res.status} ${res.body.slice(0, 300)}`);
      const location = new URL(res.location ?? '');
      assert.equal(`${location.origin}${location.pathname}`, 'https://rp.example/callback', where);
      assert.equal(location.searchParams.get('error'), outcome.error, `${where}: ${location.searchParams.get('error')} ${location.searchParams.get('error_description')}`);
      assert.equal(location.searchParams.get('state'), state, where);
      assert.equal(location.searchParams.get('iss'), op.server.config.issuer, where);
      assert.equal(location.searchParams.get('dummy1'), 'lorem', where);
      assert.equal(location.searchParams.has('code'), false, where);
      assert.match(location.searchParams.get('error_description') ?? '', ERROR_DESCRIPTION, where);
    }

    for (const method of ['GET', 'POST'] as const) {
      test(`${method}: every bad parameter is the OIDC error at the redirect URI (or a hint ignored), never a 5xx`, async () => {
        let n = 0;
        const failures: string[] = [];
        const attempt = (fn: () => void) => {
          try {
            fn();
          } catch (err) {
            failures.push((err as Error).message.split('\n')[0] ?? '');
          }
        };
        for (const c of cases) {
          const state = `st-${n++}`;
          const raw = [...base(state, c), ...c.raw];
          const res = await send(method, raw);
          attempt(() => check(`${method} ${c.name}`, res, c.state ?? state, c.outcome, false, transportLimit(method, raw)));
          if (!c.signedIn) continue;
          const signedRes = await send(method, raw, signedIn);
          attempt(() => check(`${method} signed in: ${c.name}`, signedRes, c.state ?? state, c.outcome, true, transportLimit(method, raw)));
        }
        assert.deepEqual(failures, []);
        assert.ok(n > 100);
      });
    }

    test('the same parameters with an unknown client or an unregistered redirect URI: the 400 page, never a redirect', async () => {
      for (const c of cases.filter((_, i) => i % 5 === 0)) {
        for (const [name, value] of [['client_id', 'no-such-client'], ['redirect_uri', 'https://evil.example/callback']] as const) {
          const raw = base('st', c).map((p) => (p.startsWith(`${name}=`) ? pair(name, value) : p));
          for (const method of ['GET', 'POST'] as const) {
            const res = await send(method, [...raw, ...c.raw]);
            assert.equal(res.status, transportLimit(method, [...raw, ...c.raw]) ?? 400, `${method} ${name} ${c.name}: ${res.status}`);
            assert.equal(res.location, null);
          }
        }
      }
    });

    test('huge POSTed requests: no Location over 15 KiB (HTTP clients refuse heads over 16 KiB); the error at the redirect URI, or the page when even that would not fit', async () => {
      const post = (params: Record<string, string>, jar?: CookieJar) => send('POST', Object.entries(params).map(([k, v]) => pair(k, v)), jar);
      const common = { response_type: 'code', client_id: op.client.clientId, redirect_uri: RP_REDIRECT_URI, scope: 'openid' };
      // A claims request of 4,000 JSON characters, about five times its size on the way to the login page.
      const bigClaims = `{"userinfo":${nestedObject(650)}}`;
      assert.ok(bigClaims.length < 4096);
      const viaLogin = await post({ ...common, state: 's-1', claims: bigClaims });
      check('claims too large to carry through the login page', viaLogin, 's-1', INVALID, false);
      // A state of 60,000 characters cannot be echoed in a Location: the page.
      for (const jar of [undefined, signedIn]) {
        const res = await post({ ...common, state: 'x'.repeat(60_000), prompt: 'none' }, jar);
        assert.equal(res.status, 400);
        assert.equal(res.location, null);
        assert.match(res.body, /too large to answer/);
      }
      // Signed in with consent remembered: the code cannot be delivered with that state either.
      const res = await post({ ...common, state: 'y'.repeat(20_000) }, signedIn);
      assert.equal(res.status, 400);
      assert.equal(res.location, null);
      // Just under the limit still works, and every Location stays under it.
      const fits = await post({ ...common, state: 'z'.repeat(11_000) }, signedIn);
      assert.equal(fits.status, 302);
      assert.ok((fits.location ?? '').length <= 15 * 1024);
      assert.ok(new URL(fits.location ?? '').searchParams.get('code'));
    });

    test('a burst of bad requests at once: every one answered as alone', async () => {
      const burst = cases.slice(0, 60);
      const requests = burst.map((c, i) => ({ method: i % 2 === 0 ? 'GET' as const : 'POST' as const, raw: [...base(`b-${i}`, c), ...c.raw], c }));
      const results = await Promise.all(requests.map((r) => send(r.method, r.raw)));
      results.forEach((res, i) => {
        const r = requests[i]!;
        check(`burst ${r.method} ${r.c.name}`, res, r.c.state ?? `b-${i}`, r.c.outcome, false, transportLimit(r.method, r.raw));
      });
    });
  });
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] error_description on the wire (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E only)`, () => {
    let op: Op;
    before(async () => {
      op = await startOp(kind);
    });
    after(() => op.close());

    test('token endpoint errors that cite a section or quote a parameter name are sent in the allowed characters', async () => {
      const bodies = [
        'grant_type=client_credentials&grant_type=password',
        'a%22%5C%C3%A9%E2%80%A8%01=1&a%22%5C%C3%A9%E2%80%A8%01=2',
        `${'q'.repeat(2000)}=1&${'q'.repeat(2000)}=2`,
      ];
      for (const body of bodies) {
        const res = await fetch(`${op.server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
        const json = (await res.json()) as { error?: string; error_description?: string };
        assert.equal(res.status, 400);
        assert.equal(json.error, 'invalid_request');
        assert.match(json.error_description ?? '', ERROR_DESCRIPTION, body.slice(0, 40));
        assert.ok((json.error_description ?? '').length <= 300);
      }
    });
  });
}
