/**
 * A real home network for fault-localisation tests, built from three network namespaces (netns.ts):
 *
 * ```text
 *  home (wmn) ─eth0──────lan0─ router ─wan0──────isp0─ internet
 *  192.168.77.2/24   192.168.77.1/24  100.64.7.2/30   100.64.7.1/30   on lo: anchors 198.51.100.1, .2,
 *  fd77::2/64        fd77::1/64       fd64::2/64      fd64::1/64      2001:db8::1; DNS 198.51.100.53;
 *                                                                     HTTP 198.51.100.80, 2001:db8::80
 * ```
 *
 * The internet's servers are upstream.ts, run inside `internet`; home's resolver is its DNS server. Every
 * fault control changes the real network (a link down, a route gone, a resolver that stops answering), so
 * a probe in `home` sees what it would see in a house whose cable, router or ISP fails.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createNetns, type Netns, setAddresses, veth, withoutDad } from './netns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every address of the topology, by role. */
export const ADDRESSES = {
  home: '192.168.77.2',
  home6: 'fd77::2',
  gateway: '192.168.77.1',
  gateway6: 'fd77::1',
  routerWan: '100.64.7.2',
  routerWan6: 'fd64::2',
  isp: '100.64.7.1',
  isp6: 'fd64::1',
  /** Stand-ins for 1.1.1.1 and 9.9.9.9: addresses that answer pings and HTTP when the internet is up. */
  anchors: ['198.51.100.1', '198.51.100.2'],
  anchor6: '2001:db8::1',
  /** Home's resolver (upstream.ts's DNS server, port 53). */
  resolver: '198.51.100.53',
  /** What {@link ADDRESSES.webName} resolves to; HTTP answers on these (and on every internet address). */
  web: '198.51.100.80',
  web6: '2001:db8::80',
  webName: 'www.upstream.test',
} as const;

/** Interface names, by namespace (names are per namespace, so none can clash with the host's). */
export const LINKS = { home: 'eth0', routerLan: 'lan0', routerWan: 'wan0', internet: 'isp0' } as const;

export const DNS_MODES = ['ok', 'servfail', 'drop'] as const;
/** How home's resolver behaves: answers, answers SERVFAIL to everything, or answers nothing. */
export type DnsMode = (typeof DNS_MODES)[number];

/** The topology; `name`, `spawn` and `exec` are the `home` namespace's, where wmn runs. */
export interface Topology extends Pick<Netns, 'name' | 'spawn' | 'exec'> {
  readonly home: Netns;
  readonly router: Netns;
  readonly internet: Netns;
  /** Takes home's link to the router down (true) or brings it back with its addresses and routes. */
  lan(down: boolean): Promise<void>;
  /** Takes the router's link to the internet down (true) or brings it back with its routes. */
  upstream(down: boolean): Promise<void>;
  /** Sets how home's resolver answers; resolves once the DNS server has applied it. */
  dns(mode: DnsMode): Promise<void>;
  /** Removes the router's IPv6 default route (true): IPv6 beyond the router fails, IPv4 still works. */
  ipv6(down: boolean): Promise<void>;
  /** Stops upstream.ts and deletes the three namespaces (also done on process exit). */
  close(): Promise<void>;
}

/** Builds the topology. Rejects without root, iproute2, veth or IPv6 in the kernel. */
export async function buildTopology(): Promise<Topology> {
  const made: Netns[] = [];
  const close = async () => {
    await Promise.all(made.splice(0).map((ns) => ns.close()));
  };
  try {
    const home = await createNetns({ label: 'home', nameserver: ADDRESSES.resolver });
    made.push(home);
    const router = await createNetns({ label: 'router' });
    made.push(router);
    const internet = await createNetns({ label: 'internet' });
    made.push(internet);

    await Promise.all(made.map(withoutDad));
    await veth(home, LINKS.home, router, LINKS.routerLan);
    await veth(router, LINKS.routerWan, internet, LINKS.internet);
    await router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);

    const state = { wanDown: false, v6Down: false };
    const lanUp = async () => {
      await Promise.all([
        setAddresses(home, LINKS.home, [`${ADDRESSES.home}/24`, `${ADDRESSES.home6}/64`]),
        setAddresses(router, LINKS.routerLan, [`${ADDRESSES.gateway}/24`, `${ADDRESSES.gateway6}/64`]),
      ]);
      await ip(home, 'route', 'replace', 'default', 'via', ADDRESSES.gateway);
      await ip(home, '-6', 'route', 'replace', 'default', 'via', ADDRESSES.gateway6);
    };
    const wanUp = async () => {
      await Promise.all([
        setAddresses(router, LINKS.routerWan, [`${ADDRESSES.routerWan}/30`, `${ADDRESSES.routerWan6}/64`]),
        setAddresses(internet, LINKS.internet, [`${ADDRESSES.isp}/30`, `${ADDRESSES.isp6}/64`]),
      ]);
      await ip(router, 'route', 'replace', 'default', 'via', ADDRESSES.isp);
      if (!state.v6Down) await ip(router, '-6', 'route', 'replace', 'default', 'via', ADDRESSES.isp6);
      await ip(internet, 'route', 'replace', '192.168.77.0/24', 'via', ADDRESSES.routerWan);
      await ip(internet, '-6', 'route', 'replace', 'fd77::/64', 'via', ADDRESSES.routerWan6);
    };
    await Promise.all([lanUp(), wanUp(), addLocal(internet)]);
    const upstream = await startUpstream(internet);

    return {
      name: home.name,
      spawn: home.spawn,
      exec: home.exec,
      home,
      router,
      internet,
      async lan(down) {
        if (down) await ip(home, 'link', 'set', LINKS.home, 'down');
        else await lanUp();
      },
      async upstream(down) {
        state.wanDown = down;
        // Taking a link down also deletes the routes through it, so bringing it up re-adds them.
        if (down) await ip(router, 'link', 'set', LINKS.routerWan, 'down');
        else await wanUp();
      },
      dns: upstream.dns,
      async ipv6(down) {
        if (down === state.v6Down) return;
        state.v6Down = down;
        if (state.wanDown) return; // the route is already gone; upstream(false) honours v6Down
        if (down) await ip(router, '-6', 'route', 'del', 'default', 'via', ADDRESSES.isp6);
        else await ip(router, '-6', 'route', 'replace', 'default', 'via', ADDRESSES.isp6);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function ip(ns: Netns, ...args: string[]): Promise<string> {
  return ns.exec('ip', args);
}

/** The internet's own addresses, on loopback: always up, and no dummy-interface module needed. */
async function addLocal(internet: Netns): Promise<void> {
  const v4 = [...ADDRESSES.anchors, ADDRESSES.resolver, ADDRESSES.web];
  for (const address of v4) await ip(internet, 'addr', 'add', `${address}/32`, 'dev', 'lo');
  for (const address of [ADDRESSES.anchor6, ADDRESSES.web6])
    await ip(internet, '-6', 'addr', 'add', `${address}/128`, 'dev', 'lo', 'nodad');
}

/** Starts upstream.ts in `internet` (stopped when that namespace closes) and drives its DNS mode. */
async function startUpstream(internet: Netns): Promise<{ dns(mode: DnsMode): Promise<void> }> {
  const child = internet.spawn(process.execPath, ['--import', 'tsx', 'test/lab/upstream.ts'], ROOT);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // upstream.ts answers every command with one line, in order: each waiter takes the next line.
  const waiters: Array<{ resolve(line: string): void; reject(err: Error): void }> = [];
  let exited: Error | undefined;
  const next = () =>
    new Promise<string>((resolve, reject) => (exited ? reject(exited) : waiters.push({ resolve, reject })));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
    waiters.shift()?.resolve(line),
  );
  child.once('exit', (code, signal) => {
    exited = new Error(`upstream.ts exited (${code ?? signal}): ${stderr}`);
    for (const waiter of waiters.splice(0)) waiter.reject(exited);
  });
  await next();
  return {
    async dns(mode) {
      const ack = next();
      child.stdin?.write(`dns ${mode}\n`);
      const reply = JSON.parse(await ack) as { dns?: string; error?: string };
      if (reply.dns !== mode) throw new Error(`upstream.ts refused dns ${mode}: ${reply.error}`);
    },
  };
}
