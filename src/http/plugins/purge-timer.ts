// Runs the expired-row cleanup (store/purge.ts) every config.purgeInterval seconds while the
// server is up. The timer is unref'd (it never keeps a process alive), runs never overlap, and
// it stops when the server closes. At start the server stores its purge horizon in the
// database (store/settings.ts), timer or not, for `latchkey purge` to use.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/load.js';
import { nowSeconds } from '../../oauth/clock.js';
import { purgeExpired, type PurgeResult } from '../../store/purge.js';
import { storePurgeHorizon, type PurgeHorizon } from '../../store/settings.js';
import type { Services } from '../../services.js';

/** The horizon these settings give: the margin, and max(retry window, access-token lifetime). */
export function purgeHorizonOf(config: Pick<Config, 'purgeMargin' | 'refreshRetryWindow' | 'accessTokenTtl'>): PurgeHorizon {
  return { margin: config.purgeMargin, reuseWindow: Math.max(config.refreshRetryWindow, config.accessTokenTtl) };
}

/** One cleanup, with the server's settings unless another horizon is given. */
export function purgeNow(services: Pick<Services, 'store' | 'clock' | 'config'>, horizon: PurgeHorizon = purgeHorizonOf(services.config)): Promise<PurgeResult> {
  return purgeExpired(services.store.db, {
    now: nowSeconds(services.clock),
    margin: horizon.margin,
    reuseWindow: horizon.reuseWindow,
  });
}

export function registerPurgeTimer(app: FastifyInstance): void {
  app.addHook('onReady', async () => {
    const { services } = app;
    try {
      await storePurgeHorizon(services.store.db, purgeHorizonOf(services.config), nowSeconds(services.clock));
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
