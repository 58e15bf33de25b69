/**
 * The icmp:// prober and default-gateway discovery: the pure parts (routing tables captured from real
 * kernels, fping's summary, the pacing) without a network; the real fping on loopback; and across a veth
 * link between two network namespaces (test/lab/icmp-link.ts) for a silent address, lost requests,
 * an injected delay, the gateway, and fping without its privilege.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { parseIpv4Routes, parseIpv6Routes } from '../src/probes/gateway.js';
import { fpingArgs, parseSummary, probeIcmp } from '../src/probes/icmp.js';
import type { IcmpProbeOptions, IcmpSource } from '../src/probes/types.js';
import { need } from './helpers/env.js';
import { assertContract, assertFailed, assertOk, assertSettlesOnAbort } from './helpers/probe-contract.js';
import { childrenOf } from './helpers/procs.js';
import {
  clearQdiscs,
  createIcmpLink,
  dropOddEchoRequests,
  type IcmpLink,
  LINK,
  probeIcmpIn,
  probeIcmpWith,
} from './lab/icmp-link.js';

/** Where fping is installed, or null: `command -v` through a shell, as PATH lookup would find it. */
const FPING_PATH = spawnSync('sh', ['-c', 'command -v fping'], { encoding: 'utf8' }).stdout.trim() || null;
/** fping is killed this long after its budget (icmp.ts GRACE_MS), plus node's start-up and slack. */
const DEADLINE_SLACK_MS = 300 + 150;

function icmp(host: string, family: 4 | 6 | null = null): IcmpSource {
  const uri = `icmp://${host.includes(':') ? `[${host}]` : host}`;
  return { kind: 'icmp', uri, host, family };
}

function probe(source: IcmpSource, options: Partial<IcmpProbeOptions> = {}, signal?: AbortSignal) {
  const opts = { timeoutMs: 1000, count: 1, ...options };
  return probeIcmp(source, opts, { signal: signal ?? new AbortController().signal, clock: performance });
}

function hasFping(t: TestContext): boolean {
  return need(t, FPING_PATH !== null, 'the icmp prober needs fping (apt install fping)');
}

describe('default gateway: the routing tables', () => {
  // Captured on a cloud VM: the default via 192.0.2.1 and the link's own subnet.
  const ROUTE = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  // The same VM: a default via fd00::1, and the kernel's `unreachable ::/0` on lo (RTF_REJECT, no next hop).
  const IPV6_ROUTE = [
    'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0',
    '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo',
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
  ].join('\n');

  test('the IPv4 default route, its gateway in host byte order', () => {
    assert.deepEqual(parseIpv4Routes(ROUTE, true), [{ gateway: '192.0.2.1', iface: 'eth0', metric: 0 }]);
    assert.deepEqual(parseIpv4Routes(ROUTE, false)[0]?.gateway, '1.2.0.192');
  });

  test('lowest metric first; routes that are down or reject are not gateways', () => {
    const table = [
      ROUTE.split('\n')[0],
      'wlan0\t00000000\t0100A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'eth1\t00000000\t0102A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0', // not RTF_UP
      'eth2\t00000000\t0103A8C0\t0203\t0\t0\t0\t00000000\t0\t0\t0', // RTF_REJECT
    ].join('\n');
    assert.deepEqual(
      parseIpv4Routes(table, true).map((r) => r.gateway),
      ['192.168.1.1', '192.168.0.1'],
    );
  });

  test('the IPv6 default route with a next hop; the unreachable default on lo is not one', () => {
    assert.deepEqual(parseIpv6Routes(IPV6_ROUTE), [{ gateway: 'fd00::1', iface: 'eth0', metric: 1024 }]);
  });

  test('a link-local next hop carries its interface', () => {
    const line =
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000021122fffe334455 00000400 00000002 00000000 00000003  wlp2s0';
    assert.deepEqual(parseIpv6Routes(line), [
      { gateway: 'fe80::211:22ff:fe33:4455%wlp2s0', iface: 'wlp2s0', metric: 1024 },
    ]);
  });

  test('no table, no route', () => {
    assert.deepEqual(parseIpv4Routes(''), []);
    assert.deepEqual(parseIpv6Routes(''), []);
  });
});

describe('fping: pacing and its report', () => {
  test('requests spread over the first half of the budget; every reply may take the rest', () => {
    for (const [count, budget] of [
      [1, 1500],
      [5, 1000],
      [3, 700],
      [100, 1500],
    ] as const) {
      const args = fpingArgs({ address: '192.0.2.1', family: 4 }, count, budget);
      const period = Number(args[args.indexOf('-p') + 1]);
      const wait = Number(args[args.indexOf('-t') + 1]);
      assert.ok(period >= 10, `fping's minimum period: ${args.join(' ')}`);
      assert.ok((count - 1) * period + wait <= budget, `done within the budget: ${args.join(' ')}`);
      assert.ok(wait >= budget / 2 || period === 10, `replies get half the budget: ${args.join(' ')}`);
    }
    assert.deepEqual(fpingArgs({ address: 'fe80::1%eth0', family: 6 }, 5, 1000).slice(-3), [
      '-6',
      '--',
      'fe80::1%eth0',
    ]);
  });

  test('the -C summary, found among the lines fping writes on stderr', () => {
    // Recorded from fping 5.1: a blank line, then one summary line per target.
    assert.deepEqual(parseSummary('\n127.0.0.1 : 0.049 0.040 0.050\n', '127.0.0.1'), [0.049, 0.04, 0.05]);
    assert.deepEqual(parseSummary('\n198.18.0.2 : 0.096 - 0.062 - 12.3 -\n', '198.18.0.2'), [
      0.096,
      null,
      0.062,
      null,
      12.3,
      null,
    ]);
    const unreachable = [
      'ICMP Host Unreachable from 10.9.0.2 for ICMP Echo sent to 10.20.0.5',
      'ICMP Host Unreachable from 10.9.0.2 for ICMP Echo sent to 10.20.0.5',
      '',
      '10.20.0.5 : - - -',
    ].join('\n');
    assert.deepEqual(parseSummary(unreachable, '10.20.0.5'), [null, null, null]);
    assert.deepEqual(parseSummary('\nfe80::2%wmn-near : 0.053 0.064\n', 'fe80::2%wmn-near'), [0.053, 0.064]);
  });

  test('no summary: an error message is not a report', () => {
    assert.equal(parseSummary("fping: can't create socket (must run as root?)\n", '127.0.0.1'), null);
    assert.equal(parseSummary('127.0.0.1: Address family for hostname not supported\n', '127.0.0.1'), null);
    assert.equal(parseSummary('', '127.0.0.1'), null);
  });
});

describe('fping on loopback', () => {
  test('127.0.0.1 answers, in well under a millisecond or two', async (t) => {
    if (!hasFping(t)) return;
    const r = await probe(icmp('127.0.0.1'), { count: 3 });
    assertContract(r, 'icmp://127.0.0.1');
    assertOk(r, null);
    assert.equal(r.remoteIp, '127.0.0.1');
    assert.equal(r.dnsMs, null);
    assert.equal(r.samplesMs?.length, 3);
    assert.ok(r.totalMs > 0 && r.totalMs < 5, JSON.stringify(r));
    t.diagnostic(`127.0.0.1: mean ${r.totalMs.toFixed(3)} ms of ${JSON.stringify(r.samplesMs)}`);
  });

  test('::1 answers', async (t) => {
    if (!hasFping(t)) return;
    const r = await probe(icmp('::1'), { count: 2 });
    assertContract(r, 'icmp://[::1]');
    assertOk(r, null);
    assert.equal(r.remoteIp, '::1');
    assert.ok(r.totalMs > 0 && r.totalMs < 5, JSON.stringify(r));
  });

  test('count 5 gives five samples, and totalMs is their mean', async (t) => {
    if (!hasFping(t)) return;
    const r = await probe(icmp('127.0.0.1'), { count: 5, timeoutMs: 1000 });
    assertOk(r, null);
    const samples = r.samplesMs ?? [];
    assert.equal(samples.length, 5);
    assert.ok(
      samples.every((s) => s !== null && s > 0),
      JSON.stringify(samples),
    );
    const mean = samples.reduce((sum: number, s) => sum + (s ?? 0), 0) / samples.length;
    assert.ok(Math.abs(r.totalMs - mean) < 1e-9, JSON.stringify(r));
  });

  test('a name is resolved first and the lookup timed as dnsMs', async (t) => {
    if (!hasFping(t)) return;
    const r = await probe(icmp('localhost', 4));
    assertContract(r, 'icmp://localhost');
    assertOk(r, null);
    assert.equal(r.remoteIp, '127.0.0.1');
    assert.ok(r.dnsMs !== null && r.dnsMs > 0, JSON.stringify(r));
  });

  test('a name that does not resolve is a dns failure, without running fping', async () => {
    const r = await probe(icmp('no-such-host.invalid'));
    assertContract(r, 'icmp://no-such-host.invalid');
    assertFailed(r, 'dns');
    assert.equal(r.samplesMs, undefined);
  });

  test('an abort settles at once as a failed row and kills fping', async (t) => {
    if (!hasFping(t)) return;
    // Five requests 500 ms apart: fping is mid-run when the abort comes.
    const start = (signal: AbortSignal) => probe(icmp('127.0.0.1'), { count: 5, timeoutMs: 5000 }, signal);
    const r = await assertSettlesOnAbort(start, 'icmp://127.0.0.1', 100, 500);
    assertFailed(r, 'timeout');
    assert.equal(r.detail, 'aborted');
    assert.deepEqual(
      childrenOf(process.pid).filter((c) => c.comm === 'fping'),
      [],
      'no fping left, not even a zombie',
    );
  });

  test('aborted before it starts: a failed row, no fping', async () => {
    const abort = new AbortController();
    abort.abort();
    const r = await probe(icmp('127.0.0.1'), {}, abort.signal);
    assertFailed(r, 'timeout');
    assert.equal(r.detail, 'aborted');
  });

  test('fping missing from PATH: internal, saying how to install it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'wmn-nofping-'));
    try {
      const { result } = await probeIcmpWith([], { PATH: empty }, '127.0.0.1');
      assertContract(result, 'icmp://127.0.0.1');
      assertFailed(result, 'internal');
      assert.match(result.detail ?? '', /apt install fping/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('an fping that hangs is killed at the hard deadline', async () => {
    // A stand-in: the real fping keeps its own time, so only a fake one can outlive the deadline.
    const dir = mkdtempSync(join(tmpdir(), 'wmn-hungfping-'));
    try {
      writeFileSync(join(dir, 'fping'), '#!/bin/sh\nexec /bin/sleep 30\n', { mode: 0o755 });
      const timeoutMs = 400;
      const { result, elapsedMs } = await probeIcmpWith([], { PATH: dir }, '127.0.0.1', { timeoutMs });
      assertContract(result, 'icmp://127.0.0.1');
      assertFailed(result, 'timeout');
      assert.equal(result.totalMs, timeoutMs);
      assert.ok(elapsedMs < timeoutMs + DEADLINE_SLACK_MS, `took ${elapsedMs.toFixed(0)} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('across a link between two namespaces', () => {
  let link: IcmpLink | undefined;
  let linkError = '';

  before(async () => {
    try {
      link = await createIcmpLink();
    } catch (err) {
      linkError = String(err);
    }
  });
  after(() => link?.close());

  function ready(t: TestContext): IcmpLink | undefined {
    if (!hasFping(t)) return undefined;
    if (!need(t, link !== undefined, `network namespaces (root, iproute2): ${linkError}`)) return undefined;
    return link;
  }

  test('the peer answers over IPv4 and IPv6', async (t) => {
    const lab = ready(t);
    if (!lab) return;
    for (const host of [LINK.far4, LINK.far6]) {
      const { result } = await probeIcmpIn(lab.near, host, { count: 2 });
      assertOk(result, null);
      assert.equal(result.remoteIp, host);
    }
  });

  test('an address with no host behind it: no reply, within the deadline', async (t) => {
    const lab = ready(t);
    if (!lab) return;
    const timeoutMs = 600;
    const { result, elapsedMs } = await probeIcmpIn(lab.near, LINK.absent4, { count: 3, timeoutMs });
    assertContract(result, `icmp://${LINK.absent4}`);
    assert.equal(result.disconnected, true, JSON.stringify(result));
    assert.ok(result.error === 'timeout' || result.error === 'unreachable', JSON.stringify(result));
    assert.deepEqual(result.samplesMs, [null, null, null]);
    assert.ok(result.totalMs <= timeoutMs, JSON.stringify(result));
    assert.ok(elapsedMs < timeoutMs + DEADLINE_SLACK_MS, `took ${elapsedMs.toFixed(0)} ms`);
  });

  test('no route to the address: unreachable, at once', async (t) => {
    const lab = ready(t);
    if (!lab) return;
    const { result } = await probeIcmpIn(lab.near, '203.0.113.7', { count: 2, timeoutMs: 1000 });
    assertFailed(result, 'unreachable');
    assert.ok(result.totalMs < 900, `fping gives up when it cannot send: ${JSON.stringify(result)}`);
  });

  test('every second request dropped: partial loss in samplesMs, not disconnected', async (t) => {
    const lab = ready(t);
    if (!lab) return;
    try {
      const dropping = await dropOddEchoRequests(lab.far, LINK.farIf).then(
        () => '',
        (err: unknown) => String(err),
      );
      if (!need(t, dropping === '', `a tc cls_bpf filter (CONFIG_NET_CLS_BPF, clsact): ${dropping}`)) return;
      const { result } = await probeIcmpIn(lab.near, LINK.far4, { count: 4, timeoutMs: 800 });
      assertContract(result, `icmp://${LINK.far4}`);
      assertOk(result, null);
      const samples = result.samplesMs ?? [];
      assert.deepEqual(
        samples.map((s) => s === null),
        [false, true, false, true],
        JSON.stringify(result),
      );
      const replies = samples.filter((s): s is number => s !== null);
      assert.ok(Math.abs(result.totalMs - (replies[0]! + replies[1]!) / 2) < 1e-9, 'mean of the replies');
    } finally {
      await clearQdiscs(lab.far, LINK.farIf);
    }
  });

  test('the gateway: found in the namespace routing tables, and pinged', async (t) => {
    const lab = ready(t);
    if (!lab) return;
    const { near } = lab;
    await near.exec('ip', ['route', 'add', 'default', 'via', LINK.far4, 'metric', '100']);
    await near.exec('ip', ['route', 'add', 'default', 'via', LINK.absent4, 'metric', '200']);
    await near.exec('ip', ['-6', 'route', 'add', 'default', 'via', LINK.farLinkLocal, 'dev', LINK.nearIf]);

    const v4 = parseIpv4Routes(await near.exec('cat', ['/proc/net/route']));
    assert.deepEqual(v4, [
      { gateway: LINK.far4, iface: LINK.nearIf, metric: 100 },
      { gateway: LINK.absent4, iface: LINK.nearIf, metric: 200 },
    ]);
    const v6 = parseIpv6Routes(await near.exec('cat', ['/proc/net/ipv6_route']));
    assert.deepEqual(
      v6.map((r) => r.gateway),
      [`${LINK.farLinkLocal}%${LINK.nearIf}`],
    );

    const ipv4First = await probeIcmpIn(near, 'gateway', { count: 2 });
    assertContract(ipv4First.result, 'icmp://gateway');
    assertOk(ipv4First.result, null);
    assert.equal(ipv4First.result.remoteIp, LINK.far4);
    assert.equal(ipv4First.result.dnsMs, null);

    const v6Gateway = await probeIcmpIn(near, 'gateway', { count: 2, family: 6 });
    assertOk(v6Gateway.result, null);
    assert.equal(v6Gateway.result.remoteIp, `${LINK.farLinkLocal}%${LINK.nearIf}`);
  });

  test('no default route: unreachable, "no default route"', async (t) => {
    const lab = ready(t);
    if (!lab) return;
    const { result } = await probeIcmpIn(lab.far, 'gateway');
    assertContract(result, 'icmp://gateway');
    assertFailed(result, 'unreachable');
    assert.equal(result.detail, 'no default route');
  });

  test('fping without CAP_NET_RAW, run as nobody: internal, saying what it needs', async (t) => {
    const lab = ready(t);
    if (!lab || !FPING_PATH) return;
    // A copy loses the file capability Debian's package sets; the namespace's ping_group_range is the
    // kernel's default (nobody may open no ICMP socket), whatever the host has configured.
    const dir = mkdtempSync(join(tmpdir(), 'wmn-fping-nocap-'));
    try {
      chmodSync(dir, 0o755);
      copyFileSync(FPING_PATH, join(dir, 'fping'));
      chmodSync(join(dir, 'fping'), 0o755);
      const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      const prefix = ['ip', 'netns', 'exec', lab.near.name, ...asNobody, 'env', `PATH=${dir}`];
      const { result } = await probeIcmpWith(prefix, { PATH: process.env.PATH }, LINK.far4);
      assertFailed(result, 'internal');
      assert.match(result.detail ?? '', /CAP_NET_RAW/);
      assert.match(result.detail ?? '', /ping_group_range/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
