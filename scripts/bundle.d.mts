// Types for scripts/bundle.mjs (plain JavaScript, so `npm run build` needs no TypeScript
// loader); test/cli/bundle.test.ts imports EXTERNAL.
export declare const EXTERNAL: readonly string[];
export declare function bundle(entry: string, outfile: string): Promise<string>;
