import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/log.js';
import { createSystemClock } from '../src/scheduler/clock.js';
import { startScheduler, type Tick } from '../src/scheduler/scheduler.js';
import { FakeClock } from './helpers/fake-clock.js';

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0) + 400; // 400 ms past a second boundary

function setup(intervalMs = 1000, start = T0) {
  const clock = new FakeClock(start);
  const ticks: Tick[] = [];
  const scheduler = startScheduler({ intervalMs, clock, log: silentLogger, onTick: (t) => ticks.push(t) });
  return { clock, ticks, scheduler };
}

describe('scheduler', () => {
  it('ticks on each wall-clock second boundary with consecutive probe ids', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(5_000);
    const firstId = Math.floor(T0 / 1000) + 1;
    assert.deepEqual(
      ticks.map((t) => t.probeId),
      [0, 1, 2, 3, 4].map((i) => firstId + i),
    );
    for (const t of ticks) {
      assert.equal(t.scheduledAt, t.probeId * 1000);
      assert.equal(t.lateMs, 0);
    }
    assert.equal(scheduler.stats.skipped, 0);
  });

  it('aligns longer intervals to multiples of the interval', () => {
    const { clock, ticks } = setup(5000, Date.UTC(2026, 0, 1, 0, 0, 3));
    clock.advance(12_000);
    assert.deepEqual(
      ticks.map((t) => t.probeId % 5),
      [0, 0, 0],
    );
    assert.equal(ticks[1]!.probeId - ticks[0]!.probeId, 5);
  });

  it('reports lateness when the loop is busy, without drifting', () => {
    const { clock, ticks } = setup();
    clock.firingDelayMs = 3;
    clock.advance(3_100);
    assert.equal(ticks.length, 3);
    for (const t of ticks) assert.equal(t.lateMs, 3);
    assert.deepEqual(
      ticks.map((t) => t.scheduledAt % 1000),
      [0, 0, 0],
    );
  });

  it('never bursts after a stall: skipped ticks are counted, not replayed', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(1_000); // one tick at :01.000, now :01.400
    clock.stall(4_300); // event loop blocked until :05.700
    clock.advance(50); // the overdue timer fires once
    assert.equal(ticks.length, 2);
    const [a, b] = ticks;
    assert.equal(b!.probeId - a!.probeId, 4, 'fires for the latest due boundary (:05)');
    assert.equal(scheduler.stats.skipped, 3, ':02, :03, :04');
    clock.advance(1_000);
    assert.equal(ticks.length, 3);
    assert.equal(ticks[2]!.probeId - b!.probeId, 1);
  });

  it('counts a wall-clock step forward as skipped ticks', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(1_000);
    clock.stepWall(10_000);
    clock.advance(1_000);
    assert.equal(ticks.length, 2);
    assert.ok(scheduler.stats.skipped >= 9);
    assert.ok(ticks[1]!.lateMs < 1000);
  });

  it('holds ticks after a wall-clock step backward so no probe_id is reused', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(3_000);
    clock.stepWall(-5_000);
    clock.advance(10_000);
    const ids = ticks.map((t) => t.probeId);
    assert.equal(new Set(ids).size, ids.length, 'no probe_id issued twice');
    assert.ok(
      ids.every((id, i) => i === 0 || id > ids[i - 1]!),
      'probe_ids only increase',
    );
    assert.equal(scheduler.stats.clockSteps, 1);
    assert.equal(ticks.length, 3 + 5, 'the 5 s the clock went back are a gap, then 1 Hz again');
    const lastTick = ticks.at(-1)!;
    assert.ok(clock.wallNow() - lastTick.scheduledAt < 1000, 'aligned to the wall clock');
  });

  it('re-aligns at once after a step backward longer than the hold limit', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(2_000);
    clock.stepWall(-3_600_000);
    clock.advance(3_000);
    assert.equal(scheduler.stats.clockSteps, 1);
    assert.ok(ticks.length >= 2 + 2, `monitoring carries on (got ${ticks.length} ticks)`);
    assert.ok(clock.wallNow() - ticks.at(-1)!.scheduledAt < 1000);
  });

  it('a successor scheduler (config reload) continues after the last probe_id', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(2_000);
    scheduler.stop();
    const after = scheduler.lastProbeId();
    clock.stepWall(-5_000);
    const more: Tick[] = [];
    startScheduler({ intervalMs: 1000, clock, log: silentLogger, onTick: (t) => more.push(t), after });
    clock.advance(3_000);
    assert.equal(ticks.at(-1)!.probeId, after);
    assert.equal(more.length, 0, 'held while the wall clock is behind the last probe_id');
    clock.advance(5_000);
    assert.ok(more.length > 0 && more.every((t) => t.probeId > after));
  });

  it('stops cleanly: no timer left, no tick after stop', () => {
    const { clock, ticks, scheduler } = setup();
    clock.advance(1_000);
    scheduler.stop();
    clock.advance(5_000);
    assert.equal(ticks.length, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  it('rejects intervals that are not whole seconds', () => {
    const clock = new FakeClock(T0);
    assert.throws(
      () => startScheduler({ intervalMs: 1500, clock, log: silentLogger, onTick() {} }),
      /whole number of seconds/,
    );
  });
});

describe('system clock', () => {
  const clock = createSystemClock();

  it('gives a wall time consistent with Date.now()', () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const wall = clock.wallNow();
      const after = Date.now();
      assert.ok(wall >= before - 1 && wall <= after + 2, `${wall} outside [${before}, ${after}]`);
    }
  });

  it('never fires a timer early, and a cancelled timer never fires', async () => {
    const fired: number[] = [];
    const start = performance.now();
    await new Promise<void>((resolve) => {
      clock.setTimer(() => fired.push(performance.now() - start), 7.3);
      const cancel = clock.setTimer(() => fired.push(-1), 3);
      cancel();
      clock.setTimer(resolve, 20);
    });
    assert.equal(fired.length, 1);
    assert.ok(fired[0]! >= 7.3, `fired after ${fired[0]} ms`);
  });
});
