/**
 * The built-in wording of every notification, for people: a title ("wmn home: link DOWN", "wmn home: link
 * UP again after 2 min 26 s") and a body (the summary, the window to the second, the rule's details, and a
 * delay marker when the message is late). Pure functions of the event: no clock, no network.
 */
import { duration } from '../../report/format.js';
import type { AlertEvent } from '../types.js';

/** Deliveries later than this say so in the message. */
export const DELAYED_AFTER_MS = 5_000;

/** "wmn home: link DOWN", "wmn home: https://example.com/ UP again after 2 min 26 s". */
export function defaultTitle(event: AlertEvent): string {
  return `wmn ${event.agent}: ${headline(event)}`;
}

function headline(event: AlertEvent): string {
  const what = event.kind === 'link_down' ? 'link' : (event.subject ?? 'link');
  const after = event.durationS === null ? '' : ` after ${duration(event.durationS)}`;
  const still = stillFor(event);
  switch (event.kind) {
    case 'link_down':
    case 'source_down':
      if (event.state === 'resolved') return `${what} UP again${after}`;
      return event.state === 'reminder' ? `${what} still DOWN${still}` : `${what} DOWN`;
    case 'latency':
      if (event.state === 'resolved') return `latency normal again on ${what}${after}`;
      return `latency high on ${what}${event.state === 'reminder' ? ` still${still}` : ''}`;
    case 'loss':
      if (event.state === 'resolved') return `packet loss normal again${after}`;
      return `packet loss high${event.state === 'reminder' ? ` still${still}` : ''}`;
    case 'ipv6':
      if (event.state === 'resolved') return `IPv6 working again${after}`;
      return event.state === 'reminder' ? `IPv6 still broken${still}` : 'IPv6 broken';
    case 'cert_expiry': {
      if (event.state === 'resolved')
        return `certificate of ${what} ${event.details.renewed === true ? 'renewed' : 'OK again'}`;
      if (event.state === 'reminder') return `certificate of ${what} still not renewed`;
      const left = event.details.days_left;
      return `certificate of ${what} ${typeof left === 'number' && left < 0 ? 'EXPIRED' : 'expires soon'}`;
    }
  }
}

/** " (for 1 h 05 min 00 s)": how long a reminder's condition has lasted when the event was made. */
function stillFor(event: AlertEvent): string {
  const s = (Date.parse(event.createdAt) - Date.parse(event.startedAt)) / 1000;
  return Number.isFinite(s) && s >= 0 ? ` (for ${duration(s)})` : '';
}

/**
 * The summary, then one fact a line (agent, subject, since / window, each detail), then the delay
 * marker when the message is late. Lines end with "\n"; transports convert as they need.
 */
export function defaultBody(event: AlertEvent, delayedMs: number): string {
  const lines = [event.summary, '', `Agent: ${event.agent}`];
  if (event.subject !== null) lines.push(`Subject: ${event.subject}`);
  if (event.endedAt === null) lines.push(`Since: ${utc(event.startedAt)}`);
  else {
    const took = event.durationS === null ? '' : ` (${duration(event.durationS)})`;
    lines.push(`Window: ${timeWindow(event.startedAt, event.endedAt)}${took}`);
  }
  for (const [key, value] of Object.entries(event.details)) {
    if (value !== null && value !== '') lines.push(`${capitalise(key.replaceAll('_', ' '))}: ${value}`);
  }
  lines.push(`Event: ${event.id}`);
  const marker = delayedMarker(event, delayedMs);
  if (marker !== '') lines.push('', marker);
  return `${lines.join('\n')}\n`;
}

/**
 * "(delayed: sent 3 min after it happened — the link was down)" when `delayedMs` exceeds
 * {@link DELAYED_AFTER_MS}, else "". The reason is named only for link alerts, where it is the link.
 */
export function delayedMarker(event: AlertEvent, delayedMs: number): string {
  if (!(delayedMs > DELAYED_AFTER_MS)) return '';
  const why = event.kind === 'link_down' ? ' — the link was down' : '';
  return `(delayed: sent ${roughly(delayedMs / 1000)} after it happened${why})`;
}

/** A lateness for people, to the unit that matters: "42 s", "3 min", "2 h 05 min", "1 d 03 h". */
export function roughly(s: number): string {
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${Math.round(s)} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  if (min < 24 * 60) return `${Math.floor(min / 60)} h ${two(min % 60)} min`;
  const h = Math.round(min / 60);
  return `${Math.floor(h / 24)} d ${two(h % 24)} h`;
}

/** "2024-05-01 09:02:11 UTC"; text that is not a timestamp is returned as it is. */
export function utc(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "2024-05-01 09:02:11–09:04:37 UTC", or both dates in full when the window spans midnight. */
export function timeWindow(startIso: string, endIso: string): string {
  const [start, end] = [utc(startIso), utc(endIso)];
  if (!start.endsWith(' UTC') || !end.endsWith(' UTC')) return `${start} – ${end}`;
  if (start.slice(0, 10) === end.slice(0, 10)) return `${start.slice(0, 19)}–${end.slice(11)}`;
  return `${start.slice(0, 19)} – ${end}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
