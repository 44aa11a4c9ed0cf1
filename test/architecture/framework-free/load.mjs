// Imports each file named on the command line, one after another, and prints one JSON object:
// the files that failed to load (with the error) and any forbidden package that was loaded
// past the resolve hook (through require(), which the hook does not see).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const failed = {};
for (const file of process.argv.slice(2)) {
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    failed[file] = err instanceof Error ? err.message : String(err);
  }
}
const required = Object.keys(createRequire(import.meta.url).cache)
  .filter((path) => /\/node_modules\/(?:kysely|fastify|@fastify\/[^/]+|better-sqlite3|pg)\//.test(path));
process.stdout.write(`${JSON.stringify({ failed, required })}\n`);
