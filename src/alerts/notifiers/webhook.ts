/**
 * Generic webhook: the event as JSON ({@link EventPayload}) POSTed to a URL. With a `secret`, each
 * request is signed so the receiver can check that it came from this agent and was not replayed:
 *
 *   X-Wmn-Timestamp: <unix seconds at sending>
 *   X-Wmn-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<exact request body bytes>")>
 *
 * The receiver recomputes the HMAC over the raw body (before any JSON parsing), compares in constant
 * time, and rejects timestamps far from its clock. Every retry is signed afresh, so a delayed delivery
 * carries a current timestamp; `X-Wmn-Event-Id` (also the body's `id`) is the key to drop repeats by.
 */
import { createHmac } from 'node:crypto';
import { USER_AGENT } from '../../version.js';
import type { AlertEvent } from '../types.js';
import { httpNotifier } from './http.js';
import { eventPayload } from './payload.js';
import type { Templates } from './template.js';
import type { NotifierFactory } from './types.js';

/** The request body: the event payload as JSON, exactly the bytes that are signed. */
export function webhookBody(event: AlertEvent, delayedMs: number, templates: Templates): string {
  return JSON.stringify(eventPayload(event, delayedMs, templates));
}

/** `sha256=<hex>`: the value of `X-Wmn-Signature` for `body` sent at `timestamp` (unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The request's headers; the signature pair only with a secret. */
export function webhookHeaders(
  event: AlertEvent,
  body: string,
  secret: string | null,
  timestamp: number,
): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': USER_AGENT,
    // encodeURI keeps an ASCII id as it is and makes any other a valid header value.
    'X-Wmn-Event-Id': encodeURI(event.id),
  };
  if (secret !== null) {
    headers['X-Wmn-Timestamp'] = String(timestamp);
    headers['X-Wmn-Signature'] = webhookSignature(secret, timestamp, body);
  }
  return headers;
}

export const createWebhookNotifier: NotifierFactory<'webhook'> = (config, deps) =>
  httpNotifier(config.name, deps, (event, delayedMs) => {
    const body = webhookBody(event, delayedMs, config.template);
    const headers = webhookHeaders(event, body, config.secret, Math.floor(Date.now() / 1000));
    return { url: config.url, headers, body };
  });
