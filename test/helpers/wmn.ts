/** Runs the built `wmn` CLI as a user would, collecting its log. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const WMN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
export const WMN_BUILT = existsSync(WMN);
export const NOT_BUILT = 'dist/ not built: run `npm run build` (npm test does)';

export interface RunningWmn {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  log(): string;
  /** Resolves once the log holds `count` lines matching `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, count?: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function countLines(log: string, pattern: RegExp): number {
  return log.split('\n').filter((line) => pattern.test(line)).length;
}

/**
 * Starts `wmn run --config FILE` with `env` added to this process's environment. Its web listener takes
 * a free port (tests run side by side) unless `env` says otherwise.
 */
export function startWmn(configFile: string, env: NodeJS.ProcessEnv = {}): RunningWmn {
  const child = spawn(process.execPath, [WMN, 'run', '--config', configFile], {
    env: { ...process.env, WMN_WEB_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const listeners = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    for (const check of listeners) check();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    log: () => log,
    waitFor(pattern, count = 1, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          listeners.delete(check);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (countLines(log, pattern) >= count) done();
        };
        const timer = setTimeout(
          () => done(new Error(`fewer than ${count} lines like ${pattern}:\n${log}`)),
          timeoutMs,
        );
        listeners.add(check);
        exited.then(() => done(new Error(`wmn exited while waiting for ${pattern}:\n${log}`)));
        check();
      });
    },
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A source URI, or a source with options (`{ url, ca_file: '/path/ca.pem' }`), as the config file takes it. */
export type SourceEntry =
  | string
  | { readonly url: string; readonly [option: string]: string | number | boolean };

/** A `sources:` entry as YAML lines (values as JSON, which YAML reads as they are). */
function sourceLines(entry: SourceEntry): string[] {
  if (typeof entry === 'string') return [`  - ${entry}`];
  const { url, ...options } = entry;
  return [
    `  - url: ${JSON.stringify(url)}`,
    ...Object.entries(options).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
  ];
}

/**
 * Writes `<dir>/<name>.yaml`: an agent (named `agent`, default `name`) probing `sources` with the http
 * engine, its state in `<dir>/<name>`, then `lines` as further keys. Resolves with the file's path.
 */
export async function writeAgentConfig(
  dir: string,
  name: string,
  opts: {
    readonly agent?: string;
    readonly sources: readonly SourceEntry[];
    readonly lines?: readonly string[];
  },
): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const body = [
    `agent: ${opts.agent ?? name}`,
    'engine: http',
    'sources:',
    ...opts.sources.flatMap(sourceLines),
    `data_dir: ${join(dir, name)}`,
    ...(opts.lines ?? []),
  ];
  await writeFile(file, `${body.join('\n')}\n`);
  return file;
}

/** The web listener's base URL, from the line `wmn run` logs once it listens. */
export async function webUrl(agent: RunningWmn): Promise<string> {
  const listening = /msg="web dashboard and \/metrics listening" url=(\S+)/;
  await agent.waitFor(listening, 1, 30_000);
  const url = listening.exec(agent.log())?.[1];
  if (!url) throw new Error(`no listener URL in the log:\n${agent.log()}`);
  return url;
}
