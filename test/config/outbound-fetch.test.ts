// The settings of issue 23's outbound fetches: LATCHKEY_ALLOW_LOOPBACK_FETCH (off unless 1 or
// true; anything else stops start-up) and the config key client_id_metadata_documents (a boolean,
// default false).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyFileSettings, ConfigError, loadConfig } from '../../src/config/load.js';

test('LATCHKEY_ALLOW_LOOPBACK_FETCH: off by default, 1/true on, anything else refused', () => {
  assert.equal(loadConfig({ env: {} }).allowLoopbackFetch, false);
  for (const v of ['', '0', 'false']) assert.equal(loadConfig({ env: { LATCHKEY_ALLOW_LOOPBACK_FETCH: v } }).allowLoopbackFetch, false, v);
  for (const v of ['1', 'true']) assert.equal(loadConfig({ env: { LATCHKEY_ALLOW_LOOPBACK_FETCH: v } }).allowLoopbackFetch, true, v);
  assert.throws(() => loadConfig({ env: { LATCHKEY_ALLOW_LOOPBACK_FETCH: 'yes please' } }), ConfigError);
});

test('client_id_metadata_documents: default false, a boolean', () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.clientIdMetadataDocuments, false);
  applyFileSettings(config, { client_id_metadata_documents: true }, 'test');
  assert.equal(config.clientIdMetadataDocuments, true);
  assert.throws(() => applyFileSettings(config, { client_id_metadata_documents: 'yes' }, 'test'), ConfigError);
});
