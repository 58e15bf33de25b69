/**
 * The home-network topology (test/lab/topology.ts): each fault control must break exactly its part of
 * the real network, as seen by real tools (curl, ip, fping or ping) run in `home`, and restore it.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { CURL_AVAILABLE, need } from './helpers/env.js';
import { ADDRESSES, buildTopology, LINKS, type Topology } from './lab/topology.js';

const run = promisify(execFile);
const works = (command: string, args: string[]) => spawnSync(command, args).status === 0;
/** fping when installed (it handles both families and sub-second timeouts), else iputils ping. */
const PINGER: [string, string[]] | undefined = works('fping', ['--version'])
  ? ['fping', ['-q', '-c1', '-t500']]
  : works('ping', ['-V'])
    ? ['ping', ['-q', '-c1', '-W1']]
    : undefined;

interface Outcome {
  readonly ok: boolean;
  /** What the tool said, for assertion messages. */
  readonly detail: string;
}

/** The checks a fault-localising monitor would make from home, each with a real tool. */
const CHECKS = {
  /** Home has a route out at all (`ip route get`). */
  route: (topo: Topology) => tool(topo, 'ip', ['route', 'get', ADDRESSES.anchors[0]]),
  gateway: (topo: Topology) => ping(topo, ADDRESSES.gateway),
  gateway6: (topo: Topology) => ping(topo, ADDRESSES.gateway6),
  anchor: (topo: Topology) => ping(topo, ADDRESSES.anchors[0]),
  anchorHttp: (topo: Topology) => http(topo, `http://${ADDRESSES.anchors[1]}/`),
  anchor6: (topo: Topology) => ping(topo, ADDRESSES.anchor6),
  web6Http: (topo: Topology) => http(topo, `http://[${ADDRESSES.web6}]/`),
  byName: (topo: Topology) => http(topo, `http://${ADDRESSES.webName}/`),
};
type Check = keyof typeof CHECKS;
const ALL_UP = mapAll(true);

async function tool(topo: Topology, command: string, args: string[]): Promise<Outcome> {
  try {
    return { ok: true, detail: (await topo.exec(command, args)).trim() };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: number; stdout?: string; stderr?: string };
    return { ok: false, detail: `exit ${code}: ${`${stdout ?? ''} ${stderr ?? ''}`.trim()}` };
  }
}

function ping(topo: Topology, address: string): Promise<Outcome> {
  const [command, args] = PINGER!;
  return tool(topo, command, [...args, address]);
}

async function http(topo: Topology, url: string): Promise<Outcome> {
  // --noproxy: a proxy from the environment would be unreachable from home, or worse, mask a fault.
  const args = ['-sS', '-g', '--noproxy', '*', '--max-time', '1', '-o', '/dev/null', '-w', '%{http_code}'];
  const outcome = await tool(topo, 'curl', [...args, url]);
  return outcome.ok && outcome.detail !== '200' ? { ok: false, detail: `HTTP ${outcome.detail}` } : outcome;
}

/** Runs every check at once (failures cost their timeout, so in parallel a scenario takes ~1 s). */
async function observe(topo: Topology): Promise<Record<Check, Outcome>> {
  const names = Object.keys(CHECKS) as Check[];
  const outcomes = await Promise.all(names.map((name) => CHECKS[name](topo)));
  return Object.fromEntries(names.map((name, i) => [name, outcomes[i]])) as Record<Check, Outcome>;
}

/** Asserts which checks pass, naming each unexpected outcome with what its tool said. */
async function expectReachable(
  topo: Topology,
  expected: Record<Check, boolean>,
): Promise<Record<Check, Outcome>> {
  const seen = await observe(topo);
  const wrong = (Object.keys(expected) as Check[])
    .filter((name) => seen[name].ok !== expected[name])
    .map(
      (name) => `${name}: expected ${expected[name] ? 'ok' : 'failure'}, got ${seen[name].detail || 'ok'}`,
    );
  assert.deepEqual(wrong, []);
  return seen;
}

describe('home-network topology', () => {
  let topo: Topology | undefined;
  let unavailable = '';

  before(async () => {
    try {
      topo = await buildTopology();
    } catch (err) {
      unavailable = String(err);
    }
  });
  after(() => topo?.close());

  function ready(t: TestContext): Topology | undefined {
    if (!need(t, CURL_AVAILABLE, 'curl is not installed')) return undefined;
    if (!need(t, PINGER !== undefined, 'neither fping nor ping is installed')) return undefined;
    if (!need(t, topo !== undefined, `network namespaces, veth, IPv6 (root, iproute2): ${unavailable}`))
      return undefined;
    return topo;
  }

  test('baseline: gateway, anchors (v4 and v6) and the web server by name all answer', async (t) => {
    const net = ready(t);
    if (!net) return;
    await expectReachable(net, ALL_UP);
  });

  test('lan down: home loses its route, the gateway and everything beyond', async (t) => {
    const net = ready(t);
    if (!net) return;
    await net.lan(true);
    try {
      assert.match(await net.exec('ip', ['link', 'show', LINKS.home]), /state DOWN/);
      await expectReachable(net, mapAll(false));
    } finally {
      await net.lan(false);
    }
    await expectReachable(net, ALL_UP);
  });

  test('upstream down: the gateway answers, nothing beyond it does', async (t) => {
    const net = ready(t);
    if (!net) return;
    await net.upstream(true);
    try {
      await expectReachable(net, { ...mapAll(false), route: true, gateway: true, gateway6: true });
    } finally {
      await net.upstream(false);
    }
    await expectReachable(net, ALL_UP);
  });

  for (const mode of ['servfail', 'drop'] as const) {
    test(`dns ${mode}: anchors answer by address, names do not resolve`, async (t) => {
      const net = ready(t);
      if (!net) return;
      await net.dns(mode);
      try {
        const seen = await expectReachable(net, { ...ALL_UP, byName: false });
        // curl's own words: "Could not resolve host" (SERVFAIL), "Resolving timed out" (no answer).
        assert.match(
          seen.byName.detail,
          mode === 'servfail' ? /exit 6: .*resolve host/ : /exit 28: .*Resolving/,
        );
      } finally {
        await net.dns('ok');
      }
      await expectReachable(net, ALL_UP);
    });
  }

  test('ipv6 down: IPv4 works, IPv6 beyond the router fails', async (t) => {
    const net = ready(t);
    if (!net) return;
    await net.ipv6(true);
    try {
      // byName still works: curl falls back to the name's IPv4 address, as a dual-stack client should.
      await expectReachable(net, { ...ALL_UP, anchor6: false, web6Http: false });
    } finally {
      await net.ipv6(false);
    }
    await expectReachable(net, ALL_UP);
  });

  test('close removes every namespace', async (t) => {
    const net = ready(t);
    if (!net) return;
    const names = [net.home.name, net.router.name, net.internet.name];
    await net.close();
    const { stdout } = await run('ip', ['netns', 'list']);
    const left = stdout.split('\n').map((line) => line.split(' ')[0]);
    assert.deepEqual(
      names.filter((name) => left.includes(name)),
      [],
    );
  });
});

function mapAll(ok: boolean): Record<Check, boolean> {
  return Object.fromEntries(Object.keys(CHECKS).map((name) => [name, ok])) as Record<Check, boolean>;
}
