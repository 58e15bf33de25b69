/**
 * The notifiers: their message bodies as pure functions (no network), then each one delivering to a real
 * receiver on loopback written here: an HTTP server capturing webhook/Slack/ntfy requests, an SMTP sink
 * (plain, STARTTLS and implicit TLS with a certificate from the lab CA, AUTH PLAIN/LOGIN), and commands
 * writing their stdin to a file. No mocks: every byte crosses a socket or a pipe.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { commandEnv, commandInput } from '../src/alerts/notifiers/command.js';
import { emailMessage, messageId } from '../src/alerts/notifiers/email.js';
import { createNotifier, NOTIFIERS, NotifyError } from '../src/alerts/notifiers/index.js';
import { encodeHeaderText, quotedPrintable } from '../src/alerts/notifiers/mime.js';
import { ntfyMessage } from '../src/alerts/notifiers/ntfy.js';
import { slackBody } from '../src/alerts/notifiers/slack.js';
import { dotStuff } from '../src/alerts/notifiers/smtp.js';
import { messageText, renderTemplate } from '../src/alerts/notifiers/template.js';
import { defaultBody, defaultTitle, roughly } from '../src/alerts/notifiers/text.js';
import { webhookBody } from '../src/alerts/notifiers/webhook.js';
import type { AlertEvent, Notifier, SendContext } from '../src/alerts/types.js';
import type { NotifierConfig } from '../src/config/types.js';
import { silentLogger } from '../src/log.js';
import { USER_AGENT } from '../src/version.js';
import { need } from './helpers/env.js';
import { type LabCerts, labCerts } from './lab/certs.js';
import { type Listening, listen } from './lab/listen.js';

const DOWN: AlertEvent = {
  id: 'link_down:home:-:1714554131000:firing',
  kind: 'link_down',
  state: 'firing',
  agent: 'home',
  subject: null,
  startedAt: '2024-05-01T09:02:11.000Z',
  endedAt: null,
  durationS: null,
  summary: 'link DOWN: offline since 09:02:11 UTC',
  details: { failure_classes: 'unreachable 3, timeout 2', cycles: 3, of: 5, diagnosis: null },
  createdAt: '2024-05-01T09:02:41.000Z',
};

const UP: AlertEvent = {
  ...DOWN,
  id: 'link_down:home:-:1714554131000:resolved',
  state: 'resolved',
  endedAt: '2024-05-01T09:04:37.000Z',
  durationS: 146,
  summary: 'link UP: offline 09:02:11–09:04:37 UTC, 2 min 26 s, ISP',
  details: { failure_classes: 'unreachable 9', diagnosis: 'ISP' },
  createdAt: '2024-05-01T09:04:47.000Z',
};

const SOURCE_DOWN: AlertEvent = {
  ...DOWN,
  id: 'source_down:home:https://example.com/:1714554131000:firing',
  kind: 'source_down',
  subject: 'https://example.com/?a=1&b=<2>',
  summary: 'https://example.com/?a=1&b=<2> DOWN: 5 of 5 probes failed',
};

/** Delivered in time, and three minutes late. */
const ON_TIME = 0;
const THREE_MIN = 180_000;

const ctx = (overrides: Partial<SendContext> = {}): SendContext => ({
  delayedMs: ON_TIME,
  signal: new AbortController().signal,
  ...overrides,
});

/** A notifier's config with the template optional (absent: the built-in texts). */
type Untemplated<T> = T extends unknown
  ? Omit<T, 'template'> & { template?: NotifierConfig['template'] }
  : never;

function notifier(config: Untemplated<NotifierConfig>) {
  return createNotifier({ template: {}, ...config } as NotifierConfig, { log: silentLogger });
}

/** The rejection of `promise`, which must reject with a NotifyError. */
async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NotifyError, `a NotifyError, not ${String(err)}`);
    return err;
  }
  assert.fail('expected the send to reject');
}

/** Runs `fn`, returning how long it took (ms). */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

describe('message texts (pure)', () => {
  test('titles: link DOWN, UP again after the exact duration', () => {
    assert.equal(defaultTitle(DOWN), 'wmn home: link DOWN');
    assert.equal(defaultTitle(UP), 'wmn home: link UP again after 2 min 26 s');
    assert.equal(defaultTitle(SOURCE_DOWN), `wmn home: ${SOURCE_DOWN.subject} DOWN`);
    const reminder = { ...DOWN, state: 'reminder' as const, createdAt: '2024-05-01T10:02:11.000Z' };
    assert.equal(defaultTitle(reminder), 'wmn home: link still DOWN (for 1 h 00 min 00 s)');
  });

  test('titles: IPv6 broken and working again; a certificate expiring, expired, not renewed, renewed', () => {
    const ipv6 = { ...DOWN, kind: 'ipv6' as const };
    assert.equal(defaultTitle(ipv6), 'wmn home: IPv6 broken');
    assert.equal(
      defaultTitle({ ...ipv6, state: 'reminder', createdAt: '2024-05-01T10:02:11.000Z' }),
      'wmn home: IPv6 still broken (for 1 h 00 min 00 s)',
    );
    assert.equal(defaultTitle({ ...UP, kind: 'ipv6' }), 'wmn home: IPv6 working again after 2 min 26 s');
    const cert = { ...SOURCE_DOWN, kind: 'cert_expiry' as const, subject: 'https://example.com/' };
    const left = (days: number) => ({
      expires_at: '2024-05-10T09:02:11.000Z',
      days_left: days,
      threshold_days: 14,
    });
    assert.equal(
      defaultTitle({ ...cert, details: left(9) }),
      'wmn home: certificate of https://example.com/ expires soon',
    );
    assert.equal(
      defaultTitle({ ...cert, details: left(-2) }),
      'wmn home: certificate of https://example.com/ EXPIRED',
    );
    assert.equal(
      defaultTitle({ ...cert, state: 'reminder', details: left(8) }),
      'wmn home: certificate of https://example.com/ still not renewed',
    );
    const renewed = { ...cert, state: 'resolved' as const, details: { ...left(89), renewed: true } };
    assert.equal(defaultTitle(renewed), 'wmn home: certificate of https://example.com/ renewed');
    assert.equal(
      defaultTitle({ ...renewed, details: { ...left(20), renewed: false } }),
      'wmn home: certificate of https://example.com/ OK again',
    );
  });

  test("a link notice's diagnosis is there for templates", () => {
    const event = {
      ...UP,
      details: { diagnosis: 'isp', diagnosis_text: 'ISP (gateway answered, 1.1.1.1 did not)' },
    };
    assert.equal(
      renderTemplate('{{details.diagnosis}}: {{details.diagnosis_text}}', event, ON_TIME),
      'isp: ISP (gateway answered, 1.1.1.1 did not)',
    );
  });

  test('body: summary, window to the second, failure classes, event id; no delay marker when on time', () => {
    const body = defaultBody(UP, 4_000);
    const lines = body.split('\n');
    assert.equal(lines[0], UP.summary);
    assert.ok(lines.includes('Window: 2024-05-01 09:02:11–09:04:37 UTC (2 min 26 s)'), body);
    assert.ok(lines.includes('Failure classes: unreachable 9'), body);
    assert.ok(lines.includes('Diagnosis: ISP'), body);
    assert.ok(lines.includes(`Event: ${UP.id}`), body);
    assert.doesNotMatch(body, /delayed/);
    const firing = defaultBody(DOWN, ON_TIME);
    assert.match(firing, /^Since: 2024-05-01 09:02:11 UTC$/m);
    assert.doesNotMatch(firing, /Diagnosis/, 'null details are left out');
  });

  test('body: the delay marker past 5 s, naming the link for link alerts', () => {
    assert.match(
      defaultBody(DOWN, THREE_MIN),
      /\n\n\(delayed: sent 3 min after it happened — the link was down\)\n$/,
    );
    assert.match(defaultBody(SOURCE_DOWN, 7_000), /\(delayed: sent 7 s after it happened\)\n$/);
    assert.doesNotMatch(defaultBody(DOWN, 5_000), /delayed/);
    assert.equal(roughly(3 * 3600 + 5 * 60), '3 h 05 min');
    assert.equal(roughly(26 * 3600), '1 d 02 h');
  });

  test('body: a window across midnight names both dates', () => {
    const event = {
      ...UP,
      startedAt: '2024-05-01T23:59:50Z',
      endedAt: '2024-05-02T00:01:10Z',
      durationS: 80,
    };
    assert.match(
      defaultBody(event, 0),
      /^Window: 2024-05-01 23:59:50 – 2024-05-02 00:01:10 UTC \(1 min 20 s\)$/m,
    );
  });
});

describe('templates (pure)', () => {
  test('fields, details, delayed, duration; snake_case works too', () => {
    const text = renderTemplate(
      '{{agent}} {{ state }} {{kind}} since {{started_at}} for {{duration}} ({{durationS}} s) via {{details.diagnosis}} {{delayed}}',
      UP,
      THREE_MIN,
    );
    assert.equal(
      text,
      'home resolved link_down since 2024-05-01T09:02:11.000Z for 2 min 26 s (146 s) via ISP (delayed: sent 3 min after it happened — the link was down)',
    );
  });

  test('a missing or null field renders empty, never throws; nothing is executed', () => {
    const template =
      '[{{nope}}][{{subject}}][{{details.missing}}][{{details.diagnosis}}][{{constructor}}][{{__proto__}}][{{details.toString}}][{{delayed}}]';
    assert.equal(renderTemplate(template, DOWN, ON_TIME), '[][][][][][][][]');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the point: a template is not JavaScript
    const literal = '${process.exit(1)} {{ agent.toUpperCase() }} {{}} {{ a b }} `id`';
    assert.equal(renderTemplate(literal, DOWN, ON_TIME), literal);
  });

  test('a template replaces the built-in title and body; absent, the built-in text is used', () => {
    const text = messageText(DOWN, ON_TIME, { title: 'ALERT {{agent}}' });
    assert.equal(text.title, 'ALERT home');
    assert.equal(text.body, defaultBody(DOWN, ON_TIME));
  });
});

describe('payloads (pure)', () => {
  test('webhook: the documented JSON fields, rendered title and text', () => {
    const body = JSON.parse(webhookBody(UP, THREE_MIN, { body: '{{summary}} {{delayed}}' }));
    assert.deepEqual(Object.keys(body), [
      'id',
      'kind',
      'state',
      'agent',
      'subject',
      'started_at',
      'ended_at',
      'duration_s',
      'summary',
      'details',
      'created_at',
      'delayed_ms',
      'title',
      'text',
    ]);
    assert.deepEqual(body, {
      id: UP.id,
      kind: 'link_down',
      state: 'resolved',
      agent: 'home',
      subject: null,
      started_at: UP.startedAt,
      ended_at: UP.endedAt,
      duration_s: 146,
      summary: UP.summary,
      details: UP.details,
      created_at: UP.createdAt,
      delayed_ms: THREE_MIN,
      title: 'wmn home: link UP again after 2 min 26 s',
      text: `${UP.summary} (delayed: sent 3 min after it happened — the link was down)`,
    });
  });

  test('command: the same payload, one JSON line; env has exactly PATH and the event id and state', () => {
    const input = commandInput(DOWN, ON_TIME, {});
    assert.ok(input.endsWith('}\n') && !input.slice(0, -1).includes('\n'));
    assert.deepEqual(JSON.parse(input), JSON.parse(webhookBody(DOWN, ON_TIME, {})));
    assert.deepEqual(commandEnv(DOWN, '/bin'), {
      PATH: '/bin',
      WMN_EVENT_ID: DOWN.id,
      WMN_EVENT_STATE: 'firing',
    });
  });

  test('slack: bold title, mrkdwn text; the event’s & < > escaped, a template’s own markup kept', () => {
    const body = JSON.parse(slackBody(SOURCE_DOWN, ON_TIME, {}));
    assert.equal(body.unfurl_links, false);
    assert.ok(body.text.startsWith('*wmn home: https://example.com/?a=1&amp;b=&lt;2&gt; DOWN*\n'), body.text);
    assert.ok(!body.text.includes('<2>'));
    const custom = JSON.parse(slackBody(SOURCE_DOWN, ON_TIME, { body: '<!here> {{subject}}' }));
    assert.match(custom.text, /\n<!here> https:\/\/example\.com\/\?a=1&amp;b=&lt;2&gt;$/);
  });

  test('ntfy: priority 5 for the link going down, 4 for other alerts, 3 when resolved; tags; title', () => {
    const down = ntfyMessage(DOWN, THREE_MIN, {});
    assert.deepEqual(down.headers, {
      Title: 'wmn home: link DOWN',
      Priority: '5',
      Tags: 'rotating_light,link_down',
    });
    assert.ok(down.body.startsWith(DOWN.summary));
    assert.ok(down.body.endsWith('(delayed: sent 3 min after it happened — the link was down)'));
    assert.equal(ntfyMessage(SOURCE_DOWN, 0, {}).headers.Priority, '4');
    assert.equal(ntfyMessage({ ...DOWN, kind: 'latency' }, 0, {}).headers.Tags, 'warning,latency');
    assert.deepEqual(ntfyMessage(UP, 0, {}).headers, {
      Title: 'wmn home: link UP again after 2 min 26 s',
      Priority: '3',
      Tags: 'white_check_mark,link_down',
    });
    const unicode = ntfyMessage({ ...DOWN, agent: 'café' }, 0, {}).headers.Title;
    assert.match(unicode, /^[\x20-\x7e]+$/, 'a header value stays ASCII');
    assert.equal(decodeWords(unicode), 'wmn café: link DOWN');
  });

  test('email: headers, Message-ID from the event id, threading, encoded subject, quoted-printable body', () => {
    const addressing = {
      from: 'wmn <wmn@example.com>',
      to: ['ops@example.com', 'Zoë <zoe@example.com>'],
      date: new Date('2024-05-01T09:10:00Z'),
    };
    const event = { ...UP, agent: 'Büro' };
    const raw = emailMessage(event, THREE_MIN, {}, addressing);
    assert.doesNotMatch(raw.replaceAll('\r\n', ''), /[\r\n]/, 'CRLF line ends only');
    for (const line of raw.split('\r\n')) assert.ok(line.length <= 78, `line of ${line.length}: ${line}`);
    const { headers, body } = parseMessage(raw);
    assert.equal(headers.date, 'Wed, 01 May 2024 09:10:00 +0000');
    assert.equal(headers.from, 'wmn <wmn@example.com>');
    assert.equal(decodeWords(headers.to ?? ''), 'ops@example.com, Zoë <zoe@example.com>');
    assert.match(headers.subject ?? '', /^=\?UTF-8\?B\?/);
    assert.equal(decodeWords(headers.subject ?? ''), 'wmn Büro: link UP again after 2 min 26 s');
    assert.equal(headers['message-id'], messageId(event.id, 'example.com'));
    assert.match(headers['message-id'] ?? '', /^<wmn\.[0-9a-f]{32}@example\.com>$/);
    assert.equal(
      emailMessage(event, 0, {}, addressing).match(/^Message-ID: .*$/m)?.[0],
      `Message-ID: ${headers['message-id']}`,
      'a resend carries the same Message-ID',
    );
    const firingId = messageId('link_down:home:-:1714554131000:firing', 'example.com');
    assert.equal(headers['in-reply-to'], firingId, 'the recovery threads under the DOWN message');
    assert.equal(headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(headers['content-transfer-encoding'], 'quoted-printable');
    assert.equal(
      decodeQuotedPrintable(body),
      defaultBody(event, THREE_MIN).trimEnd().replaceAll('\n', '\r\n'),
    );
    assert.equal(parseMessage(emailMessage(DOWN, 0, {}, addressing)).headers['in-reply-to'], undefined);
  });

  test('mime: quoted-printable round trip; encoded-words split on character boundaries', () => {
    const text = `${'x'.repeat(200)}\ntrailing space \n=.é日本 🚨\ttab\t\n${'é'.repeat(60)}`;
    const encoded = quotedPrintable(text);
    for (const line of encoded.split('\r\n')) {
      assert.ok(line.length <= 76, line);
      assert.doesNotMatch(line, /[ \t]$/, 'no trailing whitespace');
    }
    assert.equal(decodeQuotedPrintable(encoded), text.replaceAll('\n', '\r\n'));
    const long = `${'🚨'.repeat(30)} link DOWN`;
    const words = encodeHeaderText(long);
    for (const word of words.split('\r\n ')) assert.ok(word.length <= 75, word);
    assert.equal(decodeWords(words), long);
    assert.equal(encodeHeaderText('evil\r\nBcc: x@y'), 'evil Bcc: x@y', 'no header injection');
  });

  test('smtp dot-stuffing', () => {
    assert.equal(dotStuff('.\r\n..x\r\na.b\r\n.end'), '..\r\n...x\r\na.b\r\n..end\r\n');
  });

  test('the registry builds every type', () => {
    assert.deepEqual(Object.keys(NOTIFIERS).sort(), ['command', 'email', 'ntfy', 'slack', 'webhook']);
    const built = notifier({ type: 'slack', name: 'team', url: 'http://127.0.0.1:9/x' });
    assert.equal(built.name, 'team');
  });
});

// --- an HTTP receiver -------------------------------------------------------------------------------------

interface Captured {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Receiver {
  readonly requests: Captured[];
  url(path: string): string;
  close(): Promise<void>;
}

/** Answers 200, or per path: /fail/… 500, /bad/… 400 "invalid_payload", /moved 302, /hang never. */
async function startReceiver(): Promise<Receiver> {
  const requests: Captured[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      requests.push({
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      if (path.startsWith('/hang')) return;
      if (path.startsWith('/fail')) res.writeHead(500).end('receiver broke');
      else if (path.startsWith('/bad')) res.writeHead(400).end('invalid_payload');
      else if (path.startsWith('/moved')) res.writeHead(302, { Location: '/ok' }).end();
      else res.writeHead(200).end('ok');
    });
  });
  const listening = await listen(server);
  return {
    requests,
    url: (path) => `http://127.0.0.1:${listening.port}${path}`,
    close: () => listening.close(),
  };
}

describe('HTTP notifiers against a local receiver', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());
  const last = () => receiver.requests.at(-1) as Captured;

  test('webhook: signed JSON a receiver can verify; headers', async () => {
    const secret = 's3cret';
    const hook = notifier({ type: 'webhook', name: 'hook', url: receiver.url('/hook'), secret });
    const before = Math.floor(Date.now() / 1000);
    await hook.send(DOWN, ctx({ delayedMs: THREE_MIN }));
    const req = last();
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/hook');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['user-agent'], USER_AGENT);
    assert.match(USER_AGENT, /^wmn\/\d+\.\d+\.\d+/);
    assert.equal(req.headers['x-wmn-event-id'], DOWN.id);
    // What a receiver does: HMAC over "<timestamp>.<raw body>", constant-time compare, timestamp fresh.
    const timestamp = Number(req.headers['x-wmn-timestamp']);
    assert.ok(Math.abs(timestamp - before) <= 5, `timestamp ${timestamp}`);
    const expected = createHmac('sha256', secret).update(`${timestamp}.${req.body}`).digest('hex');
    const given = String(req.headers['x-wmn-signature']);
    assert.match(given, /^sha256=[0-9a-f]{64}$/);
    assert.ok(
      timingSafeEqual(Buffer.from(given), Buffer.from(`sha256=${expected}`)),
      'the signature verifies',
    );
    const forged = createHmac('sha256', secret).update(`${timestamp}.${req.body} `).digest('hex');
    assert.notEqual(forged, expected, 'a changed body would not verify');
    const payload = JSON.parse(req.body);
    assert.equal(payload.id, DOWN.id);
    assert.equal(payload.delayed_ms, THREE_MIN);
  });

  test('webhook: no secret, no signature; a non-ASCII id is percent-encoded in its header', async () => {
    const hook = notifier({ type: 'webhook', name: 'hook', url: receiver.url('/plain'), secret: null });
    const event = { ...DOWN, agent: 'Büro 1', id: 'link_down:Büro 1:-:1:firing' };
    await hook.send(event, ctx());
    assert.equal(last().headers['x-wmn-signature'], undefined);
    assert.equal(last().headers['x-wmn-timestamp'], undefined);
    assert.equal(decodeURI(String(last().headers['x-wmn-event-id'])), event.id);
    assert.equal(JSON.parse(last().body).agent, 'Büro 1');
  });

  test('webhook: a non-2xx answer rejects with its status; a redirect is not followed', async () => {
    const hook = notifier({
      type: 'webhook',
      name: 'hook',
      url: receiver.url('/fail/token-abc'),
      secret: null,
    });
    const err = await rejection(hook.send(DOWN, ctx()));
    assert.equal(err.status, 500);
    assert.equal(err.code, 'notify');
    assert.match(
      err.message,
      /^hook: POST http:\/\/127\.0\.0\.1:\d+: HTTP 500 Internal Server Error: receiver broke$/,
    );
    assert.doesNotMatch(err.message, /token-abc/, 'the URL path (often a secret) stays out of errors');
    const moved = notifier({ type: 'webhook', name: 'hook', url: receiver.url('/moved'), secret: null });
    const count = receiver.requests.length;
    assert.equal((await rejection(moved.send(DOWN, ctx()))).status, 302);
    assert.equal(receiver.requests.length, count + 1, 'the redirect target was not requested');
  });

  test('webhook: a refused connection rejects', async () => {
    const port = await freePort();
    const hook = notifier({ type: 'webhook', name: 'hook', url: `http://127.0.0.1:${port}/`, secret: null });
    assert.match((await rejection(hook.send(DOWN, ctx()))).message, /ECONNREFUSED/);
  });

  test('webhook: a receiver that never answers: ended by the AbortSignal, or by the step deadline', async () => {
    const hook = notifier({ type: 'webhook', name: 'hook', url: receiver.url('/hang'), secret: null });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    let err: NotifyError | undefined;
    const took = await timed(async () => {
      err = await rejection(hook.send(DOWN, ctx({ signal: ac.signal })));
    });
    assert.match(err?.message ?? '', /aborted/);
    assert.ok(took < 2000, `took ${took} ms`);
    const quick = createNotifier(
      { type: 'webhook', name: 'hook', url: receiver.url('/hang'), secret: null, template: {} },
      { log: silentLogger, stepTimeoutMs: 300 },
    );
    assert.match((await rejection(quick.send(DOWN, ctx()))).message, /no answer within 0\.3 s/);
  });

  test('slack: mrkdwn text arrives; a refusal carries Slack’s reason, never the URL’s secret path', async () => {
    const slack = notifier({ type: 'slack', name: 'team', url: receiver.url('/services/T1/B2/XYZ') });
    await slack.send(UP, ctx());
    assert.equal(last().headers['content-type'], 'application/json');
    const body = JSON.parse(last().body);
    assert.ok(body.text.startsWith('*wmn home: link UP again after 2 min 26 s*\nlink UP: offline'));
    const bad = notifier({ type: 'slack', name: 'team', url: receiver.url('/bad/T1/B2/XYZ') });
    const err = await rejection(bad.send(UP, ctx()));
    assert.equal(err.status, 400);
    assert.match(err.message, /HTTP 400 Bad Request: invalid_payload/);
    assert.doesNotMatch(err.message, /XYZ/);
  });

  test('ntfy: text body, Title/Priority/Tags headers, the bearer token', async () => {
    const ntfy = notifier({ type: 'ntfy', name: 'phone', url: receiver.url('/wmn-alerts'), token: 'tk_123' });
    await ntfy.send(DOWN, ctx({ delayedMs: THREE_MIN }));
    const req = last();
    assert.equal(req.path, '/wmn-alerts');
    assert.equal(req.headers.title, 'wmn home: link DOWN');
    assert.equal(req.headers.priority, '5');
    assert.equal(req.headers.tags, 'rotating_light,link_down');
    assert.equal(req.headers.authorization, 'Bearer tk_123');
    assert.equal(req.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(req.body, defaultBody(DOWN, THREE_MIN).trimEnd());
    const open = notifier({ type: 'ntfy', name: 'phone', url: receiver.url('/t'), token: null });
    await open.send({ ...UP, agent: 'café' }, ctx());
    assert.equal(last().headers.authorization, undefined);
    assert.equal(last().headers.priority, '3');
    assert.equal(decodeWords(String(last().headers.title)), 'wmn café: link UP again after 2 min 26 s');
  });
});

// --- an SMTP sink -----------------------------------------------------------------------------------------

interface SmtpSession {
  /** Every command line, in order (DATA's content excluded). */
  readonly commands: string[];
  secure: boolean;
  /** Whether the session was secure when AUTH arrived. */
  authSecure: boolean | null;
  auth: { user: string; pass: string } | null;
  from: string | null;
  readonly to: string[];
  /** DATA's lines as they crossed the wire (dot-stuffed). */
  readonly wireLines: string[];
  /** The message after undoing the dot-stuffing. */
  message: string | null;
}

interface SinkOptions {
  /** implicit: TLS from the first byte; starttls: offered; plain: not offered. */
  readonly mode: 'plain' | 'starttls' | 'implicit';
  readonly certs?: LabCerts;
  /** Mechanisms announced after TLS (none: no AUTH extension). */
  readonly auth?: string;
  /** A recipient answered with 550. */
  readonly reject?: string;
  /** Accept, then say nothing. */
  readonly silent?: boolean;
  /** Answer STARTTLS with its 220 and, in the same write, a forged reply (a man in the middle's trick). */
  readonly injectAfterStartTls?: boolean;
}

interface Sink {
  readonly port: number;
  readonly sessions: SmtpSession[];
  close(): Promise<void>;
}

const PASSWORD = 'pä55 word';

/** An email notifier's options for STARTTLS with a login, trusting `caFile`. */
const starttlsLogin = (caFile: string) =>
  ({ security: 'starttls', username: 'wmn', password: PASSWORD, caFile }) as const;

async function startSink(options: SinkOptions): Promise<Sink> {
  const sessions: SmtpSession[] = [];
  const serve = (socket: Socket, secure: boolean) => {
    const session: SmtpSession = {
      commands: [],
      secure,
      authSecure: null,
      auth: null,
      from: null,
      to: [],
      wireLines: [],
      message: null,
    };
    sessions.push(session);
    if (options.silent) return;
    let current = socket;
    let buffer = '';
    let inData = false;
    let loginStage: 'user' | 'pass' | null = null;
    let loginUser = '';
    const send = (...lines: string[]) => current.write(lines.map((line) => `${line}\r\n`).join(''));
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        handle(line);
      }
    };
    const handle = (line: string) => {
      if (inData) {
        if (line === '.') {
          inData = false;
          session.message = session.wireLines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n');
          send('250 2.0.0 queued');
        } else session.wireLines.push(line);
        return;
      }
      session.commands.push(line);
      if (loginStage !== null) {
        const text = Buffer.from(line, 'base64').toString('utf8');
        if (loginStage === 'user') {
          loginUser = text;
          loginStage = 'pass';
          send('334 UGFzc3dvcmQ6');
        } else {
          loginStage = null;
          session.auth = { user: loginUser, pass: text };
          send(text === PASSWORD ? '235 2.7.0 ok' : '535 5.7.8 bad credentials');
        }
        return;
      }
      const verb = (line.split(' ')[0] ?? '').toUpperCase();
      if (verb === 'EHLO') {
        const ext = ['sink.test hello'];
        if (options.mode === 'starttls' && !session.secure) ext.push('STARTTLS');
        if (options.auth && session.secure) ext.push(`AUTH ${options.auth}`);
        ext.push('8BITMIME');
        send(...ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}`));
      } else if (verb === 'STARTTLS' && options.injectAfterStartTls) {
        send('220 2.0.0 go ahead', '250 2.0.0 forged');
      } else if (verb === 'STARTTLS') {
        send('220 2.0.0 go ahead');
        socket.off('data', onData);
        const certs = options.certs as LabCerts;
        current = new TLSSocket(socket, { isServer: true, cert: certs.cert, key: certs.key });
        current.on('error', () => {});
        current.on('secure', () => {
          session.secure = true;
        });
        current.on('data', onData);
      } else if (verb === 'AUTH') {
        session.authSecure = session.secure;
        const [, mech, initial] = line.split(' ');
        if (mech === 'PLAIN' && initial) {
          const [, user = '', pass = ''] = Buffer.from(initial, 'base64').toString('utf8').split('\0');
          session.auth = { user, pass };
          send(pass === PASSWORD ? '235 2.7.0 ok' : '535 5.7.8 bad credentials');
        } else if (mech === 'LOGIN') {
          loginStage = 'user';
          send('334 VXNlcm5hbWU6');
        } else send('504 5.5.4 unrecognised');
      } else if (verb === 'MAIL') {
        session.from = /<(.*)>/.exec(line)?.[1] ?? null;
        send('250 2.1.0 ok');
      } else if (verb === 'RCPT') {
        const to = /<(.*)>/.exec(line)?.[1] ?? '';
        if (to === options.reject) send('550 5.1.1 no such user here');
        else {
          session.to.push(to);
          send('250 2.1.5 ok');
        }
      } else if (verb === 'DATA') {
        inData = true;
        send('354 go ahead');
      } else if (verb === 'QUIT') {
        send('221 2.0.0 bye');
        current.end();
      } else send('502 5.5.2 what?');
    };
    socket.on('data', onData);
    send('220 sink.test ESMTP');
  };
  let listening: Listening;
  if (options.mode === 'implicit') {
    const certs = options.certs as LabCerts;
    const server = createTlsServer({ cert: certs.cert, key: certs.key }, (socket) => serve(socket, true));
    server.on('tlsClientError', () => {});
    listening = await listen(server);
  } else {
    listening = await listen(createNetServer((socket) => serve(socket, false)));
  }
  return { port: listening.port, sessions, close: () => listening.close() };
}

describe('email against a local SMTP sink', () => {
  let certs: LabCerts | undefined;
  let certsError = '';
  before(async () => {
    try {
      certs = await labCerts();
    } catch (err) {
      certsError = String(err);
    }
  });
  const tlsReady = (t: TestContext) =>
    need(t, certs !== undefined, `the lab CA needs the openssl CLI: ${certsError}`)
      ? (certs as LabCerts)
      : null;

  const mail = (
    sink: Sink,
    overrides: Partial<NotifierConfig & { type: 'email' }> = {},
    stepTimeoutMs?: number,
  ) =>
    createNotifier(
      {
        type: 'email',
        name: 'mail',
        host: '127.0.0.1',
        port: sink.port,
        security: 'none',
        username: null,
        password: null,
        from: 'wmn <wmn@example.com>',
        to: ['ops@example.com', 'Zoë <zoe@example.com>'],
        caFile: null,
        template: {},
        ...overrides,
      } as NotifierConfig,
      { log: silentLogger, ...(stepTimeoutMs === undefined ? {} : { stepTimeoutMs }) },
    );

  test('plain relay: envelope, headers, encoded subject, dot-stuffing on the wire', async () => {
    const sink = await startSink({ mode: 'plain' });
    try {
      const template = { title: '{{agent}} ⚠ {{state}}', body: '{{summary}}\n.\n..two dots\n.{{agent}}' };
      await mail(sink, { template }).send({ ...DOWN, agent: 'Büro' }, ctx());
      const [session] = sink.sessions;
      assert.ok(session);
      assert.equal(session.from, 'wmn@example.com');
      assert.deepEqual(session.to, ['ops@example.com', 'zoe@example.com']);
      assert.ok(session.commands[0]?.startsWith('EHLO '));
      assert.deepEqual(
        session.commands.slice(1).map((c) => c.split(':')[0]),
        ['MAIL FROM', 'RCPT TO', 'RCPT TO', 'DATA', 'QUIT'],
      );
      // On the wire every line-leading dot was doubled; the sink's un-stuffing gives back the message.
      assert.ok(session.wireLines.includes('..'), session.wireLines.join('\n'));
      assert.ok(session.wireLines.includes('...two dots'));
      assert.ok(session.wireLines.includes('..B=C3=BCro'));
      const { headers, body } = parseMessage(session.message ?? '');
      assert.equal(decodeWords(headers.subject ?? ''), 'Büro ⚠ firing');
      assert.match(headers.subject ?? '', /^[\x20-\x7e\t\r\n]+$/);
      assert.equal(headers.from, 'wmn <wmn@example.com>');
      assert.equal(headers['message-id'], messageId(DOWN.id, 'example.com'));
      assert.equal(decodeQuotedPrintable(body), `${DOWN.summary}\r\n.\r\n..two dots\r\n.Büro`);
    } finally {
      await sink.close();
    }
  });

  test('STARTTLS with the lab CA, then AUTH PLAIN over TLS', async (t) => {
    const lab = tlsReady(t);
    if (!lab) return;
    const sink = await startSink({ mode: 'starttls', certs: lab, auth: 'PLAIN LOGIN' });
    try {
      const config = starttlsLogin(lab.caFile);
      await mail(sink, config).send(UP, ctx());
      const [session] = sink.sessions;
      assert.ok(session?.secure);
      assert.equal(session.authSecure, true, 'AUTH only after the TLS upgrade');
      assert.deepEqual(session.auth, { user: 'wmn', pass: PASSWORD });
      const verbs = session.commands.map((c) => c.split(' ')[0]);
      assert.deepEqual(verbs.slice(0, 4), ['EHLO', 'STARTTLS', 'EHLO', 'AUTH']);
      assert.equal(decodeWords(parseMessage(session.message ?? '').headers.subject ?? ''), defaultTitle(UP));
    } finally {
      await sink.close();
    }
  });

  test('AUTH LOGIN when it is the only mechanism; a wrong password rejects naming the step', async (t) => {
    const lab = tlsReady(t);
    if (!lab) return;
    const sink = await startSink({ mode: 'starttls', certs: lab, auth: 'LOGIN' });
    try {
      const config = starttlsLogin(lab.caFile);
      await mail(sink, config).send(UP, ctx());
      assert.deepEqual(sink.sessions[0]?.auth, { user: 'wmn', pass: PASSWORD });
      const err = await rejection(mail(sink, { ...config, password: 'wrong' }).send(UP, ctx()));
      assert.match(err.message, /^mail: AUTH LOGIN \(password\): 535 5\.7\.8 bad credentials$/);
      assert.doesNotMatch(err.message, /wrong/);
    } finally {
      await sink.close();
    }
  });

  test('STARTTLS required but not offered: refused before anything is sent', async () => {
    const sink = await startSink({ mode: 'plain', auth: 'PLAIN' });
    try {
      const err = await rejection(
        mail(sink, { security: 'starttls', username: 'wmn', password: PASSWORD }).send(DOWN, ctx()),
      );
      assert.match(err.message, /^mail: STARTTLS: the server does not offer STARTTLS/);
      assert.deepEqual(
        sink.sessions[0]?.commands.map((c) => c.split(' ')[0]),
        ['EHLO'],
      );
    } finally {
      await sink.close();
    }
  });

  test('text injected after the STARTTLS reply, before the handshake, is refused', async (t) => {
    const lab = tlsReady(t);
    if (!lab) return;
    const sink = await startSink({ mode: 'starttls', certs: lab, injectAfterStartTls: true });
    try {
      const err = await rejection(mail(sink, { security: 'starttls', caFile: lab.caFile }).send(DOWN, ctx()));
      assert.equal(err.message, 'mail: STARTTLS: the server sent data before the TLS handshake');
      assert.deepEqual(sink.sessions[0]?.commands, [sink.sessions[0]?.commands[0], 'STARTTLS']);
    } finally {
      await sink.close();
    }
  });

  test('a password is never sent unencrypted (security: none)', async () => {
    const sink = await startSink({ mode: 'plain', auth: 'PLAIN' });
    try {
      const err = await rejection(mail(sink, { username: 'wmn', password: PASSWORD }).send(DOWN, ctx()));
      assert.match(err.message, /^mail: AUTH: refusing to send a password over an unencrypted connection/);
      assert.equal(sink.sessions.length, 0, 'no connection was made');
    } finally {
      await sink.close();
    }
  });

  test('implicit TLS: the lab CA is trusted through caFile, and only through it', async (t) => {
    const lab = tlsReady(t);
    if (!lab) return;
    const sink = await startSink({ mode: 'implicit', certs: lab, auth: 'PLAIN' });
    try {
      const config = { security: 'tls', username: 'wmn', password: PASSWORD } as const;
      await mail(sink, { ...config, caFile: lab.caFile }).send(DOWN, ctx());
      assert.deepEqual(sink.sessions[0]?.auth, { user: 'wmn', pass: PASSWORD });
      assert.ok(sink.sessions[0]?.message);
      const err = await rejection(mail(sink, config).send(DOWN, ctx()));
      assert.match(err.message, /^mail: connect \(TLS\): .*certificate/);
      assert.equal(sink.sessions.length, 1, 'the untrusted server got no session');
    } finally {
      await sink.close();
    }
  });

  test('a refused recipient rejects the send before DATA, quoting the server', async () => {
    const sink = await startSink({ mode: 'plain', reject: 'zoe@example.com' });
    try {
      const err = await rejection(mail(sink).send(DOWN, ctx()));
      assert.equal(err.message, 'mail: RCPT TO:<zoe@example.com>: 550 5.1.1 no such user here');
      assert.ok(!sink.sessions[0]?.commands.includes('DATA'), 'nothing was delivered to the others');
      const refused = await freePort();
      const closed = mail({ ...sink, port: refused });
      assert.match((await rejection(closed.send(DOWN, ctx()))).message, /^mail: connect: .*ECONNREFUSED/);
    } finally {
      await sink.close();
    }
  });

  test('a server that never speaks: ended by the AbortSignal, or by the step deadline', async () => {
    const sink = await startSink({ mode: 'plain', silent: true });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      let err: NotifyError | undefined;
      const took = await timed(async () => {
        err = await rejection(mail(sink).send(DOWN, ctx({ signal: ac.signal })));
      });
      assert.equal(err?.message, 'mail: greeting: aborted: wmn is stopping');
      assert.ok(took < 2000, `took ${took} ms`);
      const quick = mail(sink, {}, 300);
      assert.equal(
        (await rejection(quick.send(DOWN, ctx()))).message,
        'mail: greeting: no answer within 0.3 s',
      );
    } finally {
      await sink.close();
    }
  });
});

// --- commands ---------------------------------------------------------------------------------------------

describe('command', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wmn-notifiers-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const command = (argv: string[], timeoutMs = 5000): Notifier =>
    notifier({ type: 'command', name: 'script', argv, timeoutMs });

  test('the event arrives on stdin verbatim, however hostile the agent name (no shell involved)', async () => {
    const file = join(dir, 'event.json');
    const pwned = join(dir, 'pwned');
    const agent = `home"; touch ${pwned}; echo "$(touch ${pwned}) \`touch ${pwned}\` '$HOME' \\ %s`;
    const event = { ...DOWN, agent, id: `link_down:${agent}:-:1:firing` };
    await command(['/bin/sh', '-c', 'cat > "$0"', file]).send(event, ctx({ delayedMs: THREE_MIN }));
    const received = readFileSync(file, 'utf8');
    assert.equal(received, commandInput(event, THREE_MIN, {}));
    assert.equal(JSON.parse(received).agent, agent);
    const idFile = join(dir, 'id');
    await command(['/bin/sh', '-c', 'printf %s "$WMN_EVENT_ID" > "$0"', idFile]).send(event, ctx());
    assert.equal(readFileSync(idFile, 'utf8'), event.id);
    assert.equal(existsSync(pwned), false, 'nothing in the event was executed');
  });

  test('the environment is exactly PATH, WMN_EVENT_ID and WMN_EVENT_STATE', async () => {
    const file = join(dir, 'env.json');
    const script = 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.env))';
    await command([process.execPath, '-e', script, file]).send(UP, ctx());
    const env = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(Object.keys(env).sort(), ['PATH', 'WMN_EVENT_ID', 'WMN_EVENT_STATE']);
    assert.equal(env.WMN_EVENT_STATE, 'resolved');
  });

  test('a non-zero exit rejects with the end of stderr; a missing program rejects', async () => {
    const err = await rejection(
      command(['/bin/sh', '-c', 'cat >/dev/null; echo "relay down" >&2; exit 3']).send(DOWN, ctx()),
    );
    assert.equal(err.message, 'script: command /bin/sh: exit code 3: relay down');
    const noisy = await rejection(
      command(['/bin/sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x >&2; echo END >&2; exit 1']).send(
        DOWN,
        ctx(),
      ),
    );
    assert.ok(noisy.message.endsWith('xxxEND'), 'the tail, not the head');
    assert.ok(noisy.message.length < 600);
    const missing = await rejection(command([join(dir, 'no-such-program')]).send(DOWN, ctx()));
    assert.match(missing.message, /ENOENT/);
    // A command that ignores its stdin is fine.
    await command(['/bin/true']).send(DOWN, ctx());
  });

  test('past timeoutMs the whole process group is killed', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const script = 'sleep 30 & echo $! > "$0"; wait';
    let err: NotifyError | undefined;
    const took = await timed(async () => {
      err = await rejection(command(['/bin/sh', '-c', script, pidFile], 300).send(DOWN, ctx()));
    });
    assert.match(err?.message ?? '', /still running after 0\.3 s; killed/);
    assert.ok(took < 3000, `took ${took} ms`);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(grandchild > 0);
    await waitFor(() => !alive(grandchild), 'the background sleep was killed with its group');
  });

  test('an AbortSignal kills the command at once', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    let err: NotifyError | undefined;
    const took = await timed(async () => {
      err = await rejection(
        command(['/bin/sh', '-c', 'sleep 30'], 60_000).send(DOWN, ctx({ signal: ac.signal })),
      );
    });
    assert.match(err?.message ?? '', /aborted: wmn is stopping; killed/);
    assert.ok(took < 3000, `took ${took} ms`);
  });
});

// --- helpers ----------------------------------------------------------------------------------------------

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const listening = await listen(createNetServer());
  await listening.close();
  return listening.port;
}

/** Whether process `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
  return stat.status === 0 && !stat.stdout.trim().startsWith('Z');
}

async function waitFor(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const until = performance.now() + ms;
  while (!check()) {
    if (performance.now() > until) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Header fields (lower-case names, folded lines unfolded) and the body of an RFC 5322 message. */
function parseMessage(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const field of raw.slice(0, split).split(/\r\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    headers[field.slice(0, colon).toLowerCase()] = field
      .slice(colon + 1)
      .replace(/\r\n[ \t]/g, ' ')
      .trim();
  }
  return { headers, body: raw.slice(split + 4).replace(/\r\n$/, '') };
}

/** RFC 2047 B-encoded words back to text (whitespace between adjacent words dropped, as the RFC says). */
function decodeWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?B\?([^?]*)\?=/gi, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));
}

/** Quoted-printable back to text, written independently of the encoder under test. */
function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = [];
  const joined = text.replace(/=\r\n/g, '');
  for (let i = 0; i < joined.length; i++) {
    if (joined[i] === '=' && /^[0-9A-F]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(joined.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}
