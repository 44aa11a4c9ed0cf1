// WAL checkpoints off the event loop. better-sqlite3 is synchronous, so SQLite's automatic
// checkpoint (copy the WAL into the database file, then fsync) runs inside whichever commit
// crosses the threshold and stalls every request behind it for as long as the fsync takes on
// a busy disk (see docs/PERFORMANCE.md, checkpointer-worker). A worker thread with its own
// connection runs a PASSIVE checkpoint every second instead (it never blocks the writer), and
// the main connection's automatic checkpoint is raised to a backstop that only acts if the
// worker falls behind.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

// CommonJS, evaluated in the worker; `driver` is better-sqlite3's resolved path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or gone: next tick */ } };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); checkpoint(); db.close(); parentPort.close(); });
`;

/** Pages the main connection lets the WAL grow to before checkpointing itself (the backstop). */
export const BACKSTOP_PAGES = 4_000;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, intervalMs = 250): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, intervalMs } });
  worker.unref();
  // A failing checkpointer must not take the server down: the backstop still checkpoints.
  worker.on('error', () => undefined);
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate().then(() => resolve()), 2000).unref();
      });
      return stopped;
    },
  };
}
