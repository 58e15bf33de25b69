/**
 * Side by side with Prometheus blackbox_exporter: the same lab targets (HTTPS, HTTP, and a TCP port, the
 * lab's DNS server and ICMP echo to loopback) probed at the same rate by wmn's in-process probers and by
 * the exporter (driven through its /probe endpoint by a small client whose own CPU is counted apart).
 * Its CPU per probe, from /proc/<pid>/stat, against ours; and its phase values
 * (`probe_http_duration_seconds`) against both wmn engines on a target with a 50 ms first-byte delay.
 */

import { BLACKBOX_DNS_NAME, type BlackboxExporter, startBlackbox } from './blackbox-exporter.js';
import { labUrl, perProbe } from './cost.js';
import { type BenchLab, startBenchLab } from './lab.js';
import { PHASE_NAMES, type Phases } from './phases.js';
import { type RateRun, rateRun } from './rate.js';
import { ms, type Row, type Section, type SectionContext, withLoad } from './section.js';
import { figure, median } from './stats.js';

const RATE = 50;
const DRIVERS = ['http', 'blackbox'] as const;

/** What both probe side by side: each kind of source wmn has, against the lab. */
function targets(lab: BenchLab) {
  return [
    { name: 'HTTPS', url: labUrl(lab, 'https'), goal: true },
    { name: 'HTTP', url: labUrl(lab, 'http'), goal: true },
    { name: 'TCP', url: `tcp://127.0.0.1:${lab.http}`, goal: false },
    { name: 'DNS', url: `dns://127.0.0.1:${lab.dns}/${BLACKBOX_DNS_NAME}?type=A`, goal: false },
    { name: 'ICMP', url: 'icmp://127.0.0.1', goal: false },
  ];
}

async function cpuSideBySide(lab: BenchLab, exporter: BlackboxExporter, ctx: SectionContext) {
  const runs = ctx.quick ? 2 : 3;
  const probes = RATE * (ctx.quick ? 4 : 10);
  const collected = new Map<string, RateRun[]>();
  for (let i = 0; i < runs; i++) {
    for (const target of targets(lab)) {
      for (const driver of DRIVERS) {
        ctx.log(`blackbox: ${driver} ${target.name}, run ${i + 1}/${runs}, ${probes} probes at ${RATE}/s`);
        const run = await rateRun(lab, { driver, url: target.url, rate: RATE, probes }, exporter);
        const key = `${driver} ${target.name}`;
        collected.set(key, [...(collected.get(key) ?? []), run]);
      }
    }
  }
  return targets(lab).map(({ name, goal }) => {
    const ours = perProbe(collected.get(`http ${name}`)!);
    const theirs = perProbe(collected.get(`blackbox ${name}`)!);
    return {
      scheme: name,
      goal,
      rate: RATE,
      wmnHttp: ours,
      blackbox: theirs,
      ratio: figure(ours.cpu.value / theirs.cpu.value, 'wmn/blackbox', runs),
    };
  });
}

/** Median of each phase per prober on one target, and each wmn engine's difference from the exporter. */
async function phasesSideBySide(lab: BenchLab, exporter: BlackboxExporter, ctx: SectionContext) {
  const probes = ctx.quick ? 100 : 300;
  const url = labUrl(lab, 'https', '/ttfb/50');
  const medians: Record<string, Record<string, number>> = {};
  for (const driver of ['http', 'curl', 'blackbox'] as const) {
    ctx.log(`blackbox: phases of ${url}, ${driver}, ${probes} probes`);
    const run = await rateRun(lab, { driver, url, rate: RATE, probes }, exporter);
    medians[driver] = medianPhases(run.phases);
  }
  return { url: '/ttfb/50 over HTTPS', probesEach: probes, medians };
}

function medianPhases(phases: readonly Phases[]): Record<string, number> {
  return Object.fromEntries(
    PHASE_NAMES.map((p) => [p, median(phases.map((ph) => ph[p]).filter((v): v is number => v !== null))]),
  );
}

async function run(ctx: SectionContext) {
  const lab = await startBenchLab();
  try {
    const exporter = await startBlackbox(lab.caFile);
    try {
      const result = await withLoad(async () => ({
        cpu: await cpuSideBySide(lab, exporter, ctx),
        phases: await phasesSideBySide(lab, exporter, ctx),
      }));
      return { figures: result, rows: rows(result.cpu, result.phases) };
    } finally {
      await exporter.stop();
    }
  } finally {
    await lab.stop();
  }
}

function rows(
  cpu: Awaited<ReturnType<typeof cpuSideBySide>>,
  phases: Awaited<ReturnType<typeof phasesSideBySide>>,
): Row[] {
  const cpuRows = cpu.map(
    (c): Row => ({
      section: 'blackbox',
      measure: `CPU per probe, ${c.scheme} at ${c.rate}/s: wmn ${c.goal ? 'http engine' : 'prober'} vs blackbox_exporter`,
      value: `${ms(c.wmnHttp.cpu.value)} vs ${ms(c.blackbox.cpu.value)} (its caller ${ms(c.blackbox.callerCpu.value)}): ratio ${c.ratio.value.toFixed(2)}; ${c.wmnHttp.failed + c.blackbox.failed} failed; RSS ${c.wmnHttp.rss.value.toFixed(0)} vs ${c.blackbox.rss.value.toFixed(0)} MB`,
      ...(c.goal ? { goal: 'wmn ≤ blackbox', met: c.ratio.value <= 1 } : {}),
    }),
  );
  const m = phases.medians;
  const phaseText = ['connect', 'tls', 'server', 'transfer']
    .map(
      (p) => `${p} ${m.http?.[p]?.toFixed(2)} / ${m.curl?.[p]?.toFixed(2)} / ${m.blackbox?.[p]?.toFixed(2)}`,
    )
    .join('; ');
  return [
    ...cpuRows,
    {
      section: 'blackbox',
      measure: `phase medians (ms), ${phases.url}: wmn http / wmn curl / blackbox`,
      value: phaseText,
    },
  ];
}

export const blackbox: Section = { name: 'blackbox', run };
