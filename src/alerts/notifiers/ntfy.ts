/**
 * ntfy (https://ntfy.sh or a self-hosted server): the body text POSTed to the topic URL, with the title,
 * priority and tags in headers. A non-ASCII title travels RFC 2047-encoded, which ntfy decodes.
 */
import { USER_AGENT } from '../../version.js';
import type { AlertEvent } from '../types.js';
import { httpNotifier } from './http.js';
import { encodeHeaderText } from './mime.js';
import { messageText, type Templates } from './template.js';
import type { NotifierFactory } from './types.js';

export interface NtfyMessage {
  readonly body: string;
  readonly headers: {
    readonly Title: string;
    /** 5 (urgent) for the link going down, 4 (high) for any other alert and reminders, 3 for resolved. */
    readonly Priority: string;
    /** An emoji short code ntfy shows before the title, then the alert's kind. */
    readonly Tags: string;
  };
}

/** The request body and ntfy's headers. */
export function ntfyMessage(event: AlertEvent, delayedMs: number, templates: Templates): NtfyMessage {
  const { title, body } = messageText(event, delayedMs, templates);
  const resolved = event.state === 'resolved';
  const urgent = event.kind === 'link_down' && event.state === 'firing';
  const down = event.kind === 'link_down' || event.kind === 'source_down';
  const emoji = resolved ? 'white_check_mark' : down ? 'rotating_light' : 'warning';
  return {
    body: body.trimEnd(),
    headers: {
      Title: encodeHeaderText(title, ' '),
      Priority: resolved ? '3' : urgent ? '5' : '4',
      Tags: `${emoji},${event.kind}`,
    },
  };
}

export const createNtfyNotifier: NotifierFactory<'ntfy'> = (config, deps) =>
  httpNotifier(config.name, deps, (event, delayedMs) => {
    const message = ntfyMessage(event, delayedMs, config.template);
    const headers: Record<string, string> = {
      'Content-Type': 'text/plain; charset=utf-8',
      'User-Agent': USER_AGENT,
      ...message.headers,
    };
    if (config.token !== null) headers.Authorization = `Bearer ${config.token}`;
    return { url: config.url, headers, body: message.body };
  });
