// WAL checkpoints off the event loop. better-sqlite3 is synchronous, so SQLite's automatic
// checkpoint (copy the WAL into the database file, then fsync) runs inside whichever commit
// crosses the threshold and stalls every request behind it for as long as the fsync takes on
// a busy disk (see docs/PERFORMANCE.md, checkpointer-worker). A worker thread with its own
// connection runs a PASSIVE checkpoint every `intervalMs` instead (it never blocks the writer), and
// the main connection's automatic checkpoint is raised to a backstop that only acts if the
// worker falls behind.
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerData } from './checkpoint-worker.js';

// The worker's file sits beside this one, with this module's extension: tsc's
// checkpoint-worker.js beside dist/store/sqlite/checkpointer.js, and the bundle's own copy,
// checkpoint-worker.mjs, beside dist/latchkey.mjs (scripts/bundle.mjs). `serve` always runs
// from the build (bin/latchkey.js). From the sources under tsx, Node 20 cannot start a .ts
// worker: it fails at once and the backstop alone checkpoints.
const HERE = fileURLToPath(import.meta.url);
const WORKER_FILE = join(dirname(HERE), `checkpoint-worker${extname(HERE)}`);

/** Pages the main connection lets the WAL grow to before checkpointing itself (the backstop). */
export const BACKSTOP_PAGES = 4_000;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, intervalMs = 250): Checkpointer {
  const workerData: CheckpointWorkerData = { path, intervalMs };
  const worker = new Worker(WORKER_FILE, { workerData });
  worker.unref();
  // A failing checkpointer must not take the server down: the backstop still checkpoints.
  worker.on('error', () => undefined);
  let exited = false;
  worker.once('exit', () => {
    exited = true;
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        // Held from here on: a process with nothing else left to do would otherwise end
        // before the last checkpoint, and before whatever awaits this.
        worker.ref();
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate().then(() => resolve()), 2000).unref();
      });
      return stopped;
    },
  };
}
