/**
 * CPU time and memory from the OS (/proc), for processes the benchmark did not write: curl children,
 * the lab, blackbox_exporter. Times are in clock ticks of 1/CLK_TCK s (10 ms on Linux), so a figure per
 * probe needs hundreds of probes to be worth quoting.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export interface CpuTimes {
  /** user + system time of the process itself, ms. */
  readonly selfMs: number;
  /** user + system time of its reaped children (cutime + cstime), ms. */
  readonly childrenMs: number;
}

/** CPU times of `pid` ('self' for this process), from /proc/<pid>/stat. */
export function cpuTimes(pid: number | 'self'): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (index: number) => Number(fields[index - 3]);
  const ms = (n: number) => (n * 1000) / CLK_TCK;
  return { selfMs: ms(ticks(14) + ticks(15)), childrenMs: ms(ticks(16) + ticks(17)) };
}

/** Resident memory of `pid` now and at its peak (VmRSS, VmHWM), MB. */
export function memory(pid: number | 'self'): { readonly rssMb: number; readonly peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}
