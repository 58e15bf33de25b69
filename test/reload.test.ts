/**
 * SIGHUP reloads the configuration of a running `wmn run`: a valid new file takes effect from the next
 * tick; an invalid one is rejected with its problems logged and the running configuration kept.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { countLines, NOT_BUILT, startWmn, WMN_BUILT } from './helpers/wmn.js';
import { startLab } from './lab/index.js';

const CYCLE = /msg=cycle /;

it('applies a valid config on SIGHUP, rejects an invalid one and keeps probing', async (t) => {
  if (!need(t, WMN_BUILT, NOT_BUILT)) return;
  const lab = await startLab();
  const dir = await mkdtemp(join(tmpdir(), 'wmn-reload-'));
  t.after(async () => {
    await lab.close();
    await rm(dir, { recursive: true, force: true });
  });
  const a = lab.url('http', '/ok');
  const b = lab.url('http', '/status/503');
  const file = join(dir, 'wmn.yaml');
  const write = (sources: string[], extra = '', dataDir = dir) =>
    writeFile(
      file,
      ['agent: reload', `data_dir: ${dataDir}`, 'sources:', ...sources.map((s) => `  - ${s}`), extra].join(
        '\n',
      ),
    );

  await withTestDatabase(t, async (url) => {
    await write([a]);
    const run = startWmn(file, { DATABASE_URL: url });
    t.after(() => run.child.kill('SIGKILL'));
    await run.waitFor(CYCLE, 2);

    await write([a, b]);
    run.child.kill('SIGHUP');
    await run.waitFor(/msg="configuration reloaded"/);
    await run.waitFor(/msg=cycle .*up=2/, 2);

    await write([a], 'bogus_key: 1');
    run.child.kill('SIGHUP');
    await run.waitFor(/msg="reload rejected: keeping the running configuration".*bogus_key/);
    const before = countLines(run.log(), /msg=cycle .*up=2/);
    await run.waitFor(/msg=cycle .*up=2/, before + 2);

    await write([a, b], '', join(dir, 'elsewhere'));
    run.child.kill('SIGHUP');
    await run.waitFor(/msg="reload: these settings need a restart and were kept" keys=dataDir/);

    assert.equal(await run.stop(), 0, run.log());
    const rows = await withClient({ connectionString: url }, async (c) => {
      const q = await c.query<{ source: string; n: string; dup: string }>(
        `SELECT source, count(*) AS n, count(*) - count(DISTINCT probe_id) AS dup
           FROM favicon_metrics GROUP BY source ORDER BY source`,
      );
      return q.rows;
    });
    const bySource = new Map(rows.map((r) => [r.source, r]));
    assert.ok(Number(bySource.get(b)?.n) >= 4, 'the source added by the reload is probed and stored');
    assert.ok(Number(bySource.get(a)?.n) > Number(bySource.get(b)?.n), 'the first source ran all along');
    for (const r of rows) assert.equal(r.dup, '0');
  });
});
