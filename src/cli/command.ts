/** The shape every `wmn` sub-command has, so main.ts can route, parse and document them uniformly. */
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

export interface Command {
  /** Words that select it, e.g. ['config', 'check']. */
  readonly path: readonly string[];
  readonly usage: string;
  readonly summary: string;
  /** Option lines for --help, already aligned. */
  readonly help: string;
  readonly options: OptionSpec;
  /** Resolves with the process exit code. */
  run(args: ParsedArgs): Promise<number>;
}

/** Exit codes: 0 fine, 1 a runtime failure (or a probe that failed, for `check`), 2 bad usage or config. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export class UsageError extends Error {
  readonly code = 'usage';
}

export function stringOpt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}
