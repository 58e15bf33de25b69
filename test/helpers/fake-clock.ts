/**
 * A deterministic Clock for tests: time moves only when the test says so. `advance` fires due timers in
 * order, each seeing the time it was due at (plus any configured firing delay), like a real event loop.
 */
import type { Clock } from '../../src/scheduler/clock.js';

interface Timer {
  readonly id: number;
  readonly dueMono: number;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  private wall: number;
  private mono = 0;
  private timers: Timer[] = [];
  private nextId = 0;
  /** Extra ms a timer fires after its due time, simulating a busy loop. */
  firingDelayMs = 0;

  constructor(wallStart: number) {
    this.wall = wallStart;
  }

  wallNow(): number {
    return this.wall;
  }

  monoNow(): number {
    return this.mono;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer = { id: this.nextId++, dueMono: this.mono + Math.max(0, ms), fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t.id !== timer.id);
    };
  }

  /** Moves both clocks forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.dueMono + this.firingDelayMs <= end)
        .sort((a, b) => a.dueMono - b.dueMono || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t.id !== due.id);
      this.moveTo(due.dueMono + this.firingDelayMs);
      due.fn();
    }
    this.moveTo(end);
  }

  /** Steps the wall clock alone (NTP correction, VM resume); monotonic time is unaffected. */
  stepWall(ms: number): void {
    this.wall += ms;
  }

  /** Blocks "the event loop": time passes but no timer fires until the next `advance`. */
  stall(ms: number): void {
    this.moveTo(this.mono + ms);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  private moveTo(mono: number): void {
    if (mono <= this.mono) return;
    this.wall += mono - this.mono;
    this.mono = mono;
  }
}
