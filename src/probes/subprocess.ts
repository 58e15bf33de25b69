/**
 * A child process bounded in time and output, for the probers that run a program (fping, curl): started
 * with an argv array (never a shell) and no stdin, SIGKILLed at its deadline or on abort, and settled
 * only once it has been reaped and its pipes closed, so a probe never leaves a zombie or an open
 * descriptor behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface BoundedOptions {
  /** The child's whole environment: never wmn's own, which holds DATABASE_URL (readable in /proc). */
  readonly env: NodeJS.ProcessEnv;
  /** How long after its start the child is killed. */
  readonly killAfterMs: number;
  /** Kills the child at once when it aborts. */
  readonly signal: AbortSignal;
  /** Bytes of stdout and of stderr kept; what the program would print past them is not its report. */
  readonly maxStdoutBytes: number;
  readonly maxStderrBytes: number;
}

/** How a run ended, as seen from outside the process. */
export interface BoundedRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when wmn killed the child: it outlived `killAfterMs`, or the probe was aborted. */
  readonly killed?: 'deadline' | 'abort';
  /** Set when the program could not be started (ENOENT: not installed). */
  readonly spawnError?: Error;
}

/** Runs `file` to completion, or SIGKILLs it after `killAfterMs` or on abort; settles once it is reaped. */
export function runBounded(
  file: string,
  args: readonly string[],
  options: BoundedOptions,
): Promise<BoundedRun> {
  const { signal } = options;
  return new Promise((done) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
    } catch (err) {
      done({ stdout: '', stderr: '', code: null, signal: null, spawnError: err as Error });
      return;
    }
    const stdout = collect(child.stdout, options.maxStdoutBytes);
    const stderr = collect(child.stderr, options.maxStderrBytes);
    let killed: BoundedRun['killed'];
    let spawnError: Error | undefined;
    const kill = (why: 'deadline' | 'abort') => {
      if (killed) return;
      killed = why;
      child.kill('SIGKILL');
      // Its output no longer matters; closing our ends now means 'close' waits only for the exit.
      child.stdout?.destroy();
      child.stderr?.destroy();
    };
    const timer = setTimeout(() => kill('deadline'), options.killAfterMs);
    const onAbort = () => kill('abort');
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      spawnError ??= err;
    });
    // 'close' comes after the exit (the process is reaped) and after both pipes have closed.
    child.once('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      done({ stdout: stdout(), stderr: stderr(), code, signal: exitSignal, killed, spawnError });
    });
  });
}

/** Reads a stream to its end, keeping the first `limit` bytes: the child must never block on a full pipe. */
function collect(stream: Readable | null, limit: number): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size >= limit) return;
    chunks.push(chunk.subarray(0, limit - size));
    size += Math.min(chunk.length, limit - size);
  });
  return () => Buffer.concat(chunks).toString('utf8');
}
