/** The shape every `wmn` sub-command has, so main.ts can route, parse and document them uniformly. */
import type { ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { createLogger, type Logger } from '../log.js';
import { openStore, type Store } from '../store/index.js';

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

/** The `--config FILE` option shared by the commands that read a configuration. */
export const CONFIG_OPTION = {
  help: '  -c, --config FILE   YAML config (default: $WMN_CONFIG, else built-in defaults)',
  options: { config: { type: 'string', short: 'c' } } satisfies OptionSpec,
} as const;

/** Loads the configuration named by `--config` (or $WMN_CONFIG, or the defaults). */
export function loadConfigFrom(args: ParsedArgs): Promise<Config> {
  return loadConfig({ file: stringOpt(args, 'config'), env: process.env });
}

/** The configuration, a logger at its level, and the store it names: where `run` and `migrate` start. */
export async function openConfigured(
  args: ParsedArgs,
  /** guest: see OpenStoreOptions; quiet: log warnings only (unless the config asks for debug). */
  opts: { readonly guest?: boolean; readonly quiet?: boolean } = {},
): Promise<{ config: Config; log: Logger; store: Store }> {
  const config = await loadConfigFrom(args);
  const quiet = opts.quiet === true && config.logLevel !== 'debug';
  const log = createLogger({ level: quiet ? 'warn' : config.logLevel });
  const store = await openStore({
    database: config.database,
    dataDir: config.dataDir,
    agent: config.agent,
    log,
    guest: opts.guest,
  });
  return { config, log, store };
}
