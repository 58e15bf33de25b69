/**
 * The agent's own health: scheduler lateness and skipped ticks, probes in flight, database writes and
 * the spool, the build, and the process (CPU, memory, event loop) from prom-client's default metrics.
 * Counters the agent already keeps are read when scraped.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import type { Agent } from '../agent/agent.js';
import type { CycleWriter } from '../agent/writer.js';
import type { Scheduler, SchedulerStats, Tick } from '../scheduler/scheduler.js';
import { VERSION } from '../version.js';

/** What the exporter reads of the running agent. */
export interface ObservedAgent extends Pick<Agent, 'inFlight'> {
  readonly scheduler: Pick<Scheduler, 'stats'>;
  readonly writer: Pick<CycleWriter, 'stats' | 'observeWrites'>;
}

/** Seconds; the cadence bar is 2 ms at p99, 10 ms at most. */
export const LATENESS_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Seconds; one INSERT per cycle, bounded by the pool's 15 s query timeout. */
export const WRITE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];

/** prom-client gauges whose names end in _total, which promtool rejects for anything but a counter. */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export interface HealthMetrics {
  observeTick(tick: Tick): void;
}

export function healthMetrics(registry: Registry, agent: ObservedAgent): HealthMetrics {
  const registers = [registry];
  const lateness = new Histogram({
    name: 'wmn_tick_lateness_seconds',
    help: 'How late each scheduler tick fired after its interval boundary.',
    buckets: LATENESS_BUCKETS,
    registers,
  });
  const schedulerTotal = schedulerCounter(agent);
  new Counter({
    name: 'wmn_ticks_skipped_total',
    help: 'Ticks the scheduler skipped (event loop stalled, host suspended, wall clock stepped forward).',
    registers,
    collect() {
      this.reset();
      this.inc(schedulerTotal('skipped'));
    },
  });
  new Counter({
    name: 'wmn_clock_steps_total',
    help: 'Wall-clock steps backward too large to wait out, after which the scheduler re-aligned.',
    registers,
    collect() {
      this.reset();
      this.inc(schedulerTotal('clockSteps'));
    },
  });
  new Gauge({
    name: 'wmn_probes_in_flight',
    help: 'Probes running now.',
    registers,
    collect() {
      this.set(agent.inFlight());
    },
  });
  const writes = new Histogram({
    name: 'wmn_write_duration_seconds',
    help: 'Duration of each attempt to write a cycle to the database, failed ones included.',
    buckets: WRITE_BUCKETS,
    registers,
  });
  agent.writer.observeWrites((ms) => writes.observe(ms / 1000));
  new Counter({
    name: 'wmn_write_failures_total',
    help: 'Attempts to write a cycle that did not store it: the database was unreachable (the cycle stays spooled and is retried) or refused it.',
    registers,
    collect() {
      const { failures, rejected } = agent.writer.stats;
      this.reset();
      this.inc(failures + rejected);
    },
  });
  new Counter({
    name: 'wmn_cycles_dropped_total',
    help: 'Cycles deleted unwritten: past the spool bound, or from memory when the spool could not take them.',
    registers,
    collect() {
      this.reset();
      this.inc(agent.writer.stats.dropped);
    },
  });
  new Gauge({
    name: 'wmn_spool_cycles',
    help: 'Cycles waiting to be written: the spool on disk plus any held in memory.',
    registers,
    collect() {
      this.set(agent.writer.stats.queued);
    },
  });
  new Gauge({
    name: 'wmn_spool_bytes',
    help: 'Size of the spool on disk.',
    registers,
    collect() {
      this.set(agent.writer.stats.spoolBytes);
    },
  });
  new Gauge({
    name: 'wmn_build_info',
    help: 'Always 1; the version label is the running wmn.',
    labelNames: ['version'],
    registers,
  }).set({ version: VERSION }, 1);
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);

  return { observeTick: (tick) => lateness.observe(Math.max(0, tick.lateMs) / 1000) };
}

/**
 * A scheduler counter that survives a reload: a new interval replaces the scheduler (its counts start
 * over), so the finished schedulers' counts are carried.
 */
function schedulerCounter(agent: ObservedAgent): (key: keyof SchedulerStats) => number {
  let current = agent.scheduler;
  const carried: SchedulerStats = { ticks: 0, skipped: 0, clockSteps: 0 };
  return (key) => {
    if (agent.scheduler !== current) {
      for (const k of Object.keys(carried) as (keyof SchedulerStats)[]) carried[k] += current.stats[k];
      current = agent.scheduler;
    }
    return carried[key] + current.stats[key];
  };
}
