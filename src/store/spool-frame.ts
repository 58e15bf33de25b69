/**
 * The spool's record format. Each record is one frame:
 *
 * ```
 * magic (4 bytes: ff 77 6d 6e) | payload length (u32 BE) | CRC32 of length + payload (u32 BE) | payload
 * ```
 *
 * The payload is the JSON of a {@link CycleRecord} (`ts` as an ISO string, restored to a Date on
 * decode). The CRC covers the length field too, so a torn write or a flipped bit anywhere in a frame is
 * detected; the magic lets a reader find the next intact frame after damage. 0xff never occurs in UTF-8,
 * so the magic cannot appear inside a payload.
 */
import { readFile, truncate } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log.js';
import type { CycleRecord } from './types.js';

const MAGIC = Buffer.from([0xff, 0x77, 0x6d, 0x6e]);
/** Bytes before the payload: magic, length, CRC. */
export const HEADER_BYTES = 12;
/** Larger than any real cycle (hundreds of sources are ~100 KB): a longer length field is damage. */
const MAX_PAYLOAD = 16 * 1024 * 1024;

/** A frame's byte range within a buffer or file: `[start, end)`. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

/** What {@link scanFrames} found in a whole segment file. */
export interface Scan {
  /** Intact frames, in file order. */
  readonly frames: Range[];
  /** Bytes holding no intact frame: corrupt records in the middle, or a torn one at the end. */
  readonly damage: Range[];
}

/** The frame of `cycle`, ready to append. */
export function encodeFrame(cycle: CycleRecord): Buffer {
  return frameOf(Buffer.from(JSON.stringify(cycle)));
}

/** The frame of any payload (the alert outbox journals its records in the same frames). */
export function frameOf(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(frame, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(frameCrc(frame.subarray(4, 8), payload), 8);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * The end of the intact frame starting at `pos` in `buf`, or -1 when none starts there (wrong magic,
 * implausible length, cut short by the end of `buf`, or a CRC mismatch).
 */
export function frameEnd(buf: Buffer, pos: number): number {
  if (buf.length - pos < HEADER_BYTES || buf.compare(MAGIC, 0, 4, pos, pos + 4) !== 0) return -1;
  const length = buf.readUInt32BE(pos + 4);
  const end = pos + HEADER_BYTES + length;
  if (length > MAX_PAYLOAD || end > buf.length) return -1;
  const crc = frameCrc(buf.subarray(pos + 4, pos + 8), buf.subarray(pos + HEADER_BYTES, end));
  return crc === buf.readUInt32BE(pos + 8) ? end : -1;
}

/**
 * Splits a whole segment into intact frames and damaged ranges. After damage, scanning resumes at the
 * next offset where an intact frame starts, so one bad record never hides the ones after it.
 */
export function scanFrames(buf: Buffer): Scan {
  const frames: Range[] = [];
  const damage: Range[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = frameEnd(buf, pos);
    if (end > 0) {
      frames.push({ start: pos, end });
      pos = end;
    } else {
      const next = nextFrame(buf, pos + 1);
      damage.push({ start: pos, end: next });
      pos = next;
    }
  }
  return { frames, damage };
}

/** The cycle in the intact frame `buf` (from {@link frameEnd}); throws when its payload is not one. */
export function decodeFrame(buf: Buffer): CycleRecord {
  const value: unknown = JSON.parse(buf.subarray(HEADER_BYTES).toString('utf8'));
  if (!isStoredCycle(value)) throw new Error('payload is not a cycle record');
  return { ...value, ts: new Date(value.ts) };
}

function frameCrc(lengthField: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(lengthField));
}

/** The first offset at or after `from` where an intact frame starts, or `buf.length`. */
function nextFrame(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(MAGIC, from); i >= 0; i = buf.indexOf(MAGIC, i + 1)) {
    if (frameEnd(buf, i) > 0) return i;
  }
  return buf.length;
}

type StoredCycle = Omit<CycleRecord, 'ts'> & { ts: string };

function isStoredCycle(value: unknown): value is StoredCycle {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.agent === 'string' &&
    Number.isSafeInteger(v.probeId) &&
    typeof v.ts === 'string' &&
    !Number.isNaN(Date.parse(v.ts)) &&
    Array.isArray(v.results)
  );
}

/**
 * Reads a journal file and repairs it: corrupt records in the middle are skipped (logged), a torn
 * record at the end (an interrupted write) is cut off. `what` names the journal in the log lines.
 */
export async function readRepaired(
  path: string,
  log: Logger,
  what: string,
): Promise<{ readonly buf: Buffer; readonly frames: Range[]; readonly size: number }> {
  const buf = await readFile(path);
  const { frames, damage } = scanFrames(buf);
  let size = buf.length;
  for (const bad of damage) {
    const fields = { file: path, offset: bad.start, bytes: bad.end - bad.start };
    if (bad.end < buf.length) {
      log.warn(`${what}: corrupt record skipped`, fields);
      continue;
    }
    log.warn(`${what}: torn record at the end (an interrupted write) cut off`, fields);
    await truncate(path, bad.start);
    size = bad.start;
  }
  return { buf, frames, size };
}
