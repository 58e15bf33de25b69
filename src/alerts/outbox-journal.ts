/**
 * The outbox's file: one append-only journal, `<dir>/<generation>.journal` (16 digits), of CRC-framed
 * records in the spool's frame format (src/store/spool-frame.ts: magic, length, CRC32 of length and
 * payload, JSON payload), so a torn or flipped record is found the same way and never misread.
 *
 * Records: `event` (an event and the notifiers it is for), `ack` (one notifier delivered one event), and
 * in a compacted journal `seen` (the id of an event every notifier has, kept only for deduplication).
 * Every {@link Journal.append} is fdatasync'ed before it resolves.
 *
 * Compaction ({@link Journal.rewrite}) writes the live state as the next generation: into a `.tmp` file,
 * fdatasync, rename, fsync of the directory, then the old generation is deleted. A generation exists
 * under its final name only once complete, so at open the highest one is the journal and any lower one
 * is a leftover of a compaction interrupted before its clean-up (deleted); `.tmp` files are deleted.
 *
 * Damage at open: a torn record at the end (kill -9 or power loss mid-write) is cut off, a corrupt record
 * in the middle is skipped; both are logged as warnings naming the file and offset. The journal always
 * opens.
 */

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, type Logger } from '../log.js';
import { frameOf, HEADER_BYTES, readRepaired } from '../store/spool-frame.js';
import type { AlertEvent } from './types.js';

/** A larger event is refused at enqueue: a frame this big is no alert, and it would bloat every compaction. */
export const MAX_RECORD_BYTES = 1024 * 1024;
const JOURNAL_NAME = /^(\d{16})\.journal$/;

/** One journal record; see the module comment. `at` is the wall-clock ms the outbox took the event. */
export type JournalRecord =
  | {
      readonly t: 'event';
      readonly event: AlertEvent;
      readonly at: number;
      /** The notifiers configured when the event was enqueued: the ones it is for. */
      readonly to: readonly string[];
      /** In a compacted journal: those of `to` that had it already. */
      readonly done?: readonly string[];
    }
  | { readonly t: 'ack'; readonly id: string; readonly notifier: string }
  | { readonly t: 'seen'; readonly id: string; readonly at: number };

/** The frame of `record`, ready to append. */
export function encodeRecord(record: JournalRecord): Buffer {
  return frameOf(Buffer.from(JSON.stringify(record)));
}

/** The journal file of one outbox; open it with {@link openJournal}. */
export class Journal {
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private generation: number,
    private handle: FileHandle,
    private size: number,
  ) {}

  /** The journal's size in bytes. */
  get bytes(): number {
    return this.size;
  }

  get path(): string {
    return journalPath(this.dir, this.generation);
  }

  /**
   * Appends `frames` (from {@link encodeRecord}) and fdatasyncs them: on disk when this resolves. Throws on
   * an I/O error (disk full); the journal then still ends at its last complete append.
   */
  async append(frames: readonly Buffer[]): Promise<void> {
    if (this.closed) throw new Error('outbox journal is closed');
    const buf = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
    try {
      await writeAll(this.handle, buf, this.size);
      await this.handle.datasync();
    } catch (err) {
      // Cut the debris off so the next append follows the last complete record.
      await this.handle.truncate(this.size).catch(() => {});
      throw err;
    }
    this.size += buf.length;
  }

  /**
   * Replaces the journal by `frames` as its next generation (see the module comment). Throws when the new
   * file cannot be written; the current one is then kept, unchanged.
   */
  async rewrite(frames: readonly Buffer[]): Promise<void> {
    if (this.closed) throw new Error('outbox journal is closed');
    const next = journalPath(this.dir, this.generation + 1);
    const tmp = `${next}.tmp`;
    const buf = Buffer.concat(frames);
    // Appends go on through this handle, which follows the file through the rename.
    const handle = await open(tmp, 'w');
    try {
      await writeAll(handle, buf, 0);
      await handle.datasync();
      await rename(tmp, next);
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    const old = { path: this.path, handle: this.handle };
    this.generation++;
    this.handle = handle;
    this.size = buf.length;
    await old.handle.close().catch(() => {});
    try {
      // The rename must be on disk before the old generation goes; left behind, the next open deletes it.
      await syncDirectory(this.dir);
      await unlink(old.path);
    } catch (err) {
      this.log.warn('outbox: cannot delete the compacted journal', { file: old.path, err: errorText(err) });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/**
 * Opens the journal in `dir` (created if missing), repairing damage, and returns it with the records
 * it holds, in file order. Throws when the directory or file is unusable.
 */
export async function openJournal(
  dir: string,
  log: Logger,
): Promise<{ journal: Journal; records: JournalRecord[] }> {
  await mkdir(dir, { recursive: true });
  const names = await readdir(dir);
  const generations: number[] = [];
  for (const name of names) {
    if (name.endsWith('.journal.tmp')) await unlink(join(dir, name));
    const seq = JOURNAL_NAME.exec(name)?.[1];
    if (seq !== undefined) generations.push(Number(seq));
  }
  generations.sort((a, b) => a - b);
  const current = generations.pop();
  for (const older of generations) await unlink(journalPath(dir, older));
  if (current === undefined) {
    const handle = await open(journalPath(dir, 1), 'wx');
    await syncDirectory(dir);
    return { journal: new Journal(dir, log, 1, handle, 0), records: [] };
  }
  const path = journalPath(dir, current);
  const { records, size } = await readJournal(path, log);
  const handle = await open(path, 'r+');
  return { journal: new Journal(dir, log, current, handle, size), records };
}

/** Reads and repairs a journal file: its intact records and the size it has after the repair. */
async function readJournal(path: string, log: Logger): Promise<{ records: JournalRecord[]; size: number }> {
  const { buf, frames, size } = await readRepaired(path, log, 'outbox');
  const records: JournalRecord[] = [];
  for (const frame of frames) {
    const record = decodeRecord(buf.subarray(frame.start + HEADER_BYTES, frame.end));
    if (record) records.push(record);
    else log.warn('outbox: unreadable record skipped', { file: path, offset: frame.start });
  }
  return { records, size };
}

function decodeRecord(payload: Buffer): JournalRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  switch (v.t) {
    case 'event':
      return isEvent(v.event) &&
        Number.isFinite(v.at) &&
        isNames(v.to) &&
        (v.done === undefined || isNames(v.done))
        ? (v as JournalRecord)
        : null;
    case 'ack':
      return typeof v.id === 'string' && typeof v.notifier === 'string' ? (v as JournalRecord) : null;
    case 'seen':
      return typeof v.id === 'string' && Number.isFinite(v.at) ? (v as JournalRecord) : null;
    default:
      return null;
  }
}

function isEvent(value: unknown): value is AlertEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.id === 'string' &&
    typeof e.kind === 'string' &&
    typeof e.state === 'string' &&
    typeof e.summary === 'string' &&
    typeof e.createdAt === 'string' &&
    typeof e.details === 'object' &&
    e.details !== null
  );
}

function isNames(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((n) => typeof n === 'string');
}

function journalPath(dir: string, generation: number): string {
  return join(dir, `${String(generation).padStart(16, '0')}.journal`);
}

async function writeAll(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
