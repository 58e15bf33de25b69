/**
 * The benchmark's lab as its own process, so its CPU is never counted as the engines' and its event loop
 * never delays theirs: `node --import tsx bench/lab-server.ts '{"handshakeDelays":[5,50],"dnsPort":0}'`.
 * Prints one JSON line ({@link BenchLabPorts}) once everything listens, then serves until SIGTERM or
 * until its stdin closes (so it never outlives the benchmark).
 */
import { startPreciseLab } from './lab-precise.js';

export interface LabServerInput {
  readonly handshakeDelays: readonly number[];
  /** 0: any free port; 53 inside a network namespace, where it becomes the system resolver. */
  readonly dnsPort: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as LabServerInput;
const lab = await startPreciseLab(input.handshakeDelays ?? [], input.dnsPort ?? 0);
process.stdout.write(`${JSON.stringify(lab.ports)}\n`);

let stopping = false;
const stopLab = async () => {
  if (stopping) return;
  stopping = true;
  await lab.close();
  process.exit(0);
};
process.on('SIGTERM', stopLab);
process.on('SIGINT', stopLab);
process.stdin.on('end', stopLab).resume();
