// The import graph of src/: one node per .ts file, one edge per import or export-from
// specifier that names another file of src/ (type-only imports included: a type-only circle
// is still a circle a reader has to untangle). Specifiers are read with TypeScript's own
// pre-processor (ts.preProcessFile), so comments and strings never count as imports.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** File (relative to the root's parent, e.g. `src/cli/admin.ts`) → the src files it imports. */
export type ImportGraph = Map<string, string[]>;

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) tsFiles(path, out);
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The file a relative specifier names (`./x.js` is written for `./x.ts`), or undefined. */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c));
}

/** Every import/export-from specifier of one file, as written (static and dynamic `import()`). */
export function specifiersOf(path: string): string[] {
  const info = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** The graph of the .ts files under `root`, keyed by paths relative to `cwd`. */
export function buildImportGraph(root: string, cwd: string = process.cwd()): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of tsFiles(resolve(cwd, root))) {
    const targets = new Set<string>();
    for (const spec of specifiersOf(file)) {
      const target = resolveSpecifier(file, spec);
      if (target !== undefined) targets.add(relative(cwd, target));
    }
    graph.set(relative(cwd, file), [...targets].sort());
  }
  return graph;
}

/**
 * The circles of the graph: for each tangle (strongly connected component of more than one
 * file, or a file importing itself), the shortest circle through each of its files, each
 * written as a closed path from its first file by name, e.g. [`src/a.ts`, `src/b.ts`, `src/a.ts`].
 */
export function findCycles(graph: ImportGraph): string[][] {
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);

  const cycles = new Map<string, string[]>();
  for (const component of components) {
    const members = new Set(component);
    if (component.length === 1 && !(graph.get(component[0]!) ?? []).includes(component[0]!)) continue;
    // The shortest circle through each file of the tangle, so that every file in it is named.
    for (const start of [...component].sort()) {
      const cycle = shortestCycle(graph, members, start);
      // The same circle found from another of its files: written from its first file (by name).
      const first = cycle.slice(0, -1).reduce((a, b) => (b < a ? b : a));
      const at = cycle.indexOf(first);
      const rotated = [...cycle.slice(at, -1), ...cycle.slice(0, at), first];
      cycles.set(rotated.join(' '), rotated);
    }
  }
  return [...cycles.values()].sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
}

/** The shortest closed path from `start` back to itself through `members` (breadth-first). */
function shortestCycle(graph: ImportGraph, members: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0 && !previous.has(start)) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w) || previous.has(w)) continue;
      previous.set(w, v);
      if (w === start) break;
      queue.push(w);
    }
  }
  const path = [start];
  for (let v = previous.get(start)!; v !== start; v = previous.get(v)!) path.unshift(v);
  path.unshift(start);
  return path;
}
