/**
 * Accuracy: how far each measured phase is from the delay the lab injected (DNS answer, TLS handshake,
 * first byte: 0, 5, 50, 200 ms), per engine and for curl's own command line; and how much probes started
 * at the same instant inflate each other's phases, with and without `spread`. Everything runs in a
 * network namespace the section creates (removed afterwards), with the lab in its own process there.
 *
 * The error of a phase is measured − injected − (the median of that phase with nothing injected): the
 * lab cannot inject "exactly 50 ms of TLS", only 50 ms on top of a real handshake, whose own duration is
 * what the 0 ms case measures (reported as the base).
 */
import { createNetns } from '../test/lab/netns.js';
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
import { startBenchLab } from './lab.js';
import type { PhaseName } from './phases.js';
import { ms, type Row, type Section, type SectionContext, withLoad } from './section.js';
import { figure, median, quantile } from './stats.js';
import { runWorker } from './worker.js';

const DELAYS = [0, 5, 50, 200];
const CROWD_SIZES = [1, 10, 100];
const CROWD_DELAY_MS = 50;
export const PHASE_GOAL_MS = 1;
const LABEL: Record<Measurer, string> = { http: 'http', curl: 'curl', 'curl-cli': 'curl CLI' };
const KIND_LABEL: Record<DelayKind, string> = {
  dns: 'DNS answer',
  tls: 'TLS handshake',
  server: 'first byte',
};

function phaseValues(samples: readonly SequentialSample[], kind: DelayKind, delayMs: number, m: Measurer) {
  return samples
    .filter((s) => s.kind === kind && s.delayMs === delayMs && s.measurer === m)
    .map((s) => s.phases?.[kind] ?? Number.NaN);
}

function analyseSequential(samples: readonly SequentialSample[]) {
  return DELAY_KINDS.map((kind) => {
    const measurers = MEASURERS.map((m) => {
      const all = (d: number) => phaseValues(samples, kind, d, m);
      const ok = (d: number) => all(d).filter(Number.isFinite);
      const base = median(ok(0));
      const delays = DELAYS.filter((d) => d > 0).map((d) => {
        const values = ok(d);
        return {
          delayMs: d,
          measured: figure(median(values), 'ms', values.length),
          errorMedian: figure(median(values) - d - base, 'ms', values.length),
          errorP99: figure(quantile(values, 0.99) - d - base, 'ms', values.length),
          failed: all(d).length - values.length,
        };
      });
      return { measurer: m, base: figure(base, 'ms', ok(0).length), delays };
    });
    // Agreement: each engine's median against curl's command line, at every injected delay.
    const agreement = DELAYS.map((d) => {
      const reference = median(phaseValues(samples, kind, d, 'curl-cli').filter(Number.isFinite));
      const delta = (m: Measurer) =>
        figure(median(phaseValues(samples, kind, d, m).filter(Number.isFinite)) - reference, 'ms', 1);
      return { delayMs: d, httpMinusCurlCli: delta('http'), curlMinusCurlCli: delta('curl') };
    });
    return { kind, phase: kind, measurers, agreement };
  });
}

const CROWD_PHASES: readonly PhaseName[] = ['connect', 'tls', 'server'];

/** Each phase's inflation at each crowd size: its quantiles minus the same engine's median alone. */
function analyseCrowd(samples: readonly CrowdSample[]) {
  return samples.map((s) => {
    const alone = samples.find((a) => a.engine === s.engine && a.size === 1 && !a.spread);
    const inflation = Object.fromEntries(
      CROWD_PHASES.map((p) => {
        const values = s.phases.map((ph) => ph[p]).filter((v): v is number => v !== null);
        const base = median((alone?.phases ?? []).map((ph) => ph[p]).filter((v): v is number => v !== null));
        return [
          p,
          {
            p50: figure(median(values) - base, 'ms', values.length),
            p99: figure(quantile(values, 0.99) - base, 'ms', values.length),
          },
        ];
      }),
    );
    return {
      engine: s.engine,
      size: s.size,
      spread: s.spread,
      probes: s.phases.length,
      failed: s.failed,
      inflation,
    };
  });
}

type Sequential = ReturnType<typeof analyseSequential>;
type Crowd = ReturnType<typeof analyseCrowd>;

function sequentialRows(analysed: Sequential): Row[] {
  return analysed.flatMap(({ kind, measurers, agreement }) => {
    const worst = (m: (typeof measurers)[number]) =>
      m.delays.reduce((a, d) => (Math.abs(d.errorMedian.value) > Math.abs(a.errorMedian.value) ? d : a));
    const text = measurers
      .map((m) => {
        const w = worst(m);
        return `${LABEL[m.measurer]} ${signed(w.errorMedian.value)} / ${signed(w.errorP99.value)} (base ${ms(m.base.value)})`;
      })
      .join('; ');
    const engines = measurers.filter((m) => m.measurer !== 'curl-cli');
    const maxDelta = Math.max(
      ...agreement.flatMap((a) => [a.httpMinusCurlCli.value, a.curlMinusCurlCli.value].map(Math.abs)),
    );
    return [
      {
        section: 'accuracy',
        measure: `${KIND_LABEL[kind]} delay 5/50/200 ms: worst error median / p99`,
        value: text,
        goal: 'error ≤ 1 ms median',
        met: engines.every((m) => Math.abs(worst(m).errorMedian.value) <= PHASE_GOAL_MS),
      },
      {
        section: 'accuracy',
        measure: `${KIND_LABEL[kind]}: engines vs curl CLI, largest |Δ median|`,
        value: `${ms(maxDelta)} (http ${agreement.map((a) => signed(a.httpMinusCurlCli.value, '')).join(', ')}; curl ${agreement.map((a) => signed(a.curlMinusCurlCli.value, '')).join(', ')} at 0/5/50/200 ms)`,
      },
    ];
  });
}

function crowdRows(crowd: Crowd): Row[] {
  return (['http', 'curl'] as const).flatMap((engine) =>
    CROWD_SIZES.filter((n) => n > 1).map((size) => {
      const at = (spread: boolean) =>
        crowd.find((c) => c.engine === engine && c.size === size && c.spread === spread);
      const text = (c: Crowd[number] | undefined) =>
        c
          ? `tls ${signed(c.inflation.tls!.p50.value)} / ${signed(c.inflation.tls!.p99.value)}, first byte ${signed(c.inflation.server!.p50.value)} / ${signed(c.inflation.server!.p99.value)}`
          : 'n/a';
      return {
        section: 'accuracy',
        measure: `${engine}: ${size} probes in one cycle, inflation p50 / p99 vs 1 alone`,
        value: `at once: ${text(at(false))}; spread: ${text(at(true))}`,
      };
    }),
  );
}

function signed(value: number, unit = ' ms'): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(2)}${unit}`;
}

async function run(ctx: SectionContext) {
  const runs = ctx.quick ? 6 : 30;
  const rounds = ctx.quick ? 3 : 10;
  ctx.log(`accuracy: ${runs} probes per case, ${rounds} cycles per crowd, in a network namespace`);
  const ns = await createNetns();
  try {
    const lab = await startBenchLab({ handshakeDelays: DELAYS, dnsPort: 53 }, ns);
    try {
      const { caFile, http, https, handshake, dns } = lab;
      const input: AccuracyInput = {
        ports: { caFile, http, https, handshake, dns },
        delays: DELAYS,
        runs,
        crowd: { sizes: CROWD_SIZES, rounds, delayMs: CROWD_DELAY_MS },
      };
      const out = await withLoad(async () => ({
        raw: await runWorker<AccuracyInput, AccuracyOutput>('bench/accuracy-worker.ts', input, { netns: ns }),
      }));
      const sequential = analyseSequential(out.raw.sequential);
      const crowd = analyseCrowd(out.raw.crowd);
      const figures = {
        runsPerCase: runs,
        crowdRounds: rounds,
        sequential,
        crowd,
        labTimers: out.raw.labTimers,
        load: out.load,
      };
      return { figures, rows: [...sequentialRows(sequential), ...crowdRows(crowd)] };
    } finally {
      await lab.stop();
    }
  } finally {
    await ns.close();
  }
}

export const accuracy: Section = { name: 'accuracy', run };
