/**
 * The running agent: scheduler → cycles → writer. Holds no globals; everything it uses is passed in.
 */
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ProberRegistry } from '../probes/index.js';
import type { Clock } from '../scheduler/clock.js';
import { type Scheduler, startScheduler, type Tick } from '../scheduler/scheduler.js';
import type { CycleRecord } from '../store/types.js';
import { runCycle } from './cycle.js';
import { cycleSummary } from './summary.js';
import type { CycleWriter } from './writer.js';

export interface AgentDeps {
  readonly config: Config;
  /** Where finished cycles go (the store, behind retries and the spool). */
  readonly writer: CycleWriter;
  readonly probers: ProberRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called with every finished cycle after it is queued for writing (live views, tests). */
  readonly onCycle?: (cycle: CycleRecord) => void;
  /** Called at every tick, before its probes start (lateness for the exporter). */
  readonly onTick?: (tick: Tick) => void;
}

export interface Agent {
  readonly scheduler: Scheduler;
  readonly writer: CycleWriter;
  /** Probes currently running. */
  inFlight(): number;
  /**
   * Graceful stop: no new ticks, in-flight probes finish (or hit their deadline), finished cycles are
   * written within `drainMs` (what is not stays in the durable spool for the next start). Returns the
   * number of cycles lost: neither written nor spooled.
   */
  stop(drainMs?: number): Promise<number>;
  /** Aborts in-flight probes at once (a second SIGTERM). */
  abort(): void;
  /**
   * Applies a reloaded configuration from the next tick on (cycles in flight finish with the old one).
   * A new interval restarts the scheduler, continuing after the last probe_id. The caller decides what
   * cannot change without a restart (database, data_dir).
   */
  reconfigure(config: Config): void;
}

export function startAgent(deps: AgentDeps): Agent {
  const { clock, log } = deps;
  let config = deps.config;
  const { writer } = deps;
  const abort = new AbortController();
  // Every in-flight probe listens on this one signal; hundreds of sources are normal, not a leak.
  setMaxListeners(0, abort.signal);
  const cycles = new Set<Promise<void>>();
  let probing = 0;
  const ctx = { signal: abort.signal, clock: { now: () => clock.monoNow() } };

  const onTick = (tick: Tick) => {
    deps.onTick?.(tick);
    const { agent, sources } = config;
    probing += sources.length;
    const cycle = runCycle(agent, tick, sources, deps.probers, ctx)
      .then((record) => {
        writer.enqueue(record);
        log.info('cycle', { ...cycleSummary(record), late_ms: round(tick.lateMs) });
        deps.onCycle?.(record);
      })
      .finally(() => {
        probing -= sources.length;
        cycles.delete(cycle);
      });
    cycles.add(cycle);
  };

  let scheduler = startScheduler({ intervalMs: config.intervalMs, clock, log, onTick });
  log.info('agent started', describeConfig(config));

  return {
    get scheduler() {
      return scheduler;
    },
    writer,
    inFlight: () => probing,
    async stop(drainMs = 10_000) {
      scheduler.stop();
      await Promise.all([...cycles]);
      const unwritten = await writer.drain(drainMs);
      if (unwritten > 0)
        log.error('stopping with cycles lost (neither written nor spooled)', { cycles: unwritten });
      log.info('agent stopped', {
        ticks: scheduler.stats.ticks,
        skipped: scheduler.stats.skipped,
        ...snakeCase(writer.stats),
      });
      return unwritten;
    },
    abort: () => abort.abort(),
    reconfigure(next) {
      const previous = config;
      config = next;
      if (next.intervalMs !== previous.intervalMs) {
        scheduler.stop();
        const after = scheduler.lastProbeId();
        scheduler = startScheduler({ intervalMs: next.intervalMs, clock, log, onTick, after });
      }
      log.info('configuration reloaded', describeConfig(next));
    },
  };
}

function describeConfig(config: Config) {
  return {
    agent: config.agent,
    interval_ms: config.intervalMs,
    timeout_ms: config.timeoutMs,
    sources: config.sources.map(sourceLabel).join(' '),
  };
}

/** `uri[engine]` for HTTP sources (the engine matters when reading timings), `uri` otherwise. */
export function sourceLabel(s: Config['sources'][number]): string {
  return s.kind === 'http' ? `${s.source.uri}[${s.engine}]` : s.source.uri;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Log fields are snake_case, whatever the counters are called in code. */
function snakeCase(fields: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [
      key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      value,
    ]),
  );
}
