// Lenient request heads. Huddle's guide prints two requests that Node's HTTP parser (llhttp)
// refuses with 400, even with insecureHTTPParser:
//   "Content-Type : application/x-www-form-urlencoded"  (white space before the colon,
//                                                         HPE_INVALID_HEADER_TOKEN)
//   "GET /v2/entry HTTP/1.1 "                            (white space after the version,
//                                                         HPE_INVALID_VERSION)
// SPEC.md requires every request of the guides to work as printed, so when — and only when —
// the parser refuses a request head for one of these reasons, this handler repairs exactly
// those two things and hands the repaired bytes, followed by the rest of the socket, to the
// HTTP server as a new connection. The normal path is untouched: the code runs only from the
// server's 'clientError' event, i.e. after the parser has already refused the request.
//
// RFC 9112 §5.1 tells servers to reject white space between a field name and the colon,
// because proxies disagreeing about such a field enables request smuggling. We therefore
// never repair the framing fields (Content-Length, Transfer-Encoding): a request that spells
// one of those with white space before the colon still gets 400. Any other field is repaired
// to the name a lenient proxy would have forwarded, so Latchkey and the proxy agree.
//
// At most one repair per connection: an error on the replayed connection is answered with a
// clean 400 (or 408/431 like Fastify's own handler) and the connection is closed.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** The llhttp errors that white space at the two places above produces. */
const REPAIRABLE_ERRORS = new Set(['HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_VERSION']);

/** Never rewritten: disagreeing about these is how requests are smuggled (RFC 9112 §11.2). */
const FRAMING_FIELDS = new Set(['content-length', 'transfer-encoding']);

/** Largest head we buffer and repair; Node's default --max-http-header-size is 16 KiB. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** How long we wait for the rest of a head that arrived in pieces. */
const HEAD_WAIT_MS = 10_000;

// RFC 9110 §5.6.2 token characters, RFC 9112 §3 request line.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const REQUEST_LINE_TRAILING_WS = new RegExp(`^(${TOKEN} [^\\s]+ HTTP/\\d\\.\\d)[ \\t]+$`);
const REQUEST_LINE = new RegExp(`^${TOKEN} [^\\s]+ HTTP/\\d\\.\\d$`);
const FIELD_NAME_WS_COLON = new RegExp(`^(${TOKEN})[ \\t]+:`);

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Offset just past the blank line ending the head, or -1 when the head is not complete yet. */
export function findHeadEnd(data: Buffer): number {
  const at = data.indexOf(CRLFCRLF);
  return at === -1 ? -1 : at + CRLFCRLF.length;
}

/**
 * Repairs a request head (request line, field lines, the empty line; no body) that has
 * white space after the HTTP version or between a field name and its colon. Returns the
 * repaired head, or undefined when there is nothing of that kind to repair (so the head's
 * problem is something else) or a framing field is involved.
 */
export function repairRequestHead(head: Buffer): Buffer | undefined {
  // latin1 maps bytes 1:1, so the repaired text converts back to the same bytes elsewhere.
  const text = head.toString('latin1');
  if (!text.endsWith('\r\n\r\n')) return undefined;
  const lines = text.slice(0, -4).split('\r\n');
  let changed = false;

  const requestLine = lines[0] ?? '';
  const fixedLine = REQUEST_LINE_TRAILING_WS.exec(requestLine);
  if (fixedLine?.[1] !== undefined) {
    lines[0] = fixedLine[1];
    changed = true;
  }
  // The bytes must start a request; a packet that begins mid-head is not ours to rewrite.
  if (!REQUEST_LINE.test(lines[0] ?? '')) return undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const m = FIELD_NAME_WS_COLON.exec(line);
    if (!m?.[1]) continue;
    if (FRAMING_FIELDS.has(m[1].toLowerCase())) return undefined;
    lines[i] = `${m[1]}:${line.slice(m[0].length)}`;
    changed = true;
  }
  return changed ? Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1') : undefined;
}

/**
 * A connection whose first bytes are `head` (the repaired request head plus whatever body
 * bytes came with it) and whose remaining bytes and writes are those of `inner`, the real
 * TCP socket. The HTTP server treats it as any other connection.
 */
export class ReplayedSocket extends Duplex {
  private headPending: Buffer | undefined;

  constructor(private readonly inner: Socket, head: Buffer) {
    super({ allowHalfOpen: true });
    this.headPending = head;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
    inner.on('timeout', () => this.emit('timeout'));
    inner.pause();
  }

  override _read(): void {
    if (this.headPending) {
      const head = this.headPending;
      this.headPending = undefined;
      this.push(head);
    }
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.inner.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(error);
  }

  // The parts of net.Socket that the HTTP server, Fastify and rate limits use.
  get remoteAddress(): string | undefined { return this.inner.remoteAddress; }
  get remotePort(): number | undefined { return this.inner.remotePort; }
  get remoteFamily(): string | undefined { return this.inner.remoteFamily; }
  get localAddress(): string | undefined { return this.inner.localAddress; }
  get localPort(): number | undefined { return this.inner.localPort; }
  get bytesRead(): number { return this.inner.bytesRead; }
  get bytesWritten(): number { return this.inner.bytesWritten; }
  address(): ReturnType<Socket['address']> { return this.inner.address(); }
  setTimeout(ms: number, callback?: () => void): this {
    this.inner.setTimeout(ms);
    if (callback) this.once('timeout', callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this { this.inner.setNoDelay(noDelay); return this; }
  setKeepAlive(enable?: boolean, initialDelay?: number): this { this.inner.setKeepAlive(enable, initialDelay); return this; }
  ref(): this { this.inner.ref(); return this; }
  unref(): this { this.inner.unref(); return this; }
}

/** Sockets (real or replayed) that have had their one repair. */
const repaired = new WeakSet<object>();

// The listeners Node's HTTP server puts on a connection (lib/_http_server.js
// connectionListenerInternal). Detaching them the way Node itself does for an upgrade leaves
// the socket to us; 'bound socketOnClose' frees the failed parser (and with it the entry in
// the server's connection list that would otherwise time the socket out).
const HTTP_LISTENERS: ReadonlyArray<[event: string, name: string]> = [
  ['data', 'bound socketOnData'],
  ['end', 'bound socketOnEnd'],
  ['drain', 'bound socketOnDrain'],
  ['timeout', 'socketOnTimeout'],
  ['resume', 'onSocketResume'],
  ['pause', 'onSocketPause'],
];

type Listener = (...args: unknown[]) => void;

function findListener(socket: Socket, event: string, name: string): Listener | undefined {
  return (socket.listeners(event) as Listener[]).find((fn) => fn.name === name);
}

/** Detaches Node's HTTP machinery from `socket`; false when it does not look as expected. */
function detachHttp(socket: Socket): boolean {
  const onClose = findListener(socket, 'close', 'bound socketOnClose');
  if (!onClose || !findListener(socket, 'data', 'bound socketOnData')) return false;
  socket.removeListener('close', onClose);
  for (const [event, name] of HTTP_LISTENERS) {
    const fn = findListener(socket, event, name);
    if (fn) socket.removeListener(event, fn);
  }
  // Frees the parser and stops it consuming the socket's handle: from here on the bytes come
  // as ordinary 'data' events. No request of this connection is in flight (checked by the caller).
  onClose();
  return true;
}

export interface ConnectionError extends Error {
  code?: string;
  bytesParsed?: number;
  rawPacket?: Buffer | { type: string; data: number[] };
}

const STATUS_LINE: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** The answer to a request that cannot be parsed: RFC 6749-style JSON, then close. */
export function refuse(socket: Socket | Duplex, status: 400 | 408 | 431, err?: Error): void {
  if (socket.destroyed) return;
  // Like Node's own handler: never write into a response that has started on this socket.
  const inFlight = (socket as unknown as { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?._headerSent) {
    const description = status === 408 ? 'the request took too long to arrive'
      : status === 431 ? 'the request head is too large'
        : 'the request is not valid HTTP/1.1';
    const body = JSON.stringify({ error: 'invalid_request', error_description: description });
    socket.write(`HTTP/1.1 ${status} ${STATUS_LINE[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

function refuseFor(err: ConnectionError, socket: Socket | Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  refuse(socket, status, err);
}

function isSocketWithoutRequestInFlight(socket: Socket): boolean {
  // ServerResponse assigns itself to socket._httpMessage (a Node-internal field, only read
  // here) while it is being written.
  return (socket as unknown as { _httpMessage?: unknown })._httpMessage == null;
}

/**
 * Fastify's `clientErrorHandler` (bound to the Fastify instance): repairs a head that only
 * fails on the white space described above, otherwise answers like Fastify's default.
 */
export function lenientHeadClientErrorHandler(this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  if (socket.destroyed) return;
  const raw = err.rawPacket;
  const packet = Buffer.isBuffer(raw) ? raw : undefined;
  const offset = err.bytesParsed ?? -1;
  const candidate = err.code !== undefined && REPAIRABLE_ERRORS.has(err.code)
    && !repaired.has(socket)
    && packet !== undefined
    // The parser stopped on a space or tab in this packet (repairRequestHead then checks that
    // the packet starts a request line).
    && (packet[offset] === 0x20 || packet[offset] === 0x09)
    && isSocketWithoutRequestInFlight(socket);
  if (!candidate) {
    refuseFor(err, socket);
    return;
  }
  repaired.add(socket);
  if (!detachHttp(socket)) {
    refuseFor(err, socket);
    return;
  }
  collectHead(socket, packet, (data) => {
    const end = findHeadEnd(data);
    const head = end === -1 ? undefined : repairRequestHead(data.subarray(0, end));
    if (!head) {
      refuse(socket, 400, err);
      return;
    }
    this.log.debug({ event: 'http.head_repaired', code: err.code }, 'repaired white space in a request head');
    const replay = new ReplayedSocket(socket, Buffer.concat([head, data.subarray(end)]));
    repaired.add(replay);
    this.server.emit('connection', replay);
  });
}

/** Calls `done` with `first` plus whatever follows until the head is complete (or gives up with 400/431). */
function collectHead(socket: Socket, first: Buffer, done: (data: Buffer) => void): void {
  if (findHeadEnd(first) !== -1) {
    done(first);
    return;
  }
  let data = first;
  const finish = (): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.removeListener('close', finish);
  };
  const onData = (chunk: Buffer): void => {
    data = Buffer.concat([data, chunk]);
    const end = findHeadEnd(data);
    if (end === -1 && data.length <= MAX_HEAD_BYTES) return;
    finish();
    socket.pause();
    if (end === -1 || end > MAX_HEAD_BYTES) refuse(socket, 431);
    else done(data);
  };
  const onEnd = (): void => {
    finish();
    refuse(socket, 400);
  };
  const timer = setTimeout(() => {
    finish();
    refuse(socket, 408);
  }, HEAD_WAIT_MS);
  timer.unref();
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', finish);
}
