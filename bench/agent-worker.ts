/**
 * The agent's hot path in a process of its own: the real scheduler on the system clock firing
 * `runCycle` for `sources` lab sources every second, for `seconds` ticks after a warm-up. Reports every
 * tick's lateness, skipped or repeated ticks, how long cycles took, failures, CPU and memory.
 */
import { setMaxListeners } from 'node:events';
import { runCycle } from '../src/agent/cycle.js';
import { silentLogger } from '../src/log.js';
import { PROBERS } from '../src/probes/index.js';
import { createSystemClock } from '../src/scheduler/clock.js';
import { startScheduler, type Tick } from '../src/scheduler/scheduler.js';
import { cpuTimes } from './proc.js';
import { labSources, type SourceSpec } from './sources.js';
import { workerMain } from './worker.js';

export interface AgentRunInput {
  readonly seconds: number;
  /** Ticks before measuring starts (JIT, TLS contexts, first connections). */
  readonly warmupTicks: number;
  readonly sources: number;
  /** What the sources probe; unused with 0 sources. */
  readonly spec: SourceSpec;
  /** The configuration's `spread`: source i of n starts i/n of a second after the tick. */
  readonly spread: boolean;
}

export interface AgentRunOutput {
  /** Lateness of every measured tick vs its boundary, ms. */
  readonly lateMs: number[];
  readonly skipped: number;
  /** Ticks whose probe_id did not follow the previous one by exactly one interval. */
  readonly irregular: number;
  /** Tick → last result of the cycle, ms, per measured cycle. */
  readonly cycleMs: number[];
  readonly probes: number;
  readonly failures: Readonly<Record<string, number>>;
  /** CPU of the measured window: this process, and its reaped children (curl). */
  readonly cpuMs: { readonly self: number; readonly children: number };
  readonly rssMb: { readonly max: number; readonly end: number };
}

await workerMain<AgentRunInput, AgentRunOutput>(async (input) => {
  const clock = createSystemClock();
  const sources = labSources(input.spec, input.sources, input.spread);
  const signal = new AbortController().signal;
  setMaxListeners(0, signal); // as the agent does: every probe in flight listens on it
  const ctx = { signal, clock: { now: () => clock.monoNow() } };
  const lateMs: number[] = [];
  const cycleMs: number[] = [];
  const failures: Record<string, number> = {};
  const cycles = new Set<Promise<void>>();
  let seen = 0;
  let previous: number | null = null;
  let irregular = 0;
  let rssMax = 0;
  let cpuStart = { self: 0, children: 0 };
  let skippedAtStart = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });

  const onTick = (tick: Tick) => {
    const measured = seen >= input.warmupTicks;
    seen++;
    if (measured) {
      if (lateMs.length === 0) {
        const cpu = process.cpuUsage();
        cpuStart = { self: (cpu.user + cpu.system) / 1000, children: cpuTimes('self').childrenMs };
        skippedAtStart = scheduler.stats.skipped;
      } else if (previous !== null && tick.probeId !== previous + 1) irregular++;
      lateMs.push(tick.lateMs);
    }
    previous = tick.probeId;
    const cycle = runCycle('bench', tick, sources, PROBERS, ctx).then((record) => {
      if (!measured) return;
      cycleMs.push(clock.wallNow() - tick.scheduledAt);
      for (const r of record.results) if (r.error !== null) failures[r.error] = (failures[r.error] ?? 0) + 1;
    });
    cycles.add(cycle);
    void cycle.finally(() => cycles.delete(cycle));
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
    if (lateMs.length >= input.seconds) done();
  };
  const scheduler = startScheduler({ intervalMs: 1000, clock, log: silentLogger, onTick });
  await finished;
  scheduler.stop();
  await Promise.all([...cycles]);
  const cpu = process.cpuUsage();
  return {
    lateMs,
    skipped: scheduler.stats.skipped - skippedAtStart,
    irregular,
    cycleMs,
    probes: lateMs.length * sources.length,
    failures,
    cpuMs: {
      self: (cpu.user + cpu.system) / 1000 - cpuStart.self,
      children: cpuTimes('self').childrenMs - cpuStart.children,
    },
    rssMb: { max: rssMax / 2 ** 20, end: process.memoryUsage.rss() / 2 ** 20 },
  };
});
