/**
 * The default gateway, read from the kernel's routing tables in /proc at every call: no subprocess, and
 * always current when DHCP or a roaming laptop changes the router. Linux only; elsewhere (no /proc)
 * there is no gateway to find and the answer is null.
 *
 * Only the main table is visible there (what `ip route show table main` lists), which is where a
 * DHCP client or NetworkManager puts the default route.
 */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';

/** One default route: its next hop, the interface it leaves by, and its metric (lower wins). */
export interface DefaultRoute {
  /** The next hop; an IPv6 link-local one carries its interface as a zone (`fe80::1%eth0`). */
  readonly gateway: string;
  readonly iface: string;
  readonly metric: number;
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
/** `ip route add unreachable|prohibit|blackhole default`: a default route that goes nowhere. */
const RTF_REJECT = 0x200;

function isUsableGateway(flags: number): boolean {
  return (flags & (RTF_UP | RTF_GATEWAY)) === (RTF_UP | RTF_GATEWAY) && (flags & RTF_REJECT) === 0;
}

function byMetric(a: DefaultRoute, b: DefaultRoute): number {
  return a.metric - b.metric;
}

/**
 * The IPv4 default routes in a /proc/net/route table, lowest metric first. Its addresses are the kernel's
 * 32-bit words printed as hex in host byte order (`010200C0` is 192.0.2.1 on a little-endian machine);
 * flags are hex too, but the metric is decimal.
 */
export function parseIpv4Routes(text: string, littleEndian = endianness() === 'LE'): DefaultRoute[] {
  const routes: DefaultRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [iface, destination, gateway, flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!iface || !gateway || !flags || !metric || destination !== '00000000' || mask !== '00000000')
      continue;
    if (!isUsableGateway(Number.parseInt(flags, 16)) || /^0+$/.test(gateway)) continue;
    routes.push({ gateway: ipv4FromHex(gateway, littleEndian), iface, metric: Number.parseInt(metric, 10) });
  }
  return routes.sort(byMetric);
}

function ipv4FromHex(hex: string, littleEndian: boolean): string {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return (littleEndian ? bytes.reverse() : bytes).join('.');
}

/**
 * The IPv6 default routes (`::/0` via a next hop) in a /proc/net/ipv6_route table, lowest metric first.
 * Columns (all hex): destination, its prefix length, source, its prefix length, next hop, metric,
 * refcount, use, flags, interface. A source-specific default (`from 2001:db8::/64`) serves only some of our addresses,
 * so it is not the gateway.
 */
export function parseIpv6Routes(text: string): DefaultRoute[] {
  const routes: DefaultRoute[] = [];
  for (const line of text.split('\n')) {
    const [dest, destLen, , srcLen, nextHop, metric, , , flags, iface] = line.trim().split(/\s+/);
    if (!iface || !nextHop || !metric || !flags || destLen !== '00' || srcLen !== '00') continue;
    if (!/^0{32}$/.test(dest ?? '') || /^0+$/.test(nextHop) || !/^[0-9a-f]{32}$/i.test(nextHop)) continue;
    if (!isUsableGateway(Number.parseInt(flags, 16))) continue;
    routes.push({ gateway: scoped(nextHop, iface), iface, metric: Number.parseInt(metric, 16) });
  }
  return routes.sort(byMetric);
}

/** A link-local next hop means nothing without its interface (every link has its own fe80::/10). */
function scoped(hex: string, iface: string): string {
  const groups = hex.match(/.{4}/g)?.map((group) => Number.parseInt(group, 16)) ?? [];
  const text = formatIpv6(groups);
  return ((groups[0] ?? 0) & 0xffc0) === 0xfe80 ? `${text}%${iface}` : text;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function formatIpv6(groups: readonly number[]): string {
  let best = { start: -1, length: 1 };
  let run = { start: -1, length: 0 };
  groups.forEach((group, i) => {
    run =
      group === 0 ? { start: run.length ? run.start : i, length: run.length + 1 } : { start: -1, length: 0 };
    if (run.length > best.length) best = run;
  });
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  const head = hex.slice(0, best.start).join(':');
  const tail = hex.slice(best.start + best.length).join(':');
  return `${head}::${tail}`;
}

async function readTable(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return ''; // no /proc (not Linux), or IPv6 disabled: no table, so no gateway of that family
  }
}

/**
 * The next hop of the default route of `family` with the lowest metric, or null when there is none.
 * With `family` null, IPv4 first (what most home routers answer on), then IPv6.
 */
export async function defaultGateway(family: 4 | 6 | null): Promise<string | null> {
  if (family !== 6) {
    const [best] = parseIpv4Routes(await readTable('/proc/net/route'));
    if (best || family === 4) return best?.gateway ?? null;
  }
  const [best] = parseIpv6Routes(await readTable('/proc/net/ipv6_route'));
  return best?.gateway ?? null;
}
