/**
 * The Prometheus exporter: /metrics, /healthz and /readyz.
 * - Unit level: synthetic cycles and ticks published on a LiveHub, read back from the text exposition
 *   served by the real listener (values, absent NULL phases, DOWN and outage counting, the diagnosis,
 *   certificates, layers, icmp/tcp/dns sources, sources removed by a reload), and /readyz's checks on a
 *   fake monotonic clock.
 * - End to end: the built `wmn run` probes a local server and a refused port into a test database, and a
 *   real Prometheus (Debian's) scrapes it every second, with and without a token; its HTTP API must hold
 *   the right values, and `promtool check metrics` must pass the scraped text without a warning.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WriteObserver, WriterStats } from '../src/agent/writer.js';
import { parseSource } from '../src/config/sources.js';
import type { SourceConfig } from '../src/config/types.js';
import { DIAGNOSES } from '../src/diagnosis/diagnose.js';
import { defaultLayer, type Layer } from '../src/diagnosis/layers.js';
import { type ExporterDeps, exporterRoutes } from '../src/exporter/index.js';
import { silentLogger } from '../src/log.js';
import type { ProbeResult } from '../src/probes/types.js';
import type { SchedulerStats } from '../src/scheduler/scheduler.js';
import type { CycleRecord, Queryable } from '../src/store/types.js';
import { createLiveHub, type LiveHub } from '../src/web/live.js';
import { startWebServer, type WebServer } from '../src/web/server.js';
import { need } from './helpers/env.js';
import { withTestDatabase } from './helpers/pg.js';
import { answered, failed } from './helpers/results.js';
import { NOT_BUILT, startWmn, WMN_BUILT, webUrl, writeAgentConfig } from './helpers/wmn.js';
import { closedPort } from './lab/faults.js';
import { type Listening, listen } from './lab/listen.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const NO_PROMETHEUS = `${PROMETHEUS} missing: apt-get install prometheus`;
const NO_PROMTOOL = `${PROMTOOL} missing: apt-get install prometheus (it ships promtool)`;

// --- exposition text -------------------------------------------------------------------------------

/** One sample of a text exposition: its name, labels and value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the samples of a text exposition (label values unescaped); comments are skipped. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k = '', v = ''] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples by series, labels in name order: `name{a="x",b="y"}`. */
function samples(text: string): Map<string, number> {
  return new Map(parse(text).map((s) => [series(s.name, s.labels), s.value]));
}

function series(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
}

/** The samples of metric `name` (histograms: `name_bucket` etc. are names of their own). */
function family(text: string, name: string): Sample[] {
  return parse(text).filter((s) => s.name === name);
}

function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return samples(text).get(series(name, labels));
}

// --- a fake agent on a real listener ---------------------------------------------------------------

const A = 'http://a.test/';
const B = 'http://b.test/';
const C = 'https://c.test/';
const GATEWAY = 'icmp://gateway';
const ANCHOR = 'icmp://1.1.1.1';
const TCP = 'tcp://1.1.1.1:443';
const DNS = 'dns://9.9.9.9/example.com?type=A';

/** A configured source of any kind, as the config loader makes it (its layer the default unless given). */
function sourceConfig(uri: string, layer?: Layer): SourceConfig {
  const parsed = parseSource(uri);
  assert.ok(parsed.ok, `${uri}: ${parsed.ok ? '' : parsed.message}`);
  const source = parsed.value;
  assert.equal(source.uri, uri, 'tests name sources by their canonical URI');
  const common = { layer: layer ?? defaultLayer(source) };
  switch (source.kind) {
    case 'http':
      return {
        ...common,
        kind: 'http',
        source,
        engine: 'http',
        options: { timeoutMs: 1500, followRedirects: false, maxRedirects: 10, insecure: false },
      };
    case 'icmp':
      return { ...common, kind: 'icmp', source, options: { timeoutMs: 1500, count: 4 } };
    case 'tcp':
      return { ...common, kind: 'tcp', source, options: { timeoutMs: 1500 } };
    case 'dns':
      return { ...common, kind: 'dns', source, options: { timeoutMs: 1500 } };
  }
}

/** An answer over plain HTTP to an address: connect, first byte, end. */
const ok = (source: string, ms: Partial<ProbeResult> = {}) =>
  answered(source, { dnsMs: null, tlsMs: null, ttfbMs: 10, totalMs: 12, remoteIp: '192.0.2.1', ...ms });

const refused = (source: string) => failed(source, 'refused');

/** An icmp:// probe with these echo round trips (null: lost); mean RTT as its total, as fping's prober. */
function echoes(source: string, samplesMs: (number | null)[]): ProbeResult {
  const replies = samplesMs.filter((s): s is number => s !== null);
  const common = { source, dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: null, samplesMs };
  if (replies.length === 0)
    return { ...common, disconnected: true, status: null, error: 'timeout', totalMs: 1000, remoteIp: null };
  const totalMs = replies.reduce((a, b) => a + b, 0) / replies.length;
  return { ...common, disconnected: false, status: null, error: null, totalMs, remoteIp: '192.0.2.9' };
}

/** A tcp:// or dns:// probe that got its answer: no HTTP status. */
function connected(source: string, ms: Partial<ProbeResult> = {}): ProbeResult {
  return ok(source, { status: null, ttfbMs: null, ...ms });
}

/** A cycle as the agent publishes it: each result with its source's configured layer. */
function cycle(probeId: number, results: ProbeResult[], agent = 'unit'): CycleRecord {
  const layered = results.map((r) => ({ ...r, layer: sourceConfig(r.source).layer }));
  return { agent, probeId, ts: new Date(probeId * 1000), results: layered };
}

interface Harness {
  readonly live: LiveHub;
  /** The configured sources (a reload changes them). */
  sources: string[];
  /** Layers set by hand (the others are the defaults). */
  layers: Record<string, Layer>;
  agentName: string;
  /** The running scheduler (a reload with a new interval replaces it). */
  scheduler: { stats: SchedulerStats };
  readonly stats: { -readonly [K in keyof WriterStats]: WriterStats[K] };
  readonly writes: Set<WriteObserver>;
  inFlight: number;
  /** Monotonic ms the exporter reads. */
  now: number;
  reader: Queryable;
  get(path: string): Promise<{ status: number; text: string }>;
  metrics(): Promise<string>;
}

async function withExporter(fn: (h: Harness) => Promise<void>): Promise<void> {
  const live = createLiveHub();
  const writes = new Set<WriteObserver>();
  const h = {
    live,
    sources: [A, B, C],
    layers: {},
    agentName: 'unit',
    scheduler: { stats: { ticks: 0, skipped: 0, clockSteps: 0 } },
    stats: {
      written: 0,
      rows: 0,
      failures: 0,
      dropped: 0,
      queued: 0,
      spoolBytes: 0,
      replayed: 0,
      rejected: 0,
    },
    writes,
    inFlight: 0,
    now: 1_000_000,
    reader: { query: async () => ({ rows: [{ '?column?': 1 }] }) } as unknown as Queryable,
  } as Harness;
  const deps: ExporterDeps = {
    config: () => ({
      agent: h.agentName,
      intervalMs: 1000,
      sources: h.sources.map((uri) => sourceConfig(uri, h.layers[uri])),
    }),
    live,
    agent: {
      get scheduler() {
        return h.scheduler;
      },
      writer: {
        get stats() {
          return { ...h.stats };
        },
        observeWrites: (observer) => {
          writes.add(observer);
          return () => writes.delete(observer);
        },
      },
      inFlight: () => h.inFlight,
    },
    store: {
      reader: {
        query: ((text: string, values?: unknown[]) => h.reader.query(text, values)) as Queryable['query'],
      },
    },
    now: () => h.now,
  };
  const server: WebServer = await startWebServer({
    web: { host: '127.0.0.1', port: 0, token: null },
    routes: exporterRoutes(deps),
    log: silentLogger,
  });
  h.get = async (path) => {
    const res = await fetch(`${server.url}${path}`);
    return { status: res.status, text: await res.text() };
  };
  h.metrics = async () => {
    const { status, text } = await h.get('/metrics');
    assert.equal(status, 200);
    return text;
  };
  try {
    await fn(h);
  } finally {
    await server.close();
  }
}

describe('exporter: metrics from the live hub', () => {
  it('shows the latest probe per source under blackbox names, NULL phases absent', async () => {
    await withExporter(async (h) => {
      h.live.publishCycle(
        cycle(100, [
          ok(A),
          refused(B),
          ok(C, { dnsMs: 1, connectMs: 2, tlsMs: 3, ttfbMs: 10, totalMs: 15, status: 503 }),
        ]),
      );
      const text = await h.metrics();
      const phase = (source: string, p: string) =>
        value(text, 'probe_http_duration_seconds', { source, phase: p });
      assert.equal(value(text, 'probe_success', { source: A }), 1);
      assert.equal(value(text, 'probe_success', { source: B }), 0);
      assert.equal(value(text, 'probe_success', { source: C }), 1, 'a 503 is a response: the link works');
      assert.equal(value(text, 'probe_http_status_code', { source: A }), 200);
      assert.equal(value(text, 'probe_http_status_code', { source: C }), 503);
      assert.equal(value(text, 'probe_http_status_code', { source: B }), undefined, 'no response, no status');
      // A: plain HTTP to an address: no DNS, no TLS.
      assert.equal(phase(A, 'resolve'), undefined);
      assert.equal(phase(A, 'tls'), undefined);
      assert.equal(phase(A, 'connect'), 0.002);
      assert.equal(phase(A, 'processing'), 0.008);
      assert.equal(phase(A, 'transfer'), 0.002);
      // B: refused, so no phase at all; its duration is still there.
      assert.doesNotMatch(text, new RegExp(`probe_http_duration_seconds\\{source="${B}"`));
      assert.equal(value(text, 'probe_duration_seconds', { source: B }), 0.001);
      // C: every phase: processing = ttfb − (dns + connect + tls), transfer = total − ttfb.
      assert.deepEqual(
        ['resolve', 'connect', 'tls', 'processing', 'transfer'].map((p) => phase(C, p)),
        [0.001, 0.002, 0.003, 0.004, 0.005],
      );
      assert.equal(value(text, 'probe_duration_seconds', { source: C }), 0.015);
      // Histograms of the phases that happened, and of the total of probes that got a response.
      const bucket = (source: string, p: string, le: string) =>
        value(text, 'wmn_probe_phase_seconds_bucket', { le, source, phase: p });
      assert.equal(bucket(A, 'connect', '0.001'), 0);
      assert.equal(bucket(A, 'connect', '0.0025'), 1);
      assert.equal(bucket(A, 'connect', '+Inf'), 1);
      assert.equal(value(text, 'wmn_probe_phase_seconds_count', { source: A, phase: 'resolve' }), undefined);
      assert.equal(value(text, 'wmn_probe_phase_seconds_count', { source: C, phase: 'tls' }), 1);
      assert.equal(value(text, 'wmn_probe_duration_seconds_count', { source: A }), 1);
      assert.equal(value(text, 'wmn_probe_duration_seconds_count', { source: B }), undefined);
      // Failures by class, every class present from the start.
      assert.equal(value(text, 'wmn_probe_failures_total', { source: B, error: 'refused' }), 1);
      assert.equal(value(text, 'wmn_probe_failures_total', { source: B, error: 'timeout' }), 0);
      assert.equal(value(text, 'wmn_probe_failures_total', { source: A, error: 'refused' }), 0);

      // A newer cycle moves the latest values; an older one finishing late (overlap) only counts.
      h.live.publishCycle(cycle(102, [refused(A), ok(B), ok(C)]));
      h.live.publishCycle(cycle(101, [ok(A, { status: 204 }), refused(B), ok(C)]));
      const later = await h.metrics();
      assert.equal(value(later, 'probe_success', { source: A }), 0);
      assert.equal(value(later, 'probe_http_status_code', { source: A }), undefined);
      assert.equal(value(later, 'probe_http_duration_seconds', { source: A, phase: 'connect' }), undefined);
      assert.equal(value(later, 'probe_success', { source: B }), 1);
      assert.equal(value(later, 'wmn_probe_failures_total', { source: A, error: 'refused' }), 1);
      assert.equal(value(later, 'wmn_probe_failures_total', { source: B, error: 'refused' }), 2);
      assert.equal(value(later, 'wmn_probe_phase_seconds_count', { source: A, phase: 'connect' }), 2);
    });
  });

  it('counts DOWN cycles, outages and seconds down per agent', async () => {
    await withExporter(async (h) => {
      h.sources = [A, B];
      const before = await h.metrics();
      assert.equal(value(before, 'wmn_down', { agent: 'unit' }), undefined, 'unknown before a cycle');
      assert.equal(value(before, 'wmn_outages_total', { agent: 'unit' }), 0);
      assert.equal(value(before, 'wmn_cycles_total', { agent: 'unit' }), 0);
      const up = (id: number) => cycle(id, [ok(A), refused(B)]);
      const down = (id: number) => cycle(id, [refused(A), refused(B)]);
      const seen: (number | undefined)[] = [];
      for (const c of [up(1), down(2), down(3), up(4), down(5)]) {
        h.live.publishCycle(c);
        seen.push(value(await h.metrics(), 'wmn_down', { agent: 'unit' }));
      }
      assert.deepEqual(seen, [0, 1, 1, 0, 1]);
      const text = await h.metrics();
      assert.equal(value(text, 'wmn_outages_total', { agent: 'unit' }), 2);
      assert.equal(value(text, 'wmn_down_seconds_total', { agent: 'unit' }), 3);
      assert.equal(value(text, 'wmn_cycles_total', { agent: 'unit' }), 5);
    });
  });

  it('drops the series of sources a reload removed, and starts added ones at zero', async () => {
    await withExporter(async (h) => {
      h.live.publishCycle(cycle(1, [ok(A), refused(B), ok(C)]));
      assert.match(await h.metrics(), /source="http:\/\/b\.test\/"/);
      h.sources = [A, C, 'http://d.test/'];
      const text = await h.metrics();
      assert.doesNotMatch(text, /b\.test/, 'no series of a removed source');
      assert.equal(value(text, 'wmn_probe_failures_total', { source: 'http://d.test/', error: 'dns' }), 0);
      assert.equal(value(text, 'probe_success', { source: A }), 1);
      // A cycle started before the reload finishes with the removed source: it must not come back.
      h.live.publishCycle(cycle(2, [ok(A), refused(B), ok(C)]));
      assert.doesNotMatch(await h.metrics(), /b\.test/);
      // An icmp source with its echo series, then a reload removing it and moving C to another layer.
      h.sources = [A, C, ANCHOR];
      h.live.publishCycle(cycle(3, [ok(A), ok(C, { certExpiresAt: 1_900_000_000 }), echoes(ANCHOR, [1, 2])]));
      const withAnchor = await h.metrics();
      assert.equal(value(withAnchor, 'wmn_probe_icmp_jitter_seconds', { source: ANCHOR }), 0.001);
      assert.equal(value(withAnchor, 'wmn_source_layer_info', { source: C, layer: 'service' }), 1);
      h.sources = [A, C];
      h.layers = { [C]: 'isp' };
      const reloaded = await h.metrics();
      assert.ok(
        !parse(reloaded).some((s) => s.labels.source === ANCHOR),
        'no series of the removed icmp source',
      );
      assert.deepEqual(
        family(reloaded, 'wmn_source_layer_info').map((s) => [s.labels.source, s.labels.layer]),
        [
          [A, 'service'],
          [C, 'isp'],
        ],
      );
      assert.equal(value(reloaded, 'probe_ssl_earliest_cert_expiry', { source: C }), 1_900_000_000);
      // A renamed agent: the old name's series go, the new name's start at zero.
      h.agentName = 'renamed';
      const renamed = await h.metrics();
      assert.doesNotMatch(renamed, /agent="unit"/);
      assert.equal(value(renamed, 'wmn_cycles_total', { agent: 'renamed' }), 0);
    });
  });

  it('exports certificate expiry, layers, and icmp/tcp/dns sources without HTTP series', async (t) => {
    await withExporter(async (h) => {
      h.sources = [A, C, GATEWAY, ANCHOR, TCP, DNS];
      const expiry = 1_900_000_000;
      h.live.publishCycle(
        cycle(100, [
          ok(A),
          ok(C, { dnsMs: 1, tlsMs: 3, certExpiresAt: expiry }),
          echoes(GATEWAY, [1, 2]),
          echoes(ANCHOR, [10, null, 14, 11]),
          connected(TCP, { connectMs: 5, totalMs: 5 }),
          connected(DNS, { connectMs: null, totalMs: 8 }),
        ]),
      );
      const text = await h.metrics();
      // Certificates: the expiry as blackbox_exporter gives it, only where one was presented.
      assert.deepEqual(family(text, 'probe_ssl_earliest_cert_expiry'), [
        { name: 'probe_ssl_earliest_cert_expiry', labels: { source: C }, value: expiry },
      ]);
      // Layers: one info series per configured source, defaults from the URI.
      assert.deepEqual(
        family(text, 'wmn_source_layer_info').map((s) => [s.labels.source, s.labels.layer, s.value]),
        [
          [A, 'service', 1],
          [C, 'service', 1],
          [GATEWAY, 'lan', 1],
          [ANCHOR, 'internet', 1],
          [TCP, 'internet', 1],
          [DNS, 'dns', 1],
        ],
      );
      // Sources other than HTTP: a success and a duration, never an HTTP status or HTTP phase.
      for (const source of [GATEWAY, ANCHOR, TCP, DNS]) {
        assert.equal(value(text, 'probe_success', { source }), 1, source);
        assert.equal(value(text, 'probe_http_status_code', { source }), undefined, source);
        assert.ok(!family(text, 'probe_http_duration_seconds').some((s) => s.labels.source === source));
      }
      assert.equal(value(text, 'probe_duration_seconds', { source: TCP }), 0.005);
      assert.equal(value(text, 'probe_duration_seconds', { source: ANCHOR }), (10 + 14 + 11) / 3 / 1000);
      // The connect that happened still feeds the phase distribution.
      assert.equal(value(text, 'wmn_probe_phase_seconds_count', { source: TCP, phase: 'connect' }), 1);
      // Echoes: every request and reply counted; jitter = mean |difference| of consecutive replies.
      assert.equal(value(text, 'wmn_probe_icmp_requests_total', { source: ANCHOR }), 4);
      assert.equal(value(text, 'wmn_probe_icmp_replies_total', { source: ANCHOR }), 3);
      assert.equal(value(text, 'wmn_probe_icmp_jitter_seconds', { source: ANCHOR }), (4 + 3) / 2 / 1000);
      assert.equal(value(text, 'wmn_probe_icmp_requests_total', { source: GATEWAY }), 2);
      assert.equal(value(text, 'wmn_probe_icmp_jitter_seconds', { source: GATEWAY }), 0.001);
      for (const source of [A, C, TCP, DNS])
        assert.equal(value(text, 'wmn_probe_icmp_requests_total', { source }), undefined, source);
      assert.equal(value(text, 'wmn_diagnosis', { agent: 'unit', diagnosis: 'ok' }), 1);

      // Every echo lost, the https server refused: no certificate shown, no jitter, the loss counted.
      h.live.publishCycle(
        cycle(101, [
          ok(A),
          refused(C),
          echoes(GATEWAY, [1, 1]),
          echoes(ANCHOR, [null, null, null, null]),
          connected(TCP),
          connected(DNS),
        ]),
      );
      const later = await h.metrics();
      assert.deepEqual(family(later, 'probe_ssl_earliest_cert_expiry'), []);
      assert.equal(value(later, 'probe_success', { source: ANCHOR }), 0);
      assert.equal(value(later, 'wmn_probe_icmp_jitter_seconds', { source: ANCHOR }), undefined);
      assert.equal(value(later, 'wmn_probe_icmp_jitter_seconds', { source: GATEWAY }), 0);
      assert.equal(value(later, 'wmn_probe_icmp_requests_total', { source: ANCHOR }), 8);
      assert.equal(value(later, 'wmn_probe_icmp_replies_total', { source: ANCHOR }), 3);
      assert.equal(value(later, 'wmn_probe_failures_total', { source: ANCHOR, error: 'timeout' }), 1);
      assert.equal(value(later, 'wmn_diagnosis', { agent: 'unit', diagnosis: 'partial' }), 1);
      if (!need(t, existsSync(PROMTOOL), NO_PROMTOOL)) return;
      assertLintClean(text);
    });
  });

  it('shows the latest diagnosis one-hot, every kind always present', async () => {
    await withExporter(async (h) => {
      h.sources = [GATEWAY, ANCHOR, C];
      const shownKinds = (text: string) =>
        Object.fromEntries(family(text, 'wmn_diagnosis').map((s) => [s.labels.diagnosis, s.value]));
      const none = Object.fromEntries(DIAGNOSES.map((k) => [k, 0]));
      const only = (kind: string) => ({ ...none, [kind]: 1 });
      assert.deepEqual(shownKinds(await h.metrics()), none, 'all 0 before the first cycle');
      // The gateway answers, nothing beyond it does: the ISP.
      h.live.publishCycle(cycle(10, [echoes(GATEWAY, [1]), echoes(ANCHOR, [null]), refused(C)]));
      assert.deepEqual(shownKinds(await h.metrics()), only('isp'));
      // The gateway fails too: the LAN.
      h.live.publishCycle(cycle(11, [echoes(GATEWAY, [null]), echoes(ANCHOR, [null]), refused(C)]));
      assert.deepEqual(shownKinds(await h.metrics()), only('lan'));
      // An older cycle finishing late counts, but does not replace the latest diagnosis.
      h.live.publishCycle(cycle(9, [echoes(GATEWAY, [1]), echoes(ANCHOR, [1]), ok(C)]));
      assert.deepEqual(shownKinds(await h.metrics()), only('lan'));
      h.live.publishCycle(cycle(12, [echoes(GATEWAY, [1]), echoes(ANCHOR, [1]), ok(C)]));
      const text = await h.metrics();
      assert.deepEqual(shownKinds(text), only('ok'));
      assert.ok(family(text, 'wmn_diagnosis').every((s) => s.labels.agent === 'unit'));
      // A renamed agent: the old name's series go, the new name's start at 0.
      h.agentName = 'renamed';
      const renamed = await h.metrics();
      assert.deepEqual(
        family(renamed, 'wmn_diagnosis').map((s) => s.labels.agent),
        DIAGNOSES.map(() => 'renamed'),
      );
      assert.deepEqual(shownKinds(renamed), none);
    });
  });

  it('reports the agent: tick lateness, skipped ticks, probes in flight, writes, spool, build', async (t) => {
    await withExporter(async (h) => {
      h.live.publishTick({ probeId: 1, scheduledAt: 1000, lateMs: 1.5 });
      h.live.publishTick({ probeId: 2, scheduledAt: 2000, lateMs: 30 });
      h.scheduler.stats = { ticks: 2, skipped: 3, clockSteps: 1 };
      h.inFlight = 7;
      for (const observer of h.writes) {
        observer(4, true);
        observer(2_000, false);
      }
      Object.assign(h.stats, { failures: 2, rejected: 1, queued: 12, spoolBytes: 3456, dropped: 4 });
      const text = await h.metrics();
      assert.equal(value(text, 'wmn_tick_lateness_seconds_count'), 2);
      assert.equal(value(text, 'wmn_tick_lateness_seconds_bucket', { le: '0.002' }), 1);
      assert.equal(value(text, 'wmn_tick_lateness_seconds_sum'), 0.0315);
      assert.equal(value(text, 'wmn_ticks_skipped_total'), 3);
      assert.equal(value(text, 'wmn_clock_steps_total'), 1);
      assert.equal(value(text, 'wmn_probes_in_flight'), 7);
      assert.equal(value(text, 'wmn_write_duration_seconds_count'), 2);
      assert.equal(value(text, 'wmn_write_duration_seconds_bucket', { le: '0.005' }), 1);
      assert.equal(value(text, 'wmn_write_failures_total'), 3);
      assert.equal(value(text, 'wmn_cycles_dropped_total'), 4);
      assert.equal(value(text, 'wmn_spool_cycles'), 12);
      assert.equal(value(text, 'wmn_spool_bytes'), 3456);
      assert.match(text, /^wmn_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
      assert.match(text, /^process_resident_memory_bytes \d+/m);
      assert.match(text, /^process_cpu_seconds_total /m);
      // A reload with a new interval replaces the scheduler: its counts start over, the metric goes on.
      h.scheduler = { stats: { ticks: 1, skipped: 1, clockSteps: 0 } };
      assert.equal(value(await h.metrics(), 'wmn_ticks_skipped_total'), 3 + 1);
      // Every metric has HELP and TYPE, and names promtool accepts (the e2e test lints a live agent).
      for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE '))) {
        const name = line.split(' ')[2];
        assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has a HELP text`);
      }
      if (!need(t, existsSync(PROMTOOL), NO_PROMTOOL)) return;
      assertLintClean(text);
    });
  });

  it('/readyz: 200 while ticking and writing; 503 with a reason per failing check', async () => {
    await withExporter(async (h) => {
      const ready = () => h.get('/readyz');
      let res = await ready();
      assert.equal(res.status, 503);
      assert.match(res.text, /^not ready\nscheduler: FAILING: no tick yet\n/);

      h.live.publishTick({ probeId: 1, scheduledAt: 1000, lateMs: 0 });
      for (const observer of h.writes) observer(3, true);
      res = await ready();
      assert.equal(res.status, 200, res.text);
      assert.match(
        res.text,
        /^ready\nscheduler: ok: last tick 0\.0 s ago \(limit 3\.0 s\)\ndatabase: ok: last cycle stored/,
      );

      // Two intervals and a second without a tick (interval 1 s): the scheduler is stuck.
      h.now += 2_900;
      assert.equal((await ready()).status, 200);
      h.now += 200;
      res = await ready();
      assert.equal(res.status, 503);
      assert.match(res.text, /scheduler: FAILING: last tick 3\.1 s ago \(limit 3\.0 s\)/);
      assert.match(res.text, /database: ok: last cycle stored 3\.1 s ago/, 'every check is listed');

      // No write stored for 30 s: SELECT 1 decides.
      h.now += 30_000;
      h.live.publishTick({ probeId: 2, scheduledAt: 2000, lateMs: 0 });
      res = await ready();
      assert.equal(res.status, 200, res.text);
      assert.match(res.text, /database: ok: no cycle stored in the last 30 s; SELECT 1 answered/);
      h.reader = {
        query: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:1');
        },
      };
      res = await ready();
      assert.equal(res.status, 503);
      assert.match(
        res.text,
        /^not ready\nscheduler: ok: .*\ndatabase: FAILING: .*SELECT 1 failed: connect ECONNREFUSED/,
      );
      // A server that accepts and never answers: the check gives up after 2 s.
      h.reader = { query: () => new Promise(() => {}) };
      const started = performance.now();
      res = await ready();
      assert.equal(res.status, 503);
      assert.match(res.text, /SELECT 1 failed: no answer within 2\.0 s/);
      assert.ok(performance.now() - started < 3_000);
      // /healthz is liveness only.
      assert.deepEqual(await h.get('/healthz'), { status: 200, text: 'ok\n' });
    });
  });
});

// --- end to end: wmn run, Prometheus, promtool ------------------------------------------------------

/** Fails with promtool's words unless `promtool check metrics` accepts `text` without a warning. */
function assertLintClean(text: string): void {
  const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(`${lint.stdout}${lint.stderr}`, '', 'promtool check metrics has no complaint');
  assert.equal(lint.status, 0);
}

interface ScrapeJob {
  readonly name: string;
  /** host:port */
  readonly target: string;
  readonly credentialsFile?: string;
}

interface Prometheus {
  /** Instant query: each series' labels and value. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string }[]>;
  log(): string;
  stop(): Promise<void>;
}

/** A real Prometheus on loopback scraping `jobs` every second, its data in `dir`. */
async function startPrometheus(dir: string, jobs: readonly ScrapeJob[]): Promise<Prometheus> {
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    ...jobs.flatMap((job) => [
      `  - job_name: ${job.name}`,
      ...(job.credentialsFile
        ? ['    authorization:', `      credentials_file: ${job.credentialsFile}`]
        : []),
      '    static_configs:',
      `      - targets: ['${job.target}']`,
    ]),
  ];
  const file = join(dir, 'prometheus.yml');
  await writeFile(file, `${config.join('\n')}\n`);
  const port = await closedPort();
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${file}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    assert.equal(body.status, 'success', `${path}: ${body.error}`);
    return body.data;
  };
  const prometheus: Prometheus = {
    async query(promql) {
      const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async targets() {
      const data = await api<{
        activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
      }>('/api/v1/targets');
      return data.activeTargets;
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  try {
    await until(
      async () => (await fetch(`${base}/-/ready`)).ok,
      30_000,
      () => `Prometheus not ready:\n${log}`,
    );
  } catch (err) {
    await prometheus.stop();
    throw err;
  }
  return prometheus;
}

/** Polls `check` (errors count as false) every 250 ms until true, or fails with `why()` after `ms`. */
async function until(check: () => Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The one value of `promql`, once Prometheus has it and `accept` takes it. */
async function settled(
  prometheus: Prometheus,
  promql: string,
  accept: (v: number) => boolean = () => true,
  ms = 30_000,
): Promise<number> {
  let last: unknown = 'nothing';
  let found = Number.NaN;
  await until(
    async () => {
      const result = await prometheus.query(promql);
      last = result;
      if (result.length !== 1 || !accept(result[0]?.value ?? Number.NaN)) return false;
      found = result[0]?.value ?? Number.NaN;
      return true;
    },
    ms,
    () => `${promql}: no acceptable value; last answer ${JSON.stringify(last)}\n${prometheus.log()}`,
  );
  return found;
}

describe('exporter end to end: wmn run scraped by a real Prometheus', () => {
  let dir = '';
  let good: Listening;
  let goodSource = '';
  let refusedSource = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wmn-exporter-'));
    good = await listen(createServer((_req, res) => res.end('ok')));
    goodSource = `http://127.0.0.1:${good.port}/`;
    refusedSource = `http://127.0.0.1:${await closedPort()}/`;
  });
  after(async () => {
    await good?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const config = (agent: string, lines: string[] = []) =>
    writeAgentConfig(dir, agent, { sources: [goodSource, refusedSource], lines });

  it('Prometheus scrapes the series with the right values, with and without a token', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    if (!need(t, existsSync(PROMETHEUS), NO_PROMETHEUS)) return;
    if (!need(t, existsSync(PROMTOOL), NO_PROMTOOL)) return;
    await withTestDatabase(t, async (url) => {
      const token = 'exporter-test-token-0123456789abcdef';
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
      const agents = [
        startWmn(await config('open'), { DATABASE_URL: url }),
        startWmn(await config('guarded', ['web:', `  token_file: ${tokenFile}`]), { DATABASE_URL: url }),
      ];
      let prometheus: Prometheus | undefined;
      try {
        const [open = '', guarded = ''] = await Promise.all(agents.map(webUrl));
        await Promise.all(agents.map((a) => a.waitFor(/msg=cycle /, 2, 30_000)));

        // The token: refused without it, accepted as a bearer token; /healthz stays open.
        assert.equal((await fetch(`${guarded}/metrics`)).status, 401);
        assert.equal((await fetch(`${guarded}/readyz`)).status, 401);
        assert.equal((await fetch(`${guarded}/healthz`)).status, 200);
        const scraped = await fetch(`${guarded}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(scraped.status, 200);
        assert.match(scraped.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
        const text = await scraped.text();
        assert.match(text, /^# HELP probe_success /m);
        assertLintClean(text);
        assertLintClean(await (await fetch(`${open}/metrics`)).text());

        // Ready: ticking, and the last write was stored.
        await until(
          async () => (await fetch(`${open}/readyz`)).status === 200,
          10_000,
          () => 'never ready',
        );

        const host = (u: string) => new URL(u).host;
        prometheus = await startPrometheus(dir, [
          { name: 'wmn-open', target: host(open) },
          { name: 'wmn-guarded', target: host(guarded), credentialsFile: tokenFile },
          { name: 'wmn-anonymous', target: host(guarded) },
        ]);
        const p = prometheus;
        for (const job of ['wmn-open', 'wmn-guarded']) {
          const at = (source: string) => `probe_success{job="${job}",source="${source}"}`;
          assert.equal(await settled(p, at(goodSource)), 1, job);
          assert.equal(await settled(p, at(refusedSource)), 0, job);
          assert.equal(await settled(p, `wmn_down{job="${job}"}`), 0, job);
          // One of two sources refused: the connection works, partly.
          assert.equal(await settled(p, `wmn_diagnosis{job="${job}",diagnosis="partial"}`), 1, job);
          assert.equal(await settled(p, `wmn_diagnosis{job="${job}",diagnosis="ok"}`), 0, job);
          const layer = `wmn_source_layer_info{job="${job}",source="${goodSource}",layer="internet"}`;
          assert.equal(await settled(p, layer), 1, job);
          const connect = await settled(
            p,
            `probe_http_duration_seconds{job="${job}",source="${goodSource}",phase="connect"}`,
          );
          assert.ok(connect > 0 && connect < 1, `${job}: connect ${connect} s`);
          assert.equal(await settled(p, `up{job="${job}"}`), 1, job);
        }
        // The refused source has no phase at all: absent, not 0.
        assert.deepEqual(await p.query(`probe_http_duration_seconds{source="${refusedSource}"}`), []);
        const refusals = await settled(
          p,
          `wmn_probe_failures_total{job="wmn-open",source="${refusedSource}",error="refused"}`,
          (v) => v >= 1,
        );
        assert.ok(refusals >= 1);
        // Lateness observations keep coming: the count grows between scrapes.
        const ticks = `wmn_tick_lateness_seconds_count{job="wmn-open"}`;
        const first = await settled(p, ticks);
        assert.ok((await settled(p, ticks, (v) => v > first)) > first);
        // Without the credentials Prometheus is refused: the target is down with a 401.
        assert.equal(await settled(p, 'up{job="wmn-anonymous"}'), 0);
        const anonymous = (await p.targets()).find((x) => x.labels.job === 'wmn-anonymous');
        assert.match(anonymous?.lastError ?? '', /401/);
        for (const target of (await p.targets()).filter((x) => x.labels.job !== 'wmn-anonymous'))
          assert.equal(target.lastError, '', `${target.labels.job} scrapes cleanly`);
      } finally {
        await prometheus?.stop();
        await Promise.all(agents.map((a) => (a.child.exitCode === null ? a.stop() : a.exited)));
      }
      for (const a of agents) {
        assert.equal(a.child.exitCode, 0, a.log());
        assert.doesNotMatch(a.log(), /level=error/, a.log());
      }
    });
  });

  it('/readyz is 503 while the database is unreachable, and the agent goes on probing', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const agent = startWmn(await config('no-database'), {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/wmn`,
    });
    try {
      const url = await webUrl(agent);
      await agent.waitFor(/msg=cycle /, 2, 30_000);
      const res = await fetch(`${url}/readyz`);
      const text = await res.text();
      assert.equal(res.status, 503, text);
      assert.match(
        text,
        /^not ready\nscheduler: ok: last tick .*\ndatabase: FAILING: no cycle stored yet, and SELECT 1 failed: .*ECONNREFUSED/,
      );
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.ok((value(metrics, 'wmn_spool_cycles') ?? 0) >= 1, 'cycles wait in the spool');
      assert.ok((value(metrics, 'wmn_write_failures_total') ?? 0) >= 1);
      const cycles = agent.log().split('msg=cycle ').length - 1;
      await agent.waitFor(/msg=cycle /, cycles + 2, 10_000);
    } finally {
      await agent.stop();
    }
    assert.match(agent.log(), /database unreachable at start/);
  });
});
