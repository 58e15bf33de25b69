/** What every notifier file shares: its factory's shape, its dependencies, and its one error class. */
import type { NotifierConfig } from '../../config/types.js';
import type { Logger } from '../../log.js';
import type { Notifier } from '../types.js';

export interface NotifierDeps {
  readonly log: Logger;
  /**
   * Deadline of one network step (an HTTP request, an SMTP command's reply), default
   * {@link DEFAULT_STEP_TIMEOUT_MS}. The command notifier uses its configured `timeoutMs` instead.
   */
  readonly stepTimeoutMs?: number;
}

/** 30 s: a receiver that has not answered by then is treated as down, and the outbox retries later. */
export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

/** The options of one notifier type: the member of {@link NotifierConfig} with that `type`. */
export type NotifierConfigOf<T extends NotifierConfig['type']> = Extract<NotifierConfig, { type: T }>;

export type NotifierFactory<T extends NotifierConfig['type']> = (
  config: NotifierConfigOf<T>,
  deps: NotifierDeps,
) => Notifier;

/**
 * A failed delivery: the message reads `<notifier>: <step>: <what happened>`, e.g.
 * `mail: RCPT TO:<ops@example.com>: 550 5.1.1 no such user`. Always worth retrying as far as the
 * notifier knows (the outbox decides how often); `status` is the HTTP status when there was one.
 */
export class NotifyError extends Error {
  readonly code = 'notify';
  readonly status: number | null;
  constructor(
    readonly notifier: string,
    readonly step: string,
    detail: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(`${notifier}: ${step}: ${detail}`, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'NotifyError';
    this.status = options.status ?? null;
  }
}

/** A signal that aborts with `signal` or after `ms`, whichever comes first. */
export function deadline(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}
