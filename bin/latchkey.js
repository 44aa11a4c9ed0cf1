#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=8 --heap-growing-percent=50
// --heap-growing-percent=50: after each full collection V8 lets the old generation grow to
// 1.5× what survived before collecting again, instead of a factor it picks itself (up to 4×).
// Its own pick depends on how start-up went: with the bundled server (fewer allocations
// before the first full collection) it sometimes let ~17 MB of live data grow to 63 MB of
// heap, and peak RSS under load swung between 117 and 154 MB from run to run; at 1.5× it stays
// at 115–120 MB, with the same CPU per request in A/B bench pairs.
// --max-semi-space-size=8 (MB): V8's young generation otherwise grows to 32 MB under load
// (peak RSS 148 MB in the bench). 4 MB took another 10 MB off, but once the token endpoint's
// database work shrank the scavenges showed: in interleaved A/B runs 8 MB against 4 MB gave
// refresh, code exchange and client credentials 8–15% more per second (CPU per request −8 to
// −13%; /api/user unchanged) for peak RSS 124–131 MB instead of 116–121 MB.
// MALLOC_ARENA_MAX=1: glibc otherwise gives each thread that mallocs its own arena and keeps
// freed blocks there. argon2id's 19 MiB block is malloc'd on whichever of libuv's pool threads
// runs the hash, so after a few password grants every pool thread's arena holds its own 19 MiB
// (peak RSS 178 MB in the bench's password grant; 115 MB with one arena, at the same rate).
// Node's own threads malloc little, so one arena costs no measurable throughput.
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
