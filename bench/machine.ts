/** The machine and the versions a result was measured with, recorded with every results file. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { TEST_PG_URL } from '../test/helpers/env.js';
import { withClient } from '../test/helpers/pg.js';

const run = promisify(execFile);

export const BLACKBOX_BIN = 'prometheus-blackbox-exporter';

export interface Machine {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly kernel: string;
  readonly distribution: string | null;
  readonly node: string;
  readonly curl: string | null;
  readonly postgresServer: string | null;
  readonly blackboxExporter: string | null;
  readonly loadAverage: { readonly before: readonly number[]; after?: readonly number[] };
}

export async function describeMachine(): Promise<Machine> {
  return {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    distribution: distribution(),
    node: process.version,
    curl: await firstLine('curl', ['--version']),
    postgresServer: await withClient({ connectionString: TEST_PG_URL }, async (c) => {
      const { rows } = await c.query<{ v: string }>('SELECT version() AS v');
      return rows[0]?.v ?? null;
    }).catch(() => null),
    blackboxExporter: await firstLine(BLACKBOX_BIN, ['--version']),
    loadAverage: { before: loadavg().map(round2) },
  };
}

export function loadNow(): number[] {
  return loadavg().map(round2);
}

/** The first line a tool prints about its version (some print it on stderr), or null without the tool. */
async function firstLine(bin: string, args: string[]): Promise<string | null> {
  try {
    const { stdout, stderr } = await run(bin, args);
    return (stdout || stderr).split('\n')[0]?.trim() ?? null;
  } catch {
    return null;
  }
}

function distribution(): string | null {
  try {
    return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
