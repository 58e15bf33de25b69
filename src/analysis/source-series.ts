/** Loss and mean phase durations per source and fixed time step (`wmn_source_series`), for charts. */
import { type AnalysisRange, count, type Queryable, rangeParams, read, real } from './db.js';

/** One step of one source of one agent. Means are null where the phase never happened in the step. */
export interface SourceSeriesPoint {
  readonly agent: string;
  readonly source: string;
  /** Start of the step: steps are aligned to 2000-01-01 00:00 UTC. */
  readonly time: Date;
  readonly probes: number;
  readonly failed: number;
  /** failed / probes, in %. */
  readonly lossPct: number;
  readonly dnsMs: number | null;
  readonly connectMs: number | null;
  readonly tlsMs: number | null;
  readonly ttfbMs: number | null;
  /** Mean wait for the first byte ({@link waitMs} of the step's means); null without a response. */
  readonly waitMs: number | null;
  readonly totalMs: number | null;
  readonly totalMaxMs: number | null;
}

/**
 * Per step of `stepS` seconds (whole seconds, at least 1), sorted by time, agent, source; `sources`
 * narrows to those sources. Steps of an hour or more read the hour rollups (whole UTC hours), steps of a
 * minute or more the minute rollups, shorter steps the raw rows.
 */
export async function sourceSeries(
  db: Queryable,
  range: AnalysisRange & { readonly stepS: number; readonly sources?: readonly string[] | undefined },
): Promise<SourceSeriesPoint[]> {
  if (!Number.isInteger(range.stepS) || range.stepS < 1)
    throw new RangeError(`stepS must be a whole number of seconds ≥ 1 (got ${range.stepS})`);
  const rows = await read<{
    agent: string;
    source: string;
    time: Date;
    probes: string;
    failed: string;
    loss_pct: number | null;
    dns_ms: number | null;
    connect_ms: number | null;
    tls_ms: number | null;
    ttfb_ms: number | null;
    total_ms: number | null;
    total_max_ms: number | null;
  }>(
    db,
    'wmn_source_series',
    `SELECT s.agent, s.source, s."time", s.probes, s.failed, s.loss_pct, s.dns_ms, s.connect_ms, s.tls_ms,
            s.ttfb_ms, s.total_ms, s.total_max_ms
       FROM wmn_source_series($1, $2, make_interval(secs => $4), $3::text[], $5::text[]) AS s
      ORDER BY s."time", s.agent, s.source`,
    [...rangeParams(range), range.stepS, range.sources ? [...range.sources] : null],
  );
  return rows.map((r) => ({
    agent: r.agent,
    source: r.source,
    time: r.time,
    probes: count(r.probes),
    failed: count(r.failed),
    lossPct: real(r.loss_pct, 'loss_pct'),
    dnsMs: r.dns_ms,
    connectMs: r.connect_ms,
    tlsMs: r.tls_ms,
    ttfbMs: r.ttfb_ms,
    waitMs: waitMs({ ttfbMs: r.ttfb_ms, dnsMs: r.dns_ms, connectMs: r.connect_ms, tlsMs: r.tls_ms }),
    totalMs: r.total_ms,
    totalMaxMs: r.total_max_ms,
  }));
}

/**
 * Waiting for the first byte once the request is sent (blackbox's "processing"): ttfb − dns − connect −
 * tls, a phase that did not happen counting 0, never below 0; null without a first byte. Of one probe,
 * or of a step's means (where it is the mean wait only approximately: the phases' samples can differ).
 */
export function waitMs(p: {
  readonly ttfbMs: number | null;
  readonly dnsMs: number | null;
  readonly connectMs: number | null;
  readonly tlsMs: number | null;
}): number | null {
  if (p.ttfbMs === null) return null;
  return Math.max(0, p.ttfbMs - (p.dnsMs ?? 0) - (p.connectMs ?? 0) - (p.tlsMs ?? 0));
}
