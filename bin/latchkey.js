#!/usr/bin/env node
// The `latchkey` binary. The TypeScript sources are compiled to dist/ by `npm ci` (the
// package's `prepare` script); this file only hands over to the compiled entry point.
import('../dist/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('latchkey: not built yet; run `npm run build` (npm ci does it for you)\n');
  } else {
    process.stderr.write(`latchkey: ${err && err.message ? err.message : String(err)}\n`);
  }
  process.exit(1);
});
