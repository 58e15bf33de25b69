/**
 * Cadence: the real scheduler on the system clock, in its own process, probing lab sources (in-process
 * engine, HTTPS, lab in another process). Tick lateness vs the second boundary and skipped ticks, idle,
 * with every core busy with another process, and with 10, 100 and 1,000 sources.
 */
import type { AgentRunInput, AgentRunOutput } from './agent-worker.js';
import { type BenchLab, startBenchLab } from './lab.js';
import { loadAllCores } from './load.js';
import { ms, type Row, type Section, type SectionContext, withLoad } from './section.js';
import { figure, type Spread, spread } from './stats.js';
import { runWorker } from './worker.js';

interface Scenario {
  readonly name: string;
  readonly sources: number;
  /** Every core kept busy by another process meanwhile. */
  readonly busy: boolean;
  readonly spread: boolean;
  /** The agent's nice value (unset: that of the benchmark). */
  readonly nice?: number;
  /** Measured ticks in the full run; the quick run measures 60 of each. */
  readonly seconds: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'idle, 10 sources', sources: 10, busy: false, spread: false, seconds: 600 },
  { name: 'cores busy, 10 sources', sources: 10, busy: true, spread: false, seconds: 600 },
  // What a service manager can do about a busy machine: run the agent ahead of ordinary processes.
  {
    name: 'cores busy, 10 sources, agent at nice -10',
    sources: 10,
    busy: true,
    spread: false,
    nice: -10,
    seconds: 120,
  },
  { name: 'idle, 100 sources', sources: 100, busy: false, spread: false, seconds: 60 },
  // Far past what one thread can probe at once: a minute shows it.
  { name: 'idle, 1,000 sources at the tick', sources: 1000, busy: false, spread: false, seconds: 60 },
  { name: 'idle, 1,000 sources, spread', sources: 1000, busy: false, spread: true, seconds: 120 },
];
const QUICK_SECONDS = 60;
const WARMUP_TICKS = 3;
export const CADENCE_GOAL = { p99: 2, max: 10 } as const;

export interface CadenceFigures {
  readonly scenario: string;
  readonly lateness: Spread;
  readonly skipped: number;
  readonly irregular: number;
  /** Tick → the cycle's last result. */
  readonly cycle: Spread;
  readonly probes: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly cpuPerProbe: ReturnType<typeof figure> | null;
  readonly labCpuPerProbe: ReturnType<typeof figure> | null;
  readonly rssMaxMb: number;
  readonly load: { before: number; after: number };
}

/** Runs the agent worker with `sources` HTTPS lab sources for `seconds` ticks; the lab's CPU alongside. */
export async function runAgent(
  lab: BenchLab,
  { nice, engine, ...input }: Omit<AgentRunInput, 'spec'> & { engine: 'http' | 'curl'; nice?: number },
) {
  const labBefore = lab.cpuMs();
  const spec = {
    url: `https://127.0.0.1:${lab.https}/ok`,
    engine,
    caFile: lab.caFile,
    timeoutMs: 1500,
  };
  const out = await runWorker<AgentRunInput, AgentRunOutput>(
    'bench/agent-worker.ts',
    { ...input, spec },
    nice === undefined ? {} : { nice },
  );
  return { out, labCpuMs: lab.cpuMs() - labBefore };
}

type Held = Pick<CadenceFigures, 'lateness' | 'skipped' | 'irregular'>;

/** Ticks on time at p99 and none skipped or repeated: the bar a throughput figure must hold. */
export function heldAtP99(f: Held): boolean {
  return f.lateness.p99.value <= CADENCE_GOAL.p99 && f.skipped === 0 && f.irregular === 0;
}

/** The whole cadence bar: {@link heldAtP99}, and no tick later than the max. */
export function cadenceHeld(f: Held): boolean {
  return heldAtP99(f) && f.lateness.max.value <= CADENCE_GOAL.max;
}

export function summarizeRun(
  scenario: string,
  run: Awaited<ReturnType<typeof runAgent>>,
  load: { before: number; after: number },
): CadenceFigures {
  const { out } = run;
  const perProbe = (cpuMs: number) =>
    out.probes === 0 ? null : figure(cpuMs / out.probes, 'ms CPU/probe', out.probes);
  return {
    scenario,
    lateness: spread(out.lateMs, 'ms'),
    skipped: out.skipped,
    irregular: out.irregular,
    cycle: spread(out.cycleMs, 'ms'),
    probes: out.probes,
    failures: out.failures,
    cpuPerProbe: perProbe(out.cpuMs.self + out.cpuMs.children),
    labCpuPerProbe: perProbe(run.labCpuMs),
    rssMaxMb: Math.round(out.rssMb.max),
    load,
  };
}

export function latenessText(f: CadenceFigures): string {
  const { p50, p99, max } = f.lateness;
  const failed = Object.values(f.failures).reduce((a, b) => a + b, 0);
  const failures = failed > 0 ? `, ${failed} of ${f.probes} probes failed` : '';
  return `${ms(p50.value, 3)} / ${ms(p99.value, 3)} / ${ms(max.value, 3)}, ${f.skipped} skipped${failures} (${f.lateness.p50.n} ticks, load ${f.load.before}→${f.load.after})`;
}

async function run(ctx: SectionContext) {
  const lab = await startBenchLab();
  const figures: CadenceFigures[] = [];
  try {
    for (const s of SCENARIOS) {
      const seconds = ctx.quick ? QUICK_SECONDS : s.seconds;
      ctx.log(`cadence: ${s.name}, ${seconds} s`);
      const unload = s.busy ? loadAllCores() : null;
      try {
        const r = await withLoad(async () => ({
          run: await runAgent(lab, {
            seconds,
            warmupTicks: WARMUP_TICKS,
            sources: s.sources,
            engine: 'http',
            spread: s.spread,
            ...(s.nice === undefined ? {} : { nice: s.nice }),
          }),
        }));
        figures.push(summarizeRun(s.name, r.run, r.load));
      } finally {
        await unload?.();
      }
    }
  } finally {
    await lab.stop();
  }
  const rows: Row[] = figures.map((f) => ({
    section: 'cadence',
    measure: `tick lateness p50 / p99 / max, ${f.scenario}`,
    value: latenessText(f),
    goal: 'p99 ≤ 2 ms, max ≤ 10 ms, 0 skipped',
    met: cadenceHeld(f),
  }));
  return { figures, rows };
}

export const cadence: Section = { name: 'cadence', run };
