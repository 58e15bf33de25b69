/**
 * Cost: CPU per probe (user + system, from the OS) and memory for each engine over HTTP and HTTPS at a
 * fixed rate, medians of several runs; and the most sources each engine probes every second on this
 * machine while the cadence bar holds (tick p99 ≤ 2 ms, nothing skipped, no probe failed), found by
 * doubling then bisecting the number of sources.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { heldAtP99, runAgent, summarizeRun } from './cadence.js';
import { pidOf, start, stop } from './children.js';
import { type BenchLab, startBenchLab } from './lab.js';
import { memory } from './proc.js';
import { type RateRun, rateRun } from './rate.js';
import { ms, type Row, type Section, type SectionContext, withLoad } from './section.js';
import { medianOfRuns } from './stats.js';

const RATE = 50;
const ENGINES = ['http', 'curl'] as const;
const SCHEMES = ['https', 'http'] as const;
type Engine = (typeof ENGINES)[number];
type Scheme = (typeof SCHEMES)[number];

export const SOURCES_GOAL = 1000;

export function labUrl(lab: BenchLab, scheme: Scheme, path = '/ok'): string {
  return `${scheme}://127.0.0.1:${scheme === 'https' ? lab.https : lab.http}${path}`;
}

/** Median over runs of each per-probe figure of a rate-driven run. */
export function perProbe(runs: readonly RateRun[]) {
  const of = (pick: (r: RateRun) => number, unit = 'ms CPU/probe') => medianOfRuns(runs.map(pick), unit);
  return {
    probesPerRun: runs[0]?.probes ?? 0,
    failed: runs.reduce((a, r) => a + r.failed, 0),
    cpu: of((r) => r.proberCpu),
    curlCpu: of((r) => r.curlCpu),
    callerCpu: of((r) => r.callerCpu),
    labCpu: of((r) => r.labCpu),
    rss: of((r) => r.rssMb, 'MB'),
  };
}

async function cpuMatrix(lab: BenchLab, ctx: SectionContext) {
  const runs = ctx.quick ? 2 : 3;
  const probes = RATE * (ctx.quick ? 4 : 10);
  const collected = new Map<string, RateRun[]>();
  const add = (key: string, run: RateRun) => collected.set(key, [...(collected.get(key) ?? []), run]);
  // Interleaved, so a change in the machine's load touches every case alike.
  for (let i = 0; i < runs; i++) {
    for (const scheme of SCHEMES) {
      for (const engine of ENGINES) {
        ctx.log(`cost: ${engine} ${scheme}, run ${i + 1}/${runs}, ${probes} probes at ${RATE}/s`);
        add(
          `${engine} ${scheme}`,
          await rateRun(lab, { driver: engine, url: labUrl(lab, scheme), rate: RATE, probes }),
        );
      }
    }
    // Back to back, as earlier notes measured: a process kept busy keeps its caches warm between probes.
    ctx.log(`cost: http https, run ${i + 1}/${runs}, ${probes} probes back to back`);
    add(
      'back to back',
      await rateRun(lab, { driver: 'http', url: labUrl(lab, 'https'), rate: null, probes }),
    );
  }
  const paced = ENGINES.flatMap((engine) =>
    SCHEMES.map((scheme) => ({
      engine,
      scheme,
      rate: `${RATE}/s`,
      ...perProbe(collected.get(`${engine} ${scheme}`)!),
    })),
  );
  return [
    ...paced,
    { engine: 'http', scheme: 'https', rate: 'back to back', ...perProbe(collected.get('back to back')!) },
  ];
}

/** Resident memory of one curl process in the middle of a probe (each concurrent probe is one). */
async function curlProcessRss(lab: BenchLab): Promise<number> {
  const curl = start('curl', [
    '-s',
    '-o',
    '/dev/null',
    '--cacert',
    lab.caFile,
    labUrl(lab, 'https', '/ttfb/500'),
  ]);
  try {
    await sleep(250);
    return memory(pidOf(curl)).rssMb;
  } finally {
    await stop(curl);
  }
}

interface Step {
  readonly sources: number;
  readonly held: boolean;
  readonly figures: ReturnType<typeof summarizeRun>;
}

/** The most sources held at 1 Hz: double from `first` until the bar breaks, then bisect twice. */
async function maxSources(
  lab: BenchLab,
  engine: Engine,
  spread: boolean,
  first: number,
  ctx: SectionContext,
) {
  const seconds = ctx.quick ? 8 : 20;
  const steps: Step[] = [];
  const tryN = async (sources: number) => {
    ctx.log(`cost: ${engine}${spread ? ' spread' : ''}, ${sources} HTTPS sources for ${seconds} s`);
    const r = await withLoad(async () => ({
      run: await runAgent(lab, { seconds, warmupTicks: 3, sources, engine, spread }),
    }));
    const figures = summarizeRun(`${sources} sources`, r.run, r.load);
    const failed = Object.values(figures.failures).reduce((a, b) => a + b, 0);
    const held = heldAtP99(figures) && failed === 0;
    steps.push({ sources, held, figures });
    return held;
  };
  let good = 0;
  let bad = Number.POSITIVE_INFINITY;
  for (let n = first; n <= first * 16; n *= 2) {
    if (await tryN(n)) good = n;
    else {
      bad = n;
      break;
    }
  }
  for (let i = 0; i < 2 && Number.isFinite(bad) && bad - good > first / 4; i++) {
    const mid = Math.round((good + bad) / 2);
    if (await tryN(mid)) good = mid;
    else bad = mid;
  }
  return { engine, spread, held: good, steps };
}

async function run(ctx: SectionContext) {
  const lab = await startBenchLab();
  try {
    const cpu = await withLoad(async () => ({ matrix: await cpuMatrix(lab, ctx) }));
    const curlRssMb = await curlProcessRss(lab);
    const ramps = [
      await maxSources(lab, 'http', true, 100, ctx),
      await maxSources(lab, 'http', false, 100, ctx),
      // curl's spawn blocks the event loop for milliseconds: spread, some land just before a tick.
      await maxSources(lab, 'curl', false, 25, ctx),
    ];
    const figures = { cpu: cpu.matrix, cpuLoad: cpu.load, curlProcessRssMb: curlRssMb, maxSources: ramps };
    return { figures, rows: rows(cpu.matrix, curlRssMb, ramps) };
  } finally {
    await lab.stop();
  }
}

function rows(
  matrix: Awaited<ReturnType<typeof cpuMatrix>>,
  curlRssMb: number,
  ramps: Awaited<ReturnType<typeof maxSources>>[],
): Row[] {
  const cpuRows = matrix.map((m): Row => {
    const split =
      m.engine === 'curl' ? ` (curl ${ms(m.curlCpu.value)}, Node ${ms(m.cpu.value - m.curlCpu.value)})` : '';
    const rss =
      m.engine === 'curl'
        ? `${m.rss.value.toFixed(0)} MB + ${curlRssMb.toFixed(0)} MB per curl running`
        : `${m.rss.value.toFixed(0)} MB`;
    return {
      section: 'cost',
      measure: `${m.engine} engine, ${m.scheme.toUpperCase()}, ${m.rate}: CPU per probe, RSS`,
      value: `${ms(m.cpu.value)}${split} [runs ${m.cpu.range?.map((v) => v.toFixed(2)).join('–')}]; lab server ${ms(m.labCpu.value)}; RSS ${rss}`,
    };
  });
  const rampRows = ramps.map((r): Row => {
    const best = r.steps.find((s) => s.sources === r.held);
    const first = r.steps.filter((s) => !s.held).sort((a, b) => a.sources - b.sources)[0];
    const broke = first
      ? `; at ${first.sources}: p99 ${ms(first.figures.lateness.p99.value)}, ${Object.values(first.figures.failures).reduce((a, b) => a + b, 0)} failed, lab ${ms(first.figures.labCpuPerProbe?.value ?? 0)}/probe`
      : '';
    return {
      section: 'cost',
      measure: `${r.engine} engine${r.spread ? ', spread' : ', all at the tick'}: most HTTPS sources at 1 Hz with cadence held`,
      value: `${r.held}${best ? ` (p99 ${ms(best.figures.lateness.p99.value)}, max ${ms(best.figures.lateness.max.value)})` : ''}${broke}`,
      ...(r.engine === 'http' ? { goal: `≥ ${SOURCES_GOAL}`, met: r.held >= SOURCES_GOAL } : {}),
    };
  });
  return [...cpuRows, ceiling(matrix), ...rampRows];
}

/**
 * The most HTTPS probes per second this machine's cores could run at all, the lab serving them included:
 * what the sources ramp is up against. From the back-to-back figures, a process kept busy as at a high
 * rate (at 50/s each probe also pays the wakeups of an idle process).
 */
function ceiling(matrix: Awaited<ReturnType<typeof cpuMatrix>>): Row {
  const busy = matrix.find((m) => m.rate === 'back to back')!;
  const cores = availableParallelism();
  const perProbe = busy.cpu.value + busy.labCpu.value;
  return {
    section: 'cost',
    measure: 'CPU ceiling: HTTPS probes per second all cores could make, wmn and the lab server together',
    value: `${Math.floor((cores * 1000) / perProbe)} (${cores} cores ÷ (wmn ${ms(busy.cpu.value)} + lab ${ms(busy.labCpu.value)} per probe, back to back))`,
  };
}

export const cost: Section = { name: 'cost', run };
