/**
 * A local command: argv run directly (no shell, so nothing in an event is ever interpreted), the event
 * as one line of JSON ({@link EventPayload}) on stdin, and a minimal environment: PATH, WMN_EVENT_ID,
 * WMN_EVENT_STATE. Exit 0 is delivered; anything else rejects with the end of its stderr. The command runs
 * in its own process group, killed whole (SIGKILL) after `timeoutMs` or when wmn stops.
 */
import { spawn } from 'node:child_process';
import type { AlertEvent } from '../types.js';
import { eventPayload } from './payload.js';
import type { Templates } from './template.js';
import { type NotifierFactory, NotifyError } from './types.js';

/** How much of the end of stderr a failure quotes. */
const STDERR_TAIL = 500;

/** What the command reads on stdin: the event payload as JSON, one line. */
export function commandInput(event: AlertEvent, delayedMs: number, templates: Templates): string {
  return `${JSON.stringify(eventPayload(event, delayedMs, templates))}\n`;
}

/** The command's whole environment. */
export function commandEnv(event: AlertEvent, path = process.env.PATH): Record<string, string> {
  return {
    PATH: path ?? '/usr/local/bin:/usr/bin:/bin',
    WMN_EVENT_ID: event.id,
    WMN_EVENT_STATE: event.state,
  };
}

export const createCommandNotifier: NotifierFactory<'command'> = (config, deps) => ({
  name: config.name,
  async send(event, ctx) {
    const [file, ...args] = config.argv;
    if (file === undefined) throw new NotifyError(config.name, 'command', 'argv is empty');
    const step = `command ${file}`;
    if (ctx.signal.aborted) throw new NotifyError(config.name, step, 'aborted: wmn is stopping');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, {
        env: commandEnv(event),
        stdio: ['pipe', 'ignore', 'pipe'],
        detached: true,
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL);
      });
      // EPIPE when the command exits without reading its input; its exit status tells the outcome.
      child.stdin.on('error', () => {});
      child.stdin.end(commandInput(event, ctx.delayedMs, config.template));

      let killedBecause: string | null = null;
      const kill = (reason: string) => {
        killedBecause ??= reason;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      };
      const timer = setTimeout(
        () => kill(`still running after ${config.timeoutMs / 1000} s`),
        config.timeoutMs,
      );
      const onAbort = () => kill('aborted: wmn is stopping');
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      const settle = (err: NotifyError | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ctx.signal.removeEventListener('abort', onAbort);
        if (err === null) resolve();
        else reject(err);
      };
      const tail = () => (stderr.trim() === '' ? '' : `: ${stderr.trim()}`);
      child.once('error', (err) => settle(new NotifyError(config.name, step, err.message)));
      child.once('close', (code, signal) => {
        if (killedBecause !== null)
          settle(new NotifyError(config.name, step, `${killedBecause}; killed${tail()}`));
        else if (code === 0) settle(null);
        else {
          const how = code === null ? `killed by ${signal}` : `exit code ${code}`;
          settle(new NotifyError(config.name, step, `${how}${tail()}`));
        }
      });
    });
    deps.log.debug('notification sent', { notifier: config.name, id: event.id });
  },
});
