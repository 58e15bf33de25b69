/**
 * The agent's orchestration with a fake clock and in-memory probers/store: these isolate the scheduling
 * and write-retry logic (real probers, real PostgreSQL and the real process are covered by
 * probes.test.ts, store.test.ts and e2e.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startAgent } from '../src/agent/agent.js';
import { runCycle } from '../src/agent/cycle.js';
import { cycleSummary } from '../src/agent/summary.js';
import { CycleWriter } from '../src/agent/writer.js';
import type { Config, SourceConfig } from '../src/config/types.js';
import { silentLogger } from '../src/log.js';
import { PROBERS, type ProberRegistry } from '../src/probes/index.js';
import type { ProbeResult, Prober } from '../src/probes/types.js';
import type { CycleRecord } from '../src/store/types.js';
import { FakeClock } from './helpers/fake-clock.js';
import { answered } from './helpers/results.js';

const OPTIONS = { timeoutMs: 1500, followRedirects: true, maxRedirects: 10, insecure: false };

function source(uri: string, engine: 'curl' | 'http' = 'http'): SourceConfig {
  return {
    kind: 'http',
    layer: 'service',
    source: { kind: 'http', uri, url: new URL(uri), family: null },
    engine,
    options: OPTIONS,
  };
}

const ok = (uri: string, totalMs = 20) => answered(uri, { totalMs });

const instant: Prober = async (s) => ok(s.uri);
/** Every HTTP engine replaced by `prober` (the tests' sources are all HTTP). */
function httpOnly(prober: Prober): ProberRegistry {
  return { ...PROBERS, http: { http: prober, curl: prober } };
}

const probers = httpOnly(instant);

function config(sources: SourceConfig[]): Config {
  return {
    agent: 'test',
    intervalMs: 1000,
    timeoutMs: 1500,
    engine: 'http',
    sources,
    spread: false,
    database: { url: null, embeddedPort: null },
    dataDir: '/nonexistent',
    spoolMaxBytes: 256 * 1024 ** 2,
    web: null,
    alerts: null,
    rawRetentionMs: null,
    logLevel: 'info',
  };
}

const tick = { probeId: 1_800_000_000, scheduledAt: 1_800_000_000_000, lateMs: 0.3 };
const ctx = { signal: new AbortController().signal, clock: { now: () => performance.now() } };

describe('runCycle', () => {
  it('gives one row per source, in source order, with the tick as ts', async () => {
    const record = await runCycle('a', tick, [source('https://a/'), source('https://b/')], probers, ctx);
    assert.deepEqual(
      record.results.map((r) => r.source),
      ['https://a/', 'https://b/'],
    );
    assert.equal(record.ts.getTime(), tick.scheduledAt);
    assert.equal(record.probeId, tick.probeId);
  });

  it('turns a prober that throws into an internal failure row instead of losing it', async () => {
    const broken: ProberRegistry = {
      ...probers,
      http: {
        http: instant,
        curl: async () => {
          throw new Error('boom');
        },
      },
    };
    const record = await runCycle(
      'a',
      tick,
      [source('https://a/', 'curl'), source('https://b/')],
      broken,
      ctx,
    );
    assert.equal(record.results.length, 2);
    assert.equal(record.results[0]?.error, 'internal');
    assert.equal(record.results[0]?.disconnected, true);
    assert.equal(record.results[0]?.detail, 'boom');
  });
});

describe('runCycle with spread sources', () => {
  /** Probers that note when each source started, ms after the cycle began. */
  function timed() {
    const began = performance.now();
    const started = new Map<string, number>();
    const prober: Prober = async (s) => {
      started.set(s.uri, performance.now() - began);
      return ok(s.uri);
    };
    return { started, probers: httpOnly(prober) };
  }

  it('starts each source its offset after the tick, keeping source order and the tick as ts', async () => {
    const { started, probers: noting } = timed();
    const spreadSources = [source('https://a/'), { ...source('https://b/'), offsetMs: 150 }];
    const record = await runCycle('a', tick, spreadSources, noting, ctx);
    assert.deepEqual(
      record.results.map((r) => r.source),
      ['https://a/', 'https://b/'],
    );
    assert.equal(record.ts.getTime(), tick.scheduledAt);
    assert.ok(started.get('https://a/')! < 50, 'an unspread source starts at the tick');
    assert.ok(started.get('https://b/')! >= 149, `started at ${started.get('https://b/')} ms`);
  });

  it('stops waiting when the agent aborts, so a waiting source still yields its row at once', async () => {
    const { started, probers: noting } = timed();
    const abort = new AbortController();
    const cycle = runCycle('a', tick, [{ ...source('https://a/'), offsetMs: 60_000 }], noting, {
      ...ctx,
      signal: abort.signal,
    });
    abort.abort();
    const record = await cycle;
    assert.equal(record.results.length, 1);
    assert.ok(started.get('https://a/')! < 1_000);
  });
});

describe('cycleSummary', () => {
  it('reports DOWN only when every source failed, and names the failure classes', () => {
    const failed: ProbeResult = {
      ...ok('https://b/'),
      disconnected: true,
      status: null,
      error: 'timeout',
      ttfbMs: null,
    };
    const up = cycleSummary({
      agent: 'a',
      probeId: 1,
      ts: new Date(),
      results: [ok('https://a/', 80), failed],
    });
    assert.equal(up.state, 'UP');
    assert.equal(up.failed, 'https://b/ timeout');
    assert.match(String(up.slowest), /^https:\/\/a\/ 80\.0ms \(wait 73\.0ms\)$/);
    const down = cycleSummary({ agent: 'a', probeId: 1, ts: new Date(), results: [failed] });
    assert.equal(down.state, 'DOWN');
    assert.equal(down.slowest, undefined);
  });
});

describe('CycleWriter', () => {
  const cycle = (probeId: number): CycleRecord => ({ agent: 'a', probeId, ts: new Date(), results: [] });

  it('keeps failed cycles and writes them in order once the database is back', async () => {
    let down = 3;
    const written: number[] = [];
    const store = {
      async writeCycle(c: CycleRecord) {
        if (down-- > 0) throw new Error('connection refused');
        written.push(c.probeId);
        return 1;
      },
    };
    const writer = new CycleWriter(store, silentLogger, { minBackoffMs: 5, maxBackoffMs: 10 });
    for (const id of [1, 2, 3]) writer.enqueue(cycle(id));
    assert.equal(await writer.drain(5_000), 0);
    assert.deepEqual(written, [1, 2, 3]);
    assert.equal(writer.stats.failures, 3);
    assert.equal(writer.stats.written, 3);
  });

  it('drops the oldest cycle when the queue bound is hit, and counts it', async () => {
    const store = { writeCycle: async () => Promise.reject(new Error('down')) };
    const writer = new CycleWriter(store, silentLogger, { maxQueued: 2, minBackoffMs: 5, maxBackoffMs: 5 });
    for (const id of [1, 2, 3]) writer.enqueue(cycle(id));
    assert.equal(writer.stats.dropped, 1);
    assert.equal(await writer.drain(30), 2, 'the two newest remain unwritten after the deadline');
  });
});

describe('agent', () => {
  it('starts one cycle per tick without waiting for slow probes, and drains on stop', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1) + 500);
    const pending: Array<() => void> = [];
    const slow: Prober = (s) => new Promise((resolve) => pending.push(() => resolve(ok(s.uri))));
    const rows: CycleRecord[] = [];
    const agent = startAgent({
      config: config([source('https://a/'), source('https://b/')]),
      writer: new CycleWriter(
        {
          writeCycle: async (c) => {
            rows.push(c);
            return c.results.length;
          },
        },
        silentLogger,
      ),
      probers: httpOnly(slow),
      clock,
      log: silentLogger,
    });
    clock.advance(3_000);
    assert.equal(agent.scheduler.stats.ticks, 3, 'ticks keep coming while probes hang');
    assert.equal(agent.inFlight(), 6);
    const stopping = agent.stop(1_000);
    for (const release of pending) release();
    assert.equal(await stopping, 0);
    assert.equal(agent.inFlight(), 0);
    assert.deepEqual(
      rows.map((c) => c.probeId - rows[0]!.probeId),
      [0, 1, 2],
    );
  });
});
