// Bundles the compiled server (dist/main.js, tsc's output) and its pure-JS dependencies into
// one file, dist/latchkey.mjs, which bin/latchkey.js runs (scripts/build.mjs calls it after tsc).
//
// Why: Node 20 spends most of a cold start resolving, reading and linking modules one file
// at a time (fastify, kysely, ajv, pino, prom-client and ours: about 500 files) before the
// first line of Latchkey runs. One file is read and compiled once, and start → /readyz takes
// about half as long (see docs/PERFORMANCE.md, one-file-bundle). Nothing else changes: the same compiled code runs, and dist/main.js stays usable
// unbundled (`npm run bench -- --profile` uses it, so profiles name our source files).
//
// Kept outside the bundle and loaded from node_modules at run time: the native addons
// (better-sqlite3, argon2) and the drivers loaded only when configured (pg, ioredis; see
// src/store/db.ts and src/accounts/backoff.ts). The bundle is written next to dist/main.js so
// that those resolve from the project's node_modules as before.
//
// The SQLite checkpointer's worker thread runs a file of its own (src/store/sqlite/
// checkpoint-worker.ts), found beside the module that starts it: for the bundle, that is
// checkpoint-worker.mjs beside latchkey.mjs, bundled here from tsc's copy in store/sqlite/.
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

export const EXTERNAL = ['better-sqlite3', 'argon2', 'pg', 'ioredis'];

/** Where the bundle's checkpointer finds its worker (src/store/sqlite/checkpointer.ts WORKER_FILE). */
export const CHECKPOINT_WORKER = 'checkpoint-worker.mjs';

/**
 * Bundles `entry` (a compiled main.js) into `outfile`, and the checkpointer's worker into
 * CHECKPOINT_WORKER beside it. CommonJS dependencies inside an ES
 * module bundle call `require` for Node's built-ins, so the bundle defines one.
 */
export async function bundle(entry, outfile) {
  // esbuild rejects when the bundle cannot be made (and prints why: logLevel).
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    // Maps back through tsc's own maps to src/*.ts (node --enable-source-maps reads it).
    sourcemap: 'linked',
    // Not keepNames: it wraps every function expression in a __name() call, closures made per
    // request included (see docs/PERFORMANCE.md, bundle-without-keepnames). Names are
    // only changed where two modules' top-level names collide (`parse2`); the map has the real ones.
    banner: { js: "import { createRequire as __latchkeyRequire } from 'node:module';\nconst require = __latchkeyRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(dirname(entry), 'store', 'sqlite', 'checkpoint-worker.js')],
    outfile: join(dirname(outfile), CHECKPOINT_WORKER),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    logLevel: 'warning',
  });
  return outfile;
}
