/**
 * Email over SMTP (see smtp.ts): one text/plain UTF-8 message, quoted-printable, per event and recipient
 * list. The Message-ID is derived from the event id, so a repeated delivery is the same message to a mail
 * client, and a reminder or recovery names the DOWN message in References, so they thread together.
 */
import { createHash } from 'node:crypto';
import type { AlertEvent } from '../types.js';
import { encodeHeaderText, quotedPrintable } from './mime.js';
import { type Envelope, sendMail } from './smtp.js';
import { messageText, type Templates } from './template.js';
import { DEFAULT_STEP_TIMEOUT_MS, type NotifierFactory, NotifyError } from './types.js';

export interface EmailAddressing {
  /** As configured: `ops@example.com` or `wmn <ops@example.com>`. */
  readonly from: string;
  readonly to: readonly string[];
  /** The Date header: the time of sending. */
  readonly date: Date;
}

/** The whole message (headers and body, CRLF line ends), before SMTP's dot-stuffing. */
export function emailMessage(
  event: AlertEvent,
  delayedMs: number,
  templates: Templates,
  addressing: EmailAddressing,
): string {
  const { title, body } = messageText(event, delayedMs, templates);
  const domain = bareAddress(addressing.from)?.split('@')[1] ?? 'wmn.invalid';
  const headers = [
    `Date: ${rfc5322Date(addressing.date)}`,
    `From: ${mailbox(addressing.from)}`,
    `To: ${addressing.to.map(mailbox).join(',\r\n ')}`,
    `Subject: ${encodeHeaderText(title)}`,
    `Message-ID: ${messageId(event.id, domain)}`,
  ];
  const first = firingId(event.id);
  if (first !== null && first !== event.id) {
    headers.push(`In-Reply-To: ${messageId(first, domain)}`, `References: ${messageId(first, domain)}`);
  }
  headers.push(
    `X-Wmn-Event-Id: ${encodeHeaderText(event.id)}`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
  );
  return `${headers.join('\r\n')}\r\n\r\n${quotedPrintable(body.trimEnd())}\r\n`;
}

/** `<wmn.<first 32 hex of sha256(id)>@<domain>>`: the same for every delivery of one event. */
export function messageId(eventId: string, domain: string): string {
  return `<wmn.${createHash('sha256').update(eventId).digest('hex').slice(0, 32)}@${domain}>`;
}

/** The id of the firing event a reminder or recovery belongs to (see AlertEvent.id), or null. */
function firingId(id: string): string | null {
  const match = /^(.*):(?:firing|reminder|resolved)(?::\d+)?$/.exec(id);
  return match === null ? null : `${match[1]}:firing`;
}

/** `ops@example.com` out of `ops@example.com` or `Name <ops@example.com>`; null when it is neither. */
export function bareAddress(configured: string): string | null {
  if (/\p{Cc}/u.test(configured)) return null;
  const match = /^(?:[^<>]*<([^<>\s]+@[^<>\s]+)>|([^<>\s]+@[^<>\s]+))$/.exec(configured.trim());
  return match === null ? null : (match[1] ?? match[2] ?? null);
}

/** A From/To value: as configured, with a non-ASCII display name RFC 2047-encoded. */
function mailbox(configured: string): string {
  const match = /^([\s\S]*?)\s*<([^<>]+)>$/.exec(configured.trim());
  if (match === null) return configured.trim();
  const [, name = '', address = ''] = match;
  return name === '' ? `<${address}>` : `${encodeHeaderText(name)} <${address}>`;
}

/** "Tue, 01 May 2024 09:02:11 +0000". */
function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

export const createEmailNotifier: NotifierFactory<'email'> = (config, deps) => ({
  name: config.name,
  async send(event, ctx) {
    const envelope = envelopeOf(config.name, config.from, config.to);
    const message = emailMessage(event, ctx.delayedMs, config.template, {
      from: config.from,
      to: config.to,
      date: new Date(),
    });
    await sendMail(
      {
        notifier: config.name,
        host: config.host,
        port: config.port,
        security: config.security,
        username: config.username,
        password: config.password,
        caFile: config.caFile,
        stepTimeoutMs: deps.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
        signal: ctx.signal,
      },
      envelope,
      message,
    );
    deps.log.debug('notification sent', { notifier: config.name, id: event.id });
  },
});

function envelopeOf(notifier: string, from: string, to: readonly string[]): Envelope {
  const check = (configured: string, step: string) => {
    const address = bareAddress(configured);
    if (address === null)
      throw new NotifyError(notifier, step, `not an email address: ${JSON.stringify(configured)}`);
    return address;
  };
  if (to.length === 0) throw new NotifyError(notifier, 'RCPT TO', 'no recipients');
  return { from: check(from, 'MAIL FROM'), to: to.map((address) => check(address, 'RCPT TO')) };
}
