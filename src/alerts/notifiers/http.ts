/** One HTTP POST for the HTTP notifiers (webhook, slack, ntfy): deadline, abort, and a useful error. */
import { errorText } from '../../log.js';
import type { AlertEvent, Notifier, SendContext } from '../types.js';
import { DEFAULT_STEP_TIMEOUT_MS, deadline, type NotifierDeps, NotifyError } from './types.js';

export interface HttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** How much of a refusal's response body goes into the error (Slack says why: "invalid_payload"). */
const SNIPPET_BYTES = 300;

/**
 * A notifier that delivers by one POST: `request` builds it from the event (a pure function of the
 * event, how late it is and the config), the rest (deadline, errors, the log line) is the same for all.
 */
export function httpNotifier(
  name: string,
  deps: NotifierDeps,
  request: (event: AlertEvent, delayedMs: number) => HttpRequest,
): Notifier {
  return {
    name,
    async send(event, ctx) {
      await post(name, request(event, ctx.delayedMs), ctx, deps.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS);
      deps.log.debug('notification sent', { notifier: name, id: event.id });
    },
  };
}

/**
 * POSTs `request`; resolves on a 2xx answer and rejects with a {@link NotifyError} otherwise: a non-2xx
 * status (with the status and the start of the response body), no answer within `timeoutMs`, a network
 * error, or `ctx.signal` aborting. Redirects are not followed (a 3xx is a failure). Errors name only the
 * URL's origin: webhook URLs often carry their secret in the path.
 */
export async function post(
  notifier: string,
  request: HttpRequest,
  ctx: SendContext,
  timeoutMs: number,
): Promise<void> {
  const step = `POST ${origin(request.url)}`;
  const signal = deadline(ctx.signal, timeoutMs);
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal,
    });
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
  } catch (err) {
    throw failure(notifier, step, err, ctx.signal, timeoutMs);
  }
  const text = await snippet(response).catch(() => '');
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  throw new NotifyError(notifier, step, text ? `${status}: ${text}` : status, { status: response.status });
}

function failure(notifier: string, step: string, err: unknown, stop: AbortSignal, ms: number): NotifyError {
  if (stop.aborted) return new NotifyError(notifier, step, 'aborted: wmn is stopping');
  if (err instanceof Error && err.name === 'TimeoutError')
    return new NotifyError(notifier, step, `no answer within ${ms / 1000} s`);
  // fetch says only "fetch failed"; the cause says what: "connect ECONNREFUSED 127.0.0.1:9".
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  return new NotifyError(notifier, step, errorText(cause));
}

async function snippet(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < SNIPPET_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  const text = Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8');
  return text.replace(/\s+/g, ' ').trim();
}

/** "https://hooks.slack.com" from a URL whose path is a secret. */
export function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
