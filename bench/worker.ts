/**
 * Benchmark workers: measured work runs in its own process, so that neither the orchestrator nor the lab
 * shares its CPU accounting or its event loop. A worker reads its input as JSON from argv[2] and prints
 * its result as one JSON line; {@link runWorker} and {@link workerMain} are the two ends of that.
 */
import type { Netns } from '../test/lab/netns.js';
import { startNode } from './children.js';

export interface WorkerOptions {
  /** Run in this network namespace. */
  readonly netns?: Netns;
  /** Run at this nice value (negative: ahead of ordinary processes), as a service manager may. */
  readonly nice?: number;
}

/** Runs `script` with `input`, resolving with its result; rejects with its stderr if it fails. */
export function runWorker<I, O>(script: string, input: I, options: WorkerOptions = {}): Promise<O> {
  const child = startNode(script, [JSON.stringify(input)], options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || last === '') {
        return reject(new Error(`${script} failed (${signal ?? code}): ${stderr.trim().slice(-2000)}`));
      }
      try {
        resolve(JSON.parse(last) as O);
      } catch (err) {
        reject(new Error(`${script} printed no valid result (${stdout.length} bytes)`, { cause: err }));
      }
    });
  });
}

/** The worker's side: parses argv[2], runs `fn`, prints the result and exits. */
export async function workerMain<I, O>(fn: (input: I) => Promise<O>): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? 'null') as I;
  const output = await fn(input);
  // Exit once the result has reached the pipe (a large one is written in several steps): probes leave
  // nothing running, but a worker must never outlive its measurement because of a stray handle.
  process.stdout.write(`${JSON.stringify(output)}\n`, () => process.exit(0));
}
