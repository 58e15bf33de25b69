/**
 * The durable outbox against real files in a temporary directory, with in-test notifiers that record
 * what they get, fail on demand ("the link is down") or hang until aborted: order per notifier, one
 * failing notifier not holding up another, backoff and delivery when the link returns, restart,
 * deduplication, orphaned notifiers, a torn record, compaction and the bounds, and a process killed with
 * SIGKILL between a send and its acknowledgement.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import { backoffMs, type Outbox, type OutboxOptions, openOutbox } from '../src/alerts/outbox.js';
import type { AlertEvent, Notifier, SendContext } from '../src/alerts/types.js';
import { createLogger, type Logger, silentLogger } from '../src/log.js';

const REPO = new URL('..', import.meta.url).pathname;
const T0 = Date.parse('2025-03-01T09:02:11Z');

function event(id: string, createdAtMs = T0, state: AlertEvent['state'] = 'firing'): AlertEvent {
  return {
    id,
    kind: 'link_down',
    state,
    agent: 'outbox-test',
    subject: null,
    startedAt: new Date(T0).toISOString(),
    endedAt: state === 'resolved' ? new Date(createdAtMs).toISOString() : null,
    durationS: state === 'resolved' ? (createdAtMs - T0) / 1000 : null,
    summary: `event ${id}`,
    details: { diagnosis: 'isp', n: 1, ok: false, none: null },
    createdAt: new Date(createdAtMs).toISOString(),
  };
}

/** A wall clock the test moves by hand. */
function fakeClock(start = T0): { now(): number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/**
 * A notifier that records what it is sent. `mode`: ok, fail (rejects, like an unreachable receiver) or
 * hang (settles only when its signal aborts). `check` runs first and may throw.
 */
class TestNotifier implements Notifier {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  /** Ids delivered, in order. */
  readonly got: string[] = [];
  readonly delays: number[] = [];
  /** performance.now() of every attempt. */
  readonly attempts: number[] = [];
  readonly signals: AbortSignal[] = [];
  check: ((event: AlertEvent) => void) | null = null;

  constructor(readonly name: string) {}

  async send(event: AlertEvent, ctx: SendContext): Promise<void> {
    this.attempts.push(performance.now());
    this.signals.push(ctx.signal);
    this.check?.(event);
    if (this.mode === 'fail') throw new Error(`${this.name}: connect ECONNREFUSED`);
    if (this.mode === 'hang') {
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    }
    this.got.push(event.id);
    this.delays.push(ctx.delayedMs);
  }
}

function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: 'debug', timestamps: false, write: (l) => lines.push(l) }), lines };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wmn-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'outbox');
}

/** Opens an outbox that the test stops at its end (stop is idempotent). */
async function open(
  t: TestContext,
  dir: string,
  notifiers: Notifier[],
  extra: Partial<OutboxOptions> = {},
): Promise<Outbox> {
  const outbox = await openOutbox({
    dir,
    notifiers,
    log: silentLogger,
    minBackoffMs: 5,
    maxBackoffMs: 20,
    ...extra,
  });
  t.after(() => outbox.stop());
  return outbox;
}

async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function journalFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.journal')).sort();
}

async function journalPath(dir: string): Promise<string> {
  const files = await journalFiles(dir);
  assert.equal(files.length, 1, `one journal file: ${files.join(', ')}`);
  return join(dir, files[0]!);
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

function stats(outbox: Outbox, name: string) {
  const found = outbox.stats.notifiers.find((n) => n.name === name);
  assert.ok(found, `stats for ${name}`);
  return found;
}

describe('outbox', () => {
  it('puts each event on disk before sending it, and delivers in enqueue order', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    const outbox = await open(t, dir, [a]);
    const path = await journalPath(dir);
    a.check = (e) => assert.ok(readFileSync(path, 'latin1').includes(`"id":"${e.id}"`), `${e.id} on disk`);
    const all = ids('e', 20);
    for (const id of all.slice(0, 10)) await outbox.enqueue(event(id));
    outbox.start();
    await Promise.all(all.slice(10).map((id) => outbox.enqueue(event(id))));
    await until('all delivered and acknowledged', () => stats(outbox, 'a').delivered === 20);
    assert.deepEqual(a.got, all);
    assert.deepEqual(stats(outbox, 'a'), {
      name: 'a',
      configured: true,
      pending: 0,
      delivered: 20,
      failures: 0,
      oldestPendingMs: null,
    });
  });

  it('keeps delivering to one notifier while another fails, and catches the failing one up in order', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    const b = new TestNotifier('b');
    b.mode = 'fail';
    const clock = fakeClock();
    const outbox = await open(t, dir, [b, a], { clock, minBackoffMs: 60_000, maxBackoffMs: 60_000 });
    outbox.start();
    for (const id of ids('e', 3)) await outbox.enqueue(event(id));
    await until('a has all', () => a.got.length === 3);
    assert.deepEqual(a.got, ['e1', 'e2', 'e3']);
    clock.advance(90_000);
    assert.equal(b.attempts.length, 1, 'b tried once, and now waits out a 30–60 s backoff');
    const waiting = stats(outbox, 'b');
    assert.deepEqual(
      { pending: waiting.pending, failures: waiting.failures, delivered: waiting.delivered },
      { pending: 3, failures: 1, delivered: 0 },
    );
    assert.equal(waiting.oldestPendingMs, 90_000);

    b.mode = 'ok';
    outbox.retry('a'); // another notifier's retry leaves b's backoff alone
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(b.attempts.length, 1);
    outbox.retry('b');
    await until('b has all, acknowledged', () => stats(outbox, 'b').delivered === 3);
    assert.deepEqual(b.got, ['e1', 'e2', 'e3']);
    assert.deepEqual(b.delays, [90_000, 90_000, 90_000], 'delayedMs = now − createdAt at send time');
    assert.equal(stats(outbox, 'b').oldestPendingMs, null);
  });

  it('backs off exponentially, with jitter and a cap, then delivers when the link returns', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    a.mode = 'fail';
    const outbox = await open(t, dir, [a], { minBackoffMs: 10, maxBackoffMs: 80 });
    outbox.start();
    await outbox.enqueue(event('down'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    const gaps = a.attempts.slice(1).map((at, i) => at - a.attempts[i]!);
    t.diagnostic(
      `${a.attempts.length} attempts in 600 ms; gaps ${gaps.map((g) => g.toFixed(0)).join(' ')} ms`,
    );
    assert.ok(a.attempts.length >= 5 && a.attempts.length <= 25, `${a.attempts.length} attempts`);
    assert.ok(
      gaps.every((g) => g >= 4),
      'never below half the minimum',
    );
    assert.ok(
      gaps.slice(4).every((g) => g >= 39 && g <= 80 + 150),
      'capped at the maximum, at least half of it',
    );
    assert.equal(stats(outbox, 'a').failures, a.attempts.length);

    a.mode = 'ok';
    await until('delivered on its own once the receiver is back', () => a.got.length === 1, 1_000);
    assert.deepEqual(a.got, ['down']);
  });

  it('computes the backoff: doubling from the minimum, within [ceiling/2, ceiling], never above the maximum', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 40, 5_000].map((n) => backoffMs(n, 1_000, 10_000, () => 1)),
      [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000],
    );
    assert.deepEqual(
      [1, 2, 5].map((n) => backoffMs(n, 1_000, 10_000, () => 0)),
      [500, 1_000, 5_000],
    );
  });

  it('delivers a DOWN alert held while offline before its recovery, marked with how late it is', async (t) => {
    const dir = await tempDir(t);
    const clock = fakeClock();
    const a = new TestNotifier('a');
    const b = new TestNotifier('b');
    a.mode = b.mode = 'fail';
    const outbox = await open(t, dir, [a, b], { clock, minBackoffMs: 10_000, maxBackoffMs: 10_000 });
    outbox.start();
    await outbox.enqueue(event('link:down', T0));
    clock.advance(146_000); // offline 2 min 26 s
    await outbox.enqueue(event('link:up', T0 + 146_000, 'resolved'));
    clock.advance(1_000);
    a.mode = b.mode = 'ok';
    outbox.retry(); // the first UP cycle
    await until('both delivered', () => a.got.length === 2 && b.got.length === 2);
    for (const n of [a, b]) {
      assert.deepEqual(n.got, ['link:down', 'link:up']);
      assert.deepEqual(n.delays, [147_000, 1_000]);
    }
  });

  it('resumes undelivered events in order after a restart, and only those', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    a.check = (e) => {
      if (a.got.length >= 2) throw new Error(`link down at ${e.id}`);
    };
    const first = await open(t, dir, [a]);
    first.start();
    for (const id of ids('e', 5)) await first.enqueue(event(id));
    await until('two delivered, the third tried', () => a.got.length === 2 && a.attempts.length >= 3);
    await first.stop();

    const again = new TestNotifier('a');
    const { log, lines } = recordingLogger();
    const second = await open(t, dir, [again], { log });
    assert.match(lines.join('\n'), /undelivered notifications from an earlier run; sending them" pending=3/);
    assert.equal(stats(second, 'a').pending, 3);
    second.start();
    await until('the rest delivered', () => again.got.length === 3);
    assert.deepEqual(again.got, ['e3', 'e4', 'e5']);
  });

  it('aborts a hung send at stop, and sends it again at the next start', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    a.mode = 'hang';
    const first = await open(t, dir, [a]);
    first.start();
    await first.enqueue(event('e1'));
    await until('the send hangs', () => a.signals.length === 1);
    const started = performance.now();
    await first.stop();
    assert.ok(performance.now() - started < 1_000, 'stop did not wait for the hung receiver');
    assert.equal(a.signals[0]!.aborted, true, 'the send was told to stop through its signal');
    assert.equal(stats(first, 'a').failures, 0, 'an abort at stop is not a failure');
    await assert.rejects(first.enqueue(event('e2')), /stopped/);

    const again = new TestNotifier('a');
    const second = await open(t, dir, [again]);
    second.start();
    await until('delivered after the restart', () => again.got.length === 1);
    assert.deepEqual(again.got, ['e1']);
  });

  it('times out a send that never settles, counts it as a failure, and retries it', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    a.mode = 'hang';
    const { log, lines } = recordingLogger();
    const outbox = await open(t, dir, [a], { log, sendTimeoutMs: 50 });
    outbox.start();
    await outbox.enqueue(event('e1'));
    await until('timed out once', () => stats(outbox, 'a').failures >= 1);
    assert.match(
      lines.join('\n'),
      /notification failed; retrying with backoff" notifier=a event=e1 err="no answer within 50 ms"/,
    );
    a.mode = 'ok';
    await until('delivered', () => a.got.length === 1);
  });

  it('ignores an event id it already holds: pending, delivered, and after a restart', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    const first = await open(t, dir, [a]);
    await Promise.all([first.enqueue(event('x')), first.enqueue(event('x')), first.enqueue(event('y'))]);
    await first.enqueue(event('x')); // pending
    assert.equal(stats(first, 'a').pending, 2);
    first.start();
    await until('delivered', () => a.got.length === 2);
    await first.enqueue(event('x')); // delivered
    await first.enqueue(event('y'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(a.got, ['x', 'y']);
    await first.stop();

    const again = new TestNotifier('a');
    const second = await open(t, dir, [again]);
    second.start();
    await second.enqueue(event('x'));
    await second.enqueue(event('z'));
    await until('z delivered', () => again.got.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(again.got, ['z']);
  });

  it('keeps a removed notifier’s events as orphans, sends them when it comes back, and gives no history to a new one', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    const b = new TestNotifier('b');
    b.mode = 'fail';
    const first = await open(t, dir, [a, b], { minBackoffMs: 60_000, maxBackoffMs: 60_000 });
    first.start();
    await first.enqueue(event('e1'));
    await first.enqueue(event('e2'));
    await until('a has both', () => a.got.length === 2);
    await first.stop();

    const { log, lines } = recordingLogger();
    const a2 = new TestNotifier('a');
    const second = await open(t, dir, [a2], { log });
    second.start();
    assert.match(
      lines.join('\n'),
      /level=warn msg="outbox: notifier no longer configured: its undelivered notifications are kept, not sent" notifier=b events=2/,
    );
    assert.deepEqual(stats(second, 'b'), {
      name: 'b',
      configured: false,
      pending: 2,
      delivered: 0,
      failures: 0,
      oldestPendingMs: stats(second, 'b').oldestPendingMs,
    });
    await second.enqueue(event('e3')); // for a only: b is not configured now
    await until('a has e3', () => a2.got.length === 1);
    await second.stop();

    const b3 = new TestNotifier('b');
    const c3 = new TestNotifier('c');
    const third = await open(t, dir, [b3, c3]);
    third.start();
    await until('b has its two', () => b3.got.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(b3.got, ['e1', 'e2']);
    assert.deepEqual(c3.got, [], 'a notifier added later does not get earlier events');
  });

  it('cuts off a torn last record with a warning, keeps the events before it, and appends after it', async (t) => {
    const dir = await tempDir(t);
    const first = await open(t, dir, [new TestNotifier('b')]);
    for (const id of ids('e', 3)) await first.enqueue(event(id));
    await first.stop();
    const path = await journalPath(dir);
    const whole = (await stat(path)).size;
    await truncate(path, whole - 9); // power lost while e3 was being written

    const { log, lines } = recordingLogger();
    const b = new TestNotifier('b');
    const second = await open(t, dir, [b], { log });
    const repaired = (await stat(path)).size;
    const warning = lines.find((l) => l.includes('torn record'));
    assert.ok(warning?.includes(`file=${path}`) && warning.includes(`offset=${repaired}`), lines.join('\n'));
    assert.ok(repaired < whole - 9, 'the file now ends at the last intact record');
    await second.enqueue(event('e4'));
    second.start();
    await until('delivered', () => b.got.length === 3);
    assert.deepEqual(b.got, ['e1', 'e2', 'e4']);
    await second.stop();

    const quiet = recordingLogger();
    await (await open(t, dir, [new TestNotifier('b')], { log: quiet.log })).stop();
    assert.ok(!quiet.lines.some((l) => l.includes('level=warn')), 'repaired once, quiet since');
  });

  it('compacts the journal while keeping every pending event, in order, and the delivered ids', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    const b = new TestNotifier('b');
    b.mode = 'fail';
    const bounds = {
      compactBytes: 8 * 1024,
      maxBytes: 256 * 1024,
      minBackoffMs: 60_000,
      maxBackoffMs: 60_000,
    };
    const first = await open(t, dir, [a, b], bounds);
    first.start();
    const all = ids('e', 150);
    let appended = 0;
    for (const id of all) {
      const before = first.stats.bytes;
      await first.enqueue(event(id));
      appended += Math.max(0, first.stats.bytes - before);
    }
    await until('a has all', () => a.got.length === 150);
    const files = await journalFiles(dir);
    assert.equal(files.length, 1);
    assert.notEqual(files[0], '0000000000000001.journal', 'compacted into a later generation');
    assert.ok(first.stats.bytes < bounds.maxBytes, `${first.stats.bytes} bytes`);
    assert.equal(stats(first, 'b').pending, 150);
    assert.equal(first.stats.dropped, 0);
    await first.stop();

    // Everything delivered to everyone: the next compaction keeps ids only.
    const b2 = new TestNotifier('b');
    const second = await open(t, dir, [a, b2], bounds);
    second.start();
    await until('b has all', () => b2.got.length === 150);
    assert.deepEqual(b2.got, all, 'in order across compactions and a restart');
    assert.equal(a.got.length, 150, 'a got nothing twice');
    for (const id of ['e1', 'e75', 'e150']) await second.enqueue(event(id));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(b2.got.length, 150, 'delivered ids are still known');
    await second.stop();
    const third = await open(t, dir, [a, b2], { ...bounds, compactBytes: 1024, maxBytes: 8 * 1024 });
    await third.stop();
    const size = (await stat(await journalPath(dir))).size;
    t.diagnostic(`journal: ${size} bytes once all delivered (${appended} bytes of records appended in all)`);
    assert.ok(size < 8 * 1024, `${size} bytes`);
  });

  it('forgets the oldest delivered ids first, and drops undelivered events only past the bound, loudly', async (t) => {
    const dir = await tempDir(t);
    const a = new TestNotifier('a');
    const first = await open(t, dir, [a], { maxEvents: 8 });
    first.start();
    for (const id of ids('d', 20)) {
      await first.enqueue(event(id));
      await until(`${id} delivered`, () => a.got.at(-1) === id);
    }
    assert.ok(first.stats.events <= 8, `${first.stats.events} events held`);
    await first.enqueue(event('d20')); // the newest: still known
    await first.enqueue(event('d1')); // the oldest: forgotten, so taken again
    await until('d1 again', () => a.got.length === 21);
    assert.equal(first.stats.dropped, 0, 'forgetting delivered ids drops nothing');
    await first.stop();

    const dir2 = `${dir}-2`;
    t.after(() => rm(dir2, { recursive: true, force: true }));
    const b = new TestNotifier('b');
    b.mode = 'fail';
    const { log, lines } = recordingLogger();
    const second = await open(t, dir2, [b], {
      maxEvents: 8,
      log,
      minBackoffMs: 60_000,
      maxBackoffMs: 60_000,
    });
    second.start();
    for (const id of ids('u', 12)) await second.enqueue(event(id));
    const errors = lines.filter(
      (l) => l.includes('level=error') && l.includes('dropped the oldest undelivered'),
    );
    const counted = errors.reduce((n, l) => n + Number(/ events=(\d+)/.exec(l)?.[1]), 0);
    assert.equal(counted, 4, lines.join('\n'));
    assert.equal(second.stats.dropped, 4);
    b.mode = 'ok';
    second.retry();
    await until('the rest delivered', () => b.got.length === 8);
    assert.deepEqual(b.got, ids('u', 12).slice(4), 'the newest kept, in order');
  });

  it('refuses bad options and oversized events', async (t) => {
    const dir = await tempDir(t);
    const twins = [new TestNotifier('x'), new TestNotifier('x')];
    await assert.rejects(
      openOutbox({ dir, notifiers: twins, log: silentLogger }),
      /two notifiers are named "x"/,
    );
    await assert.rejects(
      openOutbox({ dir, notifiers: [], log: silentLogger, minBackoffMs: 10, maxBackoffMs: 5 }),
      RangeError,
    );
    const outbox = await open(t, dir, [], { maxBytes: 64 * 1024, compactBytes: 4096 });
    const big = { ...event('big'), details: { blob: 'x'.repeat(20_000) } };
    await assert.rejects(outbox.enqueue(big), RangeError);
  });

  for (const when of ['after enqueue', 'between send and ack'] as const) {
    it(`SIGKILL ${when}: every event delivered, at most one of them twice, in order`, async (t) => {
      const dir = await tempDir(t);
      const received = `${dir}-received.txt`;
      const href = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
      const script = `
        import { appendFileSync } from 'node:fs';
        import { openOutbox } from ${href('../src/alerts/outbox.ts')};
        import { silentLogger } from ${href('../src/log.ts')};
        const receiver = {
          name: 'file',
          async send(event) { appendFileSync(${JSON.stringify(received)}, event.id + '\\n'); },
        };
        const outbox = await openOutbox({
          dir: ${JSON.stringify(dir)},
          notifiers: [receiver],
          log: silentLogger,
          onSent: (event) => { if (event.id === 'e2') process.kill(process.pid, 'SIGKILL'); },
        });
        const event = (id) => ({ id, kind: 'link_down', state: 'firing', agent: 'k', subject: null,
          startedAt: '2025-03-01T09:02:11.000Z', endedAt: null, durationS: null, summary: id, details: {},
          createdAt: '2025-03-01T09:02:11.000Z' });
        for (const id of ['e1', 'e2', 'e3']) await outbox.enqueue(event(id));
        ${when === 'after enqueue' ? "process.kill(process.pid, 'SIGKILL');" : 'outbox.start();'}
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: REPO,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      assert.equal(signal, 'SIGKILL', stderr);
      const before = await readFile(received, 'utf8').catch(() => '');
      t.diagnostic(`received before the kill: ${JSON.stringify(before)}`);

      const receiver = new TestNotifier('file');
      const outbox = await open(t, dir, [receiver]);
      outbox.start();
      await until('e3 delivered', () => receiver.got.includes('e3'));
      await outbox.stop();
      const all = [...before.split('\n').filter(Boolean), ...receiver.got];
      if (when === 'after enqueue') {
        assert.deepEqual(all, ['e1', 'e2', 'e3'], 'nothing lost, nothing sent twice');
      } else {
        assert.deepEqual(
          all,
          ['e1', 'e2', 'e2', 'e3'],
          'e2 once more (its ack never reached the disk), in order',
        );
      }
    });
  }
});
