/**
 * What migration 003 adds, through the real store on the machine's PostgreSQL: layers, the per-cycle
 * diagnosis, certificate expiry and echo samples are stored; DOWN counts only the internet layers; an
 * outage carries its diagnosis and the evidence the report words it with.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outages } from '../src/analysis/outages.js';
import { createLogger } from '../src/log.js';
import { createPostgresStore } from '../src/store/postgres.js';
import type { CycleRecord, CycleResult, Store } from '../src/store/types.js';
import { withTestDatabase } from './helpers/pg.js';
import { answered, failed } from './helpers/results.js';

const log = createLogger({ level: 'error' });
const T0 = 1_790_000_000;

/** An echo-like result (no HTTP phases) with its layer; absent layer: a row of an older version. */
function result(
  source: string,
  layer: CycleResult['layer'],
  ok: boolean,
  extra: Partial<CycleResult> = {},
): CycleResult {
  const bare = { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: null, remoteIp: null };
  const outcome = ok
    ? answered(source, { ...bare, status: null, totalMs: 5 })
    : failed(source, 'timeout', { totalMs: 1000 });
  return { ...outcome, ...(layer === undefined ? {} : { layer }), ...extra } as CycleResult;
}

/** A cycle of the home topology: the gateway and two anchors, each answering or not. */
function cycle(at: number, gateway: boolean, anchors: boolean): CycleRecord {
  return {
    agent: 'home',
    probeId: at,
    ts: new Date(at * 1000),
    results: [
      result('icmp://gateway', 'lan', gateway, {
        samplesMs: gateway ? [0.4, null, 0.6] : [null, null, null],
      }),
      result('icmp://1.1.1.1', 'internet', anchors),
      result(
        'https://example.com/',
        'service',
        anchors,
        anchors ? { status: 200, certExpiresAt: 1_800_000_000 } : {},
      ),
    ],
  };
}

async function withStore(t: Parameters<typeof withTestDatabase>[0], fn: (store: Store) => Promise<void>) {
  await withTestDatabase(t, async (url) => {
    const store = createPostgresStore({
      connection: { connectionString: url },
      describe: { kind: 'server', url, psql: 'psql' },
      agent: 'home',
      log,
    });
    try {
      await store.migrate();
      await fn(store);
    } finally {
      await store.close();
    }
  });
}

describe('localisation in the store', () => {
  it('stores layer, diagnosis, certificate expiry and echo samples with every row', (t) =>
    withStore(t, async (store) => {
      await store.writeCycle(cycle(T0, true, true));
      const { rows } = await store.reader.query(
        `SELECT source, layer, diagnosis, extract(epoch FROM cert_expiry)::bigint AS cert, rtt_ms
           FROM favicon_metrics ORDER BY source`,
      );
      assert.deepEqual(rows, [
        {
          source: 'https://example.com/',
          layer: 'service',
          diagnosis: 'ok',
          cert: '1800000000',
          rtt_ms: null,
        },
        { source: 'icmp://1.1.1.1', layer: 'internet', diagnosis: 'ok', cert: null, rtt_ms: null },
        { source: 'icmp://gateway', layer: 'lan', diagnosis: 'ok', cert: null, rtt_ms: [0.4, null, 0.6] },
      ]);
      const { rows: certs } = await store.reader.query(
        'SELECT agent, source, extract(epoch FROM cert_expiry)::bigint AS cert FROM wmn_cert_expiry()',
      );
      // wmn_cert_expiry walks the registered sources: none registered yet, so none listed.
      assert.deepEqual(certs, []);
      await store.registerAgent({
        agent: 'home',
        intervalMs: 1000,
        sources: ['icmp://gateway', 'icmp://1.1.1.1', 'https://example.com/'],
        version: 'test',
      });
      const { rows: listed } = await store.reader.query(
        'SELECT agent, source, extract(epoch FROM cert_expiry)::bigint AS cert FROM wmn_cert_expiry()',
      );
      assert.deepEqual(listed, [{ agent: 'home', source: 'https://example.com/', cert: '1800000000' }]);
    }));

  it('counts a cycle DOWN when the internet layers failed, whatever the gateway did', (t) =>
    withStore(t, async (store) => {
      await store.writeCycle(cycle(T0, true, true));
      await store.writeCycle(cycle(T0 + 1, true, false)); // ISP: the gateway answered
      await store.writeCycle(cycle(T0 + 2, false, false)); // LAN
      await store.writeCycle(cycle(T0 + 3, false, true)); // gateway silent to pings, internet fine
      const { rows } = await store.reader.query(
        'SELECT probe_id::int - $1 AS n, sources, failed, down, diagnosis FROM wmn_cycles ORDER BY probe_id',
        [T0],
      );
      assert.deepEqual(rows, [
        { n: 0, sources: 2, failed: 0, down: false, diagnosis: 'ok' },
        { n: 1, sources: 2, failed: 2, down: true, diagnosis: 'isp' },
        { n: 2, sources: 2, failed: 2, down: true, diagnosis: 'lan' },
        { n: 3, sources: 2, failed: 0, down: false, diagnosis: 'ok' },
      ]);
    }));

  it('gives an outage its diagnosis, worded with the evidence of its rows', (t) =>
    withStore(t, async (store) => {
      await store.writeCycle(cycle(T0, true, true));
      for (let i = 1; i <= 3; i++) await store.writeCycle(cycle(T0 + i, true, false));
      await store.writeCycle(cycle(T0 + 4, true, true));
      const range = { from: new Date((T0 - 60) * 1000), to: new Date((T0 + 60) * 1000) };
      const [outage, ...more] = await outages(store.reader, range);
      assert.equal(more.length, 0);
      assert.equal(outage?.durationS, 3);
      assert.deepEqual(outage?.diagnosis, {
        kind: 'isp',
        text: 'ISP (gateway answered, 1.1.1.1 and example.com did not)',
      });
      // Once retention has deleted the raw rows, the word stays (wmn_cycles keeps DOWN cycles).
      await store.reader.query('ALTER TABLE favicon_metrics DISABLE TRIGGER USER');
      await store.reader.query('DELETE FROM favicon_metrics');
      const [bare] = await outages(store.reader, range);
      assert.deepEqual(bare?.diagnosis, { kind: 'isp', text: 'ISP' });
    }));

  it('reads rows written before layers existed as before: every source decides', (t) =>
    withStore(t, async (store) => {
      const legacy: CycleRecord = {
        agent: 'home',
        probeId: T0,
        ts: new Date(T0 * 1000),
        results: [result('https://a/', undefined, false), result('https://b/', undefined, false)],
      };
      await store.writeCycle(legacy);
      const { rows } = await store.reader.query('SELECT sources, failed, down, diagnosis FROM wmn_cycles');
      assert.deepEqual(rows, [{ sources: 2, failed: 2, down: true, diagnosis: 'down' }]);
    }));
});
