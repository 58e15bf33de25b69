/**
 * A small SMTP client (RFC 5321) for one message per connection: greeting, EHLO, STARTTLS (required
 * when asked for), AUTH PLAIN or LOGIN (only over TLS), MAIL FROM, RCPT TO for each recipient, DATA with
 * dot-stuffing, QUIT. Every reply code is checked; every step has a deadline and ends when `signal`
 * aborts; a failure names the step and quotes the server's reply. No pipelining, no SMTPUTF8.
 */
import { readFile } from 'node:fs/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { rootCertificates, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { NotifyError } from './types.js';

export interface SmtpOptions {
  /** The notifier's name, for errors. */
  readonly notifier: string;
  readonly host: string;
  readonly port: number;
  readonly security: 'tls' | 'starttls' | 'none';
  readonly username: string | null;
  readonly password: string | null;
  /** PEM bundle trusted in addition to the system's CAs. */
  readonly caFile: string | null;
  /** Deadline of each step: connecting, the TLS handshake, each command's reply. */
  readonly stepTimeoutMs: number;
  readonly signal: AbortSignal;
}

/** Bare addresses (`ops@example.com`), already checked by the caller. */
export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
}

interface Reply {
  readonly code: number;
  readonly lines: readonly string[];
}

/** Past this much text without a complete reply, the peer is not an SMTP server. */
const MAX_REPLY_CHARS = 64 * 1024;

/** Sends `message` (RFC 5322 text, CRLF line ends) to the envelope's recipients; rejects with a NotifyError. */
export async function sendMail(options: SmtpOptions, envelope: Envelope, message: string): Promise<void> {
  const session = new Session(options);
  if (options.username !== null && options.security === 'none')
    throw session.fail('AUTH', 'refusing to send a password over an unencrypted connection (security: none)');
  let ca: string[] | undefined;
  if (options.caFile !== null) {
    try {
      ca = [...rootCertificates, await readFile(options.caFile, 'utf8')];
    } catch (err) {
      throw session.fail('read caFile', err instanceof Error ? err.message : String(err));
    }
  }
  try {
    await session.connect(ca);
    await session.command('greeting', null, [220]);
    let extensions = await session.ehlo();
    if (options.security === 'starttls') {
      if (!extensions.has('STARTTLS'))
        throw session.fail(
          'STARTTLS',
          'the server does not offer STARTTLS; refusing to continue in the clear',
        );
      await session.startTls(ca);
      extensions = await session.ehlo();
    }
    if (options.username !== null) await session.auth(extensions, options.username, options.password ?? '');
    await session.command(`MAIL FROM:<${envelope.from}>`, `MAIL FROM:<${envelope.from}>`, [250]);
    for (const to of envelope.to) await session.command(`RCPT TO:<${to}>`, `RCPT TO:<${to}>`, [250, 251]);
    await session.command('DATA', 'DATA', [354]);
    await session.command('end of DATA', `${dotStuff(message)}.`, [250]);
    // The message is accepted: a QUIT that goes wrong changes nothing.
    await session.command('QUIT', 'QUIT', [221]).catch(() => {});
  } finally {
    session.close();
  }
}

/** Doubles a line-leading dot (RFC 5321 §4.5.2) and makes the text end with CRLF, ready for the final ".". */
export function dotStuff(message: string): string {
  const stuffed = message.replace(/^\./gm, '..');
  return stuffed.endsWith('\r\n') ? stuffed : `${stuffed}\r\n`;
}

class Session {
  private socket: Socket | null = null;
  private secure = false;
  private buffer = '';
  /** Why the connection is unusable (an error, the server hanging up), once it is. */
  private broken: string | null = null;
  /** Re-checks the pending wait; called on every socket event. */
  private wake: (() => void) | null = null;

  constructor(private readonly options: SmtpOptions) {}

  fail(step: string, detail: string): NotifyError {
    return new NotifyError(this.options.notifier, step, detail);
  }

  async connect(ca: string[] | undefined): Promise<void> {
    const { host, port, security } = this.options;
    if (security === 'tls') {
      const socket = tlsConnect({ host, port, servername: sni(host), ca });
      this.attach(socket);
      await this.event('connect (TLS)', socket, 'secureConnect');
      this.secure = true;
    } else {
      const socket = netConnect({ host, port });
      this.attach(socket);
      await this.event('connect', socket, 'connect');
    }
  }

  /** EHLO; resolves with the extensions the server announced, keyword → parameters. */
  async ehlo(): Promise<Map<string, string>> {
    const reply = await this.command('EHLO', `EHLO ${heloName(this.socket)}`, [250]);
    const extensions = new Map<string, string>();
    for (const line of reply.lines.slice(1)) {
      const [keyword = '', ...params] = line.trim().split(/[\s=]+/);
      extensions.set(keyword.toUpperCase(), params.join(' '));
    }
    return extensions;
  }

  async startTls(ca: string[] | undefined): Promise<void> {
    await this.command('STARTTLS', 'STARTTLS', [220]);
    // Text after the 220 but before the handshake would be read as if it had come over TLS.
    if (this.buffer !== '') throw this.fail('STARTTLS', 'the server sent data before the TLS handshake');
    const plain = this.socket as Socket;
    this.detach(plain);
    // The TLS socket reports the connection's errors from here on; this only keeps a late one quiet.
    plain.on('error', () => {});
    const { host } = this.options;
    const socket = tlsConnect({ socket: plain, host, servername: sni(host), ca });
    this.attach(socket);
    await this.event('STARTTLS handshake', socket, 'secureConnect');
    this.secure = true;
  }

  async auth(extensions: Map<string, string>, username: string, password: string): Promise<void> {
    if (!this.secure) throw this.fail('AUTH', 'refusing to send a password over an unencrypted connection');
    const offered = (extensions.get('AUTH') ?? '').toUpperCase().split(' ');
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
    if (offered.includes('PLAIN')) {
      await this.command('AUTH PLAIN', `AUTH PLAIN ${b64(`\0${username}\0${password}`)}`, [235]);
    } else if (offered.includes('LOGIN')) {
      await this.command('AUTH LOGIN', 'AUTH LOGIN', [334]);
      await this.command('AUTH LOGIN (username)', b64(username), [334]);
      await this.command('AUTH LOGIN (password)', b64(password), [235]);
    } else {
      const list = extensions.get('AUTH') || 'none';
      throw this.fail('AUTH', `the server offers no mechanism wmn speaks (PLAIN, LOGIN); it offers: ${list}`);
    }
  }

  /** Sends `line` (none: only read, e.g. the greeting) and reads the reply, which must be one of `expect`. */
  async command(step: string, line: string | null, expect: readonly number[]): Promise<Reply> {
    if (line !== null) this.socket?.write(`${line}\r\n`);
    const reply = await this.wait(step, () => this.takeReply());
    if (!expect.includes(reply.code))
      throw this.fail(step, `${reply.code} ${reply.lines.join(' ')}`.trimEnd());
    return reply;
  }

  close(): void {
    this.socket?.destroy();
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString('latin1');
    this.wake?.();
  };
  private readonly onError = (err: Error) => {
    this.broken ??= err.message;
    this.wake?.();
  };
  private readonly onClose = () => {
    this.broken ??= 'the server closed the connection';
    this.wake?.();
  };

  private attach(socket: Socket | TLSSocket): void {
    this.socket = socket;
    socket.on('data', this.onData).on('error', this.onError).on('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData).off('error', this.onError).off('close', this.onClose);
  }

  /** Resolves when `socket` emits `name`, within the step deadline. */
  private async event(step: string, socket: Socket, name: string): Promise<void> {
    let happened = false;
    socket.once(name, () => {
      happened = true;
      this.wake?.();
    });
    await this.wait(step, () => (happened ? true : undefined));
  }

  /** One complete reply (its lines "250-…" up to "250 …") taken off the buffer, or undefined for now. */
  private takeReply(): Reply | undefined {
    const lines: string[] = [];
    let rest = this.buffer;
    for (;;) {
      const end = rest.indexOf('\n');
      if (end < 0) {
        if (rest.length > MAX_REPLY_CHARS) throw new Error('reply too long');
        return undefined;
      }
      const line = rest.slice(0, end).replace(/\r$/, '');
      rest = rest.slice(end + 1);
      const match = /^(\d{3})(?:([ -])(.*))?$/.exec(line);
      if (match === null) throw new Error(`not an SMTP reply: ${JSON.stringify(line.slice(0, 100))}`);
      lines.push(match[3] ?? '');
      if (match[2] !== '-') {
        this.buffer = rest;
        return { code: Number(match[1]), lines };
      }
    }
  }

  /**
   * Resolves with `check()`'s first defined value, re-checked on every socket event; rejects when the
   * connection breaks, `check` throws, the step's deadline passes or the signal aborts.
   */
  private wait<T>(step: string, check: () => T | undefined): Promise<T> {
    const { signal, stepTimeoutMs } = this.options;
    return new Promise<T>((resolve, reject) => {
      const settle = (settled: () => void) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = null;
        settled();
      };
      const onAbort = () => settle(() => reject(this.fail(step, 'aborted: wmn is stopping')));
      const timer = setTimeout(
        () => settle(() => reject(this.fail(step, `no answer within ${stepTimeoutMs / 1000} s`))),
        stepTimeoutMs,
      );
      this.wake = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          settle(() => reject(this.fail(step, err instanceof Error ? err.message : String(err))));
          return;
        }
        if (value !== undefined) settle(() => resolve(value));
        else if (this.broken !== null) settle(() => reject(this.fail(step, this.broken ?? '')));
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.wake();
      }
    });
  }
}

/** The TLS server name: the host, unless it is an IP address (SNI carries names only). */
function sni(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined;
}

/** The name EHLO gives: this machine's host name when it is a valid domain, else its address literal. */
function heloName(socket: Socket | null): string {
  const name = hostname();
  if (/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name)) return name;
  const address = socket?.localAddress ?? '127.0.0.1';
  return isIP(address) === 6 ? `[IPv6:${address}]` : `[${address}]`;
}
