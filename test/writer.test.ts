/**
 * The journal-first writer over a real spool in a temporary directory and an in-memory store that can be
 * taken down: outage and recovery, stopping while the database is down, restart replay, a cycle the
 * database refuses, a spool that cannot take cycles. (The whole program against real PostgreSQL:
 * durability.test.ts.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { CycleWriter, openCycleWriter } from '../src/agent/writer.js';
import { createLogger, type Logger } from '../src/log.js';
import { openSpool } from '../src/store/spool.js';
import { type CycleRecord, StoreError } from '../src/store/types.js';

const FAST = { minBackoffMs: 5, maxBackoffMs: 20 };

function cycle(probeId: number): CycleRecord {
  return { agent: 'writer-test', probeId, ts: new Date(probeId * 1000), results: [] };
}

/** A store that records what it stored and fails like an unreachable server while `down`. */
class FakeStore {
  down = false;
  readonly stored: number[] = [];
  /** Called before each write, to look at the world as the INSERT would. */
  beforeWrite: (c: CycleRecord) => void = () => {};

  async writeCycle(c: CycleRecord): Promise<number> {
    this.beforeWrite(c);
    if (this.down) {
      const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      throw new StoreError('connect', 'cannot connect to postgres://127.0.0.1/wmn', { cause });
    }
    this.stored.push(c.probeId);
    return 1;
  }
}

function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: 'debug', timestamps: false, write: (l) => lines.push(l) }), lines };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wmn-writer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const count = (lines: string[], text: string) => lines.filter((l) => l.includes(text)).length;

describe('CycleWriter with a spool', () => {
  it('tries each INSERT only once the cycle is in the spool file', async (t) => {
    const dataDir = await tempDir(t);
    const store = new FakeStore();
    const seen: boolean[] = [];
    store.beforeWrite = (c) => {
      const dir = join(dataDir, 'spool');
      const files = readdirSync(dir).filter((f) => f.endsWith('.seg'));
      seen.push(files.some((f) => readFileSync(join(dir, f), 'latin1').includes(`"probeId":${c.probeId},`)));
    };
    const writer = await openCycleWriter({ store, dataDir, log: recordingLogger().log, ...FAST });
    for (const id of [1, 2, 3]) writer.enqueue(cycle(id));
    assert.equal(await writer.drain(5_000), 0);
    assert.deepEqual(store.stored, [1, 2, 3]);
    assert.deepEqual(seen, [true, true, true]);
    assert.equal(writer.stats.queued, 0);
  });

  it('keeps cycles through a database outage and writes them in order once it is back', async (t) => {
    const store = new FakeStore();
    const { log, lines } = recordingLogger();
    const writer = await openCycleWriter({ store, dataDir: await tempDir(t), log, ...FAST });
    writer.enqueue(cycle(1));
    await until('the first write', () => store.stored.length === 1);
    store.down = true;
    for (const id of range(2, 6)) writer.enqueue(cycle(id));
    await until('failed attempts', () => writer.stats.failures >= 3);
    assert.equal(writer.stats.queued, 5);
    store.down = false;
    writer.enqueue(cycle(7));
    await until('the backlog', () => store.stored.length === 7);
    assert.equal(await writer.drain(5_000), 0);
    assert.deepEqual(store.stored, range(1, 7));
    assert.equal(writer.stats.replayed, 6, 'cycles 2–7 waited for the outage to end');
    assert.equal(count(lines, 'database write failed'), 1, 'one error per outage, not per attempt');
    assert.equal(count(lines, 'database writes recovered'), 1);
    assert.equal(count(lines, 'backlog written'), 1);
  });

  it('stops with the database down losing nothing, and replays the spool at the next start', async (t) => {
    const dataDir = await tempDir(t);
    const store = new FakeStore();
    store.down = true;
    const first = recordingLogger();
    const writer = await openCycleWriter({ store, dataDir, log: first.log, ...FAST });
    for (const id of range(1, 4)) writer.enqueue(cycle(id));
    assert.equal(await writer.drain(50), 0, 'spooled cycles are safe, not lost');
    assert.equal(writer.stats.queued, 4);
    assert.match(
      first.lines.join('\n'),
      /cycles left in the spool: they are written at the next start" cycles=4/,
    );

    store.down = false;
    const next = await openCycleWriter({ store, dataDir, log: recordingLogger().log, ...FAST });
    next.enqueue(cycle(5));
    assert.equal(await next.drain(5_000), 0);
    assert.deepEqual(store.stored, range(1, 5), 'the earlier run first, in order');
    assert.equal(next.stats.replayed, 4);

    const third = await openCycleWriter({ store, dataDir, log: recordingLogger().log, ...FAST });
    assert.equal(third.stats.queued, 0, 'acknowledged cycles are not sent again');
    await third.drain(1_000);
    assert.deepEqual(store.stored, range(1, 5));
  });

  it('skips a cycle the database refuses for good instead of blocking the ones after it', async (t) => {
    const store = new FakeStore();
    store.beforeWrite = (c) => {
      if (c.probeId !== 2) return;
      const cause = Object.assign(new Error('null value in column "total_ms"'), { code: '23502' });
      throw new StoreError('write', 'cannot write cycle 2', { cause });
    };
    const { log, lines } = recordingLogger();
    const writer = await openCycleWriter({ store, dataDir: await tempDir(t), log, ...FAST });
    for (const id of [1, 2, 3]) writer.enqueue(cycle(id));
    assert.equal(await writer.drain(5_000), 0);
    assert.deepEqual(store.stored, [1, 3]);
    assert.equal(writer.stats.rejected, 1);
    assert.equal(writer.stats.failures, 0);
    assert.match(lines.join('\n'), /database refused a cycle; skipping it" probe_id=2/);
  });

  it('holds cycles in memory when the spool cannot take them, and still writes them', async (t) => {
    const store = new FakeStore();
    const { log, lines } = recordingLogger();
    const spool = await openSpool({ dir: join(await tempDir(t), 'spool'), log });
    const writer = new CycleWriter(store, log, { spool, ...FAST });
    writer.enqueue(cycle(1));
    await spool.close(); // from here on every append fails, like a full disk
    for (const id of [2, 3]) writer.enqueue(cycle(id));
    assert.equal(await writer.drain(5_000), 0);
    assert.deepEqual(store.stored, [1, 2, 3]);
    assert.equal(count(lines, 'cannot append to the spool'), 1);
  });

  it('logs the backlog when it doubles or halves, not every cycle', async (t) => {
    const store = new FakeStore();
    store.down = true;
    const { log, lines } = recordingLogger();
    const writer = await openCycleWriter({ store, dataDir: await tempDir(t), log, ...FAST });
    for (const id of range(1, 100)) writer.enqueue(cycle(id));
    const growing = lines.filter((l) => l.includes('msg="write backlog"'));
    assert.deepEqual(
      growing.map((l) => Number(/ cycles=(\d+)/.exec(l)?.[1])),
      [10, 20, 40, 80],
    );
    store.down = false;
    assert.equal(await writer.drain(5_000), 0);
    const last = lines.filter((l) => l.includes('msg="write backlog"')).at(-1);
    assert.match(last ?? '', / cycles=0 /);
  });
});
