/**
 * Probes one URL once with one engine and prints the ProbeResult as JSON: how tests run an engine inside
 * a lab network namespace, where the system resolver is the lab's DNS server.
 *
 *   node --import tsx test/lab/probe-once.ts ENGINE URL [--insecure | --ca FILE] [--timeout MS] [--family 4|6]
 */
import { parseArgs } from 'node:util';
import { ENGINES } from '../../src/probes/index.js';
import type { Engine } from '../../src/probes/types.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    insecure: { type: 'boolean', default: false },
    ca: { type: 'string' },
    timeout: { type: 'string', default: '2000' },
    family: { type: 'string' },
  },
});
const [engine, raw] = positionals;
const family = values.family === '4' ? 4 : values.family === '6' ? 6 : null;
if (
  positionals.length !== 2 ||
  !engine ||
  !raw ||
  !Object.hasOwn(ENGINES, engine) ||
  (values.family !== undefined && family === null)
) {
  process.stderr.write(
    `usage: probe-once.ts (${Object.keys(ENGINES).join('|')}) URL [--insecure | --ca FILE] [--timeout MS] [--family 4|6]\n`,
  );
  process.exit(2);
}
const url = new URL(raw);
const result = await ENGINES[engine as Engine](
  { kind: 'http', uri: url.href, url, family },
  {
    timeoutMs: Number(values.timeout),
    followRedirects: true,
    maxRedirects: 10,
    insecure: values.insecure,
    ...(values.ca ? { caFile: values.ca } : {}),
  },
  { signal: new AbortController().signal, clock: performance },
);
process.stdout.write(`${JSON.stringify(result)}\n`);
