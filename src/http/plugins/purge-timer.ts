// Runs the expired-row cleanup (store/purge.ts) every config.purgeInterval seconds while the
// server is up. The timer is unref'd (it never keeps a process alive), runs never overlap, and
// it stops when the server closes.
import type { FastifyInstance } from 'fastify';
import { nowSeconds } from '../../oauth/clock.js';
import { purgeExpired, type PurgeCounts } from '../../store/purge.js';
import type { Services } from '../../services.js';

/** One cleanup with the server's settings. */
export function purgeNow(services: Pick<Services, 'store' | 'clock' | 'config'>): Promise<PurgeCounts> {
  const { config } = services;
  return purgeExpired(services.store.db, {
    now: nowSeconds(services.clock),
    margin: config.purgeMargin,
    reuseWindow: Math.max(config.refreshRetryWindow, config.accessTokenTtl),
  });
}

export function registerPurgeTimer(app: FastifyInstance): void {
  const interval = app.services.config.purgeInterval;
  if (interval <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = async () => {
    try {
      const started = performance.now();
      const counts = await purgeNow(app.services);
      const deleted = Object.values(counts).reduce((a, b) => a + b, 0);
      if (deleted > 0) app.log.info({ event: 'purge.completed', ...counts, ms: Math.round(performance.now() - started) }, 'expired rows deleted');
    } catch (err) {
      app.log.warn({ err, event: 'purge.failed' }, 'expired-row cleanup failed; retrying at the next interval');
    } finally {
      running = undefined;
    }
  };
  app.addHook('onReady', async () => {
    timer = setInterval(() => {
      running ??= run();
    }, interval * 1000);
    timer.unref();
  });
  app.addHook('preClose', async () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    // Let a cleanup under way finish before the database closes.
    await running;
  });
}
