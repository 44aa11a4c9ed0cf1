// Types for scripts/bundle.mjs (plain JavaScript, so `npm run build` needs no TypeScript
// loader); test/cli/bundle.test.ts imports EXTERNAL and CHECKPOINT_WORKER.
export declare const EXTERNAL: readonly string[];
export declare const CHECKPOINT_WORKER: string;
export declare function bundle(entry: string, outfile: string): Promise<string>;
