/**
 * The dashboard's JSON API. Every figure comes from the SLA functions through src/analysis, with the
 * request's parameters checked first (src/web/query.ts) and bound, never spliced into SQL. Series are
 * answered as columns (one array per field, times in unix seconds), the shape the charts draw.
 *
 *   /api/state                                    the agent's state and diagnosis (database), its latest cycle (live)
 *   /api/summary?range=24h | from=…&to=…          uptime, coverage, cycles, downtime
 *   /api/outages?range=…&limit=50                 outages overlapping the range, newest first
 *   /api/series?range=…&step=60                   availability per step, and per source loss and phases
 *   /api/smoke?range=…&step=60&source=…&phase=total   latency distribution bands per step
 *   /api/heatmap?range=…&step=60&source=…&phase=total the histogram bins behind them
 *
 * Each also takes `agent` (default: the agent this process runs).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { read } from '../analysis/db.js';
import {
  agentSeries,
  agentState,
  agentSummary,
  latencyHeatmap,
  outages,
  smokeBands,
  sourceSeries,
} from '../analysis/index.js';
import { DIAGNOSES, type DiagnosisKind } from '../diagnosis/diagnose.js';
import type { Layer } from '../diagnosis/layers.js';
import { spanText } from '../diagnosis/span.js';
import { errorText } from '../log.js';
import { StoreError } from '../store/types.js';
import { cycleEvent } from './events.js';
import { Query, QueryError, readStep, readWindow, WINDOW_PARAMS, type Window } from './query.js';
import { badRequest, json } from './respond.js';
import type { RouteDeps } from './routes.js';

type Endpoint = (query: Query, deps: RouteDeps, agent: string) => Promise<unknown>;

interface EndpointSpec {
  readonly params: readonly string[];
  readonly run: Endpoint;
}

const CHART_PARAMS = ['agent', ...WINDOW_PARAMS, 'step'] as const;
const LATENCY_PARAMS = [...CHART_PARAMS, 'source', 'phase'] as const;

const ENDPOINTS: Readonly<Record<string, EndpointSpec>> = {
  '/api/state': { params: ['agent'], run: state },
  '/api/summary': { params: ['agent', ...WINDOW_PARAMS], run: summary },
  '/api/outages': { params: ['agent', ...WINDOW_PARAMS, 'limit'], run: outageList },
  '/api/series': { params: CHART_PARAMS, run: series },
  '/api/smoke': { params: LATENCY_PARAMS, run: smoke },
  '/api/heatmap': { params: LATENCY_PARAMS, run: heatmap },
};

/** The handler of every `/api/…` path but the live events. */
export function apiHandler(deps: RouteDeps) {
  return async (_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const endpoint = Object.hasOwn(ENDPOINTS, url.pathname) ? ENDPOINTS[url.pathname] : undefined;
    if (endpoint === undefined)
      return json(res, 404, {
        error: `no such endpoint: ${url.pathname}`,
        endpoints: Object.keys(ENDPOINTS),
      });
    let query: Query;
    let agent: string;
    try {
      query = new Query(url, endpoint.params);
      agent = query.text('agent', 200) ?? deps.config().agent;
    } catch (err) {
      if (err instanceof QueryError) return badRequest(res, err.message);
      throw err;
    }
    try {
      json(res, 200, await endpoint.run(query, deps, agent));
    } catch (err) {
      if (err instanceof QueryError || err instanceof RangeError) return badRequest(res, err.message);
      if (!(err instanceof StoreError)) throw err;
      deps.log.warn('dashboard cannot read the database', { path: url.pathname, err: errorText(err) });
      json(res, 503, { error: err.message });
    }
  };
}

async function state(_query: Query, deps: RouteDeps, agent: string) {
  const config = deps.config();
  const own = agent === config.agent;
  const [[row], diagnosis] = await Promise.all([
    agentState(deps.store.reader, [agent]),
    storedDiagnosis(deps, agent),
  ]);
  const live = own ? deps.live.lastCycle() : null;
  return {
    agent,
    now: new Date(),
    intervalS: own ? config.intervalMs / 1000 : (row?.intervalS ?? null),
    /** As the database has it (`wmn_agent_state`); null before the agent's first stored cycle. */
    state: row ?? null,
    /** The diagnosis of the latest stored cycle; null before the first, or for cycles stored without one. */
    diagnosis,
    /** The latest finished cycle, from memory (this process's agent only). */
    live: live && cycleEvent(live),
    sources: own ? config.sources.map((s) => s.source.uri) : [],
  };
}

/**
 * The latest stored cycle's diagnosis, in words. wmn_agent_state does not carry it; wmn_cycles keeps the
 * kind, and the cycle's raw rows (while retention keeps them) give the evidence the sentence names.
 */
async function storedDiagnosis(
  deps: RouteDeps,
  agent: string,
): Promise<{ kind: DiagnosisKind; text: string } | null> {
  const [row] = await read<{
    diagnosis: string | null;
    results: { source: string; layer: Layer | null; disconnected: boolean; error: string | null }[];
  }>(
    deps.store.reader,
    'wmn_cycles',
    `SELECT c.diagnosis,
            (SELECT coalesce(json_agg(json_build_object('source', f.source, 'layer', f.layer,
                                                        'disconnected', f.disconnected, 'error', f.error)), '[]')
               FROM favicon_metrics f WHERE f.agent = c.agent AND f.probe_id = c.probe_id) AS results
       FROM wmn_cycles c WHERE c.agent = $1 ORDER BY c.ts DESC LIMIT 1`,
    [agent],
  );
  const kind = DIAGNOSES.find((k) => k === row?.diagnosis);
  if (row === undefined || kind === undefined) return null;
  const evidence = row.results.map(({ layer, ...r }) => (layer === null ? r : { ...r, layer }));
  return { kind, text: spanText(kind, evidence) };
}

async function summary(query: Query, deps: RouteDeps, agent: string) {
  const win = readWindow(query, new Date());
  const [row] = await agentSummary(deps.store.reader, { ...win, agents: [agent] });
  return { agent, ...win, summary: row ?? null };
}

async function outageList(query: Query, deps: RouteDeps, agent: string) {
  const win = readWindow(query, new Date());
  const limit = query.int('limit', 1, 1000, 50);
  const all = await outages(deps.store.reader, { ...win, agents: [agent] });
  return { agent, ...win, total: all.length, outages: all.reverse().slice(0, limit) };
}

async function series(query: Query, deps: RouteDeps, agent: string) {
  const win = readWindow(query, new Date());
  const stepS = readStep(query, win);
  const range = { ...win, agents: [agent], stepS };
  const [availability, points] = await Promise.all([
    agentSeries(deps.store.reader, range),
    sourceSeries(deps.store.reader, range),
  ]);
  const bySource = new Map<string, (typeof points)[number][]>();
  for (const source of sourcesOf(deps, agent)) bySource.set(source, []);
  for (const p of points) {
    const list = bySource.get(p.source) ?? [];
    list.push(p);
    bySource.set(p.source, list);
  }
  return {
    agent,
    ...win,
    stepS,
    availability: columns(availability, {
      cycles: (p) => p.cycles,
      downCycles: (p) => p.downCycles,
      uptimePct: (p) => p.uptimePct,
      coveragePct: (p) => p.coveragePct,
      downS: (p) => p.downS,
    }),
    sources: [...bySource].map(([source, list]) => ({
      source,
      ...columns(list, {
        probes: (p) => p.probes,
        failed: (p) => p.failed,
        lossPct: (p) => p.lossPct,
        dnsMs: (p) => us(p.dnsMs),
        connectMs: (p) => us(p.connectMs),
        tlsMs: (p) => us(p.tlsMs),
        waitMs: (p) => us(p.waitMs),
        ttfbMs: (p) => us(p.ttfbMs),
        totalMs: (p) => us(p.totalMs),
        totalMaxMs: (p) => us(p.totalMaxMs),
      }),
    })),
  };
}

async function smoke(query: Query, deps: RouteDeps, agent: string) {
  const { win, range, source, phase } = latencyRequest(query, agent);
  const bands = smokeBands(await latencyHeatmap(deps.store.reader, range));
  return {
    agent,
    ...win,
    stepS: range.stepS,
    phase,
    source,
    ...columns(bands, {
      samples: (b) => b.samples,
      minMs: (b) => us(b.minMs),
      p10Ms: (b) => us(b.p10Ms),
      p25Ms: (b) => us(b.p25Ms),
      medianMs: (b) => us(b.medianMs),
      p75Ms: (b) => us(b.p75Ms),
      p90Ms: (b) => us(b.p90Ms),
      maxMs: (b) => us(b.maxMs),
    }),
  };
}

async function heatmap(query: Query, deps: RouteDeps, agent: string) {
  const { win, range, source, phase } = latencyRequest(query, agent);
  const cells = await latencyHeatmap(deps.store.reader, range);
  return {
    agent,
    ...win,
    stepS: range.stepS,
    phase,
    source,
    ...columns(cells, { leMs: (c) => c.leMs, count: (c) => c.count }),
  };
}

function latencyRequest(query: Query, agent: string) {
  const win: Window = readWindow(query, new Date());
  const stepS = readStep(query, win);
  const source = query.text('source', 2048) ?? null;
  const phase = query.phase();
  const range = { ...win, agents: [agent], stepS, phase, sources: source === null ? undefined : [source] };
  return { win, range, source, phase };
}

/** The sources to show for an agent: this process's configured ones, in their order. */
function sourcesOf(deps: RouteDeps, agent: string): string[] {
  const config = deps.config();
  return agent === config.agent ? config.sources.map((s) => s.source.uri) : [];
}

/** Milliseconds to the microsecond: what a chart can show, at a third of the bytes. */
function us(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 1000) / 1000;
}

/** Rows as columns: `t` (unix seconds) and one array per field. */
function columns<R extends { readonly time: Date }, F extends string>(
  rows: readonly R[],
  fields: Readonly<Record<F, (row: R) => number | null>>,
): { t: number[] } & Record<F, (number | null)[]> {
  const out: Record<string, (number | null)[]> = { t: rows.map((r) => r.time.getTime() / 1000) };
  for (const [name, get] of Object.entries(fields) as [F, (row: R) => number | null][])
    out[name] = rows.map(get);
  return out as { t: number[] } & Record<F, (number | null)[]>;
}
