/**
 * User templates: `{{field}}` placeholders in plain text, nothing executable. A field is one of
 * AlertEvent's (`id`, `kind`, `state`, `agent`, `subject`, `startedAt`, `endedAt`, `durationS`,
 * `summary`, `createdAt`; snake_case works too: `started_at`), `details.<key>`, `delayed` (the delay
 * marker, or empty) or `duration` (the resolved duration for people, "2 min 26 s"). A field that does not
 * exist, or is null, renders as empty text: a template never makes a send fail.
 */
import { duration } from '../../report/format.js';
import type { AlertEvent } from '../types.js';
import { defaultBody, defaultTitle, delayedMarker } from './text.js';

/** The optional `{ title, body }` templates of a notifier's config. */
export interface Templates {
  readonly title?: string;
  readonly body?: string;
}

/** A notification's text: what every notifier fits into its own format. */
export interface MessageText {
  readonly title: string;
  readonly body: string;
}

const PLACEHOLDER = /\{\{\s*(details\.[^\s{}]+|[A-Za-z_]\w*)\s*\}\}/g;

const EVENT_FIELDS = [
  'id',
  'kind',
  'state',
  'agent',
  'subject',
  'startedAt',
  'endedAt',
  'durationS',
  'summary',
  'createdAt',
] as const satisfies readonly (keyof AlertEvent)[];

/** Every name a template may use besides `details.<key>` (snake_case works too); config checks them. */
export const TEMPLATE_FIELDS: readonly string[] = [...EVENT_FIELDS, 'delayed', 'duration'];

type Escape = (text: string) => string;
const verbatim: Escape = (text) => text;

/** Replaces each `{{field}}` of `template` with the field's value, passed through `escapeValue`. */
export function renderTemplate(
  template: string,
  event: AlertEvent,
  delayedMs: number,
  escapeValue: Escape = verbatim,
): string {
  return template.replace(PLACEHOLDER, (_, name: string) => escapeValue(field(name, event, delayedMs)));
}

function field(name: string, event: AlertEvent, delayedMs: number): string {
  if (name.startsWith('details.')) {
    const key = name.slice('details.'.length);
    return Object.hasOwn(event.details, key) ? text(event.details[key]) : '';
  }
  if (name === 'delayed') return delayedMarker(event, delayedMs);
  if (name === 'duration') return event.durationS === null ? '' : duration(event.durationS);
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const known = EVENT_FIELDS.find((key) => key === camel);
  return known === undefined ? '' : text(event[known]);
}

function text(value: string | number | boolean | null | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

/**
 * The title and body of a notification: the templates where configured, the built-in text otherwise.
 * `escapeValue` is applied to every value from the event (a template's own text is the user's, kept as is),
 * and to the whole of a built-in text.
 */
export function messageText(
  event: AlertEvent,
  delayedMs: number,
  templates: Templates,
  escapeValue: Escape = verbatim,
): MessageText {
  return {
    title:
      templates.title === undefined
        ? escapeValue(defaultTitle(event))
        : renderTemplate(templates.title, event, delayedMs, escapeValue),
    body:
      templates.body === undefined
        ? escapeValue(defaultBody(event, delayedMs))
        : renderTemplate(templates.body, event, delayedMs, escapeValue),
  };
}
