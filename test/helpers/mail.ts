// A real SMTP server on loopback (the smtp-server package) that keeps every message it
// accepts, decoded enough to read its bodies and follow its links. It can be stopped and
// started again on the same port, to play an SMTP outage.
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The whole message as received. */
  raw: string;
  subject: string;
  /** The text/plain part, transfer encoding undone. */
  text: string;
  /** The text/html part, transfer encoding undone. */
  html: string;
  /** Every http(s) URL of the text part. */
  links: string[];
  kind: string;
}

function decodeQuotedPrintable(value: string): string {
  const bytes = value.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeHeader(value: string): string {
  // RFC 2047 encoded words (nodemailer uses them for non-ASCII subjects); the white space
  // between two adjacent encoded words (a folded long subject) is not part of the text.
  return value.replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?[^?]+\?[BbQq]\?)/g, '$1').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) => (
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' '))
  ));
}

function headerOf(head: string, name: string): string {
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  return m?.[1]?.trim() ?? '';
}

function decodePart(head: string, body: string): string {
  const encoding = headerOf(head, 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/** The text/plain and text/html parts of a (possibly multipart) message. */
export function parseMail(raw: string): { subject: string; text: string; html: string; kind: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split);
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const subject = decodeHeader(headerOf(head, 'Subject'));
  const kind = headerOf(head, 'X-Latchkey-Kind');
  let text = '';
  let html = '';
  const collect = (partHead: string, partBody: string) => {
    const type = headerOf(partHead, 'Content-Type').toLowerCase();
    const boundary = /boundary="?([^";]+)"?/i.exec(headerOf(partHead, 'Content-Type'))?.[1];
    if (type.startsWith('multipart/') && boundary) {
      for (const piece of partBody.split(`--${boundary}`).slice(1)) {
        if (piece.startsWith('--')) break;
        const inner = piece.replace(/^\r?\n/, '');
        const at = inner.search(/\r?\n\r?\n/);
        collect(inner.slice(0, at), inner.slice(at).replace(/^\r?\n\r?\n/, '').replace(/\r?\n$/, ''));
      }
      return;
    }
    if (type.startsWith('text/html')) html ||= decodePart(partHead, partBody);
    else if (type.startsWith('text/plain') || type === '') text ||= decodePart(partHead, partBody);
  };
  collect(head, body);
  return { subject, text, html, kind };
}

export class MailSink {
  readonly messages: ReceivedMail[] = [];
  private server: SMTPServer | undefined;
  private waiters: Array<() => void> = [];
  port = 0;

  /** `delayMs`: how long the server takes over each message before it answers (a slow SMTP server). */
  constructor(private readonly options: { delayMs?: number } = {}) {}

  /** Starts listening (on `port`, or a free one the first time). */
  async start(port = this.port): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      // Plain SMTP on loopback: no certificate to trust.
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => setTimeout(() => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const parsed = parseMail(raw);
          this.messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            ...parsed,
            links: parsed.text.match(/https?:\/\/[^\s<>"]+/g) ?? [],
          });
          for (const wake of this.waiters.splice(0)) wake();
          callback();
        }, this.options.delayMs ?? 0));
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    this.server = server;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Stops listening (an SMTP outage); start() again brings it back on the same port. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The first message (in arrival order) matching `match`, waiting for it up to `timeoutMs`. */
  async waitFor(match: (m: ReceivedMail) => boolean, timeoutMs = 20_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching mail within ${timeoutMs} ms; received: ${this.messages.map((m) => `${m.kind} → ${m.to.join(',')}`).join('; ') || 'none'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Messages to `address` of `kind`. */
  to(address: string, kind?: string): ReceivedMail[] {
    return this.messages.filter((m) => m.to.includes(address) && (kind === undefined || m.kind === kind));
  }
}

/** The single link of a mail that leads to `path` on the server. */
export function linkTo(mail: ReceivedMail, path: string): string {
  const link = mail.links.find((l) => new URL(l).pathname === path);
  if (!link) throw new Error(`the mail has no link to ${path}: ${mail.links.join(' ')}`);
  return link;
}
