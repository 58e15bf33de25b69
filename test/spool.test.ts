/**
 * The durable spool against real files in a temporary directory: order, acknowledgement, restart,
 * damage (a torn last record, a corrupt one in the middle), the size bound, and a process killed with
 * SIGKILL right after appending.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createLogger, type Logger } from '../src/log.js';
import { openSpool, type Spool, type SpoolOptions } from '../src/store/spool.js';
import type { CycleRecord } from '../src/store/types.js';

const REPO = new URL('..', import.meta.url).pathname;

function cycle(probeId: number): CycleRecord {
  return {
    agent: 'spool-test',
    probeId,
    ts: new Date(probeId * 1000),
    results: [
      {
        source: 'https://example.test/favicon.ico',
        disconnected: false,
        status: 200,
        error: null,
        dnsMs: 1.5,
        connectMs: 2.25,
        tlsMs: null,
        ttfbMs: 9,
        totalMs: 12.125,
        remoteIp: '192.0.2.1',
      },
    ],
  };
}

/** A logger that keeps its lines, so tests can assert what was said. */
function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: 'debug', timestamps: false, write: (l) => lines.push(l) }), lines };
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wmn-spool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'spool');
}

async function open(dir: string, log: Logger, extra: Partial<SpoolOptions> = {}): Promise<Spool> {
  return openSpool({ dir, log, ...extra });
}

/** Appends cycles `ids`, flushing after each as the writer does, one cycle a second. */
async function appendAll(spool: Spool, ids: number[]): Promise<void> {
  for (const id of ids) {
    spool.append(cycle(id));
    await spool.flush();
  }
}

/** Reads and acknowledges everything left, as the writer does: the probe ids, in order. */
async function takeAll(spool: Spool): Promise<number[]> {
  const ids: number[] = [];
  for (let batch = await spool.read(7); batch.length > 0; batch = await spool.read(7)) {
    ids.push(...batch.map((e) => e.cycle.probeId));
    await spool.ack(batch.at(-1)!);
  }
  return ids;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('spool', () => {
  it('hands cycles out in order, intact, and forgets them once acknowledged', async (t) => {
    const dir = await tempDir(t);
    const spool = await open(dir, recordingLogger().log);
    await appendAll(spool, [1, 2, 3, 4, 5]);
    const first = await spool.read(3);
    assert.deepEqual(
      first.map((e) => e.cycle),
      [cycle(1), cycle(2), cycle(3)],
      'dates restored, numbers exact',
    );
    await spool.ack(first[2]!);
    assert.equal(spool.stats.records, 2);
    assert.deepEqual(await takeAll(spool), [4, 5]);
    assert.deepEqual(spool.stats, { records: 0, bytes: 0, dropped: 0 });
    assert.deepEqual(await spool.read(10), []);
    await spool.close();
  });

  it('replays unacknowledged cycles after a restart, and only those', async (t) => {
    const dir = await tempDir(t);
    const spool = await open(dir, recordingLogger().log);
    await appendAll(spool, [1, 2, 3, 4, 5]);
    await spool.ack((await spool.read(2))[1]!);
    await spool.close();

    const { log, lines } = recordingLogger();
    const again = await open(dir, log);
    assert.equal(again.stats.records, 3);
    assert.match(lines.join('\n'), /replaying them" records=3/);
    again.append(cycle(6));
    await again.flush();
    const entries = await again.read(100);
    assert.deepEqual(
      entries.map((e) => e.cycle.probeId),
      [3, 4, 5],
      'one segment per read: the earlier run first',
    );
    await again.ack(entries.at(-1)!);
    assert.deepEqual(await takeAll(again), [6]);
    await again.close();
  });

  it('cuts off a torn last record with a warning naming the file and offset, and carries on', async (t) => {
    const dir = await tempDir(t);
    const spool = await open(dir, recordingLogger().log);
    await appendAll(spool, [1, 2, 3]);
    await spool.close();
    const [file] = await segments(dir);
    const path = join(dir, file!);
    const whole = (await stat(path)).size;
    const recordBytes = whole / 3;
    await truncate(path, whole - 7); // kill -9 in the middle of writing record 3

    const { log, lines } = recordingLogger();
    const again = await open(dir, log);
    const warning = lines.find((l) => l.includes('torn record'));
    assert.ok(warning, lines.join('\n'));
    assert.ok(warning.includes(`file=${path}`) && warning.includes(`offset=${2 * recordBytes}`), warning);
    assert.equal((await stat(path)).size, 2 * recordBytes, 'the file now ends at the last good record');
    await appendAll(again, [4, 5]);
    await again.close();

    const third = recordingLogger();
    const reopened = await open(dir, third.log);
    assert.ok(!third.lines.some((l) => l.includes('level=warn')), 'repaired once, quiet since');
    assert.deepEqual(await takeAll(reopened), [1, 2, 4, 5], 'records after the repair are fine');
    await reopened.close();
  });

  for (const [what, at] of [
    ['payload', 40],
    ['length field', 5],
  ] as const) {
    it(`skips a corrupt record in the middle (${what}) with a warning and reads the ones after it`, async (t) => {
      const dir = await tempDir(t);
      const spool = await open(dir, recordingLogger().log);
      await appendAll(spool, [1, 2, 3]);
      await spool.close();
      const [file] = await segments(dir);
      const path = join(dir, file!);
      const bytes = await readFile(path);
      const recordBytes = bytes.length / 3;
      bytes[recordBytes + at]! ^= 0x20;
      await writeFile(path, bytes);

      const { log, lines } = recordingLogger();
      const again = await open(dir, log);
      const warning = lines.find((l) => l.includes('corrupt record skipped'));
      assert.ok(warning?.includes(`offset=${recordBytes}`), lines.join('\n'));
      assert.equal(again.stats.records, 2);
      assert.deepEqual(await takeAll(again), [1, 3]);
      await again.close();
    });
  }

  it('keeps within its bound by dropping the oldest cycles, loudly, and keeps the newest', async (t) => {
    const dir = await tempDir(t);
    const { log, lines } = recordingLogger();
    const spool = await open(dir, log, { maxBytes: 4096, segmentBytes: 1024 });
    await appendAll(spool, range(1, 100));
    const files = await segments(dir);
    let onDisk = 0;
    for (const f of files) onDisk += (await stat(join(dir, f))).size;
    assert.ok(onDisk <= 4096, `${onDisk} bytes on disk`);
    const ids = await takeAll(spool);
    assert.ok(spool.stats.dropped > 0);
    assert.equal(ids.length + spool.stats.dropped, 100, 'every cycle is either kept or counted as dropped');
    assert.deepEqual(ids, range(101 - ids.length, 100), 'the newest are kept, in order');
    const errors = lines.filter((l) => l.includes('level=error') && l.includes('spool full'));
    const counted = errors.reduce((n, l) => n + Number(/ cycles=(\d+)/.exec(l)?.[1]), 0);
    assert.equal(counted, spool.stats.dropped, 'each drop is logged with how many cycles it cost');
    await spool.close();
  });

  it('deletes segments once every record in them is acknowledged', async (t) => {
    const dir = await tempDir(t);
    const spool = await open(dir, recordingLogger().log, { maxBytes: 1 << 20, segmentBytes: 1024 });
    await appendAll(spool, range(1, 60));
    assert.ok((await segments(dir)).length > 3, 'rotated into several segments');
    assert.deepEqual(await takeAll(spool), range(1, 60));
    assert.equal((await segments(dir)).length, 1, 'only the segment being appended to is left');
    await spool.close();
    assert.deepEqual(await segments(dir), [], 'an empty segment is not left behind');
  });

  it('keeps every appended record when the process is killed with SIGKILL right after appending', async (t) => {
    const dir = await tempDir(t);
    const count = 500;
    const script = `
      import { openSpool } from ${JSON.stringify(new URL('../src/store/spool.ts', import.meta.url).href)};
      import { silentLogger } from ${JSON.stringify(new URL('../src/log.ts', import.meta.url).href)};
      const spool = await openSpool({ dir: ${JSON.stringify(dir)}, log: silentLogger });
      for (let id = 1; id <= ${count}; id++)
        spool.append({ agent: 'k', probeId: id, ts: new Date(id * 1000), results: [] });
      process.kill(process.pid, 'SIGKILL');`;
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

    const spool = await open(dir, recordingLogger().log);
    assert.deepEqual(await takeAll(spool), range(1, count));
    await spool.close();
  });

  it('refuses a bound that cannot hold two segments', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(open(dir, recordingLogger().log, { maxBytes: 1000, segmentBytes: 600 }), RangeError);
  });
});
