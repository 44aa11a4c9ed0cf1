// A safe outbound GET of a small JSON document from a URL someone else chose (a client's
// jwks_uri; later client ID metadata documents). What it refuses, and why:
// - anything but https (plain http only to a loopback address, and only when the operator
//   allows loopback fetches: LATCHKEY_ALLOW_LOOPBACK_FETCH=1, for tests and development);
// - hosts that are, or resolve to, an address that is not public: loopback, private (RFC 1918,
//   unique-local fc00::/7), link-local (169.254/16 — cloud metadata services — and fe80::/10),
//   CGNAT (100.64/10), unspecified, multicast, reserved and documentation ranges, and
//   IPv4-mapped or NAT64 IPv6. The name is resolved here, every address it resolves to is
//   checked, and the connection goes to a checked address (the socket's `lookup` is ours),
//   so a DNS answer that changes between check and connect (rebinding) cannot slip through;
// - redirects (the target would escape these checks): a 3xx is a failure;
// - slowness: the whole exchange, DNS to last byte, within `timeoutMs` (3 s);
// - size: at most `maxBytes` (64 KiB) of body, counted as it streams in (Content-Length is
//   not trusted), the connection cut as soon as it is exceeded;
// - anything but 200 with a JSON content type (application/json or application/*+json),
//   and bodies that are not JSON.
// Every refusal is a FetchJsonError with a `reason`; nothing here throws anything else.
import { lookup as dnsLookup } from 'node:dns';
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export const FETCH_TIMEOUT_MS = 3000;
export const FETCH_MAX_BYTES = 64 * 1024;
const MAX_URL_LENGTH = 2000;

export type FetchJsonFailure = 'url' | 'address' | 'timeout' | 'size' | 'redirect' | 'status' | 'content_type' | 'json' | 'network';

export class FetchJsonError extends Error {
  override name = 'FetchJsonError';
  constructor(readonly reason: FetchJsonFailure, message: string) {
    super(message);
  }
}

export interface FetchJsonOptions {
  /** Whole exchange, milliseconds (default 3000). */
  timeoutMs?: number;
  /** Body bytes at most (default 65536). */
  maxBytes?: number;
  /** Loopback addresses (127/8, ::1), over http too: tests and development only. */
  allowLoopback?: boolean;
}

/**
 * Addresses never fetched from, loopback aside (isLoopbackAddress). One list per family: a
 * BlockList matches IPv4 addresses against IPv6 rules through their mapped form, so
 * ::ffff:0:0/96 in a shared list would refuse every IPv4 address.
 */
const NOT_PUBLIC_V4 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC_V4.addSubnet(net, prefix, 'ipv4');
const NOT_PUBLIC_V6 = new BlockList();
for (const [net, prefix] of [
  ['::', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC_V6.addSubnet(net, prefix, 'ipv6');

const LOOPBACK_V4 = new BlockList();
LOOPBACK_V4.addSubnet('127.0.0.0', 8, 'ipv4');
const LOOPBACK_V6 = new BlockList();
LOOPBACK_V6.addAddress('::1', 'ipv6');

function family(address: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

export function isLoopbackAddress(address: string): boolean {
  const f = family(address);
  if (f === 'ipv4') return LOOPBACK_V4.check(address, 'ipv4');
  // Only ::1 itself (not ::ffff:127.0.0.1: a mapped address is refused like every mapped one).
  return f === 'ipv6' && LOOPBACK_V6.check(address, 'ipv6');
}

/** Whether `address` (an IP literal) may be connected to. */
export function isAllowedAddress(address: string, allowLoopback: boolean): boolean {
  const f = family(address);
  if (f === undefined) return false;
  if (isLoopbackAddress(address)) return allowLoopback;
  return f === 'ipv4' ? !NOT_PUBLIC_V4.check(address, 'ipv4') : !NOT_PUBLIC_V6.check(address, 'ipv6');
}

/**
 * The socket's lookup: resolves the name, refuses it when any address it resolves to is not
 * allowed (a name with one private address among public ones is not a public name), and
 * hands the socket only checked addresses.
 */
function checkedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(new FetchJsonError('network', `cannot resolve ${hostname}: ${err.code ?? err.message}`), '', 4);
      const refused = addresses.find((a) => !isAllowedAddress(a.address, allowLoopback));
      if (refused || addresses.length === 0) {
        return callback(new FetchJsonError('address', `${hostname} resolves to ${refused?.address ?? 'nothing'}, which is not a public address`), '', 4);
      }
      const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
      if (wanted.length === 0) return callback(new FetchJsonError('network', `${hostname} has no IPv${String(options.family)} address`), '', 4);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node's LookupFunction callback is overloaded: (err, address, family) or, with options.all, (err, addresses)
      if (options.all) return (callback as any)(null, wanted);
      return callback(null, wanted[0]!.address, wanted[0]!.family);
    });
  };
}

/** The URL, checked: https (or http to a loopback literal when allowed), no credentials. */
export function checkFetchUrl(raw: string, allowLoopback: boolean): URL {
  if (raw.length > MAX_URL_LENGTH) throw new FetchJsonError('url', 'the URL is too long');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchJsonError('url', 'not an absolute URL');
  }
  if (url.username !== '' || url.password !== '') throw new FetchJsonError('url', 'the URL carries credentials');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (url.protocol === 'http:') {
    if (!(allowLoopback && isLoopbackAddress(host))) throw new FetchJsonError('url', 'only https URLs are fetched');
  } else if (url.protocol !== 'https:') {
    throw new FetchJsonError('url', 'only https URLs are fetched');
  }
  // An IP literal is connected to without a lookup: check it here.
  if (family(host) !== undefined && !isAllowedAddress(host, allowLoopback)) {
    throw new FetchJsonError('address', `${host} is not a public address`);
  }
  return url;
}

const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/** GETs `raw` and returns its JSON body, or throws FetchJsonError. */
export function fetchJson(raw: string, options: FetchJsonOptions = {}): Promise<unknown> {
  const allowLoopback = options.allowLoopback === true;
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? FETCH_MAX_BYTES;
  let url: URL;
  try {
    url = checkFetchUrl(raw, allowLoopback);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    let req: ClientRequest | undefined;
    let res: IncomingMessage | undefined;
    const finish = (err: Error | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        res?.destroy();
        req?.destroy();
        reject(err instanceof FetchJsonError ? err : new FetchJsonError('network', err.message));
      } else {
        resolve(value);
      }
    };
    const timer = setTimeout(() => finish(new FetchJsonError('timeout', `no complete answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    try {
      req = send(url, {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': 'Latchkey' },
        // A connection of its own (no keep-alive pool to share a socket checked for another name).
        agent: false,
        lookup: checkedLookup(allowLoopback),
        maxHeaderSize: 16 * 1024,
      });
    } catch (err) {
      finish(err as Error);
      return;
    }
    req.on('error', (err) => finish(err));
    req.on('response', (response) => {
      res = response;
      response.on('error', (err) => finish(err));
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) return finish(new FetchJsonError('redirect', `answered ${status}: redirects are not followed`));
      if (status !== 200) return finish(new FetchJsonError('status', `answered ${status}`));
      if (!JSON_TYPE.test(response.headers['content-type'] ?? '')) {
        return finish(new FetchJsonError('content_type', `content type ${JSON.stringify((response.headers['content-type'] ?? '').slice(0, 100))} is not JSON`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return finish(new FetchJsonError('size', `the body is larger than ${maxBytes} bytes`));
        chunks.push(chunk);
      });
      response.on('end', () => {
        try {
          finish(null, JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
        } catch {
          finish(new FetchJsonError('json', 'the body is not JSON'));
        }
      });
      response.on('aborted', () => finish(new FetchJsonError('network', 'the answer was cut off')));
    });
    req.end();
  });
}
