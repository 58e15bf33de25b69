/**
 * `wmn check` as a person reads it: one probe of each kind against the lab, drawn with its phases,
 * echo replies, certificate expiry and, for several sources, the cycle's diagnosis; and the same
 * probes as --json rows. Real servers on loopback, real curl and fping, the built CLI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import type { MetricRow } from '../src/row.js';
import { need } from './helpers/env.js';
import { NOT_BUILT, WMN, WMN_BUILT } from './helpers/wmn.js';
import { type Lab, startLab } from './lab/index.js';

const run = promisify(execFile);
let lab: Lab | undefined;
let labError = '';

before(async () => {
  try {
    lab = await startLab();
  } catch (err) {
    labError = String(err);
  }
});
after(() => lab?.close());

function ready(t: TestContext): Lab | undefined {
  if (!need(t, WMN_BUILT, NOT_BUILT)) return undefined;
  if (!need(t, lab !== undefined, `the lab needs the openssl CLI to make its CA: ${labError}`))
    return undefined;
  return lab;
}

/** Runs `wmn check` with `args`; resolves with its exit code and stdout. */
async function check(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    return { code: 0, stdout: (await run(process.execPath, [WMN, 'check', ...args])).stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '' };
  }
}

describe('wmn check', () => {
  test('draws each kind of probe, with replies, certificate and diagnosis', async (t) => {
    const l = ready(t);
    if (!l) return;
    const tcp = `tcp://127.0.0.1:${new URL(l.url('http')).port}`;
    const https = l.url('https', '/ok');
    const { code, stdout } = await check([
      '--ca-file',
      l.caFile,
      '--count',
      '3',
      https,
      'icmp://127.0.0.1',
      tcp,
    ]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /HTTP 200/);
    // The lab's certificates are made for 30 days.
    assert.match(stdout, /Certificate\s+expires \d{4}-\d\d-\d\d \((29|30) days\)/);
    assert.match(stdout, /icmp:\/\/127\.0\.0\.1\s+OK/);
    assert.match(stdout, /Replies\s+3\/3 \(0% loss\), min\/avg\/max /);
    assert.match(stdout, new RegExp(`${tcp.replace(/[/.]/g, '\\$&')}\\s+OK`));
    assert.match(stdout, /TCP connect/);
    assert.match(stdout, /^Diagnosis: OK$/m);
  });

  test('prints the rows of a failing cycle, with its diagnosis, and exits 1', async (t) => {
    const l = ready(t);
    if (!l) return;
    const closed = l.url('closed');
    const { code, stdout } = await check(['--json', '--timeout', '500ms', closed, 'icmp://127.0.0.1']);
    assert.equal(code, 1, stdout);
    const rows = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as MetricRow);
    assert.deepEqual(
      rows.map((r) => [r.source, r.layer, r.error, r.diagnosis]),
      [
        [closed, 'internet', 'refused', 'partial'],
        ['icmp://127.0.0.1', 'internet', null, 'partial'],
      ],
    );
    assert.equal(rows[1]?.rtt_ms?.length, 1);
  });
});
