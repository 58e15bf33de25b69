/**
 * `wmn report` on the seeded dataset (test/helpers/seed.ts), on the machine's real PostgreSQL: the
 * analysis module returns exactly the hand-worked figures; every format shows them (md and html to
 * the second, json and csv exactly), where each outage broke and the certificates about to expire
 * included; hostile agent and source names stay inert; the built CLI prints the report on stdout with
 * exit 0 and refuses bad options with exit 2.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import {
  agentSeries,
  agentSummary,
  certExpiry,
  outageSummary,
  outages,
  periodSummary,
  phaseSummary,
  sourceSummary,
} from '../src/analysis/index.js';
import { parseReportArgs } from '../src/cli/commands/report.js';
import { duration } from '../src/report/format.js';
import { type Report, readReport, renderReport } from '../src/report/index.js';
import { formatTime, monthRange, parseTime, periods } from '../src/report/time.js';
import { MIGRATIONS_DIR, runMigrations } from '../src/store/migrate.js';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import {
  EXPECTED,
  insertRows,
  LAB_AGENT,
  LAB_CERT_DAYS,
  LAB_EXPECTED,
  LAB_FAR,
  LAB_FROM,
  LAB_SITE,
  LAB_TO,
  SEED_FROM,
  SEED_TO,
  type SeedRow,
  SOURCE_A,
  SOURCE_B,
  SOURCE_OFFICE,
  seedDataset,
  seedLab,
} from './helpers/seed.js';
import { countLines, NOT_BUILT, startWmn, WMN, WMN_BUILT } from './helpers/wmn.js';

const RANGE = { from: SEED_FROM, to: SEED_TO };
const HOME_UPTIME = (100 * (EXPECTED.home.cycles - EXPECTED.home.downCycles)) / EXPECTED.home.cycles;
const HOME_COVERAGE = (100 * EXPECTED.home.coveredS) / EXPECTED.home.rangeS;
const HOSTILE_AGENT = `<script>alert("agent")</script>'"&amp;, =1+1`;
const HOSTILE_SOURCE = `https://evil.example/"><script>alert('src')</script><img src=http://x/>`;

/** A migrated, seeded database on the test server; `fn` gets a pool on it and its URL. */
async function withSeeded(t: TestContext, fn: (pool: pg.Pool, url: string) => Promise<void>): Promise<void> {
  await withTestDatabase(t, async (url) => {
    await withClient({ connectionString: url }, async (client) => {
      await runMigrations(client, { dir: MIGRATIONS_DIR, agent: 'test' });
      await seedDataset(client);
    });
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    try {
      await fn(pool, url);
    } finally {
      await pool.end();
    }
  });
}

function seededReport(pool: pg.Pool, agents?: string[]): Promise<Report> {
  return readReport(pool, {
    range: { ...RANGE, timeZone: 'UTC', label: 'seed', inProgress: false },
    agents,
    slaTargetPct: 99.9,
    generator: 'wmn test',
    now: new Date('2026-10-02T00:00:00Z'),
  });
}

/** RFC 4180 records (CRLF line ends, quoted fields with doubled quotes). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else {
      assert.ok(c !== '\n' && c !== '"', `bare ${JSON.stringify(c)} at ${i}`);
      field += c;
    }
  }
  assert.equal(field + record.join(''), '', 'the last record ends with CRLF');
  return records;
}

function csvValue(
  records: string[][],
  section: string,
  agent: string,
  metric: string,
  key = '',
  source = '',
) {
  const hit = records.find(
    (r) => r[0] === section && r[1] === agent && r[2] === source && r[3] === key && r[4] === metric,
  );
  assert.ok(hit, `csv has ${section}/${agent}/${source}/${key}/${metric}`);
  return hit[5];
}

const ELEMENTS = new Set(
  'html head meta title style body header h1 h2 h3 p strong span table thead tbody tr th td section ul li dl dt dd svg line text rect'.split(
    ' ',
  ),
);

/** Every tag of the page is one the renderer writes, and none has an attribute that loads or runs anything. */
function assertInert(html: string): void {
  for (const tag of html.match(/<\/?[a-z][^>]*>/gi) ?? []) {
    const name = /^<\/?([a-z0-9]+)/i.exec(tag)?.[1]?.toLowerCase() ?? '';
    assert.ok(ELEMENTS.has(name), `unexpected element in ${tag}`);
    assert.ok(!/\s(src|href|xlink:href|on[a-z]+|style)\s*=/i.test(tag), `active attribute in ${tag}`);
  }
}

describe('analysis module on the seeded dataset', () => {
  it('returns exactly the hand-worked figures, and filters by agent', async (t) => {
    await withSeeded(t, async (pool) => {
      const [home, office] = await agentSummary(pool, RANGE);
      assert.deepEqual(home, {
        agent: 'home',
        rangeS: EXPECTED.home.rangeS,
        coveredS: EXPECTED.home.coveredS,
        unknownS: EXPECTED.home.rangeS - EXPECTED.home.coveredS,
        coveragePct: HOME_COVERAGE,
        cycles: EXPECTED.home.cycles,
        upCycles: EXPECTED.home.cycles - EXPECTED.home.downCycles,
        downCycles: EXPECTED.home.downCycles,
        uptimePct: HOME_UPTIME,
        downS: EXPECTED.home.downCycles,
        expectedCycles: EXPECTED.home.rangeS,
      });
      assert.equal(office?.cycles, EXPECTED.office.cycles);
      assert.equal(office?.downCycles, EXPECTED.office.downCycles);
      assert.equal(office?.coveragePct, 100);

      const list = await outages(pool, RANGE);
      for (const agent of ['home', 'office'] as const) {
        assert.deepEqual(
          list
            .filter((o) => o.agent === agent)
            .map((o) => ({
              start: o.startedAt.toISOString().replace('.000', ''),
              end: o.endedAt.toISOString().replace('.000', ''),
              cycles: o.cycles,
              unknownS: o.unknownS,
              errors: o.errors,
            })),
          EXPECTED[agent].outages,
        );
      }
      assert.ok(list.every((o) => !o.ongoing));
      assert.deepEqual(
        list.filter((o) => o.agent === 'home').map((o) => [o.durationS, o.bucket]),
        [
          [3, '1-5 s'],
          [12, '5-30 s'],
          [90, '30 s-5 min'],
          [400, '> 5 min'],
        ],
      );

      const stats = await outageSummary(pool, RANGE);
      assert.deepEqual(stats[0], {
        agent: 'home',
        outages: 4,
        downS: 485,
        mttrS: (3 + 12 + 90 + 400) / 4,
        mtbfS: (EXPECTED.home.coveredS - 485) / 4,
        longestS: 400,
        longestStartedAt: new Date('2026-10-01T02:00:00Z'),
        buckets: EXPECTED.home.buckets,
      });

      const sources = await sourceSummary(pool, RANGE);
      assert.deepEqual(
        sources.map((s) => [s.agent, s.source, s.probes, s.failed]),
        [
          ['home', SOURCE_B, EXPECTED.home.cycles, EXPECTED.home.failed[SOURCE_B]],
          ['home', SOURCE_A, EXPECTED.home.cycles, EXPECTED.home.failed[SOURCE_A]],
          ['office', SOURCE_OFFICE, EXPECTED.office.cycles, EXPECTED.office.downCycles],
        ],
      );
      assert.deepEqual(sources[1]?.errors, { dns: 3, timeout: 12 + 90, unreachable: 380 });
      assert.deepEqual(sources[0]?.errors, { dns: 3, refused: 12, timeout: 30 + 90, unreachable: 380 });

      const phases = await phaseSummary(pool, RANGE);
      const tls = phases.find((p) => p.agent === 'office' && p.phase === 'tls');
      assert.equal(tls?.samples, EXPECTED.office.cycles - EXPECTED.office.downCycles);
      assert.deepEqual([tls?.minMs, tls?.maxMs], [10, 16]);
      assert.deepEqual(
        phases.filter((p) => p.source === SOURCE_B).map((p) => p.phase),
        ['dns', 'connect', 'ttfb', 'total'],
        'no tls on http://, phases in order',
      );
      for (const p of phases) assert.ok(p.minMs <= p.p50Ms && p.p50Ms <= p.p95Ms && p.p99Ms <= p.maxMs);

      const officeOnly = { ...RANGE, agents: ['office'] };
      assert.deepEqual(await agentSummary(pool, officeOnly), [office]);
      assert.deepEqual(
        (await outages(pool, officeOnly)).map((o) => o.agent),
        ['office'],
      );
      assert.deepEqual(
        (await outageSummary(pool, officeOnly)).map((o) => o.agent),
        ['office'],
      );
      assert.deepEqual(
        (await sourceSummary(pool, officeOnly)).map((s) => s.source),
        [SOURCE_OFFICE],
      );
      assert.ok((await phaseSummary(pool, officeOnly)).every((p) => p.agent === 'office'));
      assert.deepEqual(await agentSummary(pool, { ...RANGE, agents: ['nobody'] }), []);

      // Hours and series add up to the whole range.
      const hours = await periodSummary(pool, periods(SEED_FROM, SEED_TO, 'hour', 'UTC'), ['home']);
      assert.deepEqual(
        hours.map((h) => [h.from.toISOString(), h.cycles, h.downCycles]),
        [
          ['2026-10-01T00:00:00.000Z', 3600, 15],
          ['2026-10-01T01:00:00.000Z', 3300, 90],
          ['2026-10-01T02:00:00.000Z', 3580, 380],
        ],
      );
      const series = await agentSeries(pool, { ...RANGE, agents: ['home'], stepS: 3600 });
      assert.deepEqual(
        series.map((p) => [p.time.toISOString(), p.cycles, p.downCycles]),
        hours.map((h) => [h.from.toISOString(), h.cycles, h.downCycles]),
      );
      await assert.rejects(agentSummary(pool, { from: SEED_TO, to: SEED_FROM }), RangeError);
    });
  });
});

describe('wmn report on the seeded dataset', () => {
  it('renders every format with the exact figures, and keeps hostile names inert', async (t) => {
    await withSeeded(t, async (pool, url) => {
      const report = await seededReport(pool);
      assert.equal(report.chartUnit, 'hour');
      const home = report.agents[0];
      assert.equal(home?.sla?.met, false);
      assert.equal(home?.sla?.allowedDownS, 10.48, '0.1 % of the 10,480 s measured');
      assert.equal(report.agents[1]?.sla?.met, true);

      await t.test('md', () => {
        const md = renderReport(report, 'md');
        for (const text of [
          '| home | 95.372 % | 97.037 % ⚠ | 5 min 20 s | **missed by 4.528 pp** | 4 | 8 min 05 s |',
          '| office | 99.954 % | 100.000 % | 0 s | met (+0.054 pp) | 1 | 5 s |',
          '**Availability 95.372 %** (coverage 97.037 %, 5 min 20 s (320 s) unknown) against a target of 99.9 %',
          '**Warning:** Coverage is 97.037 %, below 99 %',
          '10.48 s of downtime allowed',
          '8 min 05 s (485 s) used, 7 min 55 s (474.52 s) over the budget',
          // Cycles without a diagnosis (written before migration 003): a dash where it broke.
          '| 1 | 2026-10-01 00:10:00 +00:00 | 2026-10-01 00:10:03 +00:00 | 3 s | 3 | 3 | 0 | dns | — |  |',
          '| 2 | 2026-10-01 00:30:00 +00:00 | 2026-10-01 00:30:12 +00:00 | 12 s | 12 | 12 | 0 | refused, timeout |',
          '| 3 | 2026-10-01 01:00:30 +00:00 | 2026-10-01 01:02:00 +00:00 | 1 min 30 s | 90 | 90 | 0 | timeout |',
          '| 4 | 2026-10-01 02:00:00 +00:00 | 2026-10-01 02:06:40 +00:00 | 6 min 40 s | 400 | 380 | 20 | unreachable |',
          'MTTR (mean outage duration) 2 min 06 s (126.25 s)',
          '1-5 s: 1 · 5-30 s: 1 · 30 s-5 min: 1 · \\> 5 min: 1',
          '| http://b.example/favicon.ico | 10480 | 515 | 4.914 % | unreachable 380, timeout 120, refused 12, dns 3 |',
          '| 2026-10-01 01:00 +00:00 | 97.273 % ✗ | 91.667 % | 1 min 30 s (90 s) |',
        ])
          assert.ok(md.includes(text), `md has ${text}`);
        assert.ok(!md.includes('Warning:** Coverage is 100'), 'no coverage warning for office');
        assert.ok(!md.includes('## Certificates'), 'no section when no source reported a certificate');
      });

      await t.test('html', () => {
        const html = renderReport(report, 'html');
        assert.match(html, /^<!DOCTYPE html>/);
        for (const text of [
          '95.372 %',
          '97.037 %',
          'missed by 4.528 pp',
          '2026-10-01 02:06:40 +00:00',
          '<svg ',
        ]) {
          assert.ok(html.includes(text), `html has ${text}`);
        }
        assert.ok(!/<script/i.test(html), 'no script');
        assert.ok(!/\b(src|href)\s*=/i.test(html), 'no src= or href=: nothing loaded from elsewhere');
        assertInert(html);
        assert.ok(!/url\(|@import/i.test(html), 'no CSS resource');
        assert.match(html, /@media print/);
      });

      await t.test('json', () => {
        const data = JSON.parse(renderReport(report, 'json'));
        assert.equal(data.schema, 'wmn.report/1');
        assert.equal(data.range.from, '2026-10-01T00:00:00+00:00');
        const [h, o] = data.agents;
        assert.equal(h.agent, 'home');
        assert.equal(h.availability.uptime_pct, HOME_UPTIME);
        assert.equal(h.availability.coverage_pct, HOME_COVERAGE);
        assert.equal(h.availability.unknown_s, 320);
        assert.equal(h.coverage_warning, true);
        assert.deepEqual(h.sla, {
          target_pct: 99.9,
          met: false,
          margin_pp: HOME_UPTIME - 99.9,
          allowed_down_s: 10.48,
          used_down_s: 485,
        });
        assert.deepEqual(
          h.outages.map((x: { started_at: string; duration_s: number; unknown_s: number }) => [
            x.started_at,
            x.duration_s,
            x.unknown_s,
          ]),
          [
            ['2026-10-01T00:10:00+00:00', 3, 0],
            ['2026-10-01T00:30:00+00:00', 12, 0],
            ['2026-10-01T01:00:30+00:00', 90, 0],
            ['2026-10-01T02:00:00+00:00', 400, 20],
          ],
        );
        assert.deepEqual(h.outage_summary.buckets, EXPECTED.home.buckets);
        assert.ok(h.outages.every((x: { diagnosis: unknown }) => x.diagnosis === null));
        assert.deepEqual(data.certificates, []);
        assert.equal(o.sla.met, true);
        assert.equal(h.chart.length, 3);
      });

      await t.test('csv', () => {
        const records = parseCsv(renderReport(report, 'csv'));
        assert.deepEqual(records[0], ['section', 'agent', 'source', 'key', 'metric', 'value', 'unit']);
        for (const r of records) assert.equal(r.length, 7);
        assert.equal(Number(csvValue(records, 'availability', 'home', 'uptime_pct')), HOME_UPTIME);
        assert.equal(Number(csvValue(records, 'availability', 'home', 'coverage_pct')), HOME_COVERAGE);
        assert.equal(csvValue(records, 'sla', 'home', 'met'), 'false');
        assert.equal(csvValue(records, 'sla', 'office', 'met'), 'true');
        const start = '2026-10-01T02:00:00+00:00';
        assert.equal(csvValue(records, 'outage', 'home', 'ended_at', start), '2026-10-01T02:06:40+00:00');
        assert.equal(csvValue(records, 'outage', 'home', 'duration_s', start), '400');
        assert.equal(csvValue(records, 'outage', 'home', 'unknown_s', start), '20');
        assert.equal(csvValue(records, 'outage', 'home', 'diagnosis', start), '');
        assert.equal(csvValue(records, 'source', 'home', 'failed', '', SOURCE_B), '515');
        assert.equal(csvValue(records, 'outage_bucket', 'home', 'outages', '> 5 min'), '1');
      });

      await t.test('agent filter', async () => {
        const only = await seededReport(pool, ['office', 'ghost']);
        assert.deepEqual(
          only.agents.map((a) => [a.agent, a.availability?.cycles ?? null]),
          [
            ['ghost', null],
            ['office', EXPECTED.office.cycles],
          ],
        );
        const md = renderReport(only, 'md');
        assert.ok(!md.includes('home'));
        assert.ok(md.includes('No cycles recorded for agent ghost'));
      });

      await t.test('hostile agent and source names', async () => {
        const rows: SeedRow[] = [0, 1].map((i) => ({
          ts: new Date(SEED_FROM.getTime() + i * 1000),
          probe_id: SEED_FROM.getTime() / 1000 + i,
          agent: HOSTILE_AGENT,
          source: HOSTILE_SOURCE,
          dns_ms: 1,
          connect_ms: 2,
          tls_ms: 3,
          ttfb_ms: 4,
          total_ms: 5,
          status: i === 0 ? 200 : null,
          disconnected: i === 1,
          error: i === 1 ? 'timeout' : null,
          cert_expiry: i === 0 ? new Date(Date.now() + 86_400_000) : null,
        }));
        await withClient({ connectionString: url }, async (c) => {
          // Registered with its source, so wmn_cert_expiry lists the hostile name in the certificates too.
          await c.query('INSERT INTO wmn_agents (agent, interval_s, sources) VALUES ($1, 1, $2)', [
            HOSTILE_AGENT,
            [HOSTILE_SOURCE],
          ]);
          await insertRows(c, rows);
        });
        const hostile = await seededReport(pool, [HOSTILE_AGENT]);
        assert.equal(hostile.agents[0]?.availability?.cycles, 2);
        assert.deepEqual(
          hostile.certificates.map((c) => [c.agent, c.source, c.expiringSoon]),
          [[HOSTILE_AGENT, HOSTILE_SOURCE, true]],
        );

        const html = renderReport(hostile, 'html');
        assert.ok(!/<script/i.test(html), 'no script element');
        assert.ok(!/<img/i.test(html), 'no injected element');
        assertInert(html);
        assert.ok(
          html.includes('&lt;script&gt;alert(&quot;agent&quot;)&lt;/script&gt;&#39;&quot;&amp;amp;, =1+1'),
        );
        assert.ok(html.includes('https://evil.example/&quot;&gt;&lt;script&gt;alert(&#39;src&#39;)'));

        const md = renderReport(hostile, 'md');
        assert.ok(!/(^|[^\\])<(script|img)/i.test(md), 'md leaves no raw tag');
        assert.ok(md.includes('\\<script\\>alert("agent")\\</script\\>\'"\\&amp;, =1+1'));

        const data = JSON.parse(renderReport(hostile, 'json'));
        assert.equal(data.agents[0].agent, HOSTILE_AGENT);
        assert.equal(data.agents[0].sources[0].source, HOSTILE_SOURCE);

        assert.equal(data.certificates[0].source, HOSTILE_SOURCE);

        const records = parseCsv(renderReport(hostile, 'csv'));
        assert.ok(
          records.some((r) => r[1] === HOSTILE_AGENT && r[2] === HOSTILE_SOURCE && r[4] === 'probes'),
        );
        assert.ok(
          records.some((r) => r[0] === 'certificate' && r[1] === HOSTILE_AGENT && r[2] === HOSTILE_SOURCE),
        );
      });
    });
  });

  it('runs as the built CLI: stdout is the report, exit 0; bad options exit 2', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withSeeded(t, async (_pool, url) => {
      const md = await wmn(['report', '--format', 'md', '--month', '2026-10', '--tz', 'UTC'], url);
      assert.equal(md.code, 0, md.stderr);
      assert.match(md.stdout, /^# Network availability report\n/);
      assert.ok(md.stdout.includes('2026-10-01 00:00:00 +00:00 to 2026-11-01 00:00:00 +00:00'));
      assert.ok(
        md.stdout.includes(
          '| 4 | 2026-10-01 02:00:00 +00:00 | 2026-10-01 02:06:40 +00:00 | 6 min 40 s | 400 |',
        ),
      );
      assert.ok(md.stdout.includes('**missed by 4.528 pp**'));
      assert.ok(md.stdout.includes('### Daily availability'));
      assert.ok(!md.stdout.includes('wmn report:'), 'progress stays on stderr');

      const json = await wmn(
        [
          'report',
          '--from',
          '2026-10-01T00:00Z',
          '--to',
          '2026-10-01T03:00Z',
          '--agent',
          'office',
          '--format',
          'json',
        ],
        url,
      );
      assert.equal(json.code, 0, json.stderr);
      const data = JSON.parse(json.stdout);
      assert.deepEqual(
        data.agents.map((a: { agent: string }) => a.agent),
        ['office'],
      );
      assert.equal(data.agents[0].availability.down_cycles, 5);

      for (const [args, message] of [
        [['--month', '2026-13'], /--month "2026-13" is not a month/],
        [['--from', '2026-10-02', '--to', '2026-10-01'], /--from \(2026-10-02\) must be before --to/],
        [['--format', 'pdf'], /unknown --format "pdf"/],
        [['--month', '2026-10', '--last', '7d'], /give one of/],
        [['--sla', '120'], /--sla "120" is not a target/],
        [['--tz', 'Nowhere/City'], /unknown time zone/],
      ] as const) {
        const bad = await wmn(['report', ...args], url);
        assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
        assert.match(bad.stderr, message);
        assert.equal(bad.stdout, '');
      }
      const down = await wmn(['report', '--last', '1h'], 'postgres://postgres@127.0.0.1:1/none');
      assert.equal(down.code, 1);
      assert.match(
        down.stderr,
        /^wmn: database: cannot connect to postgres:\/\/postgres@127\.0\.0\.1:1\/none/,
      );
    });
  });
});

describe('wmn report with fault localisation (agent lab: layers, diagnoses, certificates)', () => {
  const LAB = { from: LAB_FROM, to: LAB_TO };
  const [ISP, LAN] = LAB_EXPECTED.outages;

  it('says where each outage broke and which certificates expire soon, in every format', async (t) => {
    await withSeeded(t, async (pool, url) => {
      // Whole seconds, as a certificate's notAfter is.
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      await withClient({ connectionString: url }, (c) => seedLab(c, now));

      const list = await outages(pool, LAB);
      assert.deepEqual(
        list.map((o) => ({
          start: o.startedAt.toISOString().replace('.000', ''),
          end: o.endedAt.toISOString().replace('.000', ''),
          cycles: o.cycles,
          diagnosis: o.diagnosis,
        })),
        LAB_EXPECTED.outages.map(({ start, end, cycles, kind, text }) => ({
          start,
          end,
          cycles,
          diagnosis: { kind, text },
        })),
      );
      const [lab] = await agentSummary(pool, LAB);
      assert.deepEqual(
        [lab?.agent, lab?.cycles, lab?.downCycles],
        [LAB_AGENT, LAB_EXPECTED.cycles, LAB_EXPECTED.downCycles],
        'the gateway answering does not make a cycle UP, nor a site failing to resolve one DOWN',
      );

      // Sorted by source; home's and office's https sources never reported a certificate.
      const certs = await certExpiry(pool);
      assert.deepEqual(
        certs.map((c) => [c.agent, c.source, c.seenAt.toISOString()]),
        [LAB_FAR, LAB_SITE].map((s) => [LAB_AGENT, s, '2026-10-02T00:59:59.000Z']),
      );
      for (const c of certs) {
        const days = LAB_CERT_DAYS[c.source]!;
        assert.equal(c.expiresAt.getTime(), now.getTime() + days * 86_400_000);
        // Counted from the database's clock, a moment after `now`.
        assert.ok(c.daysLeft <= days && c.daysLeft > days - 0.01, `${c.source}: ${c.daysLeft} days`);
      }
      assert.deepEqual(await certExpiry(pool, ['home', 'office']), []);

      const report = await readReport(pool, {
        range: { ...LAB, timeZone: 'UTC', label: 'lab', inProgress: false },
        slaTargetPct: 99.9,
        generator: 'wmn test',
        now,
      });
      assert.deepEqual(
        report.agents.map((a) => a.agent),
        [LAB_AGENT],
      );
      assert.deepEqual(
        report.certificates.map((c) => [c.source, c.expiringSoon]),
        [
          [LAB_FAR, false],
          [LAB_SITE, true],
        ],
      );
      const officeOnly = await readReport(pool, {
        range: { ...LAB, timeZone: 'UTC', label: 'lab', inProgress: false },
        agents: ['office'],
        slaTargetPct: 99.9,
        generator: 'wmn test',
        now,
      });
      assert.deepEqual(officeOnly.certificates, [], 'only the reported agents’ certificates');

      await t.test('md', () => {
        const md = renderReport(report, 'md');
        for (const text of [
          '| # | Start | End | Duration | Seconds | Down cycles | Unknown s | Failure classes | Where | Notes |',
          `| 1 | 2026-10-02 00:05:00 +00:00 | 2026-10-02 00:06:00 +00:00 | 1 min 00 s | 60 | 60 | 0 | timeout | ${ISP!.text} |  |`,
          `| 2 | 2026-10-02 00:20:00 +00:00 | 2026-10-02 00:20:30 +00:00 | 30 s | 30 | 30 | 0 | timeout, unreachable | ${LAN!.text} |  |`,
          '## Certificates',
          '| Agent | Source | Expires | Days left | Status | Last seen |',
          '| lab | https://far.example/ |',
          '| 200.0 | ok | 2026-10-02 00:59:59 +00:00 |',
          '| lab | https://lab.example/ |',
          '| 10.0 | **expires within 14 days** ⚠ | 2026-10-02 00:59:59 +00:00 |',
          '- **Where:** where an outage broke',
        ])
          assert.ok(md.includes(text), `md has ${text}`);
        assert.ok(
          md.indexOf('## Certificates') < md.indexOf('## Agent lab'),
          'certificates after the summary',
        );
      });

      await t.test('html', () => {
        const html = renderReport(report, 'html');
        for (const text of [
          '<th>Where</th>',
          `<td>${ISP!.text}</td>`,
          `<td>${LAN!.text}</td>`,
          '<h2>Certificates</h2>',
          '<td class="src">https://lab.example/</td>',
          '<td class="n">10.0</td>',
          '<td class="t"><span class="missed">expires within 14 days</span></td>',
          '<td class="n">200.0</td><td>ok</td>',
        ])
          assert.ok(html.includes(text), `html has ${text}`);
        assertInert(html);
      });

      await t.test('json', () => {
        const data = JSON.parse(renderReport(report, 'json'));
        assert.deepEqual(
          data.agents[0].outages.map((o: { diagnosis: unknown }) => o.diagnosis),
          [
            { kind: 'isp', text: ISP!.text },
            { kind: 'lan', text: LAN!.text },
          ],
        );
        assert.deepEqual(
          data.certificates.map((c: Record<string, unknown>) => [
            c.agent,
            c.source,
            c.expiring_soon,
            c.seen_at,
            Math.round(c.days_left as number),
          ]),
          [
            [LAB_AGENT, LAB_FAR, false, '2026-10-02T00:59:59+00:00', 200],
            [LAB_AGENT, LAB_SITE, true, '2026-10-02T00:59:59+00:00', 10],
          ],
        );
      });

      await t.test('csv', () => {
        const records = parseCsv(renderReport(report, 'csv'));
        for (const r of records) assert.equal(r.length, 7);
        const isp = '2026-10-02T00:05:00+00:00';
        const lan = '2026-10-02T00:20:00+00:00';
        assert.equal(csvValue(records, 'outage', LAB_AGENT, 'diagnosis', isp), ISP!.text);
        assert.equal(csvValue(records, 'outage', LAB_AGENT, 'diagnosis_kind', isp), 'isp');
        assert.equal(csvValue(records, 'outage', LAB_AGENT, 'diagnosis', lan), LAN!.text);
        assert.equal(csvValue(records, 'certificate', LAB_AGENT, 'expiring_soon', '', LAB_SITE), 'true');
        assert.equal(csvValue(records, 'certificate', LAB_AGENT, 'expiring_soon', '', LAB_FAR), 'false');
        const left = Number(csvValue(records, 'certificate', LAB_AGENT, 'days_left', '', LAB_SITE));
        assert.ok(left > 9.99 && left <= 10, String(left));
        assert.equal(
          csvValue(records, 'certificate', LAB_AGENT, 'seen_at', '', LAB_SITE),
          '2026-10-02T00:59:59+00:00',
        );
      });
    });
  });
});

describe('report options and time zones', () => {
  const args = (values: Record<string, string | string[]>) => ({ values, positionals: [] });
  const now = new Date('2026-11-15T12:34:56.789Z');

  it('cuts months, days and hours in the zone asked for, across DST', () => {
    const berlin = monthRange('2026-10', 'Europe/Berlin');
    assert.deepEqual(
      [berlin?.from.toISOString(), berlin?.to.toISOString()],
      ['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z'],
    );
    const days = periods(berlin!.from, berlin!.to, 'day', 'Europe/Berlin');
    assert.equal(days.length, 31);
    assert.equal(
      (days[24]!.to.getTime() - days[24]!.from.getTime()) / 3_600_000,
      25,
      'October 25th has 25 h',
    );
    assert.equal(formatTime(days[25]!.from, 'Europe/Berlin'), '2026-10-26 00:00:00 +01:00');
    assert.equal(parseTime('2026-10-01', 'Europe/Berlin')?.toISOString(), '2026-09-30T22:00:00.000Z');
    assert.equal(parseTime('2026-10-01T08:00+05:30', 'UTC')?.toISOString(), '2026-10-01T02:30:00.000Z');
    assert.equal(parseTime('2026-02-30', 'UTC'), null);
    assert.equal(monthRange('2026-1', 'UTC'), null);
    assert.equal(duration(3723), '1 h 02 min 03 s');
    assert.equal(duration(90), '1 min 30 s');
    assert.equal(duration(10.48), '10.48 s');
  });

  it('defaults to the current month up to now; an in-progress range ends now', () => {
    const r = parseReportArgs(args({ tz: 'UTC' }), now);
    assert.deepEqual(
      [r.range.from.toISOString(), r.range.to.toISOString(), r.range.inProgress],
      ['2026-11-01T00:00:00.000Z', '2026-11-15T12:34:56.000Z', true],
    );
    assert.equal(r.format, 'md');
    assert.equal(r.slaPct, 99.9);
    const done = parseReportArgs(args({ month: '2026-10', tz: 'UTC', sla: '99.5%', output: 'r.html' }), now);
    assert.equal(done.range.inProgress, false);
    assert.equal(done.format, 'html', 'format from the output file name');
    assert.equal(done.slaPct, 99.5);
    const last = parseReportArgs(args({ last: '7d', tz: 'UTC', agent: ['a', 'a', 'b'] }), now);
    assert.equal(last.range.to.getTime() - last.range.from.getTime(), 7 * 86_400_000);
    assert.deepEqual(last.agents, ['a', 'b']);
    assert.throws(() => parseReportArgs(args({ to: '2026-10-02' }), now), /--to needs --from/);
    assert.throws(() => parseReportArgs(args({ month: '2027-01' }), now), /has not started yet/);
    assert.throws(() => parseReportArgs(args({ last: '7' }), now), /--last: "7" has no unit/);
  });
});

/** Runs the built CLI with DATABASE_URL set, collecting stdout, stderr and the exit code. */
/** Runs the built CLI; `url` null: no DATABASE_URL (the configuration's database, or embedded). */
function wmn(
  args: readonly string[],
  url: string | null,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { DATABASE_URL: _, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WMN, ...args], {
      env: { ...inherited, ...(url === null ? {} : { DATABASE_URL: url }), WMN_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('wmn report beside a running agent on the embedded database', () => {
  it('reads the server the agent owns, as a guest, and leaves it running', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const dir = await mkdtemp(join(tmpdir(), 'wmn-report-guest-'));
    // As root, PostgreSQL runs as another user, which must pass through the directories above its own.
    await chmod(dir, 0o711);
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const source = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const config = join(dir, 'wmn.yaml');
    await writeFile(
      config,
      `agent: guest-test\nengine: http\nsources: [${source}]\ndata_dir: ${join(dir, 'state')}\n`,
    );
    const { DATABASE_URL: _, ...env } = process.env;
    const agent = startWmn(config, env);
    try {
      await agent.waitFor(/msg=cycle /, 2, 60_000);
      const report = await wmn(['report', '--last', '1h', '--format', 'json', '--config', config], null);
      assert.equal(report.code, 0, report.stderr);
      const data = JSON.parse(report.stdout);
      assert.equal(data.agents[0].agent, 'guest-test');
      assert.ok(data.agents[0].availability.cycles >= 1, JSON.stringify(data.agents[0].availability));
      await agent.waitFor(/msg=cycle /, countLines(agent.log(), /msg=cycle /) + 1, 10_000);
    } finally {
      await agent.stop();
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(agent.child.exitCode, 0, agent.log());
    assert.doesNotMatch(agent.log(), /level=error/);
  });
});
