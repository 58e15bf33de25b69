/** Starting and stopping the benchmark's lab process (lab-server.ts), on loopback or in a namespace. */
import { createInterface } from 'node:readline';
import type { Netns } from '../test/lab/netns.js';
import { pidOf, startNode, stop } from './children.js';
import { type BenchLabPorts, TIMERS_PATH } from './lab-precise.js';
import type { LabServerInput } from './lab-server.js';
import { cpuTimes } from './proc.js';
import type { Spread } from './stats.js';

export interface BenchLab extends BenchLabPorts {
  readonly pid: number;
  /** CPU ms the lab process has used so far: what serving the probes cost on the server side. */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startBenchLab(input: Partial<LabServerInput> = {}, netns?: Netns): Promise<BenchLab> {
  const full: LabServerInput = { handshakeDelays: input.handshakeDelays ?? [], dnsPort: input.dnsPort ?? 0 };
  const child = startNode('bench/lab-server.ts', [JSON.stringify(full)], { netns });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) =>
        reject(new Error(`bench lab exited (${code}) before listening: ${stderr}`)),
      );
    });
    const ports = JSON.parse(first) as BenchLabPorts;
    const pid = pidOf(child);
    let died: string | null = null;
    child.once('exit', (code, signal) => {
      died = `bench lab exited (${signal ?? code}) while in use: ${stderr.trim().slice(-1500)}`;
    });
    return {
      ...ports,
      pid,
      cpuMs: () => cpuTimes(pid).selfMs,
      // A lab that died mid-run turns its probes into failures: say why rather than report them.
      async stop() {
        if (died !== null) throw new Error(died);
        await stop(child);
      },
    };
  } catch (err) {
    await stop(child);
    throw err;
  } finally {
    lines.close();
  }
}

/** How late the lab's own delay timers fired since the last call (from inside the lab's namespace). */
export async function labTimerLateness(httpPort: number): Promise<Spread> {
  const res = await fetch(`http://127.0.0.1:${httpPort}${TIMERS_PATH}`);
  return (await res.json()) as Spread;
}
