/**
 * Alerting's three parts and the contracts between them:
 *
 *   cycles ──► rules (src/alerts/rules/, pure, fake-clock testable) ──► AlertEvent
 *          ──► outbox (src/alerts/outbox.ts: durable in data_dir, ordered, retried, deduplicated)
 *          ──► notifiers (src/alerts/notifiers/<name>.ts, one file each behind {@link Notifier})
 *
 * The outbox exists because a link monitor alerts exactly when the link is down: an event is on disk
 * before anything tries to send it, and it is sent when the receivers can be reached again.
 */

/** What a rule watches. */
export type AlertKind = 'link_down' | 'source_down' | 'latency' | 'loss' | 'ipv6' | 'cert_expiry';

/** firing: the condition began; reminder: still firing after `repeat`; resolved: it ended. */
export type AlertState = 'firing' | 'reminder' | 'resolved';

/** One notification-worthy change, as every notifier receives it. Times are ISO 8601 UTC strings. */
export interface AlertEvent {
  /**
   * Unique and stable: `${kind}:${agent}:${subject ?? '-'}:${startProbeId}:${state}[:n]`. The outbox
   * delivers an id at most once per notifier (after a crash: at least once, with this id as the key a
   * receiver can deduplicate on; webhook and command receive it).
   */
  readonly id: string;
  readonly kind: AlertKind;
  readonly state: AlertState;
  readonly agent: string;
  /** The source URI for per-source rules; null for the whole link. */
  readonly subject: string | null;
  /** When the condition began: the `ts` of its first cycle. */
  readonly startedAt: string;
  /** resolved only: the end of the condition (the end of its last bad cycle). */
  readonly endedAt: string | null;
  /** resolved only: endedAt − startedAt, in seconds. */
  readonly durationS: number | null;
  /** One line a person reads first, e.g. "link DOWN: offline 09:02:11–09:04:37 UTC, 2 min 26 s". */
  readonly summary: string;
  /** Rule-specific facts (failure classes, measured value, threshold, window), for templates and JSON. */
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
  /** When the event was made (the outbox adds how late delivery was). */
  readonly createdAt: string;
}

/** What a notifier is told besides the event. */
export interface SendContext {
  /** How long after `createdAt` this delivery happens: > 0 means the message says it was delayed. */
  readonly delayedMs: number;
  /** Aborted when the agent stops: the send must settle promptly (and will be retried next start). */
  readonly signal: AbortSignal;
}

/** One configured destination. `send` rejects when delivery failed (the outbox retries it). */
export interface Notifier {
  /** Unique among the configured notifiers, e.g. "webhook-1" or the configured `name`. */
  readonly name: string;
  send(event: AlertEvent, ctx: SendContext): Promise<void>;
}
