// bin/latchkey.js runs dist/latchkey.mjs: tsc's output and the pure-JS dependencies bundled
// into one file (scripts/bundle.mjs says why: start-up). The bundle must be self-contained but
// for Node's built-ins and the packages deliberately left outside it, or a start would go back
// to reading hundreds of files — or fail where a package was left out by mistake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { EXTERNAL } from '../../scripts/bundle.mjs';

const root = new URL('../../', import.meta.url);

test('the binary runs the bundle, which loads only Node built-ins and the packages kept outside it', () => {
  const bin = readFileSync(new URL('bin/latchkey.js', root), 'utf8');
  assert.match(bin, /import\('\.\.\/dist\/latchkey\.mjs'\)/);

  // `npm test` builds first, so the bundle is the one of these sources.
  const bundle = readFileSync(new URL('dist/latchkey.mjs', root), 'utf8');
  const specifiers = new Set<string>();
  for (const m of bundle.matchAll(/^\s*(?:import|export)\b[^'"\n]*?\bfrom\s*"([^"]+)"/gm)) specifiers.add(m[1]!);
  // Calls, not the text of code ajv writes for its standalone mode ('require("ajv/…")').
  for (const m of bundle.matchAll(/(?<![`'"\w])(?:require|__require|requireModule|createRequire\d*\([^)]*\))\(\s*"([^"]+)"\s*\)/g)) specifiers.add(m[1]!);
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  const outside = [...specifiers].filter((s) => !builtins.has(s) && !s.startsWith('node:')).map(packageOf);
  // Something is loaded from outside (the SQLite driver at least), so the scan sees imports.
  assert.ok(outside.includes('better-sqlite3'), `no import of better-sqlite3 found in the bundle (scan broken?): ${[...specifiers].join(', ')}`);
  for (const pkg of outside) assert.ok(EXTERNAL.includes(pkg), `the bundle loads ${pkg} from node_modules; bundle it or add it to EXTERNAL in scripts/bundle.mjs`);

  // What stays outside must be installed in production: a runtime dependency.
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of EXTERNAL) assert.ok(name in pkg.dependencies, `${name} is kept outside the bundle but is not a dependency`);
});
