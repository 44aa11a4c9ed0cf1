// Configuration (src/config/load.ts): defaults < profile < JSON config file < environment <
// command-line flags, and every bad setting stopped at start-up with one clear line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_DATABASE_URL, loadConfig, type ConfigSources } from '../../src/config/load.js';
import { PROFILES } from '../../src/config/profiles.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A config file with `text` in it; returns its path. */
function configFile(text: string): string {
  files += 1;
  const path = join(dir, `config-${files}.json`);
  writeFileSync(path, text);
  return path;
}

/** The one-line ConfigError loadConfig throws for `sources`. */
function refusal(sources: ConfigSources): string {
  try {
    loadConfig(sources);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('accepted');
}

describe('loadConfig: sources and precedence', () => {
  test('with nothing set: the standard profile, loopback on 8080, the SQLite file, the default scopes', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.profile, 'standard');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.databaseUrl, DEFAULT_DATABASE_URL);
    assert.equal(config.issuer, 'http://127.0.0.1:8080');
    assert.equal(config.accessTokenTtl, PROFILES.standard.accessTokenTtl);
    assert.equal(config.refreshTokenTtl, PROFILES.standard.refreshTokenTtl);
    assert.deepEqual(config.scopes, ['openid', 'profile', 'email']);
    assert.equal(config.accessTokenFormat, 'opaque');
    assert.equal(config.refreshRetryWindow, 0);
    assert.equal(config.signup, true);
    assert.equal(config.redisUrl, null);
    assert.equal(config.trustProxy, false);
  });

  test('the profile sets the lifetimes and statuses; the config file overrides the profile', () => {
    const hover = loadConfig({ env: { LATCHKEY_PROFILE: 'hover' } });
    assert.equal(hover.refreshTokenTtl, null);
    assert.equal(hover.tokenErrorStatus, 401);
    assert.equal(hover.accessTokenTtl, 7200);
    const file = configFile(JSON.stringify({ access_token_ttl: 60, refresh_token_ttl: 120, token_error_status: 400, scopes: ['profile', 'email', 'calendar'] }));
    const config = loadConfig({ env: { LATCHKEY_PROFILE: 'hover', LATCHKEY_CONFIG: file } });
    assert.equal(config.profile, 'hover');
    assert.equal(config.accessTokenTtl, 60);
    assert.equal(config.refreshTokenTtl, 120);
    assert.equal(config.tokenErrorStatus, 400);
    assert.equal(config.expiredTokenStatus, PROFILES.hover.expiredTokenStatus, 'what the file leaves out stays the profile\'s');
    assert.deepEqual(config.scopes, ['profile', 'email', 'calendar']);
  });

  test('flags win over the environment: port, host, database, issuer, profile and config file', () => {
    const fromEnv = configFile(JSON.stringify({ access_token_ttl: 111 }));
    const fromFlag = configFile(JSON.stringify({ access_token_ttl: 222 }));
    const env = {
      PORT: '9000', HOST: '0.0.0.0', DATABASE_URL: 'sqlite:./env.db', LATCHKEY_ISSUER: 'https://env.example', LATCHKEY_PROFILE: 'huddle', LATCHKEY_CONFIG: fromEnv,
    };
    const envOnly = loadConfig({ env });
    assert.deepEqual([envOnly.port, envOnly.host, envOnly.databaseUrl, envOnly.issuer, envOnly.profile, envOnly.accessTokenTtl], [9000, '0.0.0.0', 'sqlite:./env.db', 'https://env.example', 'huddle', 111]);
    const flagged = loadConfig({
      env, flags: { port: '9001', host: '::1', databaseUrl: 'sqlite::memory:', issuer: 'https://flag.example/', profile: 'housecheck', config: fromFlag },
    });
    assert.deepEqual([flagged.port, flagged.host, flagged.databaseUrl, flagged.issuer, flagged.profile, flagged.accessTokenTtl], [9001, '::1', 'sqlite::memory:', 'https://flag.example', 'housecheck', 222]);
    assert.equal(flagged.refreshTokenTtl, PROFILES.housecheck.refreshTokenTtl);
  });

  test('the default issuer names the host and port, an IPv6 host in brackets; a given issuer loses its trailing slashes', () => {
    assert.equal(loadConfig({ env: { HOST: '::1', PORT: '9' } }).issuer, 'http://[::1]:9');
    assert.equal(loadConfig({ env: { LATCHKEY_ISSUER: 'https://id.example/base//' } }).issuer, 'https://id.example/base');
  });

  test('direct overrides come last', () => {
    const config = loadConfig({ env: { PORT: '9000' }, flags: { port: '9001' }, overrides: { port: 1, refreshRetryWindow: 5 } });
    assert.equal(config.port, 1);
    assert.equal(config.refreshRetryWindow, 5);
  });
});

describe('loadConfig: one clear line for each bad setting', () => {
  test('an unknown profile, from the environment or a flag', () => {
    assert.equal(refusal({ env: { LATCHKEY_PROFILE: 'nope' } }), 'unknown profile "nope" (known: standard, housecheck, huddle, hover)');
    assert.equal(refusal({ env: {}, flags: { profile: 'Standard' } }), 'unknown profile "Standard" (known: standard, housecheck, huddle, hover)');
  });

  test('a malformed database URL', () => {
    assert.equal(refusal({ env: { DATABASE_URL: 'postgres://' } }), 'DATABASE_URL "postgres://" is not a valid postgres:// URL');
    assert.equal(refusal({ env: { DATABASE_URL: 'postgres:///db' } }), 'DATABASE_URL "postgres:///db" is not a valid postgres:// URL');
    assert.equal(refusal({ env: { DATABASE_URL: 'postgresql://[bad/db' } }), 'DATABASE_URL "postgresql://[bad/db" is not a valid postgres:// URL');
    assert.equal(refusal({ env: { DATABASE_URL: 'mysql://x/y' } }), 'DATABASE_URL "mysql://x/y" must start with sqlite: or postgres://');
    assert.equal(refusal({ env: { DATABASE_URL: 'sqlite:' } }), 'DATABASE_URL "sqlite:" names no file (use sqlite:./var/latchkey.db or sqlite::memory:)');
    assert.equal(loadConfig({ env: { DATABASE_URL: 'postgresql://u@db.internal:5432/latchkey' } }).databaseUrl, 'postgresql://u@db.internal:5432/latchkey');
  });

  test('a malformed issuer, port or host', () => {
    assert.equal(refusal({ env: { LATCHKEY_ISSUER: 'id.example' } }), 'LATCHKEY_ISSUER "id.example" is not an absolute URL');
    assert.equal(refusal({ env: { LATCHKEY_ISSUER: 'ftp://id.example' } }), 'LATCHKEY_ISSUER must be an http(s) URL, got "ftp://id.example"');
    assert.equal(refusal({ env: { LATCHKEY_ISSUER: 'https://id.example/#x' } }), 'LATCHKEY_ISSUER must not have a query or fragment (RFC 8414 §2)');
    assert.equal(refusal({ env: { PORT: '70000' } }), 'PORT must be at most 65535, got 70000');
    assert.equal(refusal({ env: { PORT: 'http' } }), 'PORT must be a whole number, got "http"');
    assert.equal(refusal({ env: { HOST: ' ' } }), 'HOST must not be empty');
  });

  test('a config file that cannot be read, is not JSON, or is not an object', () => {
    const missing = join(dir, 'missing.json');
    assert.equal(refusal({ env: { LATCHKEY_CONFIG: missing } }), `cannot read config file ${missing}: ENOENT`);
    assert.equal(refusal({ env: {}, flags: { config: dir } }), `cannot read config file ${dir}: EISDIR`);
    const broken = configFile('{"access_token_ttl": 60,');
    assert.match(refusal({ env: { LATCHKEY_CONFIG: broken } }), new RegExp(`^config file ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON: .+`));
    for (const text of ['[1, 2]', 'null', '"text"', '42']) {
      const path = configFile(text);
      assert.equal(refusal({ env: { LATCHKEY_CONFIG: path } }), `config file ${path} must hold a JSON object`);
    }
  });

  test('a config file with an unknown key or a bad value names the file and the key', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ acces_token_ttl: 60 }, 'unknown key "acces_token_ttl" (known: access_token_ttl, refresh_token_ttl, authorization_code_ttl, expired_token_status, token_error_status, access_token_format, signup, refresh_retry_window, scopes, email_verification, registration, registration_unused_ttl, client_id_metadata_documents)'],
      [{ access_token_ttl: '1h' }, 'access_token_ttl must be a whole number, got "1h"'],
      [{ access_token_ttl: 0 }, 'access_token_ttl must be at least 1, got 0'],
      [{ authorization_code_ttl: 1.5 }, 'authorization_code_ttl must be a whole number, got 1.5'],
      [{ refresh_retry_window: 61 }, 'refresh_retry_window must be at most 60, got 61'],
      [{ expired_token_status: 402 }, 'expired_token_status must be 401 or 403'],
      [{ token_error_status: '400' }, 'token_error_status must be 400 or 401'],
      [{ access_token_format: 'JWT' }, 'access_token_format must be "opaque" or "jwt"'],
      [{ signup: 'yes' }, 'signup must be true or false'],
      [{ scopes: [] }, 'scopes must be a non-empty list of scope names'],
      [{ scopes: ['profile', 'has space'] }, 'scopes must be a non-empty list of scope names'],
      [{ registration: 'Open' }, 'registration must be "closed", "open" or "token", got "Open"'],
      [{ registration: true }, 'registration must be "closed", "open" or "token", got a boolean'],
      [{ registration: 'open\u0000\u202e' }, 'registration must be "closed", "open" or "token", got "open\\u0000\\u202e"'],
      [{ registration: null }, 'registration must be "closed", "open" or "token", got null'],
      [{ registration_unused_ttl: 59 }, 'registration_unused_ttl must be at least 60, got 59'],
      [{ registration_unused_ttl: '1d' }, 'registration_unused_ttl must be a whole number, got "1d"'],
    ];
    for (const [settings, message] of cases) {
      const path = configFile(JSON.stringify(settings));
      assert.equal(refusal({ env: { LATCHKEY_CONFIG: path } }), `${path}: ${message}`);
    }
    // Dynamic registration is closed unless the file says otherwise; unused registrations live a day.
    const defaults = loadConfig({ env: {} });
    assert.equal(defaults.registration, 'closed');
    assert.equal(defaults.registrationUnusedTtl, 86_400);
    assert.equal(defaults.registrationRateLimit, 20);
    for (const mode of ['closed', 'open', 'token'] as const) {
      assert.equal(loadConfig({ env: { LATCHKEY_CONFIG: configFile(JSON.stringify({ registration: mode })) } }).registration, mode);
    }
    assert.equal(refusal({ env: { LATCHKEY_REGISTRATION_RATE_LIMIT: 'many' } }), 'LATCHKEY_REGISTRATION_RATE_LIMIT must be a whole number, got "many"');
    // null is a valid refresh_token_ttl: refresh tokens that never expire.
    assert.equal(loadConfig({ env: { LATCHKEY_CONFIG: configFile('{"refresh_token_ttl": null}') } }).refreshTokenTtl, null);
  });
});

describe('loadConfig: session and metrics settings', () => {
  test('LATCHKEY_SESSION_LIFETIME and LATCHKEY_SESSION_IDLE_TIMEOUT: 7 and 3 days by default, whole seconds of at least 60', () => {
    const defaults = loadConfig({ env: {} });
    assert.equal(defaults.sessionTtl, 7 * 86_400);
    assert.equal(defaults.sessionIdleTimeout, 3 * 86_400);
    const set = loadConfig({ env: { LATCHKEY_SESSION_LIFETIME: '3600', LATCHKEY_SESSION_IDLE_TIMEOUT: ' 60 ' } });
    assert.equal(set.sessionTtl, 3600);
    assert.equal(set.sessionIdleTimeout, 60);
    for (const name of ['LATCHKEY_SESSION_LIFETIME', 'LATCHKEY_SESSION_IDLE_TIMEOUT']) {
      assert.equal(refusal({ env: { [name]: '59' } }), `${name} must be at least 60, got 59`);
      assert.equal(refusal({ env: { [name]: '-5' } }), `${name} must be at least 60, got -5`);
      assert.equal(refusal({ env: { [name]: '1.5' } }), `${name} must be a whole number, got "1.5"`);
      assert.equal(refusal({ env: { [name]: '1d' } }), `${name} must be a whole number, got "1d"`);
      assert.equal(refusal({ env: { [name]: '' } }), `${name} must be a whole number, got ""`);
    }
  });

  test('LATCHKEY_METRICS_TOKEN: unset or empty is none; otherwise at least 16 b64token characters', () => {
    assert.equal(loadConfig({ env: {} }).metricsToken, null);
    assert.equal(loadConfig({ env: { LATCHKEY_METRICS_TOKEN: '' } }).metricsToken, null);
    for (const good of ['0123456789abcdef', 'A-Z.a_z~0+9/xyzw==', 'f'.repeat(64)]) assert.equal(loadConfig({ env: { LATCHKEY_METRICS_TOKEN: good } }).metricsToken, good);
    const message = 'LATCHKEY_METRICS_TOKEN must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (e.g. openssl rand -hex 32)';
    for (const bad of ['short', '0123456789abcde', '0123456789 abcdef', '0123456789abcdef\n', '"0123456789abcdef"', '=0123456789abcdef', 'ümlaut0123456789']) {
      assert.equal(refusal({ env: { LATCHKEY_METRICS_TOKEN: bad } }), message, JSON.stringify(bad));
    }
  });

  test('LATCHKEY_KEY_PUBLISH_LEAD: seconds a rotated key is published before it signs, 3600 by default, 0 to 30 days', () => {
    assert.equal(loadConfig({ env: {} }).keyPublishLead, 3600);
    assert.equal(loadConfig({ env: { LATCHKEY_KEY_PUBLISH_LEAD: '0' } }).keyPublishLead, 0);
    assert.equal(loadConfig({ env: { LATCHKEY_KEY_PUBLISH_LEAD: '2592000' } }).keyPublishLead, 2_592_000);
    assert.equal(refusal({ env: { LATCHKEY_KEY_PUBLISH_LEAD: '-1' } }), 'LATCHKEY_KEY_PUBLISH_LEAD must be at least 0, got -1');
    assert.equal(refusal({ env: { LATCHKEY_KEY_PUBLISH_LEAD: '2592001' } }), 'LATCHKEY_KEY_PUBLISH_LEAD must be at most 2592000, got 2592001');
    assert.equal(refusal({ env: { LATCHKEY_KEY_PUBLISH_LEAD: '1h' } }), 'LATCHKEY_KEY_PUBLISH_LEAD must be a whole number, got "1h"');
  });
});

describe('LATCHKEY_WORKERS / --workers', () => {
  test('default 1 (no cluster); a whole number; auto is the cores, at most 64; an empty variable is unset; the flag beats the variable', async () => {
    const { parseWorkers, MAX_WORKERS } = await import('../../src/config/load.js');
    assert.equal(loadConfig({ env: {} }).workers, 1);
    assert.equal(loadConfig({ env: { LATCHKEY_WORKERS: '' } }).workers, 1);
    assert.equal(loadConfig({ env: { LATCHKEY_WORKERS: '3' } }).workers, 3);
    assert.equal(loadConfig({ env: { LATCHKEY_WORKERS: '3' }, flags: { workers: '2' } }).workers, 2);
    assert.equal(loadConfig({ env: { LATCHKEY_WORKERS: 'auto' } }).workers >= 1, true);
    assert.equal(parseWorkers('auto', 2), 2);
    assert.equal(parseWorkers('auto', 1), 1);
    assert.equal(parseWorkers('auto', 128), MAX_WORKERS);
    assert.equal(parseWorkers(String(MAX_WORKERS)), MAX_WORKERS);
    assert.equal(parseWorkers('1'), 1);
  });

  test('anything else is one clear line naming the variable and showing the value with its control characters escaped', () => {
    for (const value of ['0', '-1', 'abc', '65', '99999999999999999999', '1e1', '0x2', '2.0', ' 2', '2\n', 'Auto', '\u0000', '\u001b[2J', '2\u007f', '2\u0085', '\u2028', '\u202e2', '２', 'a'.repeat(10_000)]) {
      const message = refusal({ env: { LATCHKEY_WORKERS: value } });
      assert.match(message, /^LATCHKEY_WORKERS \(--workers\) must be auto or a whole number from 1 to 64, got "/, JSON.stringify(value));
      // eslint-disable-next-line no-control-regex -- what must not reach the terminal
      assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\u2028-\u202e]/, JSON.stringify(value));
      assert.ok(message.length < 300, `short: ${message.length}`);
    }
    assert.match(refusal({ flags: { workers: '1000' } }), /each worker is a process of its own with its own database connections/);
  });
});
