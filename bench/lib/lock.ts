// One bench at a time on a machine: two runs side by side would each measure the other's load.
// A run waits (printing who holds the lock) until the other one has finished.
import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK = join(tmpdir(), 'latchkey-bench.lock');

function holder(): number | undefined {
  try {
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Takes the machine-wide bench lock, waiting up to `maxWaitMs` for another run to end. */
export async function acquireBenchLock(log: (msg: string) => void, maxWaitMs = 60 * 60 * 1000): Promise<() => void> {
  const deadline = Date.now() + maxWaitMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = holder();
    if (pid === undefined) {
      // A stale lock from a run that died.
      try {
        unlinkSync(LOCK);
      } catch {
        // someone else removed it first
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another bench run (pid ${pid}) still holds ${LOCK}`);
    if (!told) {
      log(`waiting for another bench run (pid ${pid}) to finish …`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
