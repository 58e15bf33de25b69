/**
 * Every process the benchmark starts goes through here, so that all of them are stopped, by their pid,
 * when the benchmark ends, fails or is interrupted: workers, the lab, load generators, the exporter.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Netns } from '../test/lab/netns.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Node with the TypeScript loader, as the tests run. */
const NODE = [process.execPath, '--import', 'tsx'] as const;

const running = new Set<ChildProcess>();

/** Starts `command` (in `netns` when given) and tracks it until it exits. */
export function start(command: string, args: readonly string[], netns?: Netns): ChildProcess {
  const child = netns
    ? netns.spawn(command, args, ROOT)
    : spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // A program that is not installed (ENOENT) fails its section (its caller waits for it in vain), not
  // the whole benchmark with an unhandled 'error' event.
  child.once('error', (err) => {
    running.delete(child);
    process.stderr.write(`[bench] cannot start ${command}: ${err.message}\n`);
  });
  // A child that dies early must not take the benchmark down with an unhandled EPIPE.
  child.stdin?.on('error', () => {});
  return child;
}

/** Starts a TypeScript file of this repository under Node (`bench/x.ts`), in a namespace or at a nice value. */
export function startNode(
  script: string,
  args: readonly string[],
  where: { readonly netns?: Netns; readonly nice?: number } = {},
): ChildProcess {
  const command = [...NODE, script, ...args];
  // nice execs node in its own place, so the pid is node's.
  if (where.nice !== undefined) command.unshift('nice', '-n', String(where.nice));
  const [bin, ...rest] = command;
  return start(bin!, rest, where.netns);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export function stop(child: ChildProcess, graceMs = 3_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Signals whatever is still running to stop (synchronous: for process exit and signals). SIGTERM, so the
 * lab removes its certificates and the exporter exits cleanly. */
export function killAll(): void {
  for (const child of running) child.kill('SIGTERM');
}

/** The process's pid, which exists once it has been spawned. */
export function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('process did not start');
  return child.pid;
}
