/**
 * The web dashboard, in a real browser: Debian's Chromium driven by playwright-core (never a downloaded
 * browser) opens the page `wmn run` serves, against lab servers (HTTP and HTTPS) the test can make fail.
 * The page must show the state and its diagnosis, each source's layer and the days its certificate has
 * left, the same uptime and coverage as `wmn_agent_summary` for the same range, drawn charts, and turn
 * DOWN, then list the outage with its diagnosis, without a reload (server-sent events); with no console
 * error and no request to another host. A screenshot lands in test-artifacts/dashboard.png. A second
 * run with icmp://, tcp:// and dns:// sources checks that each kind's charts draw what it measures (the
 * round trip, the handshake, the answer), from the API and then from the live events.
 *
 * Then the API without a browser: strict parameters (400 with a reason), caching and security headers,
 * the token (401, /?token=… → 303 and a cookie, then 200), and the live-event stream's bookkeeping.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { smokeBands } from '../src/analysis/latency.js';
import type { Config } from '../src/config/types.js';
import { silentLogger } from '../src/log.js';
import type { CycleRecord } from '../src/store/types.js';
import { eventsHandler } from '../src/web/events.js';
import type { LiveHub } from '../src/web/live.js';
import type { RouteDeps } from '../src/web/routes.js';
import { startWebServer } from '../src/web/server.js';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { NOT_BUILT, type SourceEntry, startWmn, WMN_BUILT, webUrl, writeAgentConfig } from './helpers/wmn.js';
import { labCerts } from './lab/certs.js';
import { startLabDns } from './lab/dns.js';
import { listen } from './lab/listen.js';

// The page's globals inside page.evaluate(), typed as far as the checks use them (no DOM lib here).
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  hasAttribute(name: string): boolean;
  querySelector(selector: string): PageElement | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
};
declare const window: Record<string, unknown>;

const CHROMIUM = '/usr/bin/chromium';
const NO_CHROMIUM = `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
const HAS_FPING = spawnSync('sh', ['-c', 'command -v fping']).status === 0;
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname;
const AGENT = 'dash-lab';

let dir = '';
/**
 * The lab: an HTTP and an HTTPS server (the lab CA's certificate, valid 30 days) answering after 2–5 ms,
 * or resetting every connection while `failing` (every source fails).
 */
let labs: Server[] = [];
let failing = false;
/** The sources' URIs; the last is the HTTPS one. */
let sources: string[] = [];
/** As the config file lists them (the HTTPS source trusts the lab CA). */
let entries: SourceEntry[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wmn-dashboard-'));
  const certs = await labCerts();
  const answer = (req: { url?: string }, res: { end(body?: string): void }) => {
    setTimeout(() => res.end(req.url), 2 + Math.random() * 3);
  };
  const plain = createServer(answer);
  const tls = createHttpsServer({ cert: certs.cert, key: certs.key }, answer);
  labs = [plain, tls];
  for (const lab of labs) {
    lab.on('connection', (socket: Socket) => {
      if (failing) socket.resetAndDestroy();
    });
    await new Promise<void>((resolve) => lab.listen(0, '127.0.0.1', resolve));
  }
  const port = (lab: Server) => (lab.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port(plain)}`;
  const secure = `https://127.0.0.1:${port(tls)}/`;
  sources = [`${base}/`, `${base}/favicon.ico`, secure];
  entries = [`${base}/`, `${base}/favicon.ico`, { url: secure, ca_file: certs.caFile }];
});
after(async () => {
  for (const lab of labs) {
    lab.closeAllConnections();
    await new Promise((resolve) => lab.close(resolve));
  }
  await rm(dir, { recursive: true, force: true });
});

const config = (name: string, lines: string[] = []) =>
  writeAgentConfig(dir, name, { agent: AGENT, sources: entries, lines: ['timeout: 1s', ...lines] });

/**
 * 45 minutes of history before the agent's first cycle, as if it had been running: latencies that
 * drift, one 20 s outage (`refused`, diagnosed `down`) 30 minutes ago. The trigger rolls them up like
 * any insert.
 */
async function seedHistory(url: string, firstProbeId: number): Promise<{ outageStart: number }> {
  const from = firstProbeId - 45 * 60;
  const outageStart = firstProbeId - 30 * 60;
  await withClient({ connectionString: url }, (c) =>
    c.query(
      `INSERT INTO favicon_metrics (ts, probe_id, source, connect_ms, ttfb_ms, total_ms, status, disconnected,
                                    agent, error, layer, diagnosis)
       SELECT to_timestamp(p), p, s, CASE WHEN NOT d THEN v.c END, CASE WHEN NOT d THEN v.c + v.w END,
              CASE WHEN d THEN 0.4 ELSE v.c + v.w + 0.3 END, CASE WHEN NOT d THEN 200 END, d, $5,
              CASE WHEN d THEN 'refused' END, 'internet', CASE WHEN d THEN 'down' ELSE 'ok' END
         FROM generate_series($1::bigint, $2::bigint) AS p, unnest($3::text[]) AS s,
              LATERAL (SELECT p BETWEEN $4 AND $4 + 19 AS d) AS o,
              LATERAL (SELECT 0.15 + random() * 0.1 AS c,
                              2.5 + 1.5 * sin(p / 240.0) + random() * random() * 6 AS w) AS v`,
      [from, firstProbeId - 1, sources, outageStart, AGENT],
    ),
  );
  return { outageStart };
}

interface Watched {
  readonly problems: string[];
  readonly foreign: string[];
  navigations: number;
}

/** Console errors, page errors, requests to any other host, and navigations of `page`. */
function watch(page: Page, origin: string): Watched {
  const watched: Watched = { problems: [], foreign: [], navigations: 0 };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      watched.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => watched.problems.push(`page error: ${err.message}`));
  page.on('request', (r) => {
    if (new URL(r.url()).origin !== origin) watched.foreign.push(r.url());
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) watched.navigations++;
  });
  return watched;
}

/** What the page shows for one period: the range it asked for and the figures, read at one instant. */
async function shown(page: Page, period: string) {
  // No functions declared inside: tsx would wrap them in a helper the page does not have.
  const [from, to, uptime, uptimeText, coverage, coverageText] = await page.evaluate(
    (p) => [
      document.querySelector(`[data-period="${p}"]`)?.dataset.from ?? '',
      document.querySelector(`[data-period="${p}"]`)?.dataset.to ?? '',
      document.querySelector(`[data-period="${p}"] [data-kind="uptime"]`)?.dataset.value ?? '',
      document.querySelector(`[data-period="${p}"] [data-kind="uptime"]`)?.textContent ?? '',
      document.querySelector(`[data-period="${p}"] [data-kind="coverage"]`)?.dataset.value ?? '',
      document.querySelector(`[data-period="${p}"] [data-kind="coverage"]`)?.textContent ?? '',
    ],
    period,
  );
  return { from, to, uptime: Number(uptime), uptimeText, coverage: Number(coverage), coverageText };
}

/** Debian's Chromium, headless, with a profile of its own, asking nothing of the network by itself. */
function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
  });
}

/** The number in a figure's text ("99.97 %", "< 0.01 %"), which truncates the value it shows. */
function assertShows(text: string, value: number, what: string): void {
  if (text.startsWith('<')) {
    assert.ok(value > 0 && value < 0.01, `${what}: ${text} for ${value}`);
    return;
  }
  const number = Number.parseFloat(text);
  assert.ok(number <= value && value - number < 0.1, `${what}: ${text} shown for ${value}`);
}

describe('web dashboard in Chromium', () => {
  it('shows state, uptime as the SQL answers it, charts, and a live outage', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    if (!need(t, existsSync(CHROMIUM), NO_CHROMIUM)) return;
    await withTestDatabase(t, async (dbUrl) => {
      failing = false;
      const agent = startWmn(await config('browser'), { DATABASE_URL: dbUrl });
      let context: BrowserContext | undefined;
      const profile = await mkdtemp(join(tmpdir(), 'wmn-chromium-'));
      try {
        const url = await webUrl(agent);
        await agent.waitFor(/msg=cycle /, 1, 30_000);
        const first = Number(/msg=cycle probe_id=(\d+)/.exec(agent.log())?.[1]);
        const { outageStart } = await seedHistory(dbUrl, first);
        await agent.waitFor(/msg=cycle /, 3, 30_000);

        context = await launch(profile);
        const page = context.pages()[0] ?? (await context.newPage());
        const watched = watch(page, new URL(url).origin);
        await page.goto(url);

        // The state, in words, and the sources by name.
        await page.waitForSelector('#state[data-state="UP"]', { timeout: 10_000 });
        assert.match((await page.locator('#state').textContent()) ?? '', /UP/);
        assert.match((await page.locator('#since').textContent()) ?? '', /^since .+ · for /);
        await page.waitForSelector('#latest li.ok');
        assert.deepEqual(await page.locator('#latest .src').allTextContents(), sources);
        assert.equal(await page.locator('#agent').textContent(), AGENT);
        // Where it broke, under the state: nowhere. Each source's layer; the HTTPS one's certificate.
        await page.waitForSelector('#diagnosis[data-kind="ok"]');
        assert.ok(await page.locator('#diagnosis').isVisible());
        assert.equal(await page.locator('#diagnosis').textContent(), 'OK');
        assert.deepEqual(
          await page.locator('#latest .layer').allTextContents(),
          sources.map(() => 'internet'),
        );
        const cert = page.locator(`#latest li[data-source="${sources[2]}"] .cert`);
        await cert.waitFor();
        // The lab CA signs for 30 days from the start of the test run.
        assert.match((await cert.textContent()) ?? '', /^cert (29|30) d$/);
        assert.equal(await page.locator('#latest .cert').count(), 1, 'only the HTTPS source has one');

        // Uptime and coverage: the page's figures are wmn_agent_summary's for the range it asked.
        await page.waitForFunction(() =>
          ['today', '7d', '30d', 'range'].every((p) =>
            document.querySelector(`[data-period="${p}"] [data-kind="uptime"]`)?.hasAttribute('data-value'),
          ),
        );
        await withClient({ connectionString: dbUrl }, async (c) => {
          for (const period of ['today', '7d', '30d', 'range']) {
            const s = await shown(page, period);
            const row = await c.query(
              'SELECT uptime_pct, coverage_pct, cycles::int FROM wmn_agent_summary($1, $2, ARRAY[$3])',
              [s.from, s.to, AGENT],
            );
            assert.equal(row.rows.length, 1, period);
            assert.equal(s.uptime, row.rows[0].uptime_pct, `${period} uptime`);
            assert.equal(s.coverage, row.rows[0].coverage_pct, `${period} coverage`);
            assertShows(s.uptimeText, s.uptime, `${period} uptime`);
            assertShows(s.coverageText, s.coverage, `${period} coverage`);
            // The seeded outage lowers the uptime of every period that holds it.
            if (period !== 'today' || new Date(s.from).getTime() <= outageStart * 1000)
              assert.ok(s.uptime < 100, `${period}: ${s.uptime}`);
          }
        });

        // Charts: uPlot canvases, each with points drawn (the loss chart, then phases and smoke per source).
        await page.waitForFunction(
          (n) => document.querySelectorAll('.plot[data-points] canvas').length >= n,
          1 + 2 * sources.length,
        );
        const points = await page.$$eval('.plot', (els) => els.map((el) => Number(el.dataset.points)));
        assert.equal(points.length, 1 + 2 * sources.length);
        for (const n of points) assert.ok(n >= 200, `a chart with ${n} points of 360`);
        assert.deepEqual(await page.locator('.source-name').allTextContents(), sources);

        // The seeded outage is listed, as wmn_outages has it.
        const seeded = new Date(outageStart * 1000).toISOString();
        const row = page.locator(`#outages tr[data-start="${seeded}"]`);
        await row.waitFor();
        assert.equal(await row.locator('td.duration').textContent(), '20 s');
        assert.deepEqual(await row.locator('.tag').allTextContents(), ['refused']);
        // Its diagnosis in words: every source failed, and no gateway source says which side broke.
        assert.equal(await row.getAttribute('data-diagnosis'), 'down');
        assert.equal(
          await row.locator('td.diagnosis').textContent(),
          'down (every source failed; add icmp://gateway to tell the LAN from the ISP)',
        );

        // The chart holds the rows: pointing at a step inside the seeded outage reads 100 % DOWN there.
        const over = await page.locator('#loss-plot .u-over').boundingBox();
        assert.ok(over);
        const step = Math.floor((outageStart + 10) / 10) * 10;
        const viewFrom = Date.now() / 1000 - 3_600;
        await page.mouse.move(over.x + ((step - viewFrom) / 3_600) * over.width, over.y + over.height / 2);
        // Elsewhere the readout says DOWN 0 %: the page has no outage but the seeded one yet.
        await page.waitForFunction(
          () =>
            document.querySelector('#loss-readout')?.textContent?.includes('DOWN 100\u202f% of cycles') ??
            false,
          undefined,
          { timeout: 5_000 },
        );
        await page.mouse.move(0, 0);

        // The lab fails: the page turns DOWN without a reload, and lists the outage as ongoing.
        await page.evaluate(() => {
          window.marker = 42;
        });
        const failedAt = Date.now();
        failing = true;
        await page.waitForSelector('#state[data-state="DOWN"]', { timeout: 5_000 });
        const downAfterMs = Date.now() - failedAt;
        assert.match((await page.locator('#state').textContent()) ?? '', /DOWN/);
        await page.waitForSelector('#diagnosis[data-kind="down"]', { timeout: 5_000 });
        assert.match((await page.locator('#diagnosis').textContent()) ?? '', /^down \(every source failed; /);
        await page.waitForSelector('#latest li.fail');
        await page.waitForSelector('#outages tr[data-ongoing="true"]', { timeout: 10_000 });
        assert.match((await page.locator('#outages tr[data-ongoing="true"]').textContent()) ?? '', /ongoing/);
        await page.waitForTimeout(2_000);

        // Back up: UP again live, and the ended outage listed with its classes, as the database has it.
        failing = false;
        await page.waitForSelector('#state[data-state="UP"]', { timeout: 5_000 });
        await page.waitForFunction(
          (since) => {
            const rows = [...document.querySelectorAll('#outages tbody tr')];
            return rows.some((r) => Date.parse(r.dataset.start ?? '') >= since && !r.dataset.ongoing);
          },
          failedAt - 1_000,
          { timeout: 10_000 },
        );
        const outage = await withClient({ connectionString: dbUrl }, async (c) => {
          const found = await c.query(
            `SELECT o.started_at, o.duration_s, o.errors, wmn_outage_diagnosis(o.agent, o.started_at, o.ended_at) AS diagnosis
               FROM wmn_outages(now() - interval '1 minute', now(), ARRAY[$1]) AS o`,
            [AGENT],
          );
          assert.equal(found.rows.length, 1);
          return found.rows[0] as {
            started_at: Date;
            duration_s: number;
            errors: string[];
            diagnosis: string;
          };
        });
        const listed = page.locator(`#outages tr[data-start="${outage.started_at.toISOString()}"]`);
        assert.doesNotMatch((await listed.textContent()) ?? '', /ongoing/);
        assert.deepEqual(await listed.locator('.tag').allTextContents(), outage.errors);
        assert.equal(outage.diagnosis, 'down');
        assert.equal(await listed.getAttribute('data-diagnosis'), outage.diagnosis);
        assert.match(
          (await listed.locator('td.diagnosis').textContent()) ?? '',
          /^down \(every source failed; /,
        );
        await page.waitForSelector('#diagnosis[data-kind="ok"]');
        assert.equal(await page.evaluate(() => window.marker), 42);
        assert.equal(watched.navigations, 1, 'the page was never reloaded');

        await page.waitForTimeout(1_500);
        await mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
        t.diagnostic(`DOWN shown ${downAfterMs} ms after the lab failed; screenshot in test-artifacts/`);

        assert.deepEqual(watched.problems, []);
        assert.deepEqual(watched.foreign, []);
      } finally {
        await context?.close();
        await rm(profile, { recursive: true, force: true });
        failing = false;
        await agent.stop();
      }
      assert.equal(agent.child.exitCode, 0, agent.log());
      assert.doesNotMatch(agent.log(), /level=error/, agent.log());
    });
  });

  it('draws the round trip, the handshake and the answer of icmp://, tcp:// and dns:// sources', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    if (!need(t, existsSync(CHROMIUM), NO_CHROMIUM)) return;
    if (!need(t, HAS_FPING, 'icmp:// needs fping (apt-get install fping)')) return;
    // A TCP listener that accepts and hangs up, and the lab DNS server, whose `tc` name makes the prober
    // ask again over TCP: a dns:// source with a connect phase.
    const tcp = await listen(createTcpServer((socket) => socket.end()));
    const dns = await startLabDns();
    const kinds = [
      'icmp://127.0.0.1',
      `tcp://127.0.0.1:${tcp.port}`,
      `dns://127.0.0.1:${dns.port}/tc.lab.test?type=A`,
    ] as const;
    const [icmp, connect, answer] = kinds;
    t.after(async () => {
      await tcp.close();
      await dns.close();
    });
    await withTestDatabase(t, async (dbUrl) => {
      const file = await writeAgentConfig(dir, 'kinds', {
        agent: AGENT,
        sources: [...kinds],
        lines: ['timeout: 1s'],
      });
      const agent = startWmn(file, { DATABASE_URL: dbUrl });
      let context: BrowserContext | undefined;
      const profile = await mkdtemp(join(tmpdir(), 'wmn-chromium-'));
      try {
        const url = await webUrl(agent);
        await agent.waitFor(/msg=cycle /, 4, 30_000);

        // The API serves what these kinds measure: the total (icmp, dns) and the connect (tcp, and dns
        // after its TCP retry), per step and as a distribution.
        const series = (await (await fetch(`${url}/api/series?range=1h&step=1`)).json()) as {
          sources: { source: string; totalMs: (number | null)[]; connectMs: (number | null)[] }[];
        };
        assert.deepEqual(
          series.sources.map((s) => s.source),
          kinds,
        );
        const measured = (s: (number | null)[] | undefined) => (s ?? []).filter((v) => v !== null).length;
        for (const s of series.sources) assert.ok(measured(s.totalMs) >= 2, `${s.source}: ${s.totalMs}`);
        assert.equal(measured(series.sources[0]?.connectMs), 0, 'an echo has no connect');
        for (const s of series.sources.slice(1)) assert.ok(measured(s.connectMs) >= 2, s.source);
        for (const [source, phase] of [
          [icmp, 'total'],
          [connect, 'connect'],
          [answer, 'total'],
        ] as const) {
          const res = await fetch(
            `${url}/api/smoke?range=1h&step=1&phase=${phase}&source=${encodeURIComponent(source)}`,
          );
          const smoke = (await res.json()) as { t: number[]; medianMs: number[] };
          assert.equal(res.status, 200, source);
          assert.ok(smoke.t.length >= 2, `${source}: ${JSON.stringify(smoke)}`);
          assert.ok(
            smoke.medianMs.every((v) => v > 0 && v < 1_000),
            `${source}: ${smoke.medianMs}`,
          );
        }

        context = await launch(profile);
        const page = context.pages()[0] ?? (await context.newPage());
        const watched = watch(page, new URL(url).origin);
        let seriesFetches = 0;
        page.on('request', (r) => {
          if (new URL(r.url()).pathname === '/api/series') seriesFetches++;
        });
        await page.goto(url);
        await page.waitForSelector('#state[data-state="UP"]', { timeout: 10_000 });
        await page.waitForSelector('#diagnosis[data-kind="ok"]');
        assert.deepEqual(await page.locator('#latest .src').allTextContents(), kinds);
        assert.deepEqual(await page.locator('#latest .layer').allTextContents(), [
          'internet',
          'internet',
          'dns',
        ]);
        for (const res of await page.locator('#latest .res').allTextContents())
          assert.match(res, /^answered in [\d.]+ ms$/);

        // Each kind's charts: titled for what they show, with points drawn, read out in its own words.
        await page.waitForFunction(
          (n) => document.querySelectorAll('.plot[data-points] canvas').length >= n,
          1 + 2 * kinds.length,
        );
        assert.deepEqual(await page.locator('.source-name').allTextContents(), kinds);
        assert.deepEqual(await page.locator('.smoke-title').allTextContents(), [
          'Round trip',
          'TCP handshake',
          'Time to answer',
        ]);
        const cards = () =>
          page.$$eval('#sources .source', (els) =>
            els.map((el) => ({
              source: el.dataset.source ?? '',
              phases: Number(el.querySelector('.plot.phases')?.dataset.points),
              smoke: Number(el.querySelector('.plot.smoke')?.dataset.points),
              phasesText: el.querySelector('.phases-readout')?.textContent ?? '',
              smokeText: el.querySelector('.smoke-readout')?.textContent ?? '',
            })),
          );
        const loaded = await cards();
        for (const card of loaded) {
          assert.ok(card.phases >= 1 && card.smoke >= 1, JSON.stringify(card));
          assert.match(card.smokeText, /· median [\d.]+ ms.*25–75 %.*min–max/, card.source);
          assert.doesNotMatch(card.phasesText, /first byte|DNS/, `${card.source}: an address, no lookup`);
        }
        assert.match(
          (await page.locator('#loss-readout').textContent()) ?? '',
          /icmp 127\.0\.0\.1 loss .*tcp 127\.0\.0\.1:\d+ loss .*dns 127\.0\.0\.1:\d+\/tc\.lab\.test\?type=A loss/,
        );
        const [echo, handshake, query] = loaded;
        assert.match(echo?.phasesText ?? '', /· round trip [\d.]+ ms$/);
        assert.match(handshake?.phasesText ?? '', /· connect [\d.]+ ms · connected [\d.]+ ms$/);
        assert.match(query?.phasesText ?? '', /· connect [\d.]+ ms ?query [\d.]+ ms · answer [\d.]+ ms$/);

        // The live cycles feed the same phases: the next step fills in from the events, not a refetch.
        const fetched = seriesFetches;
        await page.waitForFunction(
          (before) =>
            [...document.querySelectorAll('#sources .source')].every((el, k) =>
              ['phases', 'smoke'].every(
                (chart, n) =>
                  Number(el.querySelector(`.plot.${chart}`)?.dataset.points) > (before[k]?.[n] ?? 0),
              ),
            ),
          loaded.map((c) => [c.phases, c.smoke]),
          { timeout: 20_000 },
        );
        assert.equal(seriesFetches, fetched, 'the charts grew from the live events');
        for (const card of await cards()) assert.match(card.smokeText, /· median [\d.]+ ms/, card.source);

        await mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'dashboard-kinds.png'), fullPage: true });
        assert.deepEqual(watched.problems, []);
        assert.deepEqual(watched.foreign, []);
      } finally {
        await context?.close();
        await rm(profile, { recursive: true, force: true });
        await agent.stop();
      }
      assert.equal(agent.child.exitCode, 0, agent.log());
      assert.doesNotMatch(agent.log(), /level=error/, agent.log());
    });
  });
});

describe('dashboard API', () => {
  it('answers strictly, caches assets by hash, and requires the token', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withTestDatabase(t, async (dbUrl) => {
      const token = 'dashboard-test-token-0123456789';
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
      const agent = startWmn(await config('api', ['web:', `  token_file: ${tokenFile}`]), {
        DATABASE_URL: dbUrl,
      });
      try {
        const url = await webUrl(agent);
        await agent.waitFor(/msg=cycle /, 2, 30_000);

        // The token: refused without it; /?token=… trades it for a cookie; the cookie opens the page.
        assert.equal((await fetch(`${url}/`)).status, 401);
        assert.equal((await fetch(`${url}/api/state`)).status, 401);
        assert.equal((await fetch(`${url}/assets/app.js`)).status, 401);
        assert.equal(
          (await fetch(`${url}/?token=wrong-token-0123456789`, { redirect: 'manual' })).status,
          401,
        );
        const traded = await fetch(`${url}/?token=${token}`, { redirect: 'manual' });
        assert.equal(traded.status, 303);
        assert.equal(traded.headers.get('location'), '/');
        const cookie = (traded.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
        assert.match(
          traded.headers.get('set-cookie') ?? '',
          /^wmn_token=.+; HttpOnly; SameSite=Strict; Path=\//,
        );
        const get = (path: string, headers: Record<string, string> = {}) =>
          fetch(`${url}${path}`, { headers: { cookie, ...headers }, redirect: 'manual' });

        const page = await get('/');
        assert.equal(page.status, 200);
        assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
        assert.match(page.headers.get('content-security-policy') ?? '', /^default-src 'self'/);
        assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
        const html = await page.text();
        assert.doesNotMatch(
          html,
          /<script>|<style>|\bon\w+=|style=|https?:\/\//,
          'no inline code, no other host',
        );

        // Assets: named by hash in the page, cached for a year under that name, else revalidated by ETag.
        for (const name of ['app.js', 'app.css', 'uplot.js', 'uplot.css']) {
          const hash = new RegExp(`/assets/${name.replace('.', '\\.')}\\?v=([0-9a-f]{16})`).exec(html)?.[1];
          assert.ok(hash, `${name} is named with its hash`);
          const hashed = await get(`/assets/${name}?v=${hash}`);
          assert.equal(hashed.status, 200, name);
          assert.equal(hashed.headers.get('cache-control'), 'public, max-age=31536000, immutable');
          assert.ok((await hashed.arrayBuffer()).byteLength > 1000, name);
          const plain = await get(`/assets/${name}`);
          assert.equal(plain.headers.get('cache-control'), 'no-cache');
          const etag = plain.headers.get('etag') ?? '';
          assert.equal(etag, `"${hash}"`);
          assert.equal((await get(`/assets/${name}`, { 'if-none-match': etag })).status, 304);
        }
        assert.equal((await get('/assets/../package.json')).status, 404);
        assert.equal((await get('/assets/nothing.js')).status, 404);

        // The API: figures as JSON, never cached.
        const state = await get('/api/state');
        assert.equal(state.status, 200);
        assert.equal(state.headers.get('cache-control'), 'no-store');
        const body = (await state.json()) as {
          agent: string;
          live: { state: string; diagnosis: { kind: string; text: string } };
          diagnosis: { kind: string; text: string } | null;
          sources: string[];
        };
        assert.equal(body.agent, AGENT);
        assert.equal(body.live.state, 'UP');
        assert.deepEqual(body.live.diagnosis, { kind: 'ok', text: 'OK' });
        assert.deepEqual(
          body.diagnosis,
          { kind: 'ok', text: 'OK' },
          'the latest stored cycle, from wmn_cycles',
        );
        assert.deepEqual(body.sources, sources);
        for (const path of [
          '/api/summary?range=24h',
          '/api/summary?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00%2B02:00',
          `/api/summary?from=${Date.now() - 60_000}`,
          '/api/outages?range=7d&limit=5',
          '/api/series?range=1h&step=10',
          '/api/series?range=30d',
          `/api/smoke?range=1h&step=60&phase=ttfb&source=${encodeURIComponent(sources[0] ?? '')}`,
          '/api/heatmap?range=6h&step=300&phase=connect',
        ]) {
          const res = await get(path);
          assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
          assert.equal(res.headers.get('cache-control'), 'no-store', path);
        }

        // Series are the SQL function's rows as columns (phases to the microsecond).
        await agent.waitFor(/msg=cycle /, 4, 30_000);
        const first = Number(/msg=cycle probe_id=(\d+)/.exec(agent.log())?.[1]);
        const span = [new Date(first * 1000), new Date((first + 3) * 1000)] as const;
        const answered = (await (
          await get(`/api/series?from=${span[0].toISOString()}&to=${span[1].getTime()}&step=1`)
        ).json()) as { sources: { source: string; t: number[]; probes: number[]; connectMs: number[] }[] };
        const rows = await withClient({ connectionString: dbUrl }, async (c) =>
          c.query(
            `SELECT source, extract(epoch FROM "time")::int AS t, probes::int, connect_ms
               FROM wmn_source_series($1, $2, interval '1 second', ARRAY[$3]) ORDER BY source, "time"`,
            [...span, AGENT],
          ),
        );
        assert.equal(rows.rows.length, 3 * sources.length);
        assert.deepEqual(
          answered.sources.map((s) => ({ source: s.source, t: s.t, probes: s.probes, connect: s.connectMs })),
          sources.map((source) => {
            const mine = rows.rows.filter((r) => r.source === source);
            return {
              source,
              t: mine.map((r) => r.t),
              probes: mine.map((r) => r.probes),
              connect: mine.map((r) => Math.round(r.connect_ms * 1000) / 1000),
            };
          }),
        );

        // Smoke bands read the histogram bins as the SQL does (wmn_hist_value of each sample's bin).
        const smoke = (await (
          await get(
            `/api/smoke?from=${span[0].getTime()}&to=${span[1].getTime()}&step=1&phase=connect&source=${encodeURIComponent(sources[0] ?? '')}`,
          )
        ).json()) as { t: number[]; medianMs: number[]; minMs: number[] };
        const binned = await withClient({ connectionString: dbUrl }, async (c) =>
          c.query(
            `SELECT extract(epoch FROM ts)::int AS t, wmn_hist_value(wmn_hist_bin(connect_ms)) AS v
               FROM favicon_metrics WHERE agent = $1 AND source = $2 AND ts >= $3 AND ts < $4 ORDER BY ts`,
            [AGENT, sources[0], ...span],
          ),
        );
        assert.deepEqual(
          smoke.t,
          binned.rows.map((r) => r.t),
        );
        binned.rows.forEach((r, i) => {
          assert.ok(Math.abs((smoke.medianMs[i] ?? 0) - r.v) < 0.001, `${smoke.medianMs[i]} ≠ ${r.v}`);
          assert.equal(smoke.minMs[i], smoke.medianMs[i]);
        });

        // Bad parameters: 400, saying what is wrong.
        const bad: Record<string, RegExp> = {
          '/api/summary': /give range .* or from/,
          '/api/summary?range=2h': /range must be one of 1h, 6h, 24h, 7d, 30d \(got "2h"\)/,
          '/api/summary?range=1h&range=6h': /range is given more than once/,
          '/api/summary?range=1h&from=2026-01-01T00:00:00Z': /either range or from\/to/,
          '/api/summary?from=yesterday': /from must be an ISO 8601 time with a zone/,
          '/api/summary?from=2026-01-01T00:00:00': /from must be an ISO 8601 time with a zone/,
          '/api/summary?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z': /must be before to/,
          '/api/summary?from=1990-01-01T00:00:00Z&to=2026-01-01T00:00:00Z': /between the years 2000/,
          '/api/summary?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z': /at most 400 days/,
          '/api/summary?range=1h&select=1':
            /unknown parameter select: this endpoint takes agent, range, from, to/,
          '/api/state?range=1h': /unknown parameter range/,
          '/api/outages?range=1h&limit=0': /limit must be between 1 and 1000/,
          '/api/outages?range=1h&limit=ten': /limit must be a whole number/,
          '/api/series?range=1h&step=0': /step must be between 1 and 86400/,
          '/api/series?range=1h&step=1.5': /step must be a whole number/,
          '/api/series?range=30d&step=10': /at most 5000: use a step of at least 519 s/,
          '/api/smoke?range=1h&phase=body': /phase must be one of dns, connect, tls, ttfb, total/,
          '/api/smoke?range=1h&source=': /source must be 1 to 2048 characters/,
          '/api/summary?range=1h&agent=%01': /agent must not hold control characters/,
        };
        for (const [path, message] of Object.entries(bad)) {
          const res = await get(path);
          assert.equal(res.status, 400, path);
          assert.equal(res.headers.get('cache-control'), 'no-store', path);
          assert.match(((await res.json()) as { error: string }).error, message, path);
        }
        assert.equal((await get('/api/nothing')).status, 404);
        assert.equal((await get('/api/events?x=1')).status, 400);
        assert.equal((await fetch(`${url}/api/state`, { method: 'POST', headers: { cookie } })).status, 405);

        // Live events: a hello, then each cycle as it finishes.
        const events = await get('/api/events');
        assert.equal(events.status, 200);
        assert.match(events.headers.get('content-type') ?? '', /^text\/event-stream/);
        assert.equal(events.headers.get('cache-control'), 'no-store');
        const reader = (events.body as ReadableStream<Uint8Array>).getReader();
        let stream = '';
        while ((stream.match(/^event: cycle$/gm) ?? []).length < 3) {
          const { value, done } = await reader.read();
          if (done) break;
          stream += new TextDecoder().decode(value);
        }
        await reader.cancel();
        assert.match(stream, /^event: hello\ndata: \{"agent":"dash-lab","interval_s":1\}$/m);
        const cycles = [...stream.matchAll(/^event: cycle\ndata: (.+)$/gm)].map((m) =>
          JSON.parse(m[1] ?? ''),
        );
        const last = cycles[cycles.length - 1];
        assert.equal(last.agent, AGENT);
        assert.equal(last.state, 'UP');
        assert.equal(last.ts, new Date(last.probe_id * 1000).toISOString());
        assert.deepEqual(
          last.sources.map((s: { source: string }) => s.source),
          sources,
        );
        assert.deepEqual(
          last.sources.map((s: { layer: string }) => s.layer),
          sources.map(() => 'internet'),
        );
        assert.equal(last.sources[0].cert_expires_at, null, 'no certificate over plain HTTP');
        const expiresAt = last.sources[2].cert_expires_at;
        assert.ok(Math.abs(expiresAt - (Date.now() / 1000 + 30 * 86_400)) < 3_600, `expires at ${expiresAt}`);
        const phases = last.sources[0].phases;
        assert.deepEqual(Object.keys(phases), ['dns', 'connect', 'tls', 'wait', 'ttfb', 'total']);
        assert.equal(phases.dns, null, 'no DNS for an address');
        assert.ok(phases.connect > 0 && phases.ttfb >= phases.connect && phases.total >= phases.ttfb);
        assert.ok(Math.abs(phases.wait - (phases.ttfb - phases.connect)) < 0.002);
      } finally {
        await agent.stop();
      }
      assert.equal(agent.child.exitCode, 0, agent.log());
    });
  });

  it('smoke bands: per step, the nearest-rank percentiles of its histogram bins', () => {
    const t0 = new Date('2026-10-01T00:00:00Z');
    const t1 = new Date('2026-10-01T00:01:00Z');
    const bands = smokeBands([
      { time: t0, leMs: 1, count: 1 },
      { time: t0, leMs: 2, count: 8 },
      { time: t0, leMs: 4, count: 1 },
      { time: t1, leMs: 8, count: 3 },
    ]);
    const mid = (le: number) => le / 2 ** (1 / 16);
    assert.deepEqual(bands, [
      {
        time: t0,
        samples: 10,
        minMs: mid(1),
        p10Ms: mid(1),
        p25Ms: mid(2),
        medianMs: mid(2),
        p75Ms: mid(2),
        p90Ms: mid(2),
        maxMs: mid(4),
      },
      {
        time: t1,
        samples: 3,
        minMs: mid(8),
        p10Ms: mid(8),
        p25Ms: mid(8),
        medianMs: mid(8),
        p75Ms: mid(8),
        p90Ms: mid(8),
        maxMs: mid(8),
      },
    ]);
  });

  it('live events: heartbeats, and each client unsubscribed when it goes away', async () => {
    const subscribed = new Set<(cycle: CycleRecord) => void>();
    const live = {
      on: (_kind: 'cycle', listener: (cycle: CycleRecord) => void) => {
        subscribed.add(listener);
        return () => subscribed.delete(listener);
      },
      lastCycle: () => null,
    } as unknown as LiveHub;
    const config = { agent: 'unit', intervalMs: 1000 } as Config;
    const deps = { config: () => config, live, log: silentLogger } as unknown as RouteDeps;
    const server = await startWebServer({
      web: { host: '127.0.0.1', port: 0, token: null },
      routes: [{ path: '/api/events', handler: eventsHandler(deps, 50) }],
      log: silentLogger,
    });
    try {
      const clients = await Promise.all([1, 2, 3].map(() => fetch(`${server.url}/api/events`)));
      await until(() => subscribed.size === 3);
      const reader = (clients[0] as Response).body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const more = async () => {
        const { value, done } = await reader.read();
        assert.ok(!done, `the stream ended: ${text}`);
        text += decoder.decode(value, { stream: true });
      };
      while (!text.includes(': heartbeat\n\n')) await more();
      for (const listener of subscribed)
        listener({ agent: 'unit', probeId: 1_800_000_000, ts: new Date(1_800_000_000_000), results: [] });
      while (!text.includes('event: cycle')) await more();
      assert.match(
        text,
        /"probe_id":1800000000,"ts":"2027-01-15T08:00:00.000Z","state":"UP","diagnosis":\{"kind":"ok","text":"OK"\},"sources":\[\]/,
      );
      await reader.cancel();
      for (const c of clients.slice(1)) await c.body?.cancel();
      await until(() => subscribed.size === 0);
    } finally {
      await server.close();
    }
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
