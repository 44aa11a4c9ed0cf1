// `npm run build`: tsc compiles src/ into dist/ (or the directory given as the argument), then
// scripts/bundle.mjs bundles the output into one file beside it, latchkey.mjs. The one place
// that knows what a build is: npm run build, the hardening tests (when dist/ is older than src/)
// and the bench (its private copy) all run this.
//
// tsc emits even when it reports type errors; what it emitted is still bundled (the bench
// measures it), and the exit code is then tsc's, so `npm run build` fails on a type error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { cwd: root, stdio: 'inherit' });
const main = join(outDir, 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`build: tsc produced no ${main}\n`);
  process.exit(1);
}
try {
  await bundle(main, join(outDir, 'latchkey.mjs'));
} catch (err) {
  process.stderr.write(`build: bundling ${main} failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.exit(tsc.status ?? 1);
