// "No src/oauth file may load kysely or fastify, directly or transitively" (DESIGN.md: the
// protocol core is framework-free). The lint rule sees only a file's own imports; this test
// loads every file under src/oauth/ in a child process whose resolve hook
// (framework-free/hooks.mjs) refuses kysely, fastify, @fastify/*, better-sqlite3 and pg and
// logs every import edge, and names each file that reached one with the chain that led there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(new URL('./framework-free/', import.meta.url));
const ROOT = resolve(HERE, '../../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Edge { from: string | null; to: string; forbidden: boolean }

/** A module URL (or a bare package name) as a reader would write it: `src/store/clients.ts`, `kysely`. */
function shortName(url: string): string {
  if (!url.startsWith('file:')) return url;
  const path = relative(ROOT, fileURLToPath(url));
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return pkg ? pkg[1]! : path;
}

/** The import chains (one per file that reached a refused package) found in the hook's log. */
function forbiddenChains(files: string[], edges: Edge[]): string[] {
  const next = new Map<string, Edge[]>();
  for (const e of edges) if (e.from !== null) next.set(e.from, [...(next.get(e.from) ?? []), e]);
  const chains: string[] = [];
  for (const file of files) {
    const start = pathToFileURL(file).href;
    // Breadth-first: the shortest chain from the file to a refused package.
    const previous = new Map<string, string>([[start, start]]);
    const queue = [start];
    let hit: Edge | undefined;
    while (queue.length > 0 && hit === undefined) {
      const v = queue.shift()!;
      for (const e of next.get(v) ?? []) {
        if (e.forbidden) { hit = e; break; }
        if (!previous.has(e.to)) { previous.set(e.to, v); queue.push(e.to); }
      }
    }
    if (hit === undefined) continue;
    const chain = [hit.to];
    for (let v = hit.from!; ; v = previous.get(v)!) {
      chain.unshift(v);
      if (v === start) break;
    }
    chains.push(`${shortName(start)} loads ${shortName(hit.to)}: ${chain.map(shortName).join(' → ')}`);
  }
  return chains;
}

test('no file under src/oauth loads kysely, fastify, @fastify/*, better-sqlite3 or pg, directly or transitively', () => {
  const files = tsFiles(join(ROOT, 'src/oauth'));
  assert.ok(files.some((f) => f.includes('/grants/')), 'src/oauth/grants/ is loaded too');
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-framework-free-'));
  try {
    const log = join(dir, 'imports.jsonl');
    writeFileSync(log, '');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--import', join(HERE, 'register.mjs'), join(HERE, 'load.mjs'), ...files], {
      cwd: ROOT,
      env: { ...process.env, LATCHKEY_IMPORT_LOG: log },
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, `the loader process failed:\n${child.stderr}`);
    const { failed, required } = JSON.parse(child.stdout) as { failed: Record<string, string>; required: string[] };
    const edges = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Edge);
    assert.ok(edges.length > files.length, 'the resolve hook saw the imports');

    const chains = forbiddenChains(files, edges);
    assert.deepEqual(chains, [], `src/oauth is framework-free (DESIGN.md), but:\n${chains.map((c) => `  ${c}`).join('\n')}`);
    assert.deepEqual(failed, {}, 'every src/oauth file loads');
    assert.deepEqual(required, [], 'nothing loaded kysely, fastify, better-sqlite3 or pg through require()');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
