/** The event as JSON for machines: the webhook's request body and the command's stdin. */
import type { AlertEvent } from '../types.js';
import { messageText, type Templates } from './template.js';

/** Version 1 of the JSON payload; fields are only ever added. Times are ISO 8601 UTC strings. */
export interface EventPayload {
  /** The event's stable id: deliveries after a crash may repeat, and this is the key to drop repeats by. */
  readonly id: string;
  readonly kind: AlertEvent['kind'];
  readonly state: AlertEvent['state'];
  readonly agent: string;
  readonly subject: string | null;
  readonly started_at: string;
  readonly ended_at: string | null;
  readonly duration_s: number | null;
  readonly summary: string;
  readonly details: AlertEvent['details'];
  readonly created_at: string;
  /** How long after `created_at` this delivery was made (0 when on time). */
  readonly delayed_ms: number;
  /** The rendered title and body templates (the built-in texts when none is configured). */
  readonly title: string;
  readonly text: string;
}

export function eventPayload(event: AlertEvent, delayedMs: number, templates: Templates): EventPayload {
  const { title, body } = messageText(event, delayedMs, templates);
  return {
    id: event.id,
    kind: event.kind,
    state: event.state,
    agent: event.agent,
    subject: event.subject,
    started_at: event.startedAt,
    ended_at: event.endedAt,
    duration_s: event.durationS,
    summary: event.summary,
    details: event.details,
    created_at: event.createdAt,
    delayed_ms: Math.max(0, Math.round(delayedMs)),
    title,
    text: body,
  };
}
