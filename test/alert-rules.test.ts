/**
 * Alert rule evaluation, with a fake clock and synthetic cycles: every rule's firing, recovery and
 * reminders, the N-of-M edges, the outage window to the second, maintenance windows (held, then released;
 * a recurring one across DST in a non-UTC zone), the hourly cap's digest, and event ids (stable across
 * runs and restarts, unique within one).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlertEngine, createEngine, type Outcome } from '../src/alerts/rules/engine.js';
import { maintenanceEnd } from '../src/alerts/rules/maintenance.js';
import { cycleFacts, outageTally } from '../src/alerts/rules/outage-diagnosis.js';
import { SampleWindow } from '../src/alerts/rules/samples.js';
import type { AlertEvent } from '../src/alerts/types.js';
import type { AlertsConfig, MaintenanceWindow } from '../src/config/types.js';
import { diagnose } from '../src/diagnosis/diagnose.js';
import type { Layer } from '../src/diagnosis/layers.js';
import { evidenceFrom, evidenceOf } from '../src/diagnosis/span.js';
import type { ErrorClass, ProbeResult } from '../src/probes/types.js';
import type { CycleRecord, CycleResult } from '../src/store/types.js';
import { FakeClock } from './helpers/fake-clock.js';
import { answered, failed } from './helpers/results.js';

const AGENT = 'lab';
/** 2026-03-01 09:02:11 UTC, a whole second: the first cycle's ts. */
const T0 = Date.UTC(2026, 2, 1, 9, 2, 11);
const P0 = T0 / 1000;
const A = 'https://a.example/';
const B = 'https://b.example/';
const GATEWAY = 'icmp://gateway';
const ONE = 'icmp://1.1.1.1';
const NINE = 'icmp://9.9.9.9';
const V6 = 'https://a.example/#ipv6';
const V4 = 'https://a.example/#ipv4';

const NO_RULES: AlertsConfig = {
  linkDown: null,
  sourceDown: null,
  latency: null,
  loss: null,
  ipv6: null,
  certExpiry: null,
  repeatMs: null,
  maxPerHour: 10_000,
  maintenance: [],
  notifiers: [],
};

const up = (source: string, totalMs = 20, status = 200) => answered(source, { totalMs, status });

const down = (source: string, error: ErrorClass = 'timeout') =>
  failed(source, error, { dnsMs: 1, totalMs: 1500 });

/** A result with its source's layer, as a cycle carries it. */
function echo(source: string, answered: boolean, layer: Layer, error: ErrorClass = 'timeout'): CycleResult {
  return { ...(answered ? up(source) : down(source, error)), layer };
}

/**
 * An agent's cycles in a fake world: cycle i has ts T0 + i × interval and is observed when it ends (the
 * clock at its ts + interval). Collects what the engine sends and holds.
 */
class World {
  readonly clock: FakeClock;
  engine: AlertEngine;
  readonly sent: AlertEvent[] = [];
  readonly held: Outcome['held'][number][] = [];
  next = 0;

  constructor(
    readonly config: Partial<AlertsConfig>,
    readonly intervalMs = 1000,
    start = T0,
  ) {
    this.clock = new FakeClock(start + intervalMs);
    this.engine = this.make();
  }

  make(saved?: unknown): AlertEngine {
    return createEngine({
      config: { ...NO_RULES, ...this.config },
      agent: AGENT,
      intervalMs: this.intervalMs,
      now: () => this.clock.wallNow(),
      saved,
    });
  }

  /** The ts of cycle i. */
  ts(i: number): number {
    return T0 + i * this.intervalMs;
  }

  /** Feeds cycles: per cycle, U (every source up) or D (every source down), or explicit results. */
  run(pattern: string | CycleResult[][], sources = [A, B]): AlertEvent[] {
    const before = this.sent.length;
    const cycles =
      typeof pattern === 'string'
        ? [...pattern].map((c) => sources.map((s) => (c === 'D' ? down(s) : up(s))))
        : pattern;
    for (const results of cycles) this.feed(this.next++, results);
    return this.sent.slice(before);
  }

  /** Cycle i with `results`, the clock moved to its end (never backwards). */
  feed(i: number, results: CycleResult[]): Outcome {
    const end = this.ts(i) + this.intervalMs;
    if (end > this.clock.wallNow()) this.clock.advance(end - this.clock.wallNow());
    const cycle: CycleRecord = {
      agent: AGENT,
      probeId: this.ts(i) / 1000,
      ts: new Date(this.ts(i)),
      results,
    };
    return this.collect(this.engine.observe(cycle));
  }

  /** Moves the clock on by `ms` and ticks. */
  wait(ms: number): AlertEvent[] {
    const before = this.sent.length;
    this.clock.advance(ms);
    this.collect(this.engine.tick());
    return this.sent.slice(before);
  }

  collect(outcome: Outcome): Outcome {
    this.sent.push(...outcome.send);
    this.held.push(...outcome.held);
    return outcome;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('alert rules: link_down', () => {
  it('fires at the Nth DOWN cycle of the last M and states the exact outage window on recovery', () => {
    const w = new World({ linkDown: { cycles: 3, of: 5 } });
    assert.deepEqual(w.run('UUDD'), []);
    const [firing] = w.run('D');
    assert.equal(firing?.id, `link_down:lab:-:${P0 + 2}:firing`);
    assert.equal(firing?.state, 'firing');
    assert.equal(firing?.subject, null);
    assert.equal(
      firing?.startedAt,
      iso(w.ts(2)),
      'the outage starts at the first DOWN cycle, not when it fired',
    );
    assert.equal(firing?.createdAt, iso(w.ts(5)));
    assert.equal(
      firing?.summary,
      'link DOWN since 09:02:13 UTC: every source failed in 3 of the last 5 cycles (timeout)',
    );
    // Two more DOWN cycles, then UP: still DOWN in 3 of the last 5 until the third UP cycle.
    assert.deepEqual(w.run('DDUU'), []);
    const [resolved] = w.run('U');
    assert.equal(resolved?.id, `link_down:lab:-:${P0 + 2}:resolved`);
    assert.equal(resolved?.startedAt, iso(w.ts(2)));
    assert.equal(resolved?.endedAt, iso(w.ts(6) + 1000), 'the end of the last DOWN cycle');
    assert.equal(resolved?.durationS, 5);
    assert.equal(resolved?.summary, 'link UP: offline 09:02:13–09:02:18 UTC, 5 s (timeout)');
    assert.deepEqual(resolved?.details, {
      rule: '3 of 5',
      down_cycles: 5,
      up_cycles_between: 0,
      errors: 'timeout',
      diagnosis: 'down',
      diagnosis_text: 'down (every source failed; add icmp://gateway to tell the LAN from the ISP)',
    });
  });

  it('words a long outage as people read it, with every failure class', () => {
    const w = new World({ linkDown: { cycles: 3, of: 5 } });
    const outage = Array.from({ length: 146 }, (_, i) => [
      down(A, i % 2 ? 'dns' : 'unreachable'),
      down(B, 'timeout'),
    ]);
    w.run(outage);
    const [resolved] = w.run('UUU');
    assert.equal(
      resolved?.summary,
      'link UP: offline 09:02:11–09:04:37 UTC, 2 min 26 s (dns, timeout, unreachable)',
    );
    assert.equal(resolved?.durationS, 146);
    assert.equal(resolved?.details.errors, 'dns,timeout,unreachable');
  });

  it('needs every source to fail: one source up keeps the link UP', () => {
    const w = new World({ linkDown: { cycles: 1, of: 1 } });
    assert.deepEqual(w.run(Array.from({ length: 10 }, () => [down(A), up(B)])), []);
  });

  it('counts N of M across gaps: D U D U D fires (the window holds UP cycles), two of five never does', () => {
    const never = new World({ linkDown: { cycles: 3, of: 5 } });
    assert.deepEqual(never.run('DUUDUDUUDUUD'), []);
    const w = new World({ linkDown: { cycles: 3, of: 5 } });
    const [firing] = w.run('UDUDUD');
    assert.equal(firing?.startedAt, iso(w.ts(1)));
    const [resolved] = w.run('UUU');
    assert.equal(resolved?.endedAt, iso(w.ts(5) + 1000));
    assert.equal(resolved?.details.up_cycles_between, 2);
    assert.equal(resolved?.details.down_cycles, 3);
    assert.match(resolved?.summary ?? '', /; UP in 2 cycles between$/);
  });

  it('with 1 of 1 fires on the first DOWN cycle and recovers on the first UP one', () => {
    const w = new World({ linkDown: { cycles: 1, of: 1 } });
    assert.deepEqual(
      w.run('UDDUD').map((e) => `${e.state}@${e.startedAt}`),
      [`firing@${iso(w.ts(1))}`, `resolved@${iso(w.ts(1))}`, `firing@${iso(w.ts(4))}`],
    );
    assert.equal(w.sent[1]?.durationS, 2);
  });

  it('M of M needs M DOWN cycles in a row', () => {
    const w = new World({ linkDown: { cycles: 5, of: 5 } });
    assert.deepEqual(w.run('DDDDUDDDD'), []);
    assert.equal(w.run('D')[0]?.startedAt, iso(w.ts(5)));
  });

  it('takes cycles that finish out of order (overlapping probes) in probe_id order', () => {
    const inOrder = new World({ linkDown: { cycles: 3, of: 5 } });
    inOrder.run('UUDDDDUUUU');
    const shuffled = new World({ linkDown: { cycles: 3, of: 5 } });
    const pattern = 'UUDDDDUUUU';
    for (const i of [0, 2, 1, 3, 5, 4, 6, 8, 7, 9]) {
      const c = pattern[i] as string;
      shuffled.feed(
        i,
        [A, B].map((s) => (c === 'D' ? down(s) : up(s))),
      );
    }
    const strip = (events: AlertEvent[]) => events.map(({ createdAt, ...e }) => e);
    assert.deepEqual(strip(shuffled.sent), strip(inOrder.sent));
    // A cycle seen twice counts once.
    const twice = new World({ linkDown: { cycles: 2, of: 5 } });
    twice.feed(0, [down(A), down(B)]);
    twice.feed(0, [down(A), down(B)]);
    assert.deepEqual(twice.sent, []);
  });
});

describe('alert rules: source_down', () => {
  it('fires per source after cycles of of its probes failed, and recovers', () => {
    const w = new World({ sourceDown: { cycles: 5, of: 5 } });
    const cycles = (n: number, a: 'up' | 'down') =>
      Array.from({ length: n }, () => [a === 'up' ? up(A) : down(A, 'refused'), up(B)]);
    assert.deepEqual(w.run(cycles(4, 'down')), []);
    const [firing] = w.run(cycles(1, 'down'));
    assert.equal(firing?.id, `source_down:lab:${A}:${P0}:firing`);
    assert.equal(firing?.subject, A);
    assert.equal(firing?.summary, `${A} DOWN since 09:02:11 UTC: 5 of its last 5 probes failed (refused)`);
    const [resolved] = w.run(cycles(1, 'up'));
    assert.equal(resolved?.state, 'resolved');
    assert.equal(resolved?.endedAt, iso(w.ts(5)));
    assert.equal(resolved?.summary, `${A} UP: failing 09:02:11–09:02:16 UTC, 5 s (refused)`);
  });

  it('counts an HTTP error status as a response, not a failure', () => {
    const w = new World({ sourceDown: { cycles: 1, of: 1 } });
    const status500 = up(A, 20, 500);
    assert.deepEqual(w.run([[status500], [status500]], [A]), []);
  });

  it('ends the condition of a source removed from the configuration, saying so', () => {
    const w = new World({ sourceDown: { cycles: 2, of: 2 } });
    w.run([
      [down(A), up(B)],
      [down(A), up(B)],
    ]);
    const [gone] = w.run([[up(B)]]);
    assert.equal(gone?.state, 'resolved');
    assert.equal(gone?.details.gone, true);
    assert.match(gone?.summary ?? '', /no longer probed \(removed from the configuration\)/);
  });
});

describe('alert rules: link_down diagnosis', () => {
  const isp = (anchors = [ONE, NINE]) => [
    echo(GATEWAY, true, 'lan'),
    ...anchors.map((s) => echo(s, false, 'internet')),
  ];
  const lan = () => [echo(GATEWAY, false, 'lan'), echo(ONE, false, 'internet')];

  it('says where the link broke when it fires: the gateway answered, 1.1.1.1 did not', () => {
    const w = new World({ linkDown: { cycles: 3, of: 5 } });
    assert.deepEqual(w.run([isp([ONE]), isp([ONE])]), []);
    const [firing] = w.run([isp([ONE])]);
    assert.equal(
      firing?.summary,
      'link DOWN since 09:02:11 UTC: ISP (gateway answered, 1.1.1.1 did not); DOWN in 3 of the last 5 cycles',
    );
    assert.equal(firing?.details.diagnosis, 'isp');
    assert.equal(firing?.details.diagnosis_text, 'ISP (gateway answered, 1.1.1.1 did not)');
    assert.equal(firing?.details.errors, 'timeout', 'the gateway answered: it adds no failure class');
  });

  it('states the exact window, the duration and the diagnosis of the outage on recovery', () => {
    const w = new World({ linkDown: { cycles: 3, of: 5 }, repeatMs: 60_000 });
    w.run(Array.from({ length: 146 }, () => isp()));
    const reminder = w.sent.find((e) => e.state === 'reminder');
    assert.equal(
      reminder?.summary,
      'link still DOWN since 09:02:11 UTC, 1 min 03 s so far, ISP (gateway answered, 1.1.1.1 and 9.9.9.9 did not)',
    );
    const [resolved] = w.run([up(ONE), up(ONE), up(ONE)].map((r) => [echo(GATEWAY, true, 'lan'), r]));
    assert.equal(
      resolved?.summary,
      'link UP: offline 09:02:11–09:04:37 UTC, 2 min 26 s, ISP (gateway answered, 1.1.1.1 and 9.9.9.9 did not)',
    );
    assert.equal(resolved?.durationS, 146);
    assert.deepEqual(resolved?.details, {
      rule: '3 of 5',
      down_cycles: 146,
      up_cycles_between: 0,
      errors: 'timeout',
      diagnosis: 'isp',
      diagnosis_text: 'ISP (gateway answered, 1.1.1.1 and 9.9.9.9 did not)',
    });
  });

  it('takes the most frequent diagnosis of the DOWN cycles, and the bare word when the evidence disagrees', () => {
    const mostlyIsp = new World({ linkDown: { cycles: 1, of: 1 } });
    mostlyIsp.run([lan(), lan(), isp([ONE]), isp([ONE]), isp([ONE])]);
    const [ispUp] = mostlyIsp.run([[echo(GATEWAY, true, 'lan'), echo(ONE, true, 'internet')]]);
    assert.equal(ispUp?.details.diagnosis, 'isp');
    assert.match(ispUp?.summary ?? '', /, 5 s, ISP \(gateway answered, 1\.1\.1\.1 did not\)$/);
    // Mostly LAN, but the gateway answered now and then: the run as a whole does not say LAN, so the notice
    // says the word without evidence that would contradict it.
    const mostlyLan = new World({ linkDown: { cycles: 1, of: 1 } });
    mostlyLan.run([lan(), lan(), lan(), isp([ONE]), isp([ONE])]);
    const [lanUp] = mostlyLan.run([[echo(GATEWAY, true, 'lan'), echo(ONE, true, 'internet')]]);
    assert.equal(lanUp?.details.diagnosis, 'lan');
    assert.equal(lanUp?.details.diagnosis_text, 'LAN');
    assert.equal(lanUp?.summary, 'link UP: offline 09:02:11–09:02:16 UTC, 5 s, LAN');
    // A tie goes to the diagnosis seen first.
    const tie = new World({ linkDown: { cycles: 1, of: 1 } });
    tie.run([lan(), isp([ONE]), isp([ONE]), lan()]);
    assert.equal(tie.run([[echo(GATEWAY, true, 'lan'), up(ONE)]])[0]?.details.diagnosis, 'lan');
  });

  it('folds the cycles into the same evidence as evidenceOf, in a tally that survives JSON', () => {
    const sources: [string, Layer][] = [
      [GATEWAY, 'lan'],
      [ONE, 'internet'],
      [NINE, 'internet'],
      ['dns://9.9.9.9/example.com', 'dns'],
      [A, 'service'],
    ];
    const errors: ErrorClass[] = ['timeout', 'unreachable', 'dns', 'refused'];
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed % n;
    };
    const cycles = Array.from({ length: 300 }, () =>
      sources
        .filter(() => random(10) > 0)
        .map(([s, layer]) => echo(s, random(3) === 0, layer, errors[random(errors.length)])),
    );
    const tally = outageTally.empty();
    for (const results of cycles) outageTally.add(tally, cycleFacts(diagnose(results).kind, results));
    assert.deepEqual(evidenceFrom(tally.sources), evidenceOf(cycles));
    const kinds = new Map<string, number>();
    for (const results of cycles)
      kinds.set(diagnose(results).kind, (kinds.get(diagnose(results).kind) ?? 0) + 1);
    assert.deepEqual(new Map(tally.kinds), kinds);
    assert.deepEqual(outageTally.restore(JSON.parse(JSON.stringify(tally))), tally);
    assert.equal(outageTally.restore({ kinds: 'x' }), null);
  });

  it('saves a bounded tally, not the cycles, and words the outage the same after a restart', () => {
    const outage = (n: number) => Array.from({ length: n }, () => isp());
    const straight = new World({ linkDown: { cycles: 3, of: 5 } });
    straight.run([...outage(1000), ...Array.from({ length: 3 }, () => [echo(ONE, true, 'internet')])]);

    const restarted = new World({ linkDown: { cycles: 3, of: 5 } });
    restarted.run(outage(10));
    const early = JSON.stringify(restarted.engine.save()).length;
    restarted.run(outage(990));
    const saved = JSON.stringify(restarted.engine.save());
    assert.ok(saved.length < early + 100, `${early} bytes after 10 DOWN cycles, ${saved.length} after 1000`);
    assert.ok(!saved.includes('"facts"'), 'marks are saved without their cycles');
    restarted.engine = restarted.make(JSON.parse(saved));
    restarted.run(Array.from({ length: 3 }, () => [echo(ONE, true, 'internet')]));
    assert.deepEqual(restarted.sent, straight.sent);
    assert.match(
      restarted.sent.at(-1)?.summary ?? '',
      /, ISP \(gateway answered, 1\.1\.1\.1 and 9\.9\.9\.9 did not\)$/,
    );
  });

  it('goes on from a state saved without a tally (an older version): the cycles after the restart tell', () => {
    const w = new World({ linkDown: { cycles: 1, of: 1 } });
    w.run([isp([ONE])]);
    const saved = JSON.parse(JSON.stringify(w.engine.save()));
    delete saved.rules.link_down[0].episode.tally;
    w.engine = w.make(saved);
    w.run([lan(), lan()]);
    const [resolved] = w.run([[echo(GATEWAY, true, 'lan'), up(ONE)]]);
    assert.equal(resolved?.startedAt, iso(T0));
    assert.equal(resolved?.details.diagnosis, 'lan');
    assert.equal(
      resolved?.summary,
      'link UP: offline 09:02:11–09:02:14 UTC, 3 s, LAN (gateway did not answer)',
    );
  });
});

describe('alert rules: ipv6', () => {
  const broken = () => [down(V6), up(V4)];
  const working = () => [up(V6), up(V4)];

  it('fires when IPv6 is broken while IPv4 works in cycles of the last of, and resolves when it works', () => {
    const w = new World({ ipv6: { cycles: 5, of: 5 } });
    assert.deepEqual(w.run(Array.from({ length: 4 }, broken)), []);
    const [firing] = w.run([broken()]);
    assert.equal(firing?.id, `ipv6:lab:-:${P0}:firing`);
    assert.equal(firing?.subject, null);
    assert.equal(
      firing?.summary,
      'IPv6 broken since 09:02:11 UTC: a.example (IPv6) failed in 5 of the last 5 cycles while a.example (IPv4) answered (timeout)',
    );
    assert.deepEqual(firing?.details, {
      rule: '5 of 5',
      broken_cycles: 5,
      working_cycles_between: 0,
      errors: 'timeout',
      failed: V6,
      answered: V4,
    });
    assert.deepEqual(w.run([broken(), broken()]), []);
    const [resolved] = w.run([working()]);
    assert.equal(resolved?.id, `ipv6:lab:-:${P0}:resolved`);
    assert.equal(resolved?.endedAt, iso(w.ts(6) + 1000));
    assert.equal(resolved?.summary, 'IPv6 working again: broken 09:02:11–09:02:18 UTC, 7 s (timeout)');
  });

  it('counts neither way a cycle where IPv4 failed too (the link is down) or wmn itself failed', () => {
    const w = new World({ ipv6: { cycles: 3, of: 3 } });
    const internal = [down(V6, 'internal'), up(V4)];
    assert.deepEqual(w.run([broken(), [down(V6), down(V4)], internal, broken()]), []);
    assert.equal(w.run([broken()])[0]?.state, 'firing', 'the third telling cycle');
    assert.deepEqual(w.run([[down(V6), down(V4)], internal, [down(V6), down(V4)]]), [], 'still open');
    assert.equal(w.run([working()])[0]?.state, 'resolved');
  });

  it('never fires without a source pinned to IPv6, and says so when such sources are removed', () => {
    const off = new World({ ipv6: { cycles: 1, of: 1 } });
    assert.deepEqual(off.run(Array.from({ length: 20 }, () => [down(A), up(V4), down(ONE)])), []);
    const w = new World({ ipv6: { cycles: 1, of: 1 } });
    w.run([broken()]);
    const [gone] = w.run([[up(V4), up(A)]]);
    assert.equal(gone?.state, 'resolved');
    assert.equal(
      gone?.summary,
      'IPv6 no longer probed (no source is pinned to it now); it was broken since 09:02:11 UTC',
    );
  });
});

describe('alert rules: cert_expiry', () => {
  const HOUR = 3_600_000;
  const DAY = 24 * HOUR;
  /** A probe of `source` that presented a certificate expiring at `atMs`. */
  const cert = (atMs: number, source = A): CycleResult => ({ ...up(source), certExpiresAt: atMs / 1000 });

  it('fires once the certificate expires in less than days days from the cycle, saying when', () => {
    const w = new World({ certExpiry: { days: 14 } }, HOUR);
    const expires = T0 + 14 * DAY + 2.5 * HOUR;
    assert.deepEqual(w.run([[cert(expires)], [cert(expires)], [cert(expires)]]), [], '14 days and more');
    const [firing] = w.run([[cert(expires)]]);
    assert.equal(firing?.id, `cert_expiry:lab:${A}:${P0 + 3 * 3600}:firing`);
    assert.equal(firing?.subject, A);
    assert.equal(firing?.startedAt, iso(w.ts(3)));
    assert.equal(
      firing?.summary,
      `${A} certificate expires 2026-03-15 11:32 UTC, in 13 days (less than 14 days)`,
    );
    assert.deepEqual(firing?.details, {
      expires_at: '2026-03-15T11:32:11.000Z',
      days_left: 13,
      threshold_days: 14,
    });
  });

  it('keeps its state while probes fail, and resolves when a renewed certificate is presented', () => {
    const w = new World({ certExpiry: { days: 14 } });
    const short = T0 + 10 * DAY;
    const renewed = T0 + 90 * DAY;
    assert.deepEqual(w.run([[down(A)], [down(A)]]), [], 'failed probes say nothing');
    assert.equal(w.run([[cert(short)]])[0]?.state, 'firing');
    const flaky = Array.from({ length: 20 }, (_, i) => [i % 2 ? cert(short) : down(A, 'tls')]);
    assert.deepEqual(w.run(flaky), [], 'no flapping on failed probes');
    const [resolved] = w.run([[down(A)], [cert(renewed)]]);
    assert.equal(resolved?.state, 'resolved');
    assert.equal(resolved?.startedAt, iso(w.ts(2)));
    assert.equal(resolved?.endedAt, iso(w.ts(22) + 1000), 'the end of the last probe that found it short');
    assert.equal(
      resolved?.summary,
      `${A} certificate renewed: it expires 2026-05-30 09:02 UTC, in 89 days; the old one expires 2026-03-11 09:02 UTC, in 9 days`,
    );
    assert.equal(resolved?.details.renewed, true);
    assert.equal(resolved?.details.days_left, 89);
    assert.deepEqual(w.run([[down(A)], [cert(renewed)]]), []);
  });

  it('says when a certificate has expired already', () => {
    const w = new World({ certExpiry: { days: 14 } });
    const [firing] = w.run([[cert(T0 - 9 * DAY - HOUR)]]);
    assert.equal(firing?.summary, `${A} certificate EXPIRED 2026-02-20 08:02 UTC, 9 days ago`);
    assert.equal(firing?.details.days_left, -10);
  });

  it('reminds at most daily, with the days left then', () => {
    const w = new World({ certExpiry: { days: 14 }, repeatMs: HOUR });
    w.run([[cert(T0 + 13.5 * DAY)]]);
    assert.deepEqual(w.wait(DAY - 1000), []);
    const [reminder] = w.wait(1000);
    assert.equal(reminder?.id, `cert_expiry:lab:${A}:${P0}:reminder:1`);
    assert.equal(
      reminder?.summary,
      `${A} certificate still not renewed: it expires 2026-03-14 21:02 UTC, in 12 days`,
    );
    assert.equal(reminder?.details.days_left, 12);
  });

  it('ignores a late older cycle, resolves when the limit is raised, and ends for a removed source', () => {
    const ordered = new World({ certExpiry: { days: 14 } });
    ordered.feed(1, [cert(T0 + 60 * DAY)]);
    ordered.feed(0, [cert(T0 + 5 * DAY)]);
    assert.deepEqual(ordered.sent, [], 'the older cycle came late: its certificate was replaced since');

    const w = new World({ certExpiry: { days: 14 } });
    w.run([[cert(T0 + 20 * DAY), up(B)]]);
    w.engine.reconfigure({ ...NO_RULES, certExpiry: { days: 30 } }, 1000);
    assert.equal(w.run([[cert(T0 + 20 * DAY), up(B)]])[0]?.state, 'firing');
    w.engine.reconfigure({ ...NO_RULES, certExpiry: { days: 14 } }, 1000);
    const [raised] = w.run([[cert(T0 + 20 * DAY), up(B)]]);
    assert.equal(raised?.details.renewed, false);
    assert.match(
      raised?.summary ?? '',
      /expires 2026-03-21 09:02 UTC, in 19 days: no longer less than 14 days$/,
    );

    w.run([[cert(T0), up(B)]]);
    const [gone] = w.run([[up(B)]]);
    assert.equal(gone?.details.gone, true);
    assert.match(
      gone?.summary ?? '',
      /no longer probed \(removed from the configuration\); its certificate EXPIRED/,
    );
  });

  it('watches only probes that presented a certificate', () => {
    const w = new World({ certExpiry: { days: 14 } });
    assert.deepEqual(w.run([[up('http://plain.example/'), down(A), up(ONE)]]), []);
    assert.equal(w.engine.stats().open, 0);
  });
});

describe('alert rules: latency and loss', () => {
  it('computes an exact nearest-rank percentile over a sliding window, in bounded memory', () => {
    const window = new SampleWindow(1000);
    const values: [number, number][] = [];
    let seed = 7;
    const random = () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return (seed / 2_147_483_647) * 500;
    };
    for (let ts = 0; ts < 5000; ts++) {
      const v = Math.round(random() * 100) / 100;
      window.add(ts, v);
      values.push([ts, v]);
      window.expire(ts - 300);
      if (ts % 97 !== 0) continue;
      const live = values
        .filter(([t]) => t > ts - 300)
        .map(([, x]) => x)
        .sort((a, b) => a - b);
      assert.equal(window.percentile(95), live[Math.ceil(0.95 * live.length) - 1]);
      assert.equal(window.size, live.length);
    }
    const capped = new SampleWindow(10);
    for (let i = 0; i < 100; i++) capped.add(i, i);
    assert.equal(capped.size, 10);
    assert.equal(capped.percentile(0), 90);
  });

  it('fires when a phase p95 over the window is above the threshold, judged only over a whole window', () => {
    const w = new World({ latency: { phase: 'total', thresholdMs: 100, windowMs: 20_000 } });
    // 19 fast cycles and a first slow one: the p95 of 20 samples is the 19th smallest, still fast.
    const cycle = (ms: number) => [up(A, ms), up(B, 10)];
    assert.deepEqual(w.run([...Array.from({ length: 19 }, () => cycle(20)), cycle(900)]), []);
    const [firing] = w.run([cycle(800)]);
    assert.equal(firing?.kind, 'latency');
    assert.equal(firing?.subject, A);
    assert.equal(firing?.startedAt, iso(w.ts(20)));
    assert.equal(firing?.summary, `latency high on ${A}: total p95 800 ms over the last 20s, above 100 ms`);
    assert.deepEqual(firing?.details, {
      phase: 'total',
      p95_ms: 800,
      threshold_ms: 100,
      window_s: 20,
      samples: 20,
      worst: 800,
    });
    // Fast again: the two slow samples stay in the window for 20 s, then the p95 drops.
    assert.deepEqual(w.run(Array.from({ length: 18 }, () => cycle(20))), []);
    const [resolved] = w.run([cycle(20)]);
    assert.equal(resolved?.state, 'resolved');
    assert.equal(resolved?.endedAt, iso(w.ts(38) + 1000));
    assert.match(
      resolved?.summary ?? '',
      /^latency normal on https:\/\/a\.example\/: total p95 20 ms over the last 20s; it was above 100 ms 09:02:31–09:02:50 UTC, 19 s$/,
    );
  });

  it('does not judge before a whole window was watched (after a start or a reload)', () => {
    const w = new World({ latency: { phase: 'ttfb', thresholdMs: 100, windowMs: 10_000 } });
    assert.deepEqual(w.run(Array.from({ length: 9 }, () => [up(A, 900)])), []);
    assert.equal(w.run([[up(A, 900)]])[0]?.state, 'firing');
  });

  it('keeps at most a window of samples, whatever the run length', () => {
    const w = new World({
      latency: { phase: 'total', thresholdMs: 5, windowMs: 10_000 },
      repeatMs: 3_600_000,
    });
    w.run(Array.from({ length: 5000 }, () => [up(A, 50)]));
    const reminder = w.sent.find((e) => e.state === 'reminder');
    assert.equal(reminder?.details.samples, 10);
  });

  it('fires when loss over the window is above the limit, and recovers at it', () => {
    const w = new World({ loss: { abovePct: 20, windowMs: 10_000 } });
    // Of 2 sources, A fails every other cycle: 25 % of probes.
    const cycles = (n: number, failing: boolean) =>
      Array.from({ length: n }, (_, i) => [failing && (w.next + i) % 2 === 1 ? down(A) : up(A), up(B)]);
    assert.deepEqual(w.run(cycles(9, true)), []);
    const [firing] = w.run(cycles(1, true));
    assert.equal(firing?.kind, 'loss');
    assert.equal(firing?.summary, 'loss 25 % over the last 10s, above 20 %: 5 of 20 probes failed');
    assert.deepEqual(w.run(cycles(1, false)), [], '5 of 20 still');
    const [resolved] = w.run(cycles(1, false));
    assert.equal(resolved?.state, 'resolved', '4 of 20 failed: 20 % is not above 20 %');
    assert.equal(resolved?.endedAt, iso(w.ts(10) + 1000));
    assert.equal(
      resolved?.summary,
      'loss 20 % over the last 10s; it was above 20 % 09:02:20–09:02:22 UTC, 2 s',
    );
  });

  it('recovers loss once the failures leave the window', () => {
    const w = new World({ loss: { abovePct: 5, windowMs: 10_000 } });
    w.run('UUUUUUUUUD');
    assert.equal(w.sent.length, 1, 'the DOWN cycle makes 2 of 20 probes: 10 %');
    const quiet = w.run('UUUUUUUUU');
    assert.deepEqual(quiet, []);
    const [resolved] = w.run('U');
    assert.equal(resolved?.state, 'resolved');
    assert.equal(resolved?.startedAt, iso(w.ts(9)));
  });
});

describe('alert rules: reminders', () => {
  it('reminds every repeat while firing, numbered, and only once after a long gap', () => {
    const w = new World({ linkDown: { cycles: 1, of: 1 }, repeatMs: 3_600_000 });
    w.run('D');
    assert.deepEqual(w.wait(3_599_000), []);
    const [first] = w.wait(1000);
    assert.equal(first?.id, `link_down:lab:-:${P0}:reminder:1`);
    assert.equal(first?.state, 'reminder');
    assert.equal(first?.startedAt, iso(T0));
    assert.equal(first?.summary, 'link still DOWN since 09:02:11 UTC, 1 h 00 min 01 s so far (timeout)');
    assert.equal(w.wait(3_600_000)[0]?.id, `link_down:lab:-:${P0}:reminder:2`);
    const late = w.wait(5 * 3_600_000);
    assert.deepEqual(
      late.map((e) => e.id),
      [`link_down:lab:-:${P0}:reminder:7`],
    );
  });

  it('makes no reminder with repeat off, nor after recovery', () => {
    const off = new World({ linkDown: { cycles: 1, of: 1 }, repeatMs: null });
    off.run('D');
    assert.deepEqual(off.wait(10 * 3_600_000), []);
    const w = new World({ linkDown: { cycles: 1, of: 1 }, repeatMs: 60_000 });
    w.run('DU');
    assert.deepEqual(w.wait(10 * 60_000), []);
  });
});

describe('alert rules: maintenance', () => {
  const once = (startMs: number, endMs: number): MaintenanceWindow => ({
    kind: 'once',
    start: new Date(startMs),
    end: new Date(endMs),
  });

  it('holds what happens in a window and releases it, in order and marked, when the window ends', () => {
    const w = new World({ linkDown: { cycles: 1, of: 1 }, maintenance: [once(T0, T0 + 60_000)] });
    assert.deepEqual(w.run('DDU'), []);
    assert.deepEqual(
      w.held.map((h) => `${h.event.state}/${h.by}`),
      ['firing/maintenance', 'resolved/maintenance'],
    );
    assert.equal(w.engine.stats().heldByMaintenance, 2);
    assert.deepEqual(w.wait(56_000), [], 'still inside the window');
    const released = w.wait(1000);
    assert.deepEqual(
      released.map((e) => e.state),
      ['firing', 'resolved'],
    );
    for (const e of released) {
      assert.equal(e.details.held_by_maintenance, true);
      assert.ok(
        Date.parse(e.createdAt) < T0 + 60_000,
        'made when it happened, so it is delivered as delayed',
      );
    }
    assert.equal(released[1]?.summary, 'link UP: offline 09:02:11–09:02:13 UTC, 2 s (timeout)');
    assert.equal(w.engine.stats().heldByMaintenance, 0);
  });

  it('does not hold what happens outside a window, and skips reminders inside one', () => {
    const w = new World({
      linkDown: { cycles: 1, of: 1 },
      repeatMs: 600_000,
      maintenance: [once(T0 + 3_600_000, T0 + 7_200_000)],
    });
    assert.equal(w.run('D').length, 1);
    for (let i = 0; i < 6; i++) w.wait(600_000);
    const reminders = w.sent.filter((e) => e.state === 'reminder').map((e) => e.details.reminder);
    assert.deepEqual(reminders, [1, 2, 3, 4, 5], 'the 6th fell inside the window');
    assert.deepEqual(w.wait(3_598_000), [], 'no reminder inside the window');
    assert.deepEqual(
      w.wait(600_000).map((e) => e.details.reminder),
      [12],
    );
  });

  it('follows a recurring window in its time zone across a DST change', () => {
    // Every day at 22:00 Europe/Berlin for 4 hours: 21:00–01:00 UTC in winter (CET, +1), 20:00–00:00 UTC
    // in summer (CEST, +2). DST began on Sunday 2026-03-29 at 01:00 UTC.
    const nightly: MaintenanceWindow = {
      kind: 'daily',
      days: [0, 1, 2, 3, 4, 5, 6],
      at: '22:00',
      durationMs: 4 * 3_600_000,
      timeZone: 'Europe/Berlin',
    };
    const at = (text: string) => Date.parse(text);
    assert.equal(maintenanceEnd([nightly], at('2026-03-28T20:30:00Z')), null, 'winter: not yet');
    assert.equal(maintenanceEnd([nightly], at('2026-03-28T21:00:00Z')), at('2026-03-29T01:00:00Z'));
    assert.equal(maintenanceEnd([nightly], at('2026-03-29T00:59:59Z')), at('2026-03-29T01:00:00Z'));
    assert.equal(maintenanceEnd([nightly], at('2026-03-29T20:00:00Z')), at('2026-03-30T00:00:00Z'), 'summer');
    assert.equal(maintenanceEnd([nightly], at('2026-03-30T00:30:00Z')), null);
    // Back to winter on Sunday 2026-10-25.
    assert.equal(maintenanceEnd([nightly], at('2026-10-24T20:30:00Z')), at('2026-10-25T00:00:00Z'));
    assert.equal(maintenanceEnd([nightly], at('2026-10-25T20:30:00Z')), null);
    assert.equal(maintenanceEnd([nightly], at('2026-10-25T21:00:00Z')), at('2026-10-26T01:00:00Z'));

    // A start time the spring-forward gap skips moves on by the gap; a repeated one is the first.
    const sunday = (timeOfDay: string): MaintenanceWindow => ({
      kind: 'weekly',
      days: [0],
      at: timeOfDay,
      durationMs: 1_800_000,
      timeZone: 'Europe/Berlin',
    });
    assert.equal(maintenanceEnd([sunday('02:30')], at('2026-03-29T01:30:00Z')), at('2026-03-29T02:00:00Z'));
    assert.equal(maintenanceEnd([sunday('02:30')], at('2026-03-29T00:45:00Z')), null);
    assert.equal(maintenanceEnd([sunday('02:30')], at('2026-10-25T00:30:00Z')), at('2026-10-25T01:00:00Z'));
    assert.equal(maintenanceEnd([sunday('02:30')], at('2026-10-26T00:30:00Z')), null, 'Monday');

    // The engine holds an outage at 20:30 UTC on the first summer evening, and releases it at 00:00 UTC.
    const start = at('2026-03-29T20:30:00Z');
    const w = new World({ linkDown: { cycles: 1, of: 1 }, maintenance: [nightly] }, 1000, start);
    w.clock.advance(0);
    const cycleAt = (ms: number, results: ProbeResult[]) => {
      w.clock.advance(ms + 1000 - w.clock.wallNow());
      const cycle = { agent: AGENT, probeId: ms / 1000, ts: new Date(ms), results };
      return w.collect(w.engine.observe(cycle));
    };
    cycleAt(start, [down(A), down(B)]);
    cycleAt(start + 1000, [up(A), up(B)]);
    assert.deepEqual(w.sent, []);
    assert.equal(w.held.length, 2);
    w.clock.advance(at('2026-03-29T23:59:59Z') - w.clock.wallNow());
    assert.deepEqual(w.wait(0), []);
    const released = w.wait(1000);
    assert.deepEqual(
      released.map((e) => [e.state, e.details.held_by_maintenance, e.startedAt]),
      [
        ['firing', true, '2026-03-29T20:30:00.000Z'],
        ['resolved', true, '2026-03-29T20:30:00.000Z'],
      ],
    );
    // The same outage on the last winter evening (21:00 UTC window start) is not held.
    const winter = new World(
      { linkDown: { cycles: 1, of: 1 }, maintenance: [nightly] },
      1000,
      at('2026-03-27T20:30:00Z'),
    );
    const ms = at('2026-03-27T20:30:00Z');
    winter.clock.advance(ms + 1000 - winter.clock.wallNow());
    winter.collect(
      winter.engine.observe({ agent: AGENT, probeId: ms / 1000, ts: new Date(ms), results: [down(A)] }),
    );
    assert.equal(winter.sent.length, 1);
  });
});

describe('alert rules: max_per_hour', () => {
  it('sends up to the cap per clock hour, then one digest of the rest when the hour rolls', () => {
    // 09:02:11 start; a source flapping 1 of 1 makes an event every cycle.
    const w = new World({ sourceDown: { cycles: 1, of: 1 }, maxPerHour: 3 });
    const sent = w.run([[down(A)], [up(A)], [down(A)], [up(A)], [down(A)], [up(A)]], [A]);
    assert.deepEqual(
      sent.map((e) => e.state),
      ['firing', 'resolved', 'firing'],
    );
    assert.deepEqual(
      w.held.map((h) => h.by),
      ['max_per_hour', 'max_per_hour', 'max_per_hour'],
    );
    assert.deepEqual(w.wait(Date.UTC(2026, 2, 1, 9, 59, 59) - w.clock.wallNow()), [], 'the hour is not over');
    const [digest, ...rest] = w.wait(1000);
    assert.deepEqual(rest, []);
    const latest = w.held.at(-1)?.event as AlertEvent;
    assert.equal(digest?.id, `${latest.id}:digest`);
    assert.equal(digest?.state, 'resolved', 'the latest held event says where things stand');
    assert.equal(digest?.details.digest, true);
    assert.equal(digest?.details.held, 3);
    assert.equal(String(digest?.details.held_events).split('\n').length, 3);
    assert.match(
      digest?.summary ?? '',
      /^3 notifications held by max_per_hour \(3 an hour\) in the hour from 09:00 UTC; the latest: https:\/\/a\.example\/ UP: failing/,
    );
    assert.equal(digest?.createdAt, '2026-03-01T10:00:00.000Z');
    // The digest counts in the new hour: two more go out, the third is held.
    w.next = Math.ceil((Date.parse('2026-03-01T10:00:00Z') - T0) / 1000);
    assert.equal(w.run([[down(A)], [up(A)], [down(A)]], [A]).length, 2);
  });

  it('also caps events released from maintenance', () => {
    const w = new World({
      sourceDown: { cycles: 1, of: 1 },
      maxPerHour: 2,
      maintenance: [{ kind: 'once', start: new Date(T0), end: new Date(T0 + 10_000) }],
    });
    w.run([[down(A)], [up(A)], [down(A)], [up(A)]], [A]);
    assert.equal(w.held.length, 4);
    assert.equal(w.wait(10_000).length, 2);
    assert.equal(w.engine.stats().heldByRate, 2);
  });
});

describe('alert rules: ids and restarts', () => {
  const config: Partial<AlertsConfig> = {
    linkDown: { cycles: 2, of: 3 },
    sourceDown: { cycles: 2, of: 2 },
    loss: { abovePct: 30, windowMs: 10_000 },
    latency: { phase: 'total', thresholdMs: 200, windowMs: 10_000 },
    repeatMs: 60_000,
  };
  /** A busy, deterministic hour: outages, flapping, slow spells. */
  const script = Array.from({ length: 3600 }, (_, i) => {
    const phase = Math.floor(i / 45) % 8;
    return [
      phase === 2 || phase === 5 ? down(A, 'dns') : up(A, phase === 4 ? 400 : 30),
      phase === 2 || (phase === 6 && i % 3 === 0) ? down(B, 'refused') : up(B, 25),
    ];
  });

  it('gives every event a unique id, the same whatever the clock', () => {
    const first = new World(config);
    first.run(script);
    const ids = first.sent.map((e) => e.id);
    assert.ok(ids.length > 100, `${ids.length} events`);
    assert.equal(new Set(ids).size, ids.length, 'unique');
    for (const e of first.sent) {
      const suffix = e.state === 'reminder' ? `:reminder:${e.details.reminder}` : `:${e.state}`;
      assert.ok(e.id.startsWith(`${e.kind}:${AGENT}:${e.subject ?? '-'}:`), e.id);
      assert.ok(e.id.endsWith(suffix), e.id);
      assert.equal(
        Number(e.id.slice(0, -suffix.length).split(':').at(-1)) * 1000,
        Date.parse(e.startedAt),
        e.id,
      );
    }
    // Observed later (a slower machine): the same events, by id.
    const later = new World(config);
    later.clock.advance(700);
    later.run(script);
    assert.deepEqual(
      later.sent.map((e) => e.id).filter((id) => !id.includes(':reminder:')),
      ids.filter((id) => !id.includes(':reminder:')),
    );
  });

  it('goes on after a restart from its saved state: same ids, the exact window, nothing fired twice', () => {
    const pattern = 'UUDDDDDDUUUU';
    const straight = new World({ linkDown: { cycles: 3, of: 5 } });
    straight.run(pattern);

    const restarted = new World({ linkDown: { cycles: 3, of: 5 } });
    restarted.run(pattern.slice(0, 6));
    const saved = JSON.parse(JSON.stringify(restarted.engine.save()));
    restarted.engine = restarted.make(saved);
    restarted.run(pattern.slice(6));
    assert.deepEqual(
      restarted.sent.map((e) => [e.id, e.startedAt, e.endedAt]),
      straight.sent.map((e) => [e.id, e.startedAt, e.endedAt]),
    );
    // The state of another agent, or of another version, is not used.
    const other = createEngine({
      config: { ...NO_RULES, linkDown: { cycles: 3, of: 5 } },
      agent: 'elsewhere',
      intervalMs: 1000,
      now: () => T0,
      saved,
    });
    assert.equal(other.stats().open, 0);
    assert.equal(restarted.make({ ...saved, version: 99 }).stats().open, 0);
    assert.equal(restarted.make('garbage').stats().open, 0);
  });

  it('goes on after restarts with the new rules too: link diagnosis, ipv6 and cert_expiry', () => {
    const rules: Partial<AlertsConfig> = {
      linkDown: { cycles: 3, of: 5 },
      ipv6: { cycles: 2, of: 3 },
      certExpiry: { days: 14 },
    };
    const DAY = 86_400_000;
    const certified = (atMs: number): CycleResult => ({
      ...up(A),
      certExpiresAt: atMs / 1000,
      layer: 'service',
    });
    const script = Array.from({ length: 42 }, (_, i): CycleResult[] => {
      const phase = i < 6 ? 'fine' : i < 15 ? 'ipv6' : i < 25 ? 'isp' : i < 35 ? 'short' : 'renewed';
      const gateway = echo(GATEWAY, true, 'lan');
      if (phase === 'isp') {
        const sites = [
          echo(V6, false, 'service'),
          echo(V4, false, 'service'),
          echo(A, false, 'service', 'tls'),
        ];
        return [gateway, echo(ONE, false, 'internet'), ...sites];
      }
      const expiry = T0 + (phase === 'fine' || phase === 'renewed' ? 90 : 10) * DAY;
      const v6 = echo(V6, phase !== 'ipv6', 'service');
      return [gateway, echo(ONE, true, 'internet'), v6, echo(V4, true, 'service'), certified(expiry)];
    });
    const straight = new World(rules);
    straight.run(script);
    assert.deepEqual(
      straight.sent.map((e) => `${e.kind} ${e.state}`),
      [
        'cert_expiry firing',
        'ipv6 firing',
        'link_down firing',
        'ipv6 resolved',
        'link_down resolved',
        'cert_expiry resolved',
      ],
    );
    assert.equal(
      straight.sent[4]?.summary,
      'link UP: offline 09:02:26–09:02:36 UTC, 10 s, ISP (gateway answered, 1.1.1.1, a.example (IPv6), a.example (IPv4) and a.example did not)',
    );

    const restarted = new World(rules);
    let from = 0;
    for (const at of [10, 20, 30, 37, 42]) {
      restarted.run(script.slice(from, at));
      from = at;
      restarted.engine = restarted.make(JSON.parse(JSON.stringify(restarted.engine.save())));
    }
    assert.deepEqual(restarted.sent, straight.sent);
  });

  it('keeps events held by maintenance across a restart', () => {
    const w = new World({
      linkDown: { cycles: 1, of: 1 },
      maintenance: [{ kind: 'once', start: new Date(T0), end: new Date(T0 + 30_000) }],
    });
    w.run('DU');
    w.engine = w.make(JSON.parse(JSON.stringify(w.engine.save())));
    assert.deepEqual(
      w.wait(30_000).map((e) => e.state),
      ['firing', 'resolved'],
    );
  });

  it('bumps its revision only when something worth saving changed', () => {
    const w = new World({ linkDown: { cycles: 3, of: 5 } });
    w.run('UUUU');
    const quiet = w.engine.revision;
    w.run('UUUU');
    w.wait(10_000);
    assert.equal(w.engine.revision, quiet, 'steady UP: nothing to save');
    w.run('DDD');
    assert.ok(w.engine.revision > quiet);
  });

  it('carries open conditions over a reload, and hands back those of a rule turned off', () => {
    const w = new World({ linkDown: { cycles: 2, of: 2 }, sourceDown: { cycles: 2, of: 2 } });
    w.run('DD');
    assert.equal(w.engine.stats().open, 3);
    const dropped = w.engine.reconfigure({ ...NO_RULES, linkDown: { cycles: 3, of: 3 } }, 1000);
    assert.deepEqual(
      dropped.map((c) => c.subject),
      [A, B],
    );
    assert.deepEqual(w.run('D'), [], 'the open link_down goes on under the new rule');
    const [resolved] = w.run('U');
    assert.equal(resolved?.startedAt, iso(T0));
    assert.equal(resolved?.endedAt, iso(w.ts(2) + 1000));
  });
});
