// Speaks HTTP/1.1 over a bare TCP socket (node:net), so a test can send a request exactly as
// an API guide prints it — odd spacing and all — which fetch() and http.request() would refuse
// or normalise before it left the process.
import net from 'node:net';
import { request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  statusText: string;
  /** Field names lower-cased; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: string;
  json(): unknown;
}

export interface RawExchangeOptions {
  /** How many responses to wait for before returning (default: 1). */
  responses?: number;
  /** Milliseconds to wait between writing consecutive chunks (default: 30). */
  chunkDelayMs?: number;
  /** Give up after this many milliseconds (default: 5000). */
  timeoutMs?: number;
  /** Wait for the server to close the connection, however many responses came (default: false). */
  untilClose?: boolean;
}

export interface RawExchange {
  responses: RawResponse[];
  /** Whether the server closed the connection before the exchange ended. */
  closed: boolean;
}

/** Builds request bytes from lines joined with CRLF (a guide's printed lines, as printed). */
export function httpLines(lines: string[], body = ''): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
}

/**
 * Parses as many complete responses as `data` holds (Content-Length or chunked bodies;
 * a response without either runs to the end of the connection, given `ended`).
 */
export function parseResponses(data: Buffer, ended: boolean): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let buf = data;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd === -1) break;
    const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
    if (!statusLine) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    let next: number;
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (buf.length < bodyStart + length) break;
      body = buf.subarray(bodyStart, bodyStart + length);
      next = bodyStart + length;
    } else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', bodyStart);
        if (lineEnd === -1) break;
        const size = parseInt(buf.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (buf.length < lineEnd + 2 + size + 2) break;
        if (size === 0) {
          bodyStart = lineEnd + 4;
          complete = true;
          break;
        }
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      next = bodyStart;
    } else {
      if (!ended) break;
      body = buf.subarray(bodyStart);
      next = buf.length;
    }
    const text = body.toString('utf8');
    responses.push({
      status: Number(statusLine[1]),
      statusText: statusLine[2] ?? '',
      headers,
      body: text,
      json: () => JSON.parse(text) as unknown,
    });
    buf = buf.subarray(next);
  }
  return { responses, rest: buf };
}

/**
 * Connects to the server at `baseUrl`, writes `chunks` one after another, and collects the
 * responses. Resolves once `responses` complete responses arrived or the server closed.
 */
export async function rawExchange(baseUrl: string, chunks: Array<Buffer | string>, options: RawExchangeOptions = {}): Promise<RawExchange> {
  const url = new URL(baseUrl);
  const wanted = options.responses ?? 1;
  const delay = options.chunkDelayMs ?? 30;
  return new Promise<RawExchange>((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      let parsed: RawResponse[];
      try {
        parsed = parseResponses(received, closed).responses;
      } catch (err) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err as Error);
        return;
      }
      if (!closed && (options.untilClose || parsed.length < wanted)) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: parsed, closed });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(`no complete answer within ${options.timeoutMs ?? 5000} ms; received ${JSON.stringify(received.toString('latin1'))}`));
    }, options.timeoutMs ?? 5000);
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => {
      void (async () => {
        for (let i = 0; i < chunks.length; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, delay));
          if (socket.destroyed) return;
          const chunk = chunks[i];
          if (chunk !== undefined) socket.write(chunk);
        }
      })();
    });
  });
}

/** One request, one response (the usual case). */
export async function rawRequest(baseUrl: string, request: Buffer | string | Array<Buffer | string>, options: RawExchangeOptions = {}): Promise<RawResponse> {
  const { responses } = await rawExchange(baseUrl, Array.isArray(request) ? request : [request], options);
  const first = responses[0];
  if (!first) throw new Error('the server closed the connection without an answer');
  return first;
}

export interface PostAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A POST from a chosen loopback source address (127.0.0.x), on a connection of its own, so a
 * test can be several callers at once (per-address limits and back-off tell them apart).
 */
export function postFrom(url: string, path: string, body: string, headers: Record<string, string>, localAddress: string): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
