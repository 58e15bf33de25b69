/**
 * The SLA answers as typed objects: each function calls one SQL function of migration 002 (or 003) with
 * bound parameters on any `pg` pool or client. Reports, the web dashboard and alerts read these, so they can
 * never disagree with Grafana, which calls the same SQL.
 */
export { type AgentSummary, agentSummary, type PeriodSummary, periodSummary } from './availability.js';
export { type CertExpiry, certExpiry } from './certs.js';
export { type AnalysisRange, checkRange, type Queryable } from './db.js';
export { binValue, type HeatmapCell, latencyHeatmap, type SmokeStep, smokeBands } from './latency.js';
export {
  DURATION_BUCKETS,
  type DurationBucket,
  type Outage,
  type OutageSummary,
  outageSummary,
  outages,
} from './outages.js';
export { agentSeries, type SeriesPoint } from './series.js';
export { checkTarget, type SlaVerdict, slaVerdict } from './sla.js';
export { type SourceSeriesPoint, sourceSeries, waitMs } from './source-series.js';
export {
  PHASES,
  type Phase,
  type PhaseSummary,
  phaseSummary,
  type SourceSummary,
  sourceSummary,
} from './sources.js';
export { type AgentState, type AgentStateName, agentState } from './state.js';
