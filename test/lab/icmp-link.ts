/**
 * A link to ping across: two throw-away namespaces (netns.ts) joined by a veth pair, `near` (where the
 * prober runs) and `far` (the host that answers), with faults injected on the link by `tc`, and the
 * icmp prober run in a namespace through probe-icmp-once.ts.
 *
 * Faults need no firewall tool: every second echo request is dropped by a classic-BPF `tc` filter
 * (cls_bpf in direct-action mode, which only needs CONFIG_NET_CLS_BPF and the clsact qdisc), on the
 * ICMP sequence number, so the pattern is exact rather than random. A delay needs `netem`
 * (CONFIG_NET_SCH_NETEM), which some kernels lack.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ProbeResult } from '../../src/probes/types.js';
import { createNetns, type Netns, setAddresses, veth, withoutDad } from './netns.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Addresses on the link. No host answers {@link LINK.absent}: the neighbour lookup fails. */
export const LINK = {
  nearIf: 'wmn-near',
  farIf: 'wmn-far',
  near4: '198.18.0.1',
  far4: '198.18.0.2',
  absent4: '198.18.0.99',
  near6: 'fd00:18::1',
  far6: 'fd00:18::2',
  /** A fixed link-local address on `far`, so a test knows the gateway's scoped form. */
  farLinkLocal: 'fe80::2',
} as const;

export interface IcmpLink {
  readonly near: Netns;
  readonly far: Netns;
  close(): Promise<void>;
}

/** Creates both namespaces and the link between them; everything goes with {@link IcmpLink.close}. */
export async function createIcmpLink(): Promise<IcmpLink> {
  const near = await createNetns();
  const far = await createNetns().catch(async (err: unknown) => {
    await near.close();
    throw err;
  });
  const link = { near, far, close: async () => void (await Promise.all([near.close(), far.close()])) };
  try {
    for (const ns of [near, far]) await withoutDad(ns);
    await veth(near, LINK.nearIf, far, LINK.farIf);
    await setAddresses(near, LINK.nearIf, [`${LINK.near4}/24`, `${LINK.near6}/64`, 'fe80::1/64']);
    await setAddresses(far, LINK.farIf, [`${LINK.far4}/24`, `${LINK.far6}/64`, `${LINK.farLinkLocal}/64`]);
    await Promise.all([operUp(near, LINK.nearIf), operUp(far, LINK.farIf)]);
  } catch (err) {
    await link.close();
    throw err;
  }
  return link;
}

/**
 * Waits until the kernel has processed the link coming up (its linkwatch runs up to a second later):
 * until then the device has no working qdisc and drops what is sent, the first ARP or neighbour
 * solicitation included, so a probe would wait a retransmission (1 s) for its neighbour.
 */
async function operUp(ns: Netns, iface: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (/ state UP /.test(await ns.exec('ip', ['-o', 'link', 'show', 'dev', iface]))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${iface} in ${ns.name} did not come up`);
}

/**
 * The filter, in classic BPF as `tc … bpf bytecode` takes it (`count,code jt jf k,…`). It sees the frame
 * from its Ethernet header: an IPv4 (0x0800) ICMP (1) echo request (8) whose sequence number is odd is
 * shot (TC_ACT_SHOT, 2), anything else passes (TC_ACT_OK, 0). fping numbers a run's requests 0, 1, 2, …
 */
const DROP_ODD_ECHO_REQUESTS = [
  '40 0 0 12', // ldh [12]: EtherType
  '21 0 8 2048', // IPv4, or pass
  '48 0 0 23', // ldb [23]: IP protocol
  '21 0 6 1', // ICMP, or pass
  '177 0 0 14', // ldxb 4*([14]&0xf): IP header length
  '80 0 0 14', // ldb [x+14]: ICMP type
  '21 0 3 8', // echo request, or pass
  '72 0 0 20', // ldh [x+20]: ICMP sequence number
  '84 0 0 1', // and #1
  '21 1 0 1', // odd: shoot
  '6 0 0 0', // pass
  '6 0 0 2', // shoot
];

/** Makes `ns` drop every second IPv4 echo request arriving on `iface`. Rejects where the kernel cannot. */
export async function dropOddEchoRequests(ns: Netns, iface: string): Promise<void> {
  const bytecode = `${DROP_ODD_ECHO_REQUESTS.length},${DROP_ODD_ECHO_REQUESTS.join(',')}`;
  await ns.exec('tc', ['qdisc', 'add', 'dev', iface, 'clsact']);
  await ns.exec('tc', [
    'filter',
    'add',
    'dev',
    iface,
    'ingress',
    'protocol',
    'ip',
    'bpf',
    'da',
    'bytecode',
    bytecode,
  ]);
}

/** Removes whatever `tc` put on `iface` (clsact and root qdiscs); a qdisc not there is no error. */
export async function clearQdiscs(ns: Netns, iface: string): Promise<void> {
  await ns.exec('tc', ['qdisc', 'del', 'dev', iface, 'clsact']).catch(() => {});
  await ns.exec('tc', ['qdisc', 'del', 'dev', iface, 'root']).catch(() => {});
}

export interface IcmpOnceOptions {
  readonly family?: 4 | 6;
  readonly count?: number;
  readonly timeoutMs?: number;
}

/** What probe-icmp-once.ts prints. */
export interface IcmpOnce {
  readonly result: ProbeResult;
  readonly elapsedMs: number;
}

/** probe-icmp-once.ts's argv after the node executable. */
export function probeIcmpOnceArgs(host: string, options: IcmpOnceOptions = {}): string[] {
  return [
    '--import',
    'tsx',
    'test/lab/probe-icmp-once.ts',
    host,
    ...(options.family ? ['--family', String(options.family)] : []),
    ...(options.count ? ['--count', String(options.count)] : []),
    ...(options.timeoutMs ? ['--timeout', String(options.timeoutMs)] : []),
  ];
}

/** Runs one icmp probe of `host` inside `ns`. */
export async function probeIcmpIn(ns: Netns, host: string, options: IcmpOnceOptions = {}): Promise<IcmpOnce> {
  return JSON.parse(await ns.exec(process.execPath, probeIcmpOnceArgs(host, options), ROOT)) as IcmpOnce;
}

/**
 * Runs one icmp probe with `prefix` before node (e.g. `ip netns exec NS setpriv …`) and `env` as the
 * whole environment of the first command. Node is named by its path, so the PATH that reaches the probe
 * (through `env`, or a prefix like `env PATH=…`) can be anything.
 */
export async function probeIcmpWith(
  prefix: readonly string[],
  env: NodeJS.ProcessEnv,
  host: string,
  options: IcmpOnceOptions = {},
): Promise<IcmpOnce> {
  const argv = [...prefix, process.execPath, ...probeIcmpOnceArgs(host, options)];
  const [command = process.execPath, ...args] = argv;
  const { stdout } = await run(command, args, { cwd: ROOT, env });
  return JSON.parse(stdout) as IcmpOnce;
}
