// `latchkey serve` as a real process: an empty directory to /readyz 200, with the SQLite file
// created under ./var/ on first start, and a clean stop on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

const BIN = new URL('../../bin/latchkey.js', import.meta.url).pathname;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

test('npm start equivalent: empty directory → SQLite under ./var/ → /readyz 200 quickly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-serve-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  delete env.DATABASE_URL;
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    let ready = false;
    while (performance.now() - started < 15_000) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.status === 200) {
          ready = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const elapsed = performance.now() - started;
    assert.ok(ready, `server did not become ready: ${stderr}`);
    process.stdout.write(`# process start on an empty SQLite database to /readyz 200: ${elapsed.toFixed(0)} ms\n`);
    assert.ok(existsSync(join(dir, 'var', 'latchkey.db')), 'the database file is created under ./var/');
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'a clean exit on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
