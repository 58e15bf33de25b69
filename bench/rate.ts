/**
 * One rate-driven run (rate-worker.ts) with the CPU of every process involved, per probe: the prober
 * (wmn's worker, or blackbox_exporter), the caller of blackbox_exporter, curl's children, and the lab.
 */
import type { BlackboxExporter } from './blackbox-exporter.js';
import type { BenchLab } from './lab.js';
import type { Phases } from './phases.js';
import type { Driver, RateInput, RateOutput } from './rate-worker.js';
import { runWorker } from './worker.js';

export interface RateRun {
  readonly driver: Driver;
  readonly probes: number;
  readonly failed: number;
  /** CPU ms per probe of whatever made the probe: wmn's process (+ curl), or blackbox_exporter. */
  readonly proberCpu: number;
  /** Of which curl's own processes (driver `curl`). */
  readonly curlCpu: number;
  /** The benchmark's HTTP client asking blackbox_exporter (driver `blackbox`): counted apart. */
  readonly callerCpu: number;
  readonly labCpu: number;
  readonly rssMb: number;
  readonly phases: Phases[];
}

export async function rateRun(
  lab: BenchLab,
  input: Omit<RateInput, 'caFile' | 'blackbox'>,
  exporter?: BlackboxExporter,
): Promise<RateRun> {
  const blackbox = exporter ? { port: exporter.port } : undefined;
  const lab0 = lab.cpuMs();
  const exporter0 = exporter?.cpuMs() ?? 0;
  const out = await runWorker<RateInput, RateOutput>('bench/rate-worker.ts', {
    ...input,
    caFile: lab.caFile,
    ...(blackbox ? { blackbox } : {}),
  });
  const per = (ms: number) => ms / out.probes;
  // The lab and the exporter also served the worker's one unmeasured warm-up probe.
  const perServed = (ms: number) => ms / (out.probes + 1);
  const external = input.driver === 'blackbox';
  return {
    driver: input.driver,
    probes: out.probes,
    failed: out.failed,
    proberCpu: external
      ? perServed((exporter?.cpuMs() ?? 0) - exporter0)
      : per(out.cpuMs.self + out.cpuMs.children),
    curlCpu: per(out.cpuMs.children),
    callerCpu: external ? per(out.cpuMs.self) : 0,
    labCpu: perServed(lab.cpuMs() - lab0),
    rssMb: external ? (exporter?.rssMb() ?? 0) : out.rssMb,
    phases: out.phases,
  };
}
