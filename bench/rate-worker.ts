/**
 * Probes driven at a fixed rate, in a process of its own so its CPU is the probes' alone: with wmn's
 * engines in process (`http`, `curl`: curl's CPU comes back as this process's reaped children), or by
 * asking blackbox_exporter over HTTP (`blackbox`: then this process's CPU is only the caller's cost).
 */
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'node:http';
import { PROBERS, probeSource } from '../src/probes/index.js';
import { blackboxTarget } from './blackbox-exporter.js';
import { fromBlackbox, fromProbe, type Phases } from './phases.js';
import { cpuTimes } from './proc.js';
import { labSource } from './sources.js';
import { workerMain } from './worker.js';

export type Driver = 'http' | 'curl' | 'blackbox';

export interface RateInput {
  readonly driver: Driver;
  /** The source URI: http(s), or (drivers `http` and `blackbox`) tcp, dns or icmp. */
  readonly url: string;
  readonly caFile: string;
  readonly probes: number;
  /** Probes started per second; null: one after another, each started when the last one ends. */
  readonly rate: number | null;
  /** blackbox_exporter's address (driver `blackbox`). */
  readonly blackbox?: { readonly port: number };
}

export interface RateOutput {
  readonly probes: number;
  readonly failed: number;
  readonly phases: Phases[];
  readonly cpuMs: { readonly self: number; readonly children: number };
  readonly rssMb: number;
}

const TIMEOUT_MS = 5_000;

type Probe = () => Promise<Phases | null>;

/** A probe of `input.url` by the prober `wmn run` would use for it (`engine` matters for HTTP only). */
function wmnProbe(input: RateInput, engine: 'http' | 'curl'): Probe {
  const source = labSource({ url: input.url, engine, caFile: input.caFile, timeoutMs: TIMEOUT_MS });
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const ctx = { signal, clock: performance };
  return async () => {
    const r = await probeSource(source, PROBERS, ctx);
    return r.disconnected ? null : fromProbe(r);
  };
}

/** One GET of blackbox_exporter's /probe over a kept-alive connection: the cheapest honest caller. */
function blackboxProbe(input: RateInput): Probe {
  const { port } = input.blackbox!;
  const { module, target } = blackboxTarget(input.url);
  const agent = new Agent({ keepAlive: true });
  const path = `/probe?module=${encodeURIComponent(module)}&target=${encodeURIComponent(target)}`;
  return () =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(parseBlackbox(body)));
      });
      req.on('error', () => resolve(null));
      req.end();
    });
}

/** The phases of a successful probe from blackbox_exporter's metrics text; null when it failed. */
function parseBlackbox(text: string): Phases | null {
  if (!/^probe_success 1$/m.test(text)) return null;
  const durations: Record<string, number> = {};
  for (const [, phase, value] of text.matchAll(/^probe_http_duration_seconds\{phase="(\w+)"\} (\S+)$/gm)) {
    durations[phase!] = Number(value);
  }
  return fromBlackbox(durations);
}

await workerMain<RateInput, RateOutput>(async (input) => {
  const probe = input.driver === 'blackbox' ? blackboxProbe(input) : wmnProbe(input, input.driver);
  // One probe first, unmeasured: module loading, TLS context, the kept-alive connection.
  await probe();
  const total = input.probes;
  const cpu0 = process.cpuUsage();
  const children0 = cpuTimes('self').childrenMs;
  const began = performance.now();
  const pending: Promise<Phases | null>[] = [];
  for (let i = 0; i < total; i++) {
    if (input.rate === null) {
      pending.push(Promise.resolve(await probe()));
      continue;
    }
    const wait = began + (i * 1000) / input.rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(probe());
  }
  const results = await Promise.all(pending);
  const cpu = process.cpuUsage(cpu0);
  const phases = results.filter((r): r is Phases => r !== null);
  return {
    probes: total,
    failed: total - phases.length,
    phases,
    cpuMs: { self: (cpu.user + cpu.system) / 1000, children: cpuTimes('self').childrenMs - children0 },
    rssMb: process.memoryUsage.rss() / 2 ** 20,
  };
});
