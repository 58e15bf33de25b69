/**
 * Alerting end to end, offline-aware: the built `wmn run` probes a lab HTTP server the test switches to
 * failing (every source down: the link is DOWN), into a real PostgreSQL database, with two notifiers: a
 * webhook whose receiver (an HTTP server here) is closed for the whole outage, and a command that appends
 * the event to a file. The DOWN alert is held while the receiver is unreachable; once it is back, DOWN
 * (marked delayed) and the recovery (its window equal to wmn_outages to the second) arrive in order, once
 * each, also when wmn is killed between the outage and the receiver's return.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAlerts } from '../src/alerts/index.js';
import type { AlertEvent, Notifier } from '../src/alerts/types.js';
import type { AlertsConfig, Config, NotifierConfig } from '../src/config/types.js';
import { silentLogger } from '../src/log.js';
import type { ProbeResult } from '../src/probes/types.js';
import type { CycleResult } from '../src/store/types.js';
import { createLiveHub } from '../src/web/live.js';
import { need } from './helpers/env.js';
import { FakeClock } from './helpers/fake-clock.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { answered, failed } from './helpers/results.js';
import { NOT_BUILT, type RunningWmn, startWmn, WMN_BUILT } from './helpers/wmn.js';

const SECRET = 'lab-webhook-secret-0123456789';

/** The payload the webhook and the command receive (src/alerts/notifiers/payload.ts). */
interface Payload {
  id: string;
  kind: string;
  state: string;
  agent: string;
  started_at: string;
  ended_at: string | null;
  duration_s: number | null;
  summary: string;
  details: Record<string, unknown>;
  created_at: string;
  delayed_ms: number;
  text: string;
}

/** The sources: answers "ok", or, while failing, drops every connection without a response. */
let lab: Server;
let failing = false;
let labUrl = '';
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wmn-alerts-'));
  lab = createServer((req, res) => {
    if (failing) req.socket.destroy();
    else res.end('ok');
  });
  await new Promise<void>((resolve) => lab.listen(0, '127.0.0.1', resolve));
  labUrl = `http://127.0.0.1:${(lab.address() as AddressInfo).port}`;
});
after(async () => {
  lab.closeAllConnections();
  await new Promise((resolve) => lab.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** A webhook receiver that can be closed (unreachable: connection refused) and opened again on its port. */
class Receiver {
  readonly received: { headers: IncomingHttpHeaders; body: string }[] = [];
  private server: Server | null = null;
  port = 0;

  async open(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** The payloads received, each checked against its signature. */
  payloads(): Payload[] {
    return this.received.map(({ headers, body }) => {
      const timestamp = String(headers['x-wmn-timestamp']);
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`;
      assert.equal(headers['x-wmn-signature'], expected, 'signed with the secret from secret_file');
      const payload = JSON.parse(body) as Payload;
      assert.equal(headers['x-wmn-event-id'], payload.id);
      return payload;
    });
  }
}

/** Polls `check` until it holds (rejects after `timeoutMs`, saying what was awaited). */
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function commandLines(file: string): Promise<Payload[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Payload);
}

interface Setup {
  readonly agent: string;
  readonly config: string;
  readonly commandFile: string;
  readonly receiver: Receiver;
}

async function setUp(agent: string): Promise<Setup> {
  const receiver = new Receiver();
  await receiver.open();
  const home = join(dir, agent);
  const secretFile = join(dir, `${agent}.secret`);
  await writeFile(secretFile, `${SECRET}\n`);
  const commandFile = join(dir, `${agent}.events`);
  // Appends stdin (one line of JSON) to the file named by its argument.
  const script =
    "let d='';process.stdin.setEncoding('utf8').on('data',c=>d+=c).on('end',()=>require('fs').appendFileSync(process.argv[1],d))";
  const config = join(dir, `${agent}.yaml`);
  const lines = [
    `agent: ${agent}`,
    'interval: 1s',
    'timeout: 500ms',
    'engine: http',
    'sources:',
    `  - ${labUrl}/a`,
    `  - ${labUrl}/b`,
    `data_dir: ${home}`,
    'alerts:',
    '  link_down: { cycles: 2, of: 3 }',
    '  source_down: off',
    '  repeat: off',
    '  notifiers:',
    '    - type: webhook',
    '      name: hook',
    `      url: http://127.0.0.1:${receiver.port}/wmn`,
    `      secret_file: ${secretFile}`,
    '    - type: command',
    '      name: file',
    `      argv: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(script)}, ${JSON.stringify(commandFile)}]`,
    '',
  ];
  await writeFile(config, lines.join('\n'));
  return { agent, config, commandFile, receiver };
}

/**
 * The outage, made while the receiver is closed: DOWN for long enough that the held DOWN alert is
 * delivered late (more than the 5 s after which notifiers say so), then UP until the recovery is made
 * and the command has both.
 */
async function outage(wmn: RunningWmn, s: Setup): Promise<void> {
  await wmn.waitFor(/msg="alerting started"/);
  await wmn.waitFor(/msg=cycle /, 3);
  await s.receiver.close();
  failing = true;
  try {
    await wmn.waitFor(/msg=alert .*state=firing/);
    await wmn.waitFor(/msg="outbox: notification failed; retrying with backoff" notifier=hook /);
    await until(
      'the DOWN alert at the command',
      async () => (await commandLines(s.commandFile)).length === 1,
    );
    await sleep(6_000);
  } finally {
    failing = false;
  }
  await wmn.waitFor(/msg=alert .*state=resolved/);
  await wmn.waitFor(/msg="outbox: notification sent" notifier=file /, 2);
  assert.equal(s.receiver.received.length, 0, 'nothing reached the closed receiver');
}

/** What arrived, checked against wmn_outages: DOWN then UP, once each, DOWN marked delayed. */
async function assertDelivered(url: string, s: Setup): Promise<void> {
  const hook = s.receiver.payloads();
  assert.deepEqual(
    hook.map((p) => p.state),
    ['firing', 'resolved'],
    'DOWN, then the recovery, each once',
  );
  const [down, up] = hook as [Payload, Payload];
  assert.equal(down.kind, 'link_down');
  assert.equal(new Set(hook.map((p) => p.id)).size, 2);
  assert.ok(down.delayed_ms > 5_000, `the DOWN alert was held (delayed ${down.delayed_ms} ms)`);
  assert.match(down.text, /\(delayed: sent .* after it happened — the link was down\)/);
  assert.equal(up.started_at, down.started_at);

  const file = await commandLines(s.commandFile);
  assert.deepEqual(
    file.map((p) => p.id),
    hook.map((p) => p.id),
    'the command got the same events, in order, once each',
  );
  assert.ok((file[0] as Payload).delayed_ms < 5_000, 'the command was reachable: the DOWN alert on time');

  await withClient({ connectionString: url }, async (c) => {
    const { rows } = await c.query(
      `SELECT started_at, ended_at, duration_s, errors FROM wmn_outages(now() - interval '1 hour', now() + interval '1 hour', ARRAY[$1])`,
      [s.agent],
    );
    assert.equal(rows.length, 1, 'one outage in the database');
    const row = rows[0] as { started_at: Date; ended_at: Date; duration_s: number; errors: string[] };
    assert.equal(up.started_at, row.started_at.toISOString(), 'the window starts where wmn_outages says');
    assert.equal(up.ended_at, row.ended_at.toISOString(), 'and ends where it says');
    assert.equal(up.duration_s, row.duration_s);
    assert.equal(up.details.errors, row.errors.join(','));
    const clock = (iso: string) => iso.slice(11, 19);
    assert.ok(
      up.summary.startsWith(`link UP: offline ${clock(up.started_at)}–${clock(up.ended_at as string)} UTC, `),
      up.summary,
    );
  });
}

describe('alerts: a lab outage while the receiver is unreachable', () => {
  it('holds the DOWN alert, then delivers DOWN (delayed) and the recovery in order once the receiver is back', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withTestDatabase(t, async (url) => {
      const s = await setUp('alerts-lab');
      const wmn = startWmn(s.config, { DATABASE_URL: url });
      try {
        await outage(wmn, s);
        await s.receiver.open();
        await until('both alerts at the webhook', () => s.receiver.received.length >= 2);
        await sleep(1_500);
      } finally {
        await wmn.stop();
        await s.receiver.close();
      }
      assert.equal(wmn.child.exitCode, 0, wmn.log());
      await assertDelivered(url, s);
    });
  });

  it('still delivers, once each, when wmn is killed between the outage and the receiver coming back', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withTestDatabase(t, async (url) => {
      const s = await setUp('alerts-crash');
      const first = startWmn(s.config, { DATABASE_URL: url });
      let second: RunningWmn | null = null;
      try {
        await outage(first, s);
        first.child.kill('SIGKILL');
        await first.exited;
        second = startWmn(s.config, { DATABASE_URL: url });
        await second.waitFor(/msg="outbox: undelivered notifications from an earlier run; sending them"/);
        await second.waitFor(/msg="outbox: notification failed; retrying with backoff" notifier=hook /);
        await s.receiver.open();
        await until('both alerts at the webhook', () => s.receiver.received.length >= 2);
        await sleep(1_500);
      } finally {
        if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
        await second?.stop();
        await s.receiver.close();
      }
      assert.equal(second?.child.exitCode, 0, second?.log());
      await assertDelivered(url, s);
    });
  });
});

/** In process: startAlerts with in-memory notifiers, fed cycles through a LiveHub, across restarts and reloads. */
describe('alerts: restarts and reloads in process', () => {
  const T0 = Date.UTC(2026, 2, 1, 9, 2, 11);
  const hook = (url: string): NotifierConfig => ({
    type: 'webhook',
    name: 'hook',
    url,
    secret: null,
    template: {},
  });
  const config = (url = 'mem://ok'): AlertsConfig => ({
    linkDown: { cycles: 2, of: 3 },
    sourceDown: null,
    latency: null,
    loss: null,
    ipv6: null,
    certExpiry: null,
    repeatMs: null,
    maxPerHour: 100,
    maintenance: [],
    notifiers: [hook(url)],
  });
  const result = (up: boolean): ProbeResult =>
    up
      ? answered('https://a/', { connectMs: 1, tlsMs: 1, totalMs: 3, remoteIp: null })
      : failed('https://a/', 'unreachable');

  /** Notifiers that deliver into `delivered` when their URL is mem://ok, and fail otherwise. */
  function world() {
    const delivered: AlertEvent[] = [];
    const clock = new FakeClock(T0);
    const live = createLiveHub();
    let i = 0;
    const createNotifier = (n: NotifierConfig): Notifier => ({
      name: n.name,
      async send(event) {
        if (n.type !== 'webhook' || n.url !== 'mem://ok') throw new Error('receiver unreachable');
        delivered.push(event);
      },
    });
    const start = (dataDir: string, alerts = config()) =>
      startAlerts({
        config: alerts,
        agent: 'proc',
        intervalMs: 1000,
        dataDir,
        live,
        log: silentLogger,
        clock,
        createNotifier,
      });
    const publish = (results: CycleResult[]) => {
      const ts = T0 + i++ * 1000;
      clock.advance(ts + 1000 - clock.wallNow());
      live.publishCycle({ agent: 'proc', probeId: ts / 1000, ts: new Date(ts), results });
    };
    const cycles = (pattern: string) => {
      for (const c of pattern) publish([result(c === 'U')]);
    };
    return { delivered, start, cycles, publish, ts: (n: number) => new Date(T0 + n * 1000).toISOString() };
  }

  it('ends an outage that began before a restart with the exact window, made once', async () => {
    const w = world();
    const home = join(dir, 'proc-restart');
    const first = await w.start(home);
    w.cycles('UDDD');
    await until('the DOWN alert', () => w.delivered.length === 1);
    await first.stop();
    const second = await w.start(home);
    w.cycles('DUU');
    await until('the recovery', () => w.delivered.length === 2);
    await second.stop();
    const [down, up] = w.delivered as [AlertEvent, AlertEvent];
    assert.deepEqual([down.state, up.state], ['firing', 'resolved']);
    assert.equal(up.id, down.id.replace(/firing$/, 'resolved'));
    assert.equal(up.startedAt, w.ts(1));
    assert.equal(up.endedAt, w.ts(5), 'the end of the last DOWN cycle, seen by the second run');
    assert.equal(up.details.down_cycles, 4);
  });

  it('keeps the diagnosis of an outage across a restart, in rules.json, without its cycles', async () => {
    const w = world();
    const home = join(dir, 'proc-diagnosis');
    const isp = (gatewayUp: boolean): CycleResult[] => [
      { ...result(gatewayUp), source: 'icmp://gateway', layer: 'lan' },
      { ...result(false), source: 'icmp://1.1.1.1', layer: 'internet' },
    ];
    const first = await w.start(home);
    for (let n = 0; n < 4; n++) w.publish(isp(true));
    await until('the DOWN alert', () => w.delivered.length === 1);
    await first.stop();
    const saved = await readFile(join(home, 'alerts', 'rules.json'), 'utf8');
    assert.match(saved, /"tally":\{"kinds":\[\["isp",4\]\]/);
    assert.ok(!saved.includes('"facts"'), saved);
    const second = await w.start(home);
    w.publish(isp(false));
    for (let n = 0; n < 2; n++) w.publish([{ ...result(true), source: 'icmp://1.1.1.1', layer: 'internet' }]);
    await until('the recovery', () => w.delivered.length === 2);
    await second.stop();
    const [down, up] = w.delivered as [AlertEvent, AlertEvent];
    assert.equal(
      down.summary,
      'link DOWN since 09:02:11 UTC: ISP (gateway answered, 1.1.1.1 did not); DOWN in 2 of the last 3 cycles',
    );
    assert.equal(
      up.summary,
      'link UP: offline 09:02:11–09:02:16 UTC, 5 s, ISP (gateway answered, 1.1.1.1 did not)',
    );
    assert.equal(up.details.diagnosis, 'isp');
  });

  it('keeps pending events over a reload and sends them to the reloaded notifier of the same name', async () => {
    const w = world();
    const alerts = await w.start(join(dir, 'proc-reload'), config('mem://down'));
    w.cycles('DDUU');
    await sleep(300);
    assert.equal(w.delivered.length, 0, 'the receiver is unreachable');
    alerts.reconfigure({ agent: 'proc', intervalMs: 1000, alerts: config('mem://ok') } as Config);
    await until('both, after the reload', () => w.delivered.length === 2);
    await alerts.stop();
    assert.deepEqual(
      w.delivered.map((e) => e.state),
      ['firing', 'resolved'],
    );
  });
});
