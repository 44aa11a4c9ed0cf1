// The sender loop: every server runs one (`serve`, each worker of `serve --workers`). It looks
// at the queue every few seconds (and at once when this process queues a message), claims due
// messages with a lease (store/mail-queue.ts: a message is held by one sender at a time),
// sends them, and records the outcome: sent; due again later with a doubling back-off when the
// SMTP server is down or answers 4xx; failed after MAX_ATTEMPTS, when refused for good, or
// once the message has expired. A sender killed while it held a message leaves it leased; the
// lease runs out (LEASE_SECONDS) and any sender takes it again — so a crash between the SMTP
// server's acceptance and the record can send a message twice (at least once, never lost).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { audit } from '../../audit.js';
import type { Clock } from '../../oauth/clock.js';
import { nowSeconds } from '../../oauth/clock.js';
import type { MailQueueStore, MailRow } from '../../store/mail-queue.js';
import { openContent, MailError } from './queue.js';
import { PermanentMailError, type MailTransport } from './transport.js';

/** Attempts before a message is given up (with the default 30 s base: about a day and a half). */
export const MAX_ATTEMPTS = 12;
/** Longest wait between two attempts. */
export const MAX_RETRY_SECONDS = 4 * 3600;
/** How long a claim holds a message: longer than nodemailer's own waits (transport.ts). */
export const LEASE_SECONDS = 180;
/** Sent or failed messages are deleted this long after (their bodies are emptied at once). */
export const KEEP_FINISHED_SECONDS = 7 * 86_400;
const BATCH = 10;

export interface MailMetrics {
  sent: Counter<'kind'>;
  failed: Counter<'kind' | 'outcome'>;
}

export interface MailSenderOptions {
  store: MailQueueStore;
  transport: MailTransport;
  clock: Clock;
  logger: Logger;
  from: string;
  encryptionKey: Buffer | null;
  /** Seconds before the first retry; doubled at each further attempt. */
  retryBase: number;
  /** Seconds a claim holds its messages (config.mailLease; LEASE_SECONDS by default). */
  leaseSeconds?: number;
  metrics?: MailMetrics;
  /** Milliseconds between looks at the queue. */
  pollMs?: number;
  /** Run with the hourly deletion of finished messages (the plugin deletes ended e-mail links there too). */
  alsoCleanup?: (now: number) => Promise<unknown>;
}

/** Seconds to wait after the `attempts`-th failed attempt. */
export function retryDelay(attempts: number, base: number): number {
  return Math.min(MAX_RETRY_SECONDS, base * 2 ** Math.max(0, attempts - 1));
}

/** A one-line reason for the row and the log, without anything the SMTP server echoed back of the body. */
function reasonOf(err: unknown): string {
  const e = err as { code?: string; responseCode?: number; message?: string } | null;
  if (e?.responseCode !== undefined) return `SMTP ${e.responseCode}`;
  if (e?.code) return e.code;
  return (e?.message ?? 'unknown error').split('\n')[0]!.slice(0, 200);
}

export class MailSender {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private lastCleanup = 0;

  constructor(private readonly options: MailSenderOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const poll = this.options.pollMs ?? 2000;
    this.timer = setInterval(() => this.wake(), poll);
    this.timer.unref();
    this.wake();
  }

  /** Looks at the queue now (or right after the look under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /** Stops polling and waits for the messages in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    this.options.transport.close();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const handled = await this.runOnce();
        if (handled === BATCH) this.again = true;
        await this.cleanup();
      } catch (err) {
        this.options.logger.warn({ err, event: 'mail.queue_unreachable' }, 'could not read the mail queue; trying again shortly');
        return;
      }
    } while (this.again && !this.stopped);
  }

  /** Claims and sends one batch of due messages; returns how many it claimed. */
  async runOnce(): Promise<number> {
    const { store, clock } = this.options;
    const now = nowSeconds(clock);
    if (!(await store.hasDue(now))) return 0;
    const rows = await store.claim(this.owner, now, now + (this.options.leaseSeconds ?? LEASE_SECONDS), BATCH);
    if (rows.length > 0) this.options.logger.debug({ event: 'mail.claimed', count: rows.length }, 'mail claimed');
    for (const row of rows) await this.deliver(row);
    return rows.length;
  }

  private async deliver(row: MailRow): Promise<void> {
    const { store, clock, logger, metrics } = this.options;
    const fields = { mail_id: row.id, kind: row.kind, user_id: row.user_id };
    if (row.expires_at !== null && row.expires_at <= nowSeconds(clock)) {
      await store.markFailed(row.id, this.owner, nowSeconds(clock), 'expired before it could be sent');
      metrics?.failed.inc({ kind: row.kind, outcome: 'given_up' });
      audit(logger, 'mail.failed', { ...fields, reason: 'expired', attempts: row.attempts });
      return;
    }
    let content;
    try {
      content = openContent(row.content, this.options.encryptionKey);
    } catch (err) {
      const reason = err instanceof MailError ? err.message : 'unreadable';
      await store.markFailed(row.id, this.owner, nowSeconds(clock), reason);
      metrics?.failed.inc({ kind: row.kind, outcome: 'given_up' });
      audit(logger, 'mail.failed', { ...fields, reason: 'unreadable', attempts: row.attempts });
      logger.error({ event: 'mail.unreadable', mail_id: row.id, problem: reason }, 'a queued message cannot be read');
      return;
    }
    try {
      const delivery = await this.options.transport.send({
        id: row.id, kind: row.kind, from: this.options.from, to: row.recipient, subject: row.subject, text: content.text, html: content.html,
      });
      await store.markSent(row.id, this.owner, nowSeconds(clock));
      metrics?.sent.inc({ kind: row.kind });
      audit(logger, 'mail.sent', { ...fields, attempts: row.attempts });
      if (delivery.file !== undefined) {
        // No SMTP server: the developer at the console follows the links from here.
        logger.info({ event: 'mail.outbox', mail_id: row.id, kind: row.kind, file: delivery.file, links: delivery.links }, `mail written to the outbox: ${row.subject}`);
      }
    } catch (err) {
      const reason = reasonOf(err);
      const now = nowSeconds(clock);
      if (err instanceof PermanentMailError || row.attempts >= MAX_ATTEMPTS) {
        await store.markFailed(row.id, this.owner, now, reason);
        metrics?.failed.inc({ kind: row.kind, outcome: 'given_up' });
        audit(logger, 'mail.failed', { ...fields, reason: err instanceof PermanentMailError ? 'refused' : 'too_many_attempts', attempts: row.attempts });
        return;
      }
      const wait = retryDelay(row.attempts, this.options.retryBase);
      await store.retryLater(row.id, this.owner, now + wait, reason);
      metrics?.failed.inc({ kind: row.kind, outcome: 'retry' });
      audit(logger, 'mail.deferred', { ...fields, reason: 'transport_error', attempts: row.attempts, retry_after: wait });
      logger.warn({ event: 'mail.send_failed', mail_id: row.id, problem: reason, retry_in: wait }, 'could not send a mail; it stays queued');
    }
  }

  private async cleanup(): Promise<void> {
    const now = nowSeconds(this.options.clock);
    if (now - this.lastCleanup < 3600) return;
    this.lastCleanup = now;
    await this.options.store.deleteFinished(now - KEEP_FINISHED_SECONDS);
    await this.options.alsoCleanup?.(now);
  }
}
