/**
 * What a configuration depends on beyond its text and environment: the host's name, whether wmn runs as
 * root, the home directory, and the files it names. Passed in, so loading is deterministic under test.
 */
import { readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';

export interface ConfigHost {
  /** The default agent name. */
  hostname(): string;
  /** As root, state lives in /var/lib/wmn; otherwise in the user's XDG state directory. */
  isRoot(): boolean;
  homedir(): string;
  /** Reads a file the configuration names (password file, CA bundle); throws as `readFileSync` does. */
  readFile(path: string): string;
}

/** The machine wmn runs on. */
export const systemHost: ConfigHost = {
  hostname,
  isRoot: () => process.getuid?.() === 0,
  homedir,
  readFile: (path) => readFileSync(path, 'utf8'),
};

/** Why a file could not be read, in words (`no such file`), without a stack. */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
