/**
 * Per-agent state, fed by every finished cycle, with the definitions of the SQL views: a cycle is DOWN
 * when every source of the internet layers failed (no response at all); an outage is a run of
 * consecutive DOWN cycles; the diagnosis says where the latest cycle broke (src/diagnosis). The
 * `agent` label is the configured agent name; after a reload renames the agent, the old name's series
 * vanish and the new name's start at zero.
 */

import { Counter, Gauge, type Registry } from 'prom-client';
import { cycleDiagnosis } from '../diagnosis/cycle.js';
import { DIAGNOSES, type DiagnosisKind, isDown } from '../diagnosis/diagnose.js';
import type { CycleRecord } from '../store/types.js';

export interface AgentMetrics {
  /** Counts one finished cycle of `intervalMs`. */
  observe(cycle: CycleRecord, intervalMs: number): void;
  /** Follows the configured agent name. */
  sync(agent: string): void;
}

export function agentMetrics(registry: Registry): AgentMetrics {
  const registers = [registry];
  const down = new Gauge({
    name: 'wmn_down',
    help: 'Whether the latest cycle was DOWN (1: every source failed) or UP (0); absent before the first cycle.',
    labelNames: ['agent'],
    registers,
  });
  const outages = new Counter({
    name: 'wmn_outages_total',
    help: 'Outages begun since start: DOWN cycles after an UP cycle (or as the first cycle).',
    labelNames: ['agent'],
    registers,
  });
  const downSeconds = new Counter({
    name: 'wmn_down_seconds_total',
    help: 'Time spent DOWN since start: one interval per DOWN cycle.',
    labelNames: ['agent'],
    registers,
  });
  const cycles = new Counter({
    name: 'wmn_cycles_total',
    help: 'Probe cycles finished since start.',
    labelNames: ['agent'],
    registers,
  });
  const diagnosis = new Gauge({
    name: 'wmn_diagnosis',
    help: 'Where the latest cycle broke, one-hot: 1 for its diagnosis, 0 for the other kinds; all 0 before the first cycle.',
    labelNames: ['agent', 'diagnosis'],
    registers,
  });
  // Every kind always present (0 or 1): `wmn_diagnosis{diagnosis="ok"} == 0` then fires on any fault,
  // and a graph has a line per kind before that kind has ever happened.
  const showDiagnosis = (name: string, latest: DiagnosisKind | null) => {
    for (const kind of DIAGNOSES) diagnosis.set({ agent: name, diagnosis: kind }, kind === latest ? 1 : 0);
  };

  let agent: string | null = null;
  /** probe_id of the newest cycle seen, and whether it was DOWN (null before the first). */
  let newest = Number.NEGATIVE_INFINITY;
  let wasDown: boolean | null = null;

  return {
    observe(cycle, intervalMs) {
      if (agent === null || cycle.agent !== agent) return;
      cycles.inc({ agent });
      const isDownNow = isDown(cycle.results);
      if (isDownNow) downSeconds.inc({ agent }, intervalMs / 1000);
      // Cycles overlap when the timeout exceeds the interval: only a newer one moves the state.
      if (cycle.probeId <= newest) return;
      newest = cycle.probeId;
      if (isDownNow && wasDown !== true) outages.inc({ agent });
      wasDown = isDownNow;
      down.set({ agent }, isDownNow ? 1 : 0);
      showDiagnosis(agent, cycleDiagnosis(cycle).kind);
    },
    sync(name) {
      if (name === agent) return;
      if (agent !== null) {
        for (const metric of [down, outages, downSeconds, cycles]) metric.remove({ agent });
        for (const kind of DIAGNOSES) diagnosis.remove({ agent, diagnosis: kind });
      }
      agent = name;
      showDiagnosis(agent, null);
      newest = Number.NEGATIVE_INFINITY;
      wasDown = null;
      for (const metric of [outages, downSeconds, cycles]) metric.inc({ agent }, 0);
    },
  };
}
