/**
 * One probe cycle: every source probed in its own task, gathered into one record. A source starts at the
 * tick, or `offsetMs` after it when the configuration spreads a cycle's probes across the interval
 * (`spread`): on two cores, a hundred handshakes started at one instant queue behind each other and
 * inflate each other's phases by tens of milliseconds (see docs/measurements.md).
 * A prober that throws (a bug, never a network failure) still yields a row, classed `internal`, so a
 * cycle always has exactly one row per source.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SourceConfig } from '../config/types.js';
import { failedProbe } from '../probes/failed.js';
import { type ProberRegistry, probeSource } from '../probes/index.js';
import type { ProbeContext } from '../probes/types.js';
import type { Tick } from '../scheduler/scheduler.js';
import type { CycleRecord, CycleResult } from '../store/types.js';

export async function runCycle(
  agent: string,
  tick: Tick,
  sources: readonly SourceConfig[],
  probers: ProberRegistry,
  ctx: ProbeContext,
): Promise<CycleRecord> {
  const results = await Promise.all(
    sources.map((s) =>
      s.offsetMs
        ? startAfter(s.offsetMs, ctx.signal).then(() => probeSafely(s, probers, ctx))
        : probeSafely(s, probers, ctx),
    ),
  );
  return { agent, probeId: tick.probeId, ts: new Date(tick.scheduledAt), results };
}

/** Waits out a source's offset. An abort ends the wait early: the probe then settles at once, still a row. */
function startAfter(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => {});
}

async function probeSafely(
  s: SourceConfig,
  probers: ProberRegistry,
  ctx: ProbeContext,
): Promise<CycleResult> {
  const started = ctx.clock.now();
  try {
    return { ...(await probeSource(s, probers, ctx)), layer: s.layer };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ...failedProbe(s.source.uri, 'internal', ctx.clock.now() - started, detail), layer: s.layer };
  }
}
