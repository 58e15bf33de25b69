/**
 * What a rule is to the engine. A rule is pure: it is fed cycles (with the interval each covers) and
 * says when a condition begins or ends; the engine turns that into events, reminders, holds and ids.
 */
import type { CycleRecord } from '../../store/types.js';
import type { AlertEvent, AlertKind } from '../types.js';

export type Details = Record<string, string | number | boolean | null>;

/** A condition began (firing) or ended (resolved). Times are wall-clock ms. */
export interface Transition {
  readonly kind: AlertKind;
  readonly state: 'firing' | 'resolved';
  readonly subject: string | null;
  /** The probe_id of the condition's first bad cycle: with kind and subject, what names it. */
  readonly startProbeId: number;
  /** The `ts` of that cycle. */
  readonly startedAtMs: number;
  /** resolved only: the end of the condition's last bad cycle (its ts + the interval). */
  readonly endedAtMs: number | null;
  readonly summary: string;
  readonly details: Details;
}

/** Where a rule's condition began, and the end of its last bad cycle so far. */
export interface Span {
  readonly startProbeId: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
}

/** The condition `span` beginning or ending: only an ended one reports its end. */
export function transitionOf(
  span: Span,
  t: Pick<Transition, 'kind' | 'state' | 'subject' | 'summary' | 'details'>,
): Transition {
  return {
    kind: t.kind,
    state: t.state,
    subject: t.subject,
    startProbeId: span.startProbeId,
    startedAtMs: span.startedAtMs,
    endedAtMs: t.state === 'resolved' ? span.endedAtMs : null,
    summary: t.summary,
    details: t.details,
  };
}

/** A condition firing now. */
export interface OpenCondition {
  readonly kind: AlertKind;
  readonly subject: string | null;
  readonly startProbeId: number;
  readonly startedAtMs: number;
  /** Reminders no more often than this, whatever `repeat` says (a certificate's date moves by days). */
  readonly minRepeatMs?: number;
  /** The summary and details of a reminder made at `nowMs`. */
  reminder(nowMs: number): { readonly summary: string; readonly details: Details };
}

export interface Rule {
  readonly kind: AlertKind;
  /** Takes one finished cycle (they may arrive slightly out of order); returns what began or ended. */
  observe(cycle: CycleRecord, intervalMs: number): Transition[];
  open(): OpenCondition[];
  /**
   * JSON-able state that lets a new instance (after a restart or a reload) end the open conditions
   * correctly: the open ones and what they need. Empty when nothing is open.
   */
  save(): unknown;
}

/** The event id contract of {@link AlertEvent.id}. */
export function eventId(
  kind: AlertKind,
  agent: string,
  subject: string | null,
  startProbeId: number,
  state: AlertEvent['state'],
  n?: number,
): string {
  return `${kind}:${agent}:${subject ?? '-'}:${startProbeId}:${state}${n === undefined ? '' : `:${n}`}`;
}
