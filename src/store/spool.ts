/**
 * The durable spool: an append-only journal of finished cycles in `<data_dir>/spool/`, written before
 * the database is tried, so a cycle that was logged survives a database outage, a crash and kill -9.
 *
 * Layout: numbered segment files (`0000000000000001.seg`, …) holding frames (see spool-frame.ts), and
 * `ack.json`, the position just after the last cycle the database accepted. Each run appends to a new
 * segment, which is closed and followed by the next once it passes `segmentBytes`; a segment is deleted
 * as soon as every record in it is acknowledged.
 *
 * Durability: {@link Spool.append} writes synchronously, so once it returns the record is in the kernel
 * and survives the process being killed; the records appended since the last flush are then fdatasync'ed
 * as one batch (power loss), and only synced records are handed to the reader. `ack.json` is replaced
 * atomically (write, then rename) but never synced: a lost acknowledgement only re-sends cycles, which
 * the store's INSERT … ON CONFLICT DO NOTHING turns into no-ops.
 *
 * Damage: at open every segment is scanned. A torn record at the end of a file (kill -9 or power loss
 * mid-write) is cut off with a warning naming the file and offset; a corrupt record in the middle is
 * skipped with a warning. The spool always opens.
 *
 * Bound policy: when the files pass `maxBytes`, the oldest segments are deleted, so the spool **keeps the
 * newest data** (recent measurements are the ones someone is looking at). Each deletion is logged as an
 * error with the number of cycles lost, and counted in {@link SpoolStats.dropped}.
 */
import { closeSync, fdatasync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorText, type Logger } from '../log.js';
import { decodeFrame, encodeFrame, frameEnd, type Range, readRepaired } from './spool-frame.js';
import type { CycleRecord } from './types.js';

const fdatasyncAsync = promisify(fdatasync);

const MiB = 1024 * 1024;
const DEFAULT_MAX_BYTES = 256 * MiB;
/** Largest read the replay makes at once. */
const READ_SPAN = MiB;
const SEGMENT_NAME = /^(\d{16})\.seg$/;
const ACK_FILE = 'ack.json';

/** Options of {@link openSpool}. */
export interface SpoolOptions {
  /** The spool's directory, created if missing: `<data_dir>/spool`. */
  readonly dir: string;
  readonly log: Logger;
  /** Bound on the spool's files in bytes (default 256 MiB); past it the oldest segments are deleted. */
  readonly maxBytes?: number;
  /** Size past which a segment is closed and the next one started (default maxBytes / 16, at most 4 MiB). */
  readonly segmentBytes?: number;
}

/** The spool's depth and losses, for logs and metrics. */
export interface SpoolStats {
  /** Cycles not yet acknowledged. */
  readonly records: number;
  /** Bytes of those cycles' frames. */
  readonly bytes: number;
  /** Cycles deleted unwritten to keep within the bound. */
  readonly dropped: number;
}

/** A spooled cycle handed out by {@link Spool.read}; pass it to {@link Spool.ack} once it is stored. */
export interface SpoolEntry {
  readonly cycle: CycleRecord;
  /** Where the entry is, for {@link Spool.ack}. */
  readonly segment: Segment;
  readonly index: number;
}

/** One segment file and what is known about it. */
interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Bytes appended (including any damage skipped at open). */
  size: number;
  /** Bytes known to be on disk: only frames ending here or before are read. */
  synced: number;
  /** Open for appending: the newest segment, and the previous one until its last sync. */
  fd: number | null;
  /** Intact frames, in order; those from `head` on are not acknowledged yet. */
  readonly frames: Range[];
  head: number;
  /** Deleted (acknowledged, or dropped by the bound): its entries can no longer be acknowledged. */
  removed: boolean;
}

interface AckPosition {
  readonly segment: number;
  readonly offset: number;
}

/**
 * Opens (creating if needed) the spool in `opts.dir`: scans and repairs the segments an earlier run
 * left, and starts a new segment for this run. Throws on bad options or when the directory is unusable.
 */
export async function openSpool(opts: SpoolOptions): Promise<Spool> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const segmentBytes = opts.segmentBytes ?? Math.min(4 * MiB, Math.floor(maxBytes / 16));
  if (!(Number.isSafeInteger(segmentBytes) && segmentBytes > 0 && maxBytes >= 2 * segmentBytes)) {
    throw new RangeError(
      `spool: the bound (${maxBytes} bytes) must hold at least two segments of ${segmentBytes} bytes`,
    );
  }
  await mkdir(opts.dir, { recursive: true });
  const ack = await readAck(opts.dir, opts.log);
  const seqs = await listSegments(opts.dir);
  const earlier: Segment[] = [];
  for (const seq of seqs) {
    const segment = await loadSegment(join(opts.dir, segmentName(seq)), seq, ack, opts.log);
    if (segment.head < segment.frames.length) earlier.push(segment);
    else removeFile(segment.path, opts.log);
  }
  // Numbered past everything seen, so no position saved earlier can cover this run's records.
  const active = createSegment(opts.dir, Math.max(ack?.segment ?? 0, ...seqs) + 1);
  const spool = new Spool(opts.dir, opts.log, { maxBytes, segmentBytes }, [...earlier, active]);
  const { records, bytes } = spool.stats;
  if (records > 0)
    opts.log.info('spool holds cycles from an earlier run: replaying them', { records, bytes });
  return spool;
}

/** The journal itself; see the module comment. Open it with {@link openSpool}, not the constructor. */
export class Spool {
  private readonly segments: Segment[];
  private active: Segment;
  private pendingRecords = 0;
  private pendingBytes = 0;
  private diskBytes = 0;
  private dropped = 0;
  private flushWanted = false;
  private flushing: Promise<void> | null = null;
  /** A segment was created since the directory was last synced. */
  private dirDirty = true;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly bounds: { readonly maxBytes: number; readonly segmentBytes: number },
    segments: Segment[],
  ) {
    this.segments = segments;
    this.active = segments.at(-1) as Segment;
    for (const s of segments) {
      this.diskBytes += s.size;
      this.pendingRecords += s.frames.length - s.head;
      this.pendingBytes += frameBytes(s.frames, s.head, s.frames.length);
    }
  }

  get stats(): SpoolStats {
    return { records: this.pendingRecords, bytes: this.pendingBytes, dropped: this.dropped };
  }

  /**
   * Appends `cycle`. Synchronous on purpose: when it returns, the record survives the process being
   * killed (the caller logs the cycle right after); the fdatasync that makes it survive power loss
   * follows asynchronously, batched with the other records appended meanwhile. Throws on I/O errors
   * (disk full): the record is then not in the spool.
   */
  append(cycle: CycleRecord): void {
    if (this.closed) throw new Error('spool is closed');
    const seg = this.active;
    const frame = encodeFrame(cycle);
    // Positional writes: after a failed (partial) write the next record simply overwrites the debris.
    for (let done = 0; done < frame.length; ) {
      done += writeSync(seg.fd as number, frame, done, frame.length - done, seg.size + done);
    }
    seg.frames.push({ start: seg.size, end: seg.size + frame.length });
    seg.size += frame.length;
    this.diskBytes += frame.length;
    this.pendingRecords++;
    this.pendingBytes += frame.length;
    void this.requestFlush();
    this.enforceBound();
  }

  /** Resolves once every record appended so far is on disk (fdatasync'ed). */
  async flush(): Promise<void> {
    while (this.active.synced < this.active.size || this.dirDirty) await this.requestFlush();
  }

  /**
   * Up to `max` of the oldest unacknowledged cycles, in order, all from one segment; empty when there is
   * none (or none on disk yet). A record that no longer decodes is skipped with a warning.
   */
  async read(max: number): Promise<SpoolEntry[]> {
    for (const seg of this.segments) {
      if (seg.head === seg.frames.length) continue;
      const frames = readable(seg, max);
      if (frames.length === 0) return [];
      const first = frames[0] as Range;
      const buf = await readRange(seg.path, first.start, (frames.at(-1) as Range).end).catch((err) => {
        if (seg.removed) return null; // dropped by the bound while reading: read what is oldest now
        throw err;
      });
      if (buf === null || seg.removed) return this.read(max);
      const entries = this.decode(seg, frames, buf, first.start);
      if (entries.length > 0) return entries;
      return this.read(max); // every record read was damaged (and is now skipped)
    }
    return [];
  }

  /**
   * Marks `entry` and every entry before it stored: fully acknowledged segments are deleted and the
   * position is saved, so the next start replays only what follows.
   */
  async ack(entry: SpoolEntry): Promise<void> {
    const { segment: seg, index } = entry;
    if (seg.removed || index < seg.head) return;
    this.consume(seg, index + 1 - seg.head);
    const offset = (seg.frames[index] as Range).end;
    this.prune();
    await this.saveAck({ segment: seg.seq, offset });
  }

  /** Flushes and closes the files. Unacknowledged records stay for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    // A flush may still be finishing a rotation: fds are closed only once no sync can touch them.
    while (this.flushing) await this.flushing;
    const seg = this.active;
    closeSync(seg.fd as number);
    seg.fd = null;
    if (seg.size === 0) this.removeSegment(seg);
  }

  private decode(seg: Segment, frames: Range[], buf: Buffer, base: number): SpoolEntry[] {
    const entries: SpoolEntry[] = [];
    const start = seg.head;
    for (const [i, range] of frames.entries()) {
      const frame = buf.subarray(range.start - base, range.end - base);
      const cycle = this.decodeOrWarn(seg, range, frame);
      if (cycle === null) {
        if (entries.length > 0) break; // hand out what precedes it; the next read skips it
        this.consume(seg, 1);
        continue;
      }
      entries.push({ cycle, segment: seg, index: start + i });
    }
    return entries;
  }

  private decodeOrWarn(seg: Segment, range: Range, frame: Buffer): CycleRecord | null {
    try {
      if (frameEnd(frame, 0) !== frame.length) throw new Error('checksum mismatch');
      return decodeFrame(frame);
    } catch (err) {
      this.log.warn('spool: corrupt record skipped', {
        file: seg.path,
        offset: range.start,
        bytes: range.end - range.start,
        err: errorText(err),
      });
      return null;
    }
  }

  /** Acknowledges the next `count` frames of `seg`. */
  private consume(seg: Segment, count: number): void {
    this.pendingRecords -= count;
    this.pendingBytes -= frameBytes(seg.frames, seg.head, seg.head + count);
    seg.head += count;
  }

  /** Deletes the oldest segments while the files exceed the bound: the newest data is kept. */
  private enforceBound(): void {
    while (this.diskBytes > this.bounds.maxBytes && this.segments.length > 1) {
      const oldest = this.segments[0] as Segment;
      const lost = oldest.frames.length - oldest.head;
      this.removeSegment(oldest);
      if (lost === 0) continue;
      this.dropped += lost;
      this.log.error('spool full: deleted the oldest unwritten cycles to keep the newest', {
        cycles: lost,
        file: oldest.path,
        max_bytes: this.bounds.maxBytes,
        dropped_total: this.dropped,
      });
    }
  }

  /** Deletes the leading segments every record of which is acknowledged (never the one appended to). */
  private prune(): void {
    for (let seg = this.segments[0]; seg && seg !== this.active; seg = this.segments[0]) {
      if (seg.head < seg.frames.length) return;
      this.removeSegment(seg);
    }
  }

  /** Forgets `seg` and deletes its file; its fd, if still open, is closed by the flush that owns it. */
  private removeSegment(seg: Segment): void {
    seg.removed = true;
    this.segments.splice(this.segments.indexOf(seg), 1);
    this.consume(seg, seg.frames.length - seg.head);
    this.diskBytes -= seg.size;
    removeFile(seg.path, this.log);
  }

  /**
   * Starts a flush unless one is running (which then loops once more). Every fd is synced and closed
   * only here, one flush at a time, so no fd is closed while a sync on it is pending.
   */
  private requestFlush(): Promise<void> {
    this.flushWanted = true;
    this.flushing ??= this.flushWhileWanted().finally(() => {
      this.flushing = null;
      if (this.flushWanted) void this.requestFlush();
    });
    return this.flushing;
  }

  private async flushWhileWanted(): Promise<void> {
    while (this.flushWanted) {
      this.flushWanted = false;
      await this.syncActive();
    }
  }

  private async syncActive(): Promise<void> {
    const seg = this.active;
    const end = seg.size;
    try {
      if (seg.synced < end) await fdatasyncAsync(seg.fd as number);
      // A new file's directory entry must be on disk too, or power loss could lose the whole file.
      if (this.dirDirty) {
        this.dirDirty = false;
        await syncDirectory(this.dir);
      }
    } catch (err) {
      // Retrying cannot help (the kernel reports a failed writeback once); the records are still in the
      // page cache, safe from a crash of wmn, so reading carries on.
      this.log.error('spool: flushing to disk failed', { file: seg.path, err: errorText(err) });
    }
    seg.synced = Math.max(seg.synced, end);
    if (seg.size >= this.bounds.segmentBytes) await this.rotate(seg);
  }

  /** Starts the next segment and closes `old` after syncing what was appended to it meanwhile. */
  private async rotate(old: Segment): Promise<void> {
    try {
      this.active = createSegment(this.dir, old.seq + 1);
    } catch (err) {
      this.log.error('spool: cannot start a new segment; appending to the current one', {
        err: errorText(err),
      });
      return;
    }
    this.segments.push(this.active);
    this.dirDirty = true;
    try {
      if (old.synced < old.size) await fdatasyncAsync(old.fd as number);
    } catch (err) {
      this.log.error('spool: flushing to disk failed', { file: old.path, err: errorText(err) });
    }
    old.synced = old.size;
    closeSync(old.fd as number);
    old.fd = null;
    this.prune();
  }

  private async saveAck(position: AckPosition): Promise<void> {
    const file = join(this.dir, ACK_FILE);
    try {
      await writeFile(`${file}.tmp`, JSON.stringify(position));
      await rename(`${file}.tmp`, file);
    } catch (err) {
      // Harmless beyond re-sending: the next start replays from an older position.
      this.log.warn('spool: cannot save the acknowledged position', { file, err: errorText(err) });
    }
  }
}

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.seg`;
}

function createSegment(dir: string, seq: number): Segment {
  const path = join(dir, segmentName(seq));
  // 'wx': never append into a file another process (a second agent on this data_dir) may own.
  const fd = openSync(path, 'wx');
  return { seq, path, size: 0, synced: 0, fd, frames: [], head: 0, removed: false };
}

async function listSegments(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((seq): seq is string => seq !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Scans an earlier run's segment: warns about damage, cuts off a torn tail, finds what is unacknowledged. */
async function loadSegment(
  path: string,
  seq: number,
  ack: AckPosition | null,
  log: Logger,
): Promise<Segment> {
  const { frames, size } = await readRepaired(path, log, 'spool');
  const head = acknowledged(seq, frames, ack);
  return { seq, path, size, synced: size, fd: null, frames, head, removed: false };
}

/** How many of a segment's frames the saved position says are stored. */
function acknowledged(seq: number, frames: readonly Range[], ack: AckPosition | null): number {
  if (ack === null || seq > ack.segment) return 0;
  if (seq < ack.segment) return frames.length;
  return frames.filter((f) => f.end <= ack.offset).length;
}

async function readAck(dir: string, log: Logger): Promise<AckPosition | null> {
  const file = join(dir, ACK_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<AckPosition>;
    if (Number.isSafeInteger(value.segment) && Number.isSafeInteger(value.offset))
      return value as AckPosition;
  } catch {
    // reported below
  }
  // Re-sending stored cycles is a no-op, so replaying everything is the safe reading of a damaged file.
  log.warn('spool: unreadable acknowledged position; replaying every spooled cycle', { file });
  return null;
}

/** Frames of `seg` from its head that are on disk: at most `max`, spanning at most {@link READ_SPAN}. */
function readable(seg: Segment, max: number): Range[] {
  const out: Range[] = [];
  const first = seg.frames[seg.head];
  for (let i = seg.head; i < seg.frames.length && out.length < max; i++) {
    const frame = seg.frames[i] as Range;
    if (frame.end > seg.synced) break;
    if (out.length > 0 && first && frame.end - first.start > READ_SPAN) break;
    out.push(frame);
  }
  return out;
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await file.read(buf, 0, buf.length, start);
    if (bytesRead < buf.length) throw new Error(`${path} is shorter than expected (${start + bytesRead})`);
    return buf;
  } finally {
    await file.close();
  }
}

function frameBytes(frames: readonly Range[], from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const f = frames[i] as Range;
    bytes += f.end - f.start;
  }
  return bytes;
}

async function syncDirectory(dir: string): Promise<void> {
  const file = await open(dir, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}

function removeFile(path: string, log: Logger): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      log.warn('spool: cannot delete a segment', { file: path, err: errorText(err) });
  }
}
