/**
 * The exporter's state: one registry of its own (never prom-client's global one), fed by the live hub's
 * cycles and ticks and by the writer's observer, and read from the agent when scraped.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import type { Config } from '../config/types.js';
import type { Store } from '../store/types.js';
import type { LiveHub } from '../web/live.js';
import { agentMetrics } from './agent-state.js';
import { healthMetrics, type ObservedAgent } from './health.js';
import { type Check, readiness } from './readiness.js';
import { sourceMetrics } from './sources.js';

/** What the exporter needs of `wmn run` (the routes' deps provide it). */
export interface ExporterDeps {
  /** The configuration running now (it changes on reload). */
  readonly config: () => Pick<Config, 'agent' | 'intervalMs' | 'sources'>;
  readonly live: Pick<LiveHub, 'on'>;
  readonly agent: ObservedAgent;
  readonly store: Pick<Store, 'reader'>;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
}

export interface Exporter {
  /** The text exposition of every metric. */
  metrics(): Promise<string>;
  readonly contentType: string;
  /** The /readyz checks. */
  ready(): Promise<readonly Check[]>;
}

/** Subscribes to the live hub for the life of the process: call once per process. */
export function createExporter(deps: ExporterDeps): Exporter {
  const registry = new Registry();
  const sources = sourceMetrics(registry);
  const agent = agentMetrics(registry);
  const health = healthMetrics(registry, deps.agent);
  const ready = readiness({
    intervalMs: () => deps.config().intervalMs,
    reader: deps.store.reader,
    now: deps.now ?? (() => performance.now()),
  });
  /** Series follow the configuration: sources added or removed, the agent renamed by a reload. */
  const sync = () => {
    const config = deps.config();
    sources.sync(config.sources.map((s) => ({ uri: s.source.uri, kind: s.kind, layer: s.layer })));
    agent.sync(config.agent);
  };
  sync();
  deps.live.on('cycle', (cycle) => {
    sync();
    sources.observe(cycle);
    agent.observe(cycle, deps.config().intervalMs);
  });
  deps.live.on('tick', (tick) => {
    ready.ticked();
    health.observeTick(tick);
  });
  deps.agent.writer.observeWrites((_ms, ok) => ready.wrote(ok));
  return {
    metrics: () => {
      sync();
      return registry.metrics();
    },
    contentType: registry.contentType,
    ready: () => ready.check(),
  };
}
