/**
 * max_per_hour: at most that many notifications per clock hour (UTC), all kinds together. Past it,
 * events are held; when the hour rolls, the held ones go out as one digest: the latest of them (its kind,
 * state, subject and times, so the digest says where things stand now) with a summary counting them all
 * and, in details.held_events, one line for each.
 */
import type { AlertEvent } from '../types.js';

const HOUR_MS = 3_600_000;
/** Held events kept in full at most; the digest counts the others. */
const MAX_HELD = 1000;
/** Lines listed in a digest at most. */
const MAX_LINES = 50;

export interface RateState {
  /** The UTC hour (ms since the epoch / 1 h, floored) the count is for. */
  hour: number;
  sent: number;
  held: AlertEvent[];
  /** Held events not kept (past MAX_HELD), counted in the digest. */
  overflow: number;
}

export function emptyRate(nowMs: number): RateState {
  return { hour: Math.floor(nowMs / HOUR_MS), sent: 0, held: [], overflow: 0 };
}

/**
 * True when `event` may go out now (and counts it); false when it was held for the digest. Call
 * {@link digestDue} first at the same time, so the held events of an hour past go out before.
 */
export function admit(state: RateState, event: AlertEvent, maxPerHour: number, nowMs: number): boolean {
  if (state.held.length === 0) roll(state, nowMs);
  if (state.sent < maxPerHour) {
    state.sent++;
    return true;
  }
  state.held.push(event);
  if (state.held.length > MAX_HELD) {
    state.held.shift();
    state.overflow++;
  }
  return false;
}

/** At a new hour: resets the count and returns the digest of what was held, if anything was. */
export function digestDue(state: RateState, maxPerHour: number, nowMs: number): AlertEvent | null {
  if (Math.floor(nowMs / HOUR_MS) === state.hour || state.held.length === 0) {
    roll(state, nowMs);
    return null;
  }
  const digest = makeDigest(state, maxPerHour, nowMs);
  state.held = [];
  state.overflow = 0;
  roll(state, nowMs);
  state.sent = 1;
  return digest;
}

function roll(state: RateState, nowMs: number): void {
  const hour = Math.floor(nowMs / HOUR_MS);
  if (hour === state.hour) return;
  state.hour = hour;
  state.sent = 0;
}

function makeDigest(state: RateState, maxPerHour: number, nowMs: number): AlertEvent {
  const latest = state.held.at(-1) as AlertEvent;
  const count = state.held.length + state.overflow;
  const lines = state.held.slice(-MAX_LINES).map((e) => `${e.createdAt.slice(11, 19)} ${e.summary}`);
  const left = count - lines.length;
  if (left > 0) lines.unshift(`… ${left} earlier`);
  const from = new Date(state.hour * HOUR_MS).toISOString().slice(11, 16);
  return {
    ...latest,
    id: `${latest.id}:digest`,
    summary: `${count} notification${count === 1 ? '' : 's'} held by max_per_hour (${maxPerHour} an hour) in the hour from ${from} UTC; the latest: ${latest.summary}`,
    details: { ...latest.details, digest: true, held: count, held_events: lines.join('\n') },
    createdAt: new Date(nowMs).toISOString(),
  };
}
