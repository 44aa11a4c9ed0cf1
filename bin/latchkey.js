#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=8 --heap-growing-percent=50
// --heap-growing-percent=50: after each full collection V8 lets the old generation grow to
// 1.5× what survived before collecting again, instead of a factor it picks itself (up to 4×),
// which depends on how start-up went and made peak RSS under load swing from run to run (see
// docs/PERFORMANCE.md, heap-growing-percent).
// --max-semi-space-size=8 (MB): V8's young generation otherwise grows to 32 MB under load; a
// smaller one saves more memory but makes the token endpoint's scavenges show
// (docs/PERFORMANCE.md, max-semi-space-size).
// MALLOC_ARENA_MAX=1: glibc otherwise gives each thread that mallocs its own arena and keeps
// freed blocks there. argon2id's 19 MiB block is malloc'd on whichever of libuv's pool threads
// runs the hash, so after a few password grants every pool thread's arena holds its own copy
// (docs/PERFORMANCE.md, malloc-arena-max). Node's own threads malloc little, so one arena
// costs no measurable throughput.
// `npm start` and the bench pass the same (test/cli/node-flags.test.ts).
// The `latchkey` binary. The TypeScript sources are compiled to dist/ and bundled into one
// file, dist/latchkey.mjs, by `npm ci` (the package's `prepare` script; scripts/bundle.mjs says
// why one file); this file only hands over to it.
import('../dist/latchkey.mjs').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/latchkey.mjs')) {
    process.stderr.write('latchkey: not built yet; run `npm run build` (npm ci does it for you)\n');
  } else {
    process.stderr.write(`latchkey: ${err && err.message ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
