// The checkpointer's worker thread (checkpointer.ts starts it): its own connection to the
// database file runs a PASSIVE WAL checkpoint every `intervalMs`, and a last one when the main
// thread says stop. Loaded as a file of its own (tsc's output beside checkpointer.js; the
// bundle's copy beside dist/latchkey.mjs, scripts/bundle.mjs), so it imports nothing of ours.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** What checkpointer.ts hands the worker. */
export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

if (parentPort === null) throw new Error('checkpoint-worker.ts runs only as a worker thread (checkpointer.ts)');
const port = parentPort;
const { path, intervalMs } = workerData as CheckpointWorkerData;

const db = new Database(path);
db.pragma('busy_timeout = 1000');
const checkpoint = (): void => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or gone: the next tick tries again.
  }
};
const timer = setInterval(checkpoint, intervalMs);
port.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  port.close();
});
