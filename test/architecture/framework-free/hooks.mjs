// Module resolve hook (module.register) for framework-free.test.ts: records every import edge
// (importing file → imported URL) as a line of JSON in the file named at registration, and
// refuses the web framework and the SQL packages, so that loading them fails where it starts.
import { appendFileSync } from 'node:fs';

const FORBIDDEN = /^(?:kysely|fastify|@fastify\/[^/]+|better-sqlite3|pg)(?:\/|$)/;
const FORBIDDEN_PATH = /\/node_modules\/(?:kysely|fastify|@fastify\/[^/]+|better-sqlite3|pg)\//;

let log;

export function initialize(data) {
  log = data.log;
}

export async function resolve(specifier, context, nextResolve) {
  const from = context.parentURL ?? null;
  if (FORBIDDEN.test(specifier)) {
    appendFileSync(log, `${JSON.stringify({ from, to: specifier, forbidden: true })}\n`);
    throw new Error(`forbidden import of ${specifier} from ${from}`);
  }
  const result = await nextResolve(specifier, context);
  const forbidden = FORBIDDEN_PATH.test(result.url);
  appendFileSync(log, `${JSON.stringify({ from, to: result.url, forbidden })}\n`);
  if (forbidden) throw new Error(`forbidden import of ${result.url} from ${from}`);
  return result;
}
