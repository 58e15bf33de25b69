/**
 * Several agents, one database: three real `wmn run` processes write into one PostgreSQL database at
 * once (migrating it together at start), each keyed by its agent name, and the SLA functions answer per
 * agent. Also the agent's upkeep: registration of its interval, and raw-row retention.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadMigrations, MIGRATIONS_DIR } from '../src/store/migrate.js';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { insertRows, seedRows } from './helpers/seed.js';
import { NOT_BUILT, type RunningWmn, startWmn, WMN_BUILT, writeAgentConfig } from './helpers/wmn.js';

/** The shipped migrations: each recorded once, however many agents start together. */
const SHIPPED = await loadMigrations(MIGRATIONS_DIR);

let dir = '';
let server: Server;
let source = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wmn-fleet-'));
  server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  source = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const config = (agent: string, lines: string[] = []) =>
  writeAgentConfig(dir, agent, { sources: [source], lines });

async function stopAll(agents: readonly RunningWmn[]): Promise<void> {
  await Promise.all(agents.map((a) => (a.child.exitCode === null ? a.stop() : a.exited)));
}

describe('fleet: several agents into one database', () => {
  it('three agents write at once, each keyed by its name, and are answered per agent', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withTestDatabase(t, async (url) => {
      const sites = [
        { agent: 'site-a', interval: '1s' },
        { agent: 'site-b', interval: '1s' },
        { agent: 'site-c', interval: '2s' },
      ];
      const started = new Date();
      const agents = await Promise.all(
        sites.map(async (s) =>
          startWmn(await config(s.agent, [`interval: ${s.interval}`]), { DATABASE_URL: url }),
        ),
      );
      try {
        await Promise.all(agents.map((a) => a.waitFor(/msg=cycle /, 3, 30_000)));
      } finally {
        await stopAll(agents);
      }
      for (const a of agents) {
        assert.equal(a.child.exitCode, 0, a.log());
        assert.doesNotMatch(a.log(), /level=(error|warn)/, a.log());
      }
      await withClient({ connectionString: url }, async (c) => {
        const ledger = await c.query('SELECT count(*)::int AS n FROM wmn_schema_migrations');
        assert.equal(ledger.rows[0].n, SHIPPED.length, 'migrated once, by one of them');
        const registered = await c.query('SELECT agent, interval_s, sources FROM wmn_agents ORDER BY agent');
        assert.deepEqual(registered.rows, [
          { agent: 'site-a', interval_s: 1, sources: [source] },
          { agent: 'site-b', interval_s: 1, sources: [source] },
          { agent: 'site-c', interval_s: 2, sources: [source] },
        ]);
        const summary = await c.query(
          `SELECT s.agent, s.cycles::int, s.covered_s, s.down_cycles::int,
                  (SELECT count(*)::int FROM favicon_metrics f WHERE f.agent = s.agent) AS raw_rows
             FROM wmn_agent_summary($1, now() + interval '1 minute') s ORDER BY s.agent`,
          [started],
        );
        assert.deepEqual(
          summary.rows.map((r) => r.agent),
          sites.map((s) => s.agent),
        );
        for (const row of summary.rows) {
          const interval = row.agent === 'site-c' ? 2 : 1;
          assert.ok(row.cycles >= 3, `${row.agent}: ${row.cycles} cycles`);
          assert.equal(row.raw_rows, row.cycles, `${row.agent}: one row per cycle and source`);
          assert.equal(row.covered_s, row.cycles * interval, `${row.agent}: each cycle covers its interval`);
          assert.equal(row.down_cycles, 0);
        }
        const one = await c.query('SELECT agent FROM wmn_agent_summary($1, now(), ARRAY[$2])', [
          started,
          'site-b',
        ]);
        assert.deepEqual(one.rows, [{ agent: 'site-b' }]);
      });
    });
  });

  it('deletes raw rows past retention.raw once rolled up, keeping the answers', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withTestDatabase(t, async (url) => {
      const agent = startWmn(await config('keeper', ['retention:', '  raw: 30d']), { DATABASE_URL: url });
      try {
        await agent.waitFor(/msg=cycle /, 1, 30_000);
        // Rows from two months ago, as if written then (the seed is dated 2026-10-01).
        await withClient({ connectionString: url }, (c) => insertRows(c, seedRows('office')));
      } finally {
        await agent.stop();
      }
      // Retention runs at start and then hourly: a second start applies it to the old rows.
      const again = startWmn(await config('keeper', ['retention:', '  raw: 30d']), { DATABASE_URL: url });
      try {
        await again.waitFor(/msg="raw rows past retention deleted"/, 1, 30_000);
      } finally {
        await again.stop();
      }
      assert.match(again.log(), /deleted=10800 /);
      await withClient({ connectionString: url }, async (c) => {
        const old = await c.query("SELECT count(*)::int AS n FROM favicon_metrics WHERE agent = 'office'");
        assert.equal(old.rows[0].n, 0);
        const kept = await c.query("SELECT count(*)::int AS n FROM favicon_metrics WHERE agent = 'keeper'");
        assert.ok(kept.rows[0].n >= 1, 'recent rows stay');
        const summary = await c.query(
          "SELECT cycles::int, down_cycles::int FROM wmn_agent_summary('2026-10-01', '2026-10-02', ARRAY['office'])",
        );
        assert.deepEqual(summary.rows, [{ cycles: 10_800, down_cycles: 5 }]);
      });
    });
  });
});
