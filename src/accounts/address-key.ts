// The key a per-address defence (rate limits, the brute-force back-off) counts a client
// address under. One IPv6 subscriber usually holds a whole /64 (and picks a new address in it
// at will), so IPv6 clients are keyed by their /64; IPv4 and IPv4-mapped IPv6 by the IPv4
// address. Pure functions over strings: garbage never throws.
import { isIPv4, isIPv6 } from 'node:net';

/** Drops an IPv6 zone id ("fe80::1%eth0" → "fe80::1"). */
export function withoutZone(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 tail included), or null. */
export function ipv6Groups(ip: string): number[] | null {
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
export function mappedIPv4(groups: number[]): string | null {
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
