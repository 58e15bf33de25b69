/**
 * Probes one icmp:// host once and prints `{ result, elapsedMs }` as JSON: how tests run the icmp prober
 * inside a lab network namespace, as another user, or with a PATH that lacks fping. elapsedMs is the
 * probe's wall time as its caller sees it, to check the hard deadline.
 *
 *   node --import tsx test/lab/probe-icmp-once.ts HOST [--family 4|6] [--count N] [--timeout MS]
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { probeIcmp } from '../../src/probes/icmp.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    family: { type: 'string' },
    count: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '1000' },
  },
});
const [host] = positionals;
if (positionals.length !== 1 || !host || (values.family !== undefined && !/^[46]$/.test(values.family))) {
  process.stderr.write('usage: probe-icmp-once.ts HOST [--family 4|6] [--count N] [--timeout MS]\n');
  process.exit(2);
}
const family = values.family === undefined ? null : (Number(values.family) as 4 | 6);
const started = performance.now();
const result = await probeIcmp(
  { kind: 'icmp', uri: `icmp://${isIP(host) === 6 ? `[${host}]` : host}`, host, family },
  { timeoutMs: Number(values.timeout), count: Number(values.count) },
  { signal: new AbortController().signal, clock: performance },
);
const elapsedMs = performance.now() - started;
process.stdout.write(`${JSON.stringify({ result, elapsedMs })}\n`);
