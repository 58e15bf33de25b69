/**
 * Accuracy, measured from inside the lab's network namespace (where the system resolver is the lab's
 * DNS server, so a DNS delay reaches every engine). Two parts:
 * - one probe at a time: for each injected delay (DNS answer, TLS handshake, first byte), each engine and
 *   curl's own command line, the phase the delay lands in;
 * - many at once: `n` probes of one cycle started at the same instant, or spread across the interval,
 *   through the agent's own `runCycle`, each with a 50 ms first-byte delay.
 */
import { setMaxListeners } from 'node:events';
import { runCycle } from '../src/agent/cycle.js';
import { ENGINES, PROBERS } from '../src/probes/index.js';
import type { Engine } from '../src/probes/types.js';
import {
  type AccuracyInput,
  type AccuracyOutput,
  type CrowdSample,
  DELAY_KINDS,
  type DelayKind,
  MEASURERS,
  type Measurer,
  type SequentialSample,
} from './accuracy-cases.js';
import { curlCommandLine } from './curl-cli.js';
import { labTimerLateness } from './lab.js';
import type { BenchLabPorts } from './lab-precise.js';
import { fromProbe, type Phases } from './phases.js';
import { labSources } from './sources.js';
import { workerMain } from './worker.js';

const TIMEOUT_MS = 5_000;

/** The URL whose `kind` phase the lab delays by `delayMs`. */
function delayedUrl(ports: BenchLabPorts, kind: DelayKind, delayMs: number): string {
  if (kind === 'dns') return `https://d${delayMs}.lab.test:${ports.https}/ok`;
  if (kind === 'tls') return `https://127.0.0.1:${ports.handshake[delayMs]}/ok`;
  return `https://127.0.0.1:${ports.https}/ttfb/${delayMs}`;
}

async function measure(measurer: Measurer, url: string, caFile: string): Promise<Phases | null> {
  if (measurer === 'curl-cli') return curlCommandLine(url, caFile);
  const [source] = labSources({ url, engine: measurer, caFile, timeoutMs: TIMEOUT_MS }, 1);
  const result = await ENGINES[measurer](source!.source, source!.options, context());
  return result.disconnected ? null : fromProbe(result);
}

/** A probe context like the agent's: one signal shared by every probe in flight. */
function context() {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return { signal, clock: performance };
}

async function sequential(input: AccuracyInput): Promise<SequentialSample[]> {
  const samples: SequentialSample[] = [];
  // Round-robin over every case, so drift in the machine's load touches all of them alike.
  for (let run = 0; run < input.runs; run++) {
    for (const kind of DELAY_KINDS) {
      for (const delayMs of input.delays) {
        for (const measurer of MEASURERS) {
          const phases = await measure(measurer, delayedUrl(input.ports, kind, delayMs), input.ports.caFile);
          samples.push({ kind, delayMs, measurer, phases });
        }
      }
    }
  }
  return samples;
}

/** One cycle of `size` sources through the agent's runCycle, at a fresh tick. */
async function crowdRound(input: AccuracyInput, engine: Engine, size: number, spread: boolean) {
  const { ports, crowd } = input;
  const url = `https://127.0.0.1:${ports.https}/ttfb/${crowd.delayMs}`;
  const sources = labSources({ url, engine, caFile: ports.caFile, timeoutMs: TIMEOUT_MS }, size, spread);
  const tick = { probeId: 0, scheduledAt: Date.now(), lateMs: 0 };
  return runCycle('bench', tick, sources, PROBERS, context());
}

async function crowded(input: AccuracyInput): Promise<CrowdSample[]> {
  const samples: CrowdSample[] = [];
  for (const engine of ['http', 'curl'] as const) {
    for (const size of input.crowd.sizes) {
      for (const spread of [false, true]) {
        const phases: Phases[] = [];
        let failed = 0;
        for (let round = 0; round < input.crowd.rounds; round++) {
          const started = performance.now();
          const record = await crowdRound(input, engine, size, spread);
          for (const r of record.results) {
            if (r.disconnected) failed++;
            else phases.push(fromProbe(r));
          }
          // One cycle a second at most, as the agent runs them; the lab is idle before the next.
          const rest = 1000 - (performance.now() - started);
          if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
        }
        samples.push({ engine, size, spread, phases, failed });
      }
    }
  }
  return samples;
}

await workerMain<AccuracyInput, AccuracyOutput>(async (input) => {
  await labTimerLateness(input.ports.http); // resets the lab's record
  const seq = await sequential(input);
  const seqTimers = await labTimerLateness(input.ports.http);
  const crowd = await crowded(input);
  const crowdTimers = await labTimerLateness(input.ports.http);
  return { sequential: seq, crowd, labTimers: { sequential: seqTimers, crowd: crowdTimers } };
});
