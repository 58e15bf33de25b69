/**
 * Slack incoming webhook (and the compatible ones: Mattermost, Rocket.Chat, Discord's `/slack` URL):
 * `{ "text": "*<title>*\n<body>" }` in Slack's mrkdwn, link previews off.
 */
import { USER_AGENT } from '../../version.js';
import type { AlertEvent } from '../types.js';
import { httpNotifier } from './http.js';
import { messageText, type Templates } from './template.js';
import type { NotifierFactory } from './types.js';

/** Slack's three control characters in message text; everything else is literal. */
export function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The request body. Values from the event are escaped; a template's own text may use mrkdwn. */
export function slackBody(event: AlertEvent, delayedMs: number, templates: Templates): string {
  const { title, body } = messageText(event, delayedMs, templates, slackEscape);
  const text = `*${title}*\n${body}`.trimEnd();
  return JSON.stringify({ text, unfurl_links: false, unfurl_media: false });
}

export const createSlackNotifier: NotifierFactory<'slack'> = (config, deps) =>
  httpNotifier(config.name, deps, (event, delayedMs) => ({
    url: config.url,
    headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT },
    body: slackBody(event, delayedMs, config.template),
  }));
