/**
 * End to end: the built `wmn` command, run as a user runs it, against lab sources on loopback, into a real
 * PostgreSQL (the machine's server in a fresh database, and the embedded server). Then SIGTERM, and the
 * rows are counted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/log.js';
import { startEmbedded } from '../src/store/embedded.js';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { countLines, NOT_BUILT, startWmn, WMN_BUILT } from './helpers/wmn.js';
import { type Lab, startLab } from './lab/index.js';

interface Row {
  probe_id: string;
  source: string;
  dns_ms: number | null;
  connect_ms: number | null;
  tls_ms: number | null;
  ttfb_ms: number | null;
  total_ms: number;
  status: number | null;
  disconnected: boolean;
  error: string | null;
  agent: string;
  ts: Date;
}

/** The config: one healthy source per engine and protocol, and one dead source (nothing listens). */
function labConfig(lab: Lab, extra: string): string {
  return [
    'agent: e2e',
    'interval: 1s',
    'timeout: 1s',
    'sources:',
    `  - url: ${lab.url('https', '/ok', 'localhost')}`,
    `    ca_file: ${lab.caFile}`,
    `  - url: ${lab.url('http', '/ok')}`,
    '    engine: http',
    `  - ${lab.url('closed', '/')}`,
    extra,
  ].join('\n');
}

function assertRows(rows: Row[], lab: Lab, cyclesLogged: number): void {
  const ids = [...new Set(rows.map((r) => Number(r.probe_id)))].sort((a, b) => a - b);
  assert.equal(rows.length, ids.length * 3, 'exactly one row per (tick, source)');
  assert.ok(ids.length >= cyclesLogged, `every logged cycle is stored (${ids.length} < ${cyclesLogged})`);
  assert.equal(ids.at(-1)! - ids[0]! + 1, ids.length, 'consecutive probe_ids');
  for (const r of rows) {
    assert.equal(r.agent, 'e2e');
    assert.equal(r.ts.getTime(), Number(r.probe_id) * 1000, 'ts is the scheduled tick');
  }
  const https = rows.filter((r) => r.source === lab.url('https', '/ok', 'localhost'));
  const http = rows.filter((r) => r.source === lab.url('http', '/ok'));
  const dead = rows.filter((r) => r.source === lab.url('closed', '/'));
  assert.equal(https.length, ids.length);
  for (const r of https) {
    assert.equal(r.status, 200);
    assert.equal(r.disconnected, false);
    for (const phase of [r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms]) assert.ok(phase !== null && phase > 0);
  }
  for (const r of http) {
    assert.equal(r.status, 200);
    assert.equal(r.tls_ms, null, 'no TLS on http://');
    assert.equal(r.dns_ms, null, 'no DNS for an IP literal');
  }
  for (const r of dead) {
    assert.equal(r.disconnected, true);
    assert.equal(r.error, 'refused');
    assert.deepEqual([r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.status], [null, null, null, null, null]);
    assert.ok(r.total_ms >= 0);
  }
}

const CYCLE = /msg=cycle /;
const ROWS_SQL = 'SELECT * FROM favicon_metrics ORDER BY probe_id, source';

describe('wmn run, end to end', () => {
  it('stores exactly one row per (tick, source) on a PostgreSQL server and stops cleanly on SIGTERM', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const lab = await startLab();
    const dir = await mkdtemp(join(tmpdir(), 'wmn-e2e-'));
    t.after(async () => {
      await lab.close();
      await rm(dir, { recursive: true, force: true });
    });
    await withTestDatabase(t, async (url) => {
      const configFile = join(dir, 'wmn.yaml');
      await writeFile(configFile, labConfig(lab, `data_dir: ${dir}`));
      const run = startWmn(configFile, { DATABASE_URL: url });
      t.after(() => run.child.kill('SIGKILL'));
      await run.waitFor(CYCLE, 10);
      assert.equal(await run.stop(), 0, run.log());
      const logged = countLines(run.log(), CYCLE);
      const rows = await withClient(
        { connectionString: url },
        async (c) => (await c.query<Row>(ROWS_SQL)).rows,
      );
      assertRows(rows, lab, logged);
      assert.equal(new Set(rows.map((r) => r.probe_id)).size, logged, 'no cycle stored that was not logged');
      assert.match(run.log(), /msg="agent stopped".* dropped=0 queued=0/);
    });
  });

  it('runs on the embedded server with no database configured, and the rows survive the restart', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const lab = await startLab();
    const dir = await mkdtemp(join(tmpdir(), 'wmn-e2e-embedded-'));
    t.after(async () => {
      await lab.close();
      await rm(dir, { recursive: true, force: true });
    });
    const configFile = join(dir, 'wmn.yaml');
    await writeFile(configFile, labConfig(lab, `data_dir: ${dir}`));
    const env = { DATABASE_URL: '' };
    const run = startWmn(configFile, env);
    t.after(() => run.child.kill('SIGKILL'));
    await run.waitFor(CYCLE, 3);
    assert.equal(await run.stop(), 0, run.log());
    assert.match(run.log(), /psql="psql -h \S+ -U wmn wmn"/, 'tells the user how to connect psql');
    const logged = countLines(run.log(), CYCLE);

    const server = await startEmbedded({ dataDir: dir, port: null, log: silentLogger });
    try {
      const rows = await withClient(server.connection(), async (c) => (await c.query<Row>(ROWS_SQL)).rows);
      assertRows(rows, lab, logged);
    } finally {
      await server.stop();
    }
  });
});
