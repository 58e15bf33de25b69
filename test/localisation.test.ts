/**
 * Fault localisation from real faults: a home network built from network namespaces (test/lab/
 * topology.ts: home → router → internet, veth pairs, forwarding), wmn's real probes run inside `home`
 * (fping, curl, the DNS and TCP probers) through `wmn check --json`, and each diagnosis produced by
 * taking a real link or route down or making the resolver fail. Then a whole `wmn run` (embedded
 * PostgreSQL) lives through an upstream outage and `wmn report` names it: "ISP (gateway answered …)".
 *
 * Needs root, iproute2, veth and IPv6 in the kernel, fping and curl (CI installs them); skips (fails
 * under WMN_TEST_STRICT) elsewhere.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { MetricRow } from '../src/row.js';
import { need } from './helpers/env.js';
import { NOT_BUILT, WMN, WMN_BUILT, writeAgentConfig } from './helpers/wmn.js';
import { ADDRESSES, buildTopology, type Topology } from './lab/topology.js';

const [ANCHOR_1, ANCHOR_2] = ADDRESSES.anchors;
const WEB = `http://${ADDRESSES.webName}/`;
/** A home's sources: the gateway, two anchors by address, a named site over each family, its resolver. */
const SOURCES = [
  'icmp://gateway',
  `icmp://${ANCHOR_1}`,
  `icmp://${ANCHOR_2}`,
  `tcp://${ADDRESSES.web}:80`,
  `${WEB}#ipv4`,
  `${WEB}#ipv6`,
  `dns://${ADDRESSES.resolver}/${ADDRESSES.webName}?type=A`,
];

let topo: Topology | undefined;
let topoError = '';
let scratch = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wmn-localisation-'));
  // As root, the embedded PostgreSQL runs as postgres, which must be able to enter the data directory.
  await chmod(scratch, 0o755);
  try {
    topo = await buildTopology();
  } catch (err) {
    topoError = String(err);
  }
});
after(async () => {
  await topo?.close();
  await rm(scratch, { recursive: true, force: true });
});

function ready(t: TestContext): Topology | undefined {
  if (!need(t, WMN_BUILT, NOT_BUILT)) return undefined;
  if (!need(t, topo !== undefined, `the namespace topology cannot be built here: ${topoError}`))
    return undefined;
  return topo;
}

/** One cycle of SOURCES probed by `wmn check --json` inside home: its rows, by source. */
async function checkInHome(home: Topology): Promise<Map<string, MetricRow>> {
  const args = [WMN, 'check', '--json', '--timeout', '1s', ...SOURCES];
  // check exits 1 when a source failed: its rows are on stdout all the same.
  const stdout = await home
    .exec(process.execPath, args)
    .catch((err: { stdout?: string }) => err.stdout ?? Promise.reject(err));
  const rows = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as MetricRow);
  return new Map(rows.map((r) => [r.source, r]));
}

function diagnosisOf(rows: Map<string, MetricRow>): string {
  const kinds = new Set([...rows.values()].map((r) => r.diagnosis));
  assert.equal(kinds.size, 1, 'one diagnosis per cycle, on every row');
  return [...kinds][0] ?? '';
}

/** `source → ok | error class`, to show what each fault did in a failure message and diagnostics. */
function outcomes(rows: Map<string, MetricRow>): Record<string, string> {
  return Object.fromEntries(
    [...rows].map(([source, r]) => [source, r.disconnected ? (r.error ?? '?') : 'ok']),
  );
}

async function expectDiagnosis(
  t: TestContext,
  home: Topology,
  expected: string,
): Promise<Map<string, MetricRow>> {
  const rows = await checkInHome(home);
  t.diagnostic(JSON.stringify(outcomes(rows)));
  assert.equal(diagnosisOf(rows), expected, JSON.stringify(outcomes(rows)));
  return rows;
}

/** Makes a fault with `make(true)`, checks the cycle's diagnosis (and `more`), then undoes the fault. */
async function diagnosedUnder(
  t: TestContext,
  make: (home: Topology, on: boolean) => Promise<void>,
  expected: string,
  more: (rows: Map<string, MetricRow>) => void = () => {},
): Promise<void> {
  const home = ready(t);
  if (!home) return;
  await make(home, true);
  try {
    more(await expectDiagnosis(t, home, expected));
  } finally {
    await make(home, false);
  }
}

describe('fault localisation in a real home network', { concurrency: false }, () => {
  test('ok: every layer answers, with the layers each source defaults to', async (t) => {
    const home = ready(t);
    if (!home) return;
    const rows = await expectDiagnosis(t, home, 'ok');
    assert.deepEqual(
      Object.fromEntries([...rows].map(([s, r]) => [s, r.layer])),
      Object.fromEntries(
        SOURCES.map((s, i) => [
          s,
          ['lan', 'internet', 'internet', 'internet', 'service', 'service', 'dns'][i],
        ]),
      ),
    );
    assert.equal(
      rows.get('icmp://gateway')?.remote_ip,
      ADDRESSES.gateway,
      'the gateway from the routing table',
    );
    assert.equal(rows.get(`${WEB}#ipv6`)?.remote_ip, ADDRESSES.web6);
    assert.ok((rows.get(`tcp://${ADDRESSES.web}:80`)?.connect_ms ?? 0) > 0);
  });

  test('lan: the home link is down', (t) => diagnosedUnder(t, (home, on) => home.lan(on), 'lan'));

  test('isp: the router answers, nothing beyond it does', (t) =>
    diagnosedUnder(
      t,
      (home, on) => home.upstream(on),
      'isp',
      (rows) => {
        assert.equal(rows.get('icmp://gateway')?.disconnected, false);
      },
    ));

  test('dns: addresses answer, the resolver fails (SERVFAIL)', (t) =>
    diagnosedUnder(
      t,
      (home, on) => home.dns(on ? 'servfail' : 'ok'),
      'dns',
      (rows) => {
        assert.equal(rows.get(`dns://${ADDRESSES.resolver}/${ADDRESSES.webName}?type=A`)?.error, 'servfail');
        assert.equal(rows.get(`${WEB}#ipv4`)?.error, 'dns');
      },
    ));

  test('dns: addresses answer, the resolver does not answer at all', (t) =>
    diagnosedUnder(t, (home, on) => home.dns(on ? 'drop' : 'ok'), 'dns'));

  test('ipv6: IPv6 beyond the router is gone, IPv4 works, and it all comes back', async (t) => {
    await diagnosedUnder(
      t,
      (home, on) => home.ipv6(on),
      'ipv6',
      (rows) => {
        assert.equal(rows.get(`${WEB}#ipv4`)?.disconnected, false);
      },
    );
    if (topo) await expectDiagnosis(t, topo, 'ok');
  });

  test('a whole agent records an upstream outage and the report names it', async (t) => {
    const home = ready(t);
    if (!home) return;
    const config = await writeAgentConfig(scratch, 'home', {
      sources: ['icmp://gateway', `icmp://${ANCHOR_1}`, `icmp://${ANCHOR_2}`],
      lines: ['timeout: 800ms', 'web:', '  enabled: false'],
    });
    const agent = home.spawn(process.execPath, [WMN, 'run', '--config', config]);
    let log = '';
    agent.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const cycles = (pattern: RegExp) => log.split('\n').filter((l) => pattern.test(l)).length;
    const waitFor = async (pattern: RegExp, n: number) => {
      for (let waited = 0; cycles(pattern) < n; waited += 100) {
        if (waited > 60_000 || agent.exitCode !== null) assert.fail(`no ${n}× ${pattern} in:\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      await waitFor(/msg=cycle .*state=UP/, 2);
      await home.upstream(true);
      await waitFor(/msg=cycle .*state=DOWN/, 4);
      await home.upstream(false);
      const upBefore = cycles(/msg=cycle .*state=UP/);
      await waitFor(/msg=cycle .*state=UP/, upBefore + 3);
      assert.match(
        log,
        /state=DOWN.*diagnosis="ISP \(gateway answered, 198\.51\.100\.1 and 198\.51\.100\.2 did not\)"/,
      );
      const report = await home.exec(process.execPath, [
        WMN,
        'report',
        '--config',
        config,
        '--format',
        'json',
        '--last',
        '1h',
      ]);
      const [home_] = JSON.parse(report).agents as {
        outages: { diagnosis: { kind: string; text: string } | null }[];
      }[];
      const outagesOf = home_?.outages ?? [];
      assert.ok(outagesOf.length >= 1, report);
      assert.deepEqual(outagesOf.at(-1)?.diagnosis, {
        kind: 'isp',
        text: `ISP (gateway answered, ${ANCHOR_1} and ${ANCHOR_2} did not)`,
      });
    } finally {
      await home.upstream(false);
      agent.kill('SIGTERM');
      await new Promise((resolve) => (agent.exitCode === null ? agent.once('exit', resolve) : resolve(null)));
    }
  });
});
