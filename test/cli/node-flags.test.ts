// Latchkey runs with a small V8 young generation and one malloc arena (bin/latchkey.js explains
// why). Flag and variable are written in three places — the binary's first line, `npm start`,
// and the bench's server start — and they must not drift apart, or the bench would measure a
// server nobody runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { SERVE_ENV, SERVE_NODE_FLAGS } from '../../bench/lib/latchkey.js';

const root = new URL('../../', import.meta.url);

test('the binary, npm start and the bench start the server with the same node flags and environment, and node takes them', () => {
  const env = Object.entries(SERVE_ENV).map(([k, v]) => `${k}=${v} `).join('');
  const command = `${env}node ${SERVE_NODE_FLAGS.join(' ')}`;
  const shebang = readFileSync(new URL('bin/latchkey.js', root), 'utf8').split('\n')[0];
  assert.equal(shebang, `#!/usr/bin/env -S ${command}`);
  const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.equal(scripts.start, `${command} bin/latchkey.js serve`);
  assert.equal(scripts.latchkey, `${command} bin/latchkey.js`);
  // The binary runs through its shebang (env -S), node accepts the flags, and the process sees
  // the environment (a preloaded probe prints it to stderr).
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-flags-'));
  const preload = join(dir, 'probe.cjs');
  writeFileSync(preload, `process.stderr.write(JSON.stringify(${JSON.stringify(Object.keys(SERVE_ENV))}.map((k) => [k, process.env[k]])))`);
  try {
    const run = spawnSync(new URL('bin/latchkey.js', root).pathname, ['--help'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: `--require ${preload}` },
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^usage: latchkey/);
    assert.deepEqual(JSON.parse(run.stderr) as unknown, Object.entries(SERVE_ENV));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const probe = spawnSync(process.execPath, [...SERVE_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
  assert.equal(probe.stdout, 'ok', probe.stderr);
});
