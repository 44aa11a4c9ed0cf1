// Runs the mail sender loop (accounts/mail/sender.ts) while the server is up: started when
// the server is ready, stopped (messages in hand finished) before the database closes. Every
// server runs one; the queue's leases keep two from sending the same message.
import type { FastifyInstance } from 'fastify';
import { MailSender, type MailMetrics } from '../../accounts/mail/sender.js';
import { MailQueue } from '../../accounts/mail/queue.js';
import { createMailTransport } from '../../accounts/mail/transport.js';

export function registerMailSender(app: FastifyInstance, metrics: MailMetrics): MailSender {
  const { services } = app;
  const { config } = services;
  const sender = new MailSender({
    store: services.mailQueue,
    transport: createMailTransport({ smtpUrl: config.smtpUrl, outboxDir: config.outboxDir }),
    clock: services.clock,
    logger: services.logger,
    from: config.mailFrom,
    encryptionKey: config.encryptionKey,
    retryBase: config.mailRetryBase,
    leaseSeconds: config.mailLease,
    metrics,
    // Used or expired e-mail links are of no use a day later.
    alsoCleanup: (now) => services.emailTokens.deleteEnded(now - 86_400),
  });
  app.addHook('onReady', async () => {
    if (services.mail instanceof MailQueue) services.mail.onEnqueued = () => sender.wake();
    if (!config.smtpUrl) {
      app.log.info({ event: 'mail.outbox_mode', outbox: config.outboxDir }, 'SMTP_URL is not set: mail is written to the outbox folder and its links logged here');
    }
    sender.start();
  });
  app.addHook('preClose', async () => {
    if (services.mail instanceof MailQueue) services.mail.onEnqueued = undefined;
    await sender.stop();
  });
  return sender;
}
