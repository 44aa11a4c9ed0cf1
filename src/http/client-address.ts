// Client addresses as the per-address defences see them.
//
// - addressKey() (accounts/address-key.ts, re-exported): the key a rate limit or back-off
//   counts under; an IPv6 client by its /64.
// - isLoopback() and metricsAccess(): who may read GET /metrics (SPEC.md): the socket's own
//   peer address, never X-Forwarded-For, decides what "loopback" means.
// Pure functions over strings: garbage never throws.
import { isIPv4 } from 'node:net';
import { constantTimeEqual } from '../oauth/crypto.js';
import { ipv6Groups, mappedIPv4, withoutZone } from '../accounts/address-key.js';

export { addressKey } from '../accounts/address-key.js';

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
