/**
 * The lab and a probe, each run as a process inside a network namespace (see netns.ts), so the
 * engines' system resolver is the lab's DNS server with its injected delays.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Engine, ProbeResult } from '../../src/probes/types.js';
import type { Lab } from './index.js';
import type { Netns } from './netns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Node with the TypeScript loader, as the tests themselves run. */
const NODE_ARGS = ['--import', 'tsx'];

/** What serve.ts reports once its lab listens. */
export interface RemoteLab {
  readonly ports: Lab['ports'];
  readonly caFile: string;
}

/** Starts serve.ts in `ns` with its DNS server on 127.0.0.1:53; it stops when `ns` is closed. */
export async function serveLabIn(ns: Netns): Promise<RemoteLab> {
  const child = ns.spawn(process.execPath, [...NODE_ARGS, 'test/lab/serve.ts', '--dns-port', '53'], ROOT);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`lab server exited (${code}) before listening: ${stderr}`)),
    );
  });
  lines.close();
  return JSON.parse(first) as RemoteLab;
}

export interface ProbeOnceOptions {
  readonly caFile?: string;
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
  readonly family?: 4 | 6;
}

/** Runs probe-once.ts in `ns`: one probe of `url` with `engine`, its result parsed from stdout. */
export async function probeOnceIn(
  ns: Netns,
  engine: Engine,
  url: string,
  options: ProbeOnceOptions = {},
): Promise<ProbeResult> {
  const flags = [
    ...(options.caFile ? ['--ca', options.caFile] : []),
    ...(options.insecure ? ['--insecure'] : []),
    ...(options.timeoutMs ? ['--timeout', String(options.timeoutMs)] : []),
    ...(options.family ? ['--family', String(options.family)] : []),
  ];
  const stdout = await ns.exec(
    process.execPath,
    [...NODE_ARGS, 'test/lab/probe-once.ts', engine, url, ...flags],
    ROOT,
  );
  return JSON.parse(stdout) as ProbeResult;
}
