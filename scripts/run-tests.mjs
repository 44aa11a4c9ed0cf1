// Runs every *.test.ts under test/ with Node's own test runner (TypeScript through tsx).
// Extra arguments narrow the run: `node scripts/run-tests.mjs test/store` or a file.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(path, out) {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test'];
const files = roots.flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=3', '--test-reporter=spec',
  // A hung test fails after 5 minutes instead of holding CI to its 90-minute limit.
  '--test-timeout=300000', '--test-force-exit', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
