// ID tokens across a signing-key rotation, as a relying party sees them: two real Latchkey
// processes (`latchkey serve` from dist/) on one database — a PostgreSQL schema, or one SQLite
// file — and `latchkey keys rotate` run as its own process against that database while both
// serve, with a short publish lead (LATCHKEY_KEY_PUBLISH_LEAD) waited out for real. Every ID
// token (RS256 and ES256 clients) verifies with jose against a JWK Set fetched from either
// server, and nothing else: the new keys appear in both servers' sets before they sign, the
// set a relying party cached then verifies the tokens signed after the switch, and the old
// keys stay published until the last ID token they signed has expired (shown by a third
// server on the same database whose clock the test moves), then drop out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JSONWebKeySet } from 'jose';
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { KEY_CACHE_SECONDS, KEY_REFRESH_SECONDS, type SigningAlg } from '../../src/oauth/signing-keys.js';
import { createServices } from '../../src/services.js';
import { openDatabase, type Store } from '../../src/store/db.js';
import { databaseKinds, freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { authorize, signIn } from '../helpers/authorize.js';
import type { CookieJar } from '../helpers/browser.js';
import { exchangeCode } from '../helpers/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, startServerProcess, type ServerProcess } from '../hardening/process.js';

/**
 * Seconds between the rotation and the new keys' first signature: long enough for both
 * servers' background re-read (every KEY_REFRESH_SECONDS) on a busy machine, short enough
 * to wait out.
 */
const LEAD = KEY_REFRESH_SECONDS + 6;

interface Minted {
  token: string;
  alg: SigningAlg;
  kid: string;
  iat: number;
  exp: number;
  audience: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Date.now() / 1000;

for (const kind of databaseKinds()) {
  describe(`[${kind}] ID tokens across \`latchkey keys rotate\` while two server processes run`, () => {
    let db: FreshDatabase;
    let store: Store;
    let a: ServerProcess;
    let b: ServerProcess;
    /** The test's own view of the database (users and clients are made through it). */
    let local: Pick<TestServer, 'services' | 'clock' | 'config'>;
    let user: TestUser;
    let clients: Record<SigningAlg, TestClient>;
    let jar: CookieJar;
    let env: Record<string, string>;

    before(async () => {
      db = await freshDatabase(kind);
      env = {
        DATABASE_URL: db.url,
        // Keys sealed at rest, by the servers and the CLI alike (the deployment's one key).
        LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        LATCHKEY_TOKEN_RATE_LIMIT: '1000000',
        LATCHKEY_LOGIN_RATE_LIMIT: '1000',
      };
      // The first migrates and makes the keys; the second sits behind the same issuer.
      a = await startServerProcess(env);
      env.LATCHKEY_ISSUER = a.url;
      b = await startServerProcess(env);
      store = openDatabase(db.url);
      const config = loadConfig({ env: { DATABASE_URL: db.url, LATCHKEY_ISSUER: a.url } });
      const services = createServices(config, store, { logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })) });
      local = { services, clock: new MovableClock(), config };
      user = await createUser(local);
      clients = {
        RS256: await createClient(local, { name: 'RP RS256' }),
        ES256: await createClient(local, { name: 'RP ES256', idTokenSignedResponseAlg: 'ES256' }),
      };
      jar = await signIn({ url: a.url }, user.email, user.password);
    });

    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await store?.close();
      await db?.drop();
    });

    /** An ID token from `server` through the browser flow (the session signed in on A) and the code exchange. */
    async function idToken(server: ServerProcess, alg: SigningAlg): Promise<Minted> {
      const client = clients[alg];
      const nonce = randomBytes(9).toString('base64url');
      const flow = await authorize({ url: server.url }, {
        clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid profile', state: 's', extra: [['nonce', nonce]], cookies: jar,
      });
      assert.ok(flow.code, `no code from ${server.url}: ${flow.status} ${flow.final.body.slice(0, 200)}`);
      const res = await exchangeCode({ ...local, url: server.url, db, logs: [], close: async () => undefined }, client, flow.code);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const token = String(res.body.id_token);
      const header = decodeProtectedHeader(token);
      assert.equal(header.alg, alg);
      const claims = decodeJwt(token);
      assert.equal(claims.nonce, nonce);
      return { token, alg, kid: String(header.kid), iat: Number(claims.iat), exp: Number(claims.exp), audience: client.clientId };
    }

    async function jwksOf(url: string): Promise<JSONWebKeySet> {
      const res = await fetch(`${url}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      return (await res.json()) as JSONWebKeySet;
    }

    const kidsOf = (jwks: JSONWebKeySet) => jwks.keys.map((k) => String(k.kid)).sort();

    /** What a relying party does with an ID token: jose, the JWK Set, our issuer, its client_id, the alg it registered. */
    async function verify(t: Minted, jwks: JSONWebKeySet, at?: number): Promise<void> {
      await jwtVerify(t.token, createLocalJWKSet(jwks), {
        issuer: a.url, audience: t.audience, algorithms: [t.alg], ...(at === undefined ? {} : { currentDate: new Date(at * 1000) }),
      });
    }

    test('new keys are published by both servers before they sign; tokens signed on B after the switch verify with the JWK Set from A; old tokens verify until they expire', async () => {
      // Before: both servers sign with the keys made at A's first start.
      const old: Minted[] = [await idToken(a, 'RS256'), await idToken(a, 'ES256')];
      const oldKid = Object.fromEntries(old.map((t) => [t.alg, t.kid])) as Record<SigningAlg, string>;
      for (const alg of ['RS256', 'ES256'] as const) assert.equal((await idToken(b, alg)).kid, oldKid[alg]);
      const cachedBefore = await jwksOf(a.url);
      assert.deepEqual(kidsOf(cachedBefore), Object.values(oldKid).sort());
      for (const t of old) await verify(t, cachedBefore);

      // The operator rotates, with the publish lead the deployment sets.
      const cli = await runCli(['keys', 'rotate'], { ...env, LATCHKEY_KEY_PUBLISH_LEAD: String(LEAD) });
      assert.equal(cli.code, 0, cli.stderr);
      const rotated = (JSON.parse(cli.stdout) as { rotated: Array<{ alg: SigningAlg; kid: string; signs_from: number; retired: string[]; publish_until: number }> }).rotated;
      assert.deepEqual(rotated.map((r) => r.alg).sort(), ['ES256', 'RS256']);
      const newKid = Object.fromEntries(rotated.map((r) => [r.alg, r.kid])) as Record<SigningAlg, string>;
      const signsFrom = rotated[0]!.signs_from;
      for (const r of rotated) {
        assert.deepEqual(r.retired, [oldKid[r.alg]]);
        assert.equal(r.signs_from, signsFrom);
        // Published until the last ID token the old key can sign (one signed at signsFrom) has expired.
        assert.ok(r.publish_until >= signsFrom + 3600 + KEY_CACHE_SECONDS, JSON.stringify(r));
      }
      assert.ok(signsFrom - nowS() > 1, `the new keys sign from ${signsFrom}; the lead must still be ahead`);

      // Neither server is told: each publishes the new keys after its next re-read, before they sign.
      const everyKid = [...Object.values(oldKid), ...Object.values(newKid)].sort();
      const cached: Record<'a' | 'b', JSONWebKeySet> = { a: cachedBefore, b: cachedBefore };
      for (const [name, server] of [['a', a], ['b', b]] as const) {
        for (;;) {
          cached[name] = await jwksOf(server.url);
          if (JSON.stringify(kidsOf(cached[name])) === JSON.stringify(everyKid)) break;
          assert.ok(nowS() < signsFrom, `${name} did not publish the new keys before they sign`);
          await sleep(200);
        }
      }
      const fresh: Minted[] = [];
      const published = nowS();
      assert.ok(published < signsFrom, `both published at ${published}, before ${signsFrom}`);
      // Still before the switch (its iat says when B signed it): B signs with the old keys.
      const beforeSwitch = await idToken(b, 'ES256');
      assert.equal(beforeSwitch.kid, beforeSwitch.iat < signsFrom ? oldKid.ES256 : newKid.ES256, 'the old key signs until the lead has passed, not a second longer');
      (beforeSwitch.iat < signsFrom ? old : fresh).push(beforeSwitch);

      // The lead passes (for real: these are separate processes with the machine's clock).
      await sleep(Math.max(0, (signsFrom - nowS()) * 1000 + 50));
      for (const [server, alg] of [[b, 'RS256'], [b, 'ES256'], [a, 'RS256']] as const) {
        const t = await idToken(server, alg);
        assert.ok(t.iat >= signsFrom);
        assert.equal(t.kid, newKid[alg], `${server === a ? 'A' : 'B'} signs ${alg} ID tokens with the new key once the lead has passed`);
        fresh.push(t);
      }

      // A relying party verifies the new tokens with the set it cached from A before the switch,
      // or with a fresh one from A; the old tokens verify with the same sets.
      const fromAAfter = await jwksOf(a.url);
      assert.deepEqual(kidsOf(fromAAfter), everyKid, 'the old keys stay published while their ID tokens live');
      assert.deepEqual(kidsOf(await jwksOf(b.url)), everyKid);
      for (const t of [...old, ...fresh]) {
        await verify(t, cached.a);
        await verify(t, fromAAfter);
      }
      // The set from before the rotation knows only the old keys: exactly why the lead exists.
      await assert.rejects(verify(fresh[0]!, cachedBefore), joseErrors.JWKSNoMatchingKey);

      // Until they expire: a third server on the same database, its clock moved, publishes the
      // old keys until the last old ID token expires, and not after publish_until.
      const c = await startTestServer(kind, { database: db, env: { LATCHKEY_ISSUER: a.url, LATCHKEY_ENCRYPTION_KEY: env.LATCHKEY_ENCRYPTION_KEY! } });
      try {
        c.clock.freeze();
        const lastExp = Math.max(...old.map((t) => t.exp));
        c.clock.advance(lastExp - 1 - Math.floor(c.clock.nowMs() / 1000));
        const atExpiry = await jwksOf(c.url);
        assert.deepEqual(kidsOf(atExpiry), everyKid);
        for (const t of old) await verify(t, atExpiry, t.exp - 1);
        const publishUntil = Math.min(...rotated.map((r) => r.publish_until));
        c.clock.advance(publishUntil - Math.floor(c.clock.nowMs() / 1000));
        assert.deepEqual(kidsOf(await jwksOf(c.url)), Object.values(newKid).sort(), 'gone once every ID token they signed has expired');
      } finally {
        await c.close();
      }
    });
  });
}
