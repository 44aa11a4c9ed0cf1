// Signing keys for everyone, over HTTP on each database: two servers on one database and
// `latchkey keys rotate` run as its own process with the default publish lead. The new keys
// (RS256 and ES256) are published at once; both servers keep signing with the old ones until
// the lead has passed on their (moved) clocks, then sign with the new ones without a restart;
// every token, from before and after, verifies against the published JWK Set alone — the one
// a relying party fetched at the rotation included. `keys list` shows each key's alg and
// turn; a bad `--alg` or `--lead` is one line and exit code 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { SignJWT, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { DEFAULT_KEY_PUBLISH_LEAD } from '../../src/config/load.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { KEY_REFRESH_SECONDS, type SigningAlg } from '../../src/oauth/signing-keys.js';
import { databaseKinds, freshDatabase } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, type TestClient } from '../helpers/fixtures.js';
import { postToken, secretPost } from '../helpers/token.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
// The CLI's own settings only: the default publish lead, no encryption key.
const { LATCHKEY_KEY_PUBLISH_LEAD: _lead, ...inherited } = process.env;
const CLI_ENV = { ...inherited, DATABASE_URL: '', LATCHKEY_ENCRYPTION_KEY: '' };

async function latchkeyKeys(databaseUrl: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', ...args, '--database-url', databaseUrl], { cwd: ROOT, env: CLI_ENV });
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function jwksOf(server: TestServer): Promise<{ keys: Array<Record<string, unknown>> }> {
  return (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
}

const kidOf = (token: string): string => String(decodeProtectedHeader(token).kid);

/** A JWT access token (ES256) from the token endpoint. */
async function accessToken(server: TestServer, client: TestClient): Promise<string> {
  const res = await postToken(server, { grant_type: 'client_credentials', ...secretPost(client) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.access_token);
}

/** A JWT signed by the server's own key set with its RS256 key (what ID tokens will be signed with). */
async function rs256Token(server: TestServer): Promise<string> {
  const { kid, privateKey } = await server.services.signingKeys.signingKey('RS256');
  const now = nowSeconds(server.clock);
  return new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setIssuer(server.config.issuer).setIssuedAt(now).setExpirationTime(now + 3600).sign(privateKey);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] signing keys for everyone: publish before sign across two servers`, () => {
    let a: TestServer;
    let b: TestServer;
    let client: TestClient;

    before(async () => {
      a = await startTestServer(kind, { file: { access_token_format: 'jwt' } });
      b = await startTestServer(kind, { file: { access_token_format: 'jwt' }, database: a.db, env: { LATCHKEY_ISSUER: a.url } });
      client = await createClient(a, { grantTypes: ['client_credentials'] });
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    test('keys rotate: new RS256 and ES256 keys published at once, signing only after the lead on both servers; every token verifies against the JWK Set alone', async () => {
      const old = { ES256: kidOf(await accessToken(a, client)), RS256: kidOf(await rs256Token(a)) };
      assert.equal(kidOf(await accessToken(b, client)), old.ES256);
      assert.equal(kidOf(await rs256Token(b)), old.RS256);
      // [token, the clock of the server that signed it]
      const tokens: Array<[string, number]> = [];
      const keep = (server: TestServer, token: string) => {
        tokens.push([token, nowSeconds(server.clock)]);
        return kidOf(token);
      };
      for (const server of [a, b]) {
        keep(server, await accessToken(server, client));
        keep(server, await rs256Token(server));
      }

      const ranFrom = Math.floor(Date.now() / 1000);
      const printed = await latchkeyKeys(a.db.url, 'rotate');
      const ranUntil = Math.ceil(Date.now() / 1000);
      const rotated = printed.rotated as Array<{ alg: SigningAlg; kid: string; signs_from: number; retired: string[]; publish_until: number }>;
      assert.deepEqual(rotated.map((r) => r.alg).sort(), ['ES256', 'RS256']);
      const fresh = Object.fromEntries(rotated.map((r) => [r.alg, r.kid])) as Record<SigningAlg, string>;
      const signsFrom = rotated[0]!.signs_from;
      for (const r of rotated) {
        assert.deepEqual(r.retired, [old[r.alg]]);
        assert.equal(r.signs_from, signsFrom);
        assert.ok(r.signs_from >= ranFrom + DEFAULT_KEY_PUBLISH_LEAD && r.signs_from <= ranUntil + DEFAULT_KEY_PUBLISH_LEAD, 'the default lead');
        assert.ok(r.publish_until >= r.signs_from + a.config.accessTokenTtl);
      }

      // Both servers publish the new keys within their re-read interval, without a restart.
      const all = [old.ES256, old.RS256, fresh.ES256, fresh.RS256].sort();
      const deadline = Date.now() + (KEY_REFRESH_SECONDS + 5) * 1000;
      for (const server of [a, b]) {
        while (JSON.stringify((await jwksOf(server)).keys.map((k) => k.kid).sort()) !== JSON.stringify(all)) {
          if (Date.now() > deadline) assert.fail('the new keys were not published');
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      // What a relying party caches at the rotation.
      const jwksAtRotation = await jwksOf(b);
      for (const jwk of jwksAtRotation.keys) assert.equal(jwk.use, 'sig');

      const { keys: listed } = await latchkeyKeys(a.db.url, 'list') as { keys: Array<Record<string, unknown>> };
      for (const alg of ['RS256', 'ES256'] as const) {
        const byKid = new Map(listed.filter((k) => k.alg === alg).map((k) => [k.kid, k]));
        assert.equal(byKid.size, 2);
        assert.deepEqual([byKid.get(old[alg])?.signing, byKid.get(old[alg])?.retired_at], [true, signsFrom]);
        assert.deepEqual([byKid.get(fresh[alg])?.signing, byKid.get(fresh[alg])?.published, byKid.get(fresh[alg])?.signs_from], [false, true, signsFrom]);
      }

      // One second before the lead has passed (on each server's clock) the old keys still sign…
      for (const server of [a, b]) {
        server.clock.freeze();
        server.clock.advance(signsFrom - 1 - nowSeconds(server.clock));
        assert.equal(keep(server, await accessToken(server, client)), old.ES256);
        assert.equal(keep(server, await rs256Token(server)), old.RS256);
      }
      // …and from that second on the new ones, on both.
      for (const server of [a, b]) {
        server.clock.advance(1);
        assert.equal(keep(server, await accessToken(server, client)), fresh.ES256);
        assert.equal(keep(server, await rs256Token(server)), fresh.RS256);
      }

      // Every token verifies with the JWK Set alone: the one cached at the rotation, and today's.
      const jwksNow = await jwksOf(a);
      assert.equal(jwksNow.keys.length, 4, 'the old keys stay published while their tokens live');
      for (const [token, at] of tokens) {
        for (const jwks of [jwksAtRotation, jwksNow]) {
          await jwtVerify(token, createLocalJWKSet(jwks as JSONWebKeySet), { issuer: a.url, currentDate: new Date(at * 1000), algorithms: ['RS256', 'ES256'] });
        }
      }
    });
  });
}

describe('keys rotate: one algorithm, and bad input', () => {
  test('--alg RS256 rotates that algorithm only; --alg XYZ and a bad --lead are one line and exit code 2, touching nothing', async () => {
    const db = await freshDatabase('sqlite');
    try {
      const server = await startTestServer('sqlite', { database: db });
      await server.close();
      const before = (await latchkeyKeys(db.url, 'list')).keys as Array<{ kid: string; alg: string }>;
      assert.deepEqual(before.map((k) => k.alg).sort(), ['ES256', 'RS256'], 'an opaque-token server made both at its first start');

      for (const args of [['--alg', 'XYZ'], ['--alg', 'rs256'], ['--lead', '-5'], ['--lead', 'soon'], ['--lead', '99999999999']]) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', 'rotate', ...args, '--database-url', db.url], { cwd: ROOT, env: CLI_ENV, encoding: 'utf8' });
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, args[0] === '--alg' ? /--alg must be RS256 or ES256/ : /--lead|option/);
      }
      assert.equal(((await latchkeyKeys(db.url, 'list')).keys as unknown[]).length, 2, 'nothing rotated');

      const printed = await latchkeyKeys(db.url, 'rotate', '--alg', 'RS256', '--lead', '0');
      const rotated = printed.rotated as Array<{ alg: string; kid: string; retired: string[] }>;
      assert.deepEqual(rotated.map((r) => r.alg), ['RS256']);
      const after = (await latchkeyKeys(db.url, 'list')).keys as Array<{ kid: string; alg: string; signing: boolean }>;
      assert.deepEqual(after.filter((k) => k.signing).map((k) => k.alg).sort(), ['ES256', 'RS256']);
      assert.equal(after.find((k) => k.signing && k.alg === 'RS256')?.kid, rotated[0]?.kid, '--lead 0: signs at once');
      assert.equal(after.find((k) => k.signing && k.alg === 'ES256')?.kid, before.find((k) => k.alg === 'ES256')?.kid);
    } finally {
      await db.drop();
    }
  });
});
