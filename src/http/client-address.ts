// Client addresses as the per-address defences see them.
//
// - addressKey(): the key a rate limit or back-off counts under. One IPv6 subscriber usually
//   holds a whole /64 (and picks a new address in it at will), so IPv6 clients are keyed by
//   their /64; IPv4 and IPv4-mapped IPv6 by the IPv4 address.
// - isLoopback() and metricsAccess(): who may read GET /metrics (SPEC.md): the socket's own
//   peer address, never X-Forwarded-For, decides what "loopback" means.
// Pure functions over strings: garbage never throws.
import { isIPv4, isIPv6 } from 'node:net';
import { constantTimeEqual } from '../oauth/crypto.js';

/** Drops an IPv6 zone id ("fe80::1%eth0" → "fe80::1"). */
function withoutZone(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail included), or null. */
function ipv6Groups(ip: string): number[] | null {
  if (!isIPv6(ip)) return null;
  let text = ip.toLowerCase();
  // An embedded dotted IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return groups;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or null. */
function mappedIPv4(groups: number[]): string | null {
  if (!groups.slice(0, 5).every((g) => g === 0) || groups[5] !== 0xffff) return null;
  const hi = groups[6] ?? 0;
  const lo = groups[7] ?? 0;
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/**
 * The key a per-address limit counts `ip` under: an IPv4 address as is, an IPv4-mapped IPv6
 * address as its IPv4 address, any other IPv6 address as its /64 ("2001:db8:0:1::/64", zone
 * id dropped, case and zero-padding normalised). Anything else comes back trimmed to 100
 * characters, so it still counts (under its own odd name) without growing the key space.
 */
export function addressKey(ip: string): string {
  if (typeof ip !== 'string') return 'unknown';
  const bare = withoutZone(ip.trim());
  if (isIPv4(bare)) return bare;
  const groups = ipv6Groups(bare);
  if (groups === null) return ip.slice(0, 100);
  const mapped = mappedIPv4(groups);
  if (mapped !== null) return mapped;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x; false for anything else, garbage included. */
export function isLoopback(address: string | undefined): boolean {
  if (typeof address !== 'string') return false;
  const bare = withoutZone(address.trim());
  if (isIPv4(bare)) return bare.startsWith('127.');
  const groups = ipv6Groups(bare);
  if (groups === null) return false;
  const mapped = mappedIPv4(groups);
  if (mapped !== null) return mapped.startsWith('127.');
  return groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}

export interface MetricsCaller {
  /** The TCP peer's address (request.socket.remoteAddress), never a forwarded header. */
  socketAddress: string | undefined;
  /** Whether the request carries X-Forwarded-For, Forwarded or X-Real-IP (a proxy relayed it). */
  forwarded: boolean;
  /** The Authorization header as received. */
  authorization: string | undefined;
}

/**
 * Who may read GET /metrics. With a metrics token: whoever sends `Authorization: Bearer
 * <token>` (compared in constant time), from anywhere — "unauthorized" otherwise. Without one:
 * loopback peers only, and not when a proxy relayed the request (a reverse proxy on the same
 * host connects from loopback on behalf of anyone) — "hidden" otherwise.
 */
export function metricsAccess(caller: MetricsCaller, token: string | null): 'allowed' | 'unauthorized' | 'hidden' {
  if (token !== null) {
    const m = /^Bearer +(\S+) *$/i.exec(caller.authorization ?? '');
    return m?.[1] !== undefined && constantTimeEqual(m[1], token) ? 'allowed' : 'unauthorized';
  }
  return isLoopback(caller.socketAddress) && !caller.forwarded ? 'allowed' : 'hidden';
}
