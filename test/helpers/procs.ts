/** Processes read from /proc: the probers and the agent have no hook for who they spawned, and need none. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ChildProc {
  readonly pid: number;
  /** The command name (at most 15 characters, as the kernel keeps it). */
  readonly comm: string;
  /** `Z` for a zombie: exited, not yet reaped. */
  readonly state: string;
}

/** The children of `parent` right now, zombies included. */
export function childrenOf(parent: number): ChildProc[] {
  const found: ChildProc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid …; comm may hold spaces and parentheses, hence the last ')'.
    const close = stat.lastIndexOf(')');
    const [state = '', ppid] = stat.slice(close + 2).split(' ');
    if (Number(ppid) !== parent) continue;
    found.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, close), state });
  }
  return found;
}
