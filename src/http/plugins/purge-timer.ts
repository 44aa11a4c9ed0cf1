// Runs the expired-row cleanup (the purge service, maintenance/purge.ts) every
// config.purgeInterval seconds while the server is up. The timer is unref'd (it never keeps a
// process alive), runs never overlap, and it stops when the server closes. At start the server
// stores its purge horizon in the database (store/settings.ts), timer or not, for
// `latchkey purge` to use.
import type { FastifyInstance } from 'fastify';
import { purgeNow, recordServerHorizon } from '../../maintenance/purge.js';

// Re-exported for the tests that purge a running test server through here; new code imports
// the purge service itself.
export { purgeHorizonOf, purgeNow } from '../../maintenance/purge.js';

export function registerPurgeTimer(app: FastifyInstance): void {
  app.addHook('onReady', async () => {
    const { services } = app;
    try {
      await recordServerHorizon(services);
    } catch (err) {
      app.log.warn({ err, event: 'purge.horizon_not_stored' }, 'could not store the purge horizon; `latchkey purge` will use its own settings');
    }
  });
  const interval = app.services.config.purgeInterval;
  if (interval <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = async () => {
    try {
      const started = performance.now();
      const { reuse_records, ...counts } = await purgeNow(app.services);
      const deleted = Object.values(counts).reduce((a, b) => a + b, 0);
      if (deleted > 0) app.log.info({ event: 'purge.completed', ...counts, reuse_records, ms: Math.round(performance.now() - started) }, 'expired rows deleted');
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
