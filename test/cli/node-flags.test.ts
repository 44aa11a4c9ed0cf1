// Latchkey runs with a small V8 young generation (bin/latchkey.js explains why). The flag is
// written in three places — the binary's first line, `npm start`, and the bench's server
// start — and they must not drift apart, or the bench would measure a server nobody runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { SERVE_NODE_FLAGS } from '../../bench/lib/latchkey.js';

const root = new URL('../../', import.meta.url);

test('the binary, npm start and the bench start the server with the same node flags, and node takes them', () => {
  const shebang = readFileSync(new URL('bin/latchkey.js', root), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S node ${SERVE_NODE_FLAGS.join(' ')}`);
  const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.equal(scripts.start, `node ${SERVE_NODE_FLAGS.join(' ')} bin/latchkey.js serve`);
  assert.equal(scripts.latchkey, `node ${SERVE_NODE_FLAGS.join(' ')} bin/latchkey.js`);
  // The binary runs through its shebang (env -S) and node accepts the flags.
  const run = spawnSync(new URL('bin/latchkey.js', root).pathname, ['--help'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: latchkey/);
  const probe = spawnSync(process.execPath, [...SERVE_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
  assert.equal(probe.stdout, 'ok', probe.stderr);
});
