/**
 * Runs the lab as its own process, for tests that need it inside a network namespace (where its DNS
 * server is the namespace's resolver): `node --import tsx test/lab/serve.ts [--dns-port 53]`.
 * Prints one JSON line `{ "ports": {...}, "caFile": "..." }` once everything listens, then serves until
 * SIGTERM/SIGINT or until its stdin closes (so it never outlives the test that spawned it).
 */
import { parseArgs } from 'node:util';
import { startLab } from './index.js';

const { values } = parseArgs({ options: { 'dns-port': { type: 'string', default: '0' } } });
const lab = await startLab({ dnsPort: Number(values['dns-port']) });
process.stdout.write(`${JSON.stringify({ ports: lab.ports, caFile: lab.caFile })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await lab.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop).resume();
