// No import circles in src/: every file can be read (and tested) after the files it imports,
// never in a loop with them. Type-only imports count too. The graph is built from each file's
// import and export-from specifiers (import-graph.ts); a circle fails the test, named file by file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildImportGraph, findCycles } from './import-graph.js';

test('src/ has no import circle (type-only imports included)', () => {
  const graph = buildImportGraph('src');
  assert.ok(graph.size > 50, `expected the files of src/, found ${graph.size}`);
  const cycles = findCycles(graph);
  assert.deepEqual(cycles.map((c) => c.join(' → ')), [], `import circles in src/:\n${cycles.map((c) => `  ${c.join(' → ')}`).join('\n')}`);
});

test('the cycle search finds a circle and names it', () => {
  const graph = new Map([
    ['src/a.ts', ['src/b.ts']],
    ['src/b.ts', ['src/c.ts', 'src/d.ts']],
    ['src/c.ts', ['src/a.ts']],
    ['src/d.ts', []],
    ['src/e.ts', ['src/e.ts']],
  ]);
  assert.deepEqual(findCycles(graph), [
    ['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/a.ts'],
    ['src/e.ts', 'src/e.ts'],
  ]);
  assert.deepEqual(findCycles(new Map([['src/a.ts', ['src/b.ts']], ['src/b.ts', []]])), []);
});
