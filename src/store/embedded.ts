/**
 * Embedded PostgreSQL: a real PostgreSQL server wmn initialises, starts and stops itself in
 * `<dataDir>/postgres`, listening on a unix socket in a private directory (and on 127.0.0.1 with a
 * password when a port is configured).
 *
 * The server outlives a killed wmn (pg_ctl detaches it). Whoever owns the cluster holds a session
 * advisory lock on it, which PostgreSQL releases when the owner's connection dies: so the next wmn can
 * tell a server left behind (adopt it, or restart it if the settings changed) from one another live wmn
 * is using (refuse, clearly).
 */
import { randomBytes } from 'node:crypto';
import { appendFile, chown, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.js';
import { describeEmbedded } from './describe.js';
import {
  accessHint,
  type Binaries,
  exists,
  findBinaries,
  type Layout,
  layoutFor,
  prepareDirectories,
  type RunAs,
  readIfExists,
  runAsUser,
  runTool,
  type ToolResult,
} from './embedded-setup.js';
import { type StoreDescription, StoreError } from './types.js';

/** Options of {@link startEmbedded}. */
export interface EmbeddedOptions {
  /** wmn's state directory; the cluster lives in `<dataDir>/postgres`. */
  readonly dataDir: string;
  /** Also listen on 127.0.0.1:port with a password (Grafana, psql over TCP); null: unix socket only. */
  readonly port: number | null;
  readonly log: Logger;
  /**
   * For short-lived readers (`wmn report`, `wmn rollup`): when another live wmn owns the running server,
   * use it as a guest (neither owning nor stopping it) instead of refusing.
   */
  readonly guest?: boolean;
}

/** A running embedded server this process owns (or, as a guest, uses). */
export interface EmbeddedServer {
  readonly socketDir: string;
  readonly port: number;
  /** The `wmn` role's password for TCP clients (mode 0600); null when there is no port. */
  readonly passwordFile: string | null;
  readonly describe: StoreDescription;
  /** How `pg` reaches `database` (default: wmn's) over the unix socket. */
  connection(database?: string): pg.ClientConfig;
  /** Stops the server cleanly (pg_ctl stop -m fast); later calls return the same promise. */
  stop(): Promise<void>;
}

const SUPERUSER = 'wmn';
const DATABASE = 'wmn';
/** Session advisory lock that marks the owner of a cluster ('wmnO'). */
const OWNER_LOCK = 0x776d6e4f;
/** How long to wait for the lock: covers the moment a killed owner's backend takes to exit. */
const OWNER_WAIT_MS = 2_000;
const PG_CTL_WAIT_S = '60';
// Trust on the socket (its directory is 0700), passwords over TCP. C collation: the same sort order on
// every machine, and no dependency on the locales the host has installed.
const INITDB_OPTIONS = [
  '-U',
  SUPERUSER,
  '-E',
  'UTF8',
  '--locale=C',
  '--auth-local=trust',
  '--auth-host=scram-sha-256',
  '--no-instructions',
];

/** Initialises the cluster if needed, then starts the server or adopts one left running, and owns it. */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const began = performance.now();
  const bins = await findBinaries();
  const layout = layoutFor(opts.dataDir, opts.port, opts.log);
  const runAs = await runAsUser(layout.pgdata);
  await prepareDirectories(layout, runAs, opts.log);
  if (!(await exists(join(layout.pgdata, 'PG_VERSION')))) await initCluster(bins, layout, runAs, opts.log);
  if (opts.guest) {
    const running = await runningServer(layout.pgdata);
    if (running && (await ownedByAnother(running))) return guestOf(layout, running);
  }
  const owner = await startOrAdopt(bins, layout, runAs, opts.log);
  const server = ownedServer(bins, layout, runAs, owner, opts.log);
  try {
    await ensureDatabase(owner);
    if (layout.tcp) await ensurePassword(owner, layout.passwordFile);
  } catch (err) {
    await server
      .stop()
      .catch((stopErr: unknown) => opts.log.error('embedded PostgreSQL stop failed', { error: stopErr }));
    throw new StoreError('embedded', 'cannot prepare the embedded database', { cause: err });
  }
  opts.log.info('embedded PostgreSQL ready', {
    ms: Math.round(performance.now() - began),
    socket_dir: layout.socketDir,
    tcp: layout.tcp ? `127.0.0.1:${layout.port}` : undefined,
    password_file: server.passwordFile ?? undefined,
  });
  return server;
}

function ownedServer(
  bins: Binaries,
  layout: Layout,
  runAs: RunAs | null,
  owner: pg.Client,
  log: Logger,
): EmbeddedServer {
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    await owner.end();
    await stopServer(bins, layout, runAs);
    log.info('embedded PostgreSQL stopped', { dir: layout.pgdata });
  };
  return {
    socketDir: layout.socketDir,
    port: layout.port,
    passwordFile: layout.tcp ? layout.passwordFile : null,
    describe: describeEmbedded({ ...layout, user: SUPERUSER, database: DATABASE }),
    connection: (database = DATABASE): pg.ClientConfig => ({
      host: layout.socketDir,
      port: layout.port,
      user: SUPERUSER,
      database,
    }),
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
  };
}

/** Whether a live wmn holds the owner's lock on the running server. */
async function ownedByAnother(running: Postmaster): Promise<boolean> {
  const client = new pg.Client({
    host: running.socketDir,
    port: running.port,
    user: SUPERUSER,
    database: 'postgres',
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
    // A bigint key below 2^32 is recorded as classid 0, objid = key.
    const { rows } = await client.query<{ owned: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                        AND classid = 0 AND objid = $1 AND objsubid = 1) AS owned`,
      [OWNER_LOCK],
    );
    return rows[0]?.owned === true;
  } catch {
    return false; // not answering as expected: let the owner's path explain what is wrong
  } finally {
    await client.end().catch(() => {});
  }
}

/** The server another wmn owns, used as it is: stopping a guest leaves the server running. */
function guestOf(layout: Layout, running: Postmaster): EmbeddedServer {
  return {
    socketDir: running.socketDir,
    port: running.port,
    passwordFile: layout.tcp ? layout.passwordFile : null,
    describe: describeEmbedded({
      ...layout,
      socketDir: running.socketDir,
      user: SUPERUSER,
      database: DATABASE,
    }),
    connection: (database = DATABASE): pg.ClientConfig => ({
      host: running.socketDir,
      port: running.port,
      user: SUPERUSER,
      database,
    }),
    stop: () => Promise.resolve(),
  };
}

async function initCluster(bins: Binaries, layout: Layout, runAs: RunAs | null, log: Logger): Promise<void> {
  const began = performance.now();
  const result = await runTool(bins.initdb, ['-D', layout.pgdata, ...INITDB_OPTIONS], runAs);
  if (result.code !== 0) throw await toolError('initdb', result, layout, runAs);
  log.info('embedded PostgreSQL initialised', {
    dir: layout.pgdata,
    ms: Math.round(performance.now() - began),
  });
}

/**
 * Writes wmn's server settings to `wmn.conf` (included from postgresql.conf, which stays the user's)
 * and says whether they differ from the last start's.
 */
async function writeSettings(layout: Layout, runAs: RunAs | null): Promise<boolean> {
  const mainConf = join(layout.pgdata, 'postgresql.conf');
  // Checked at every start rather than once after initdb, so a crash in between cannot leave a cluster
  // that would start on PostgreSQL's default TCP port.
  if (!(await readIfExists(mainConf))?.includes("include 'wmn.conf'")) {
    await appendFile(mainConf, "\n# wmn's settings, rewritten at every start\ninclude 'wmn.conf'\n");
  }
  const file = join(layout.pgdata, 'wmn.conf');
  const settings = serverSettings(layout);
  if ((await readIfExists(file)) === settings) return false;
  await writeFile(file, settings, { mode: 0o600 });
  if (runAs) await chown(file, runAs.uid, runAs.gid);
  return true;
}

function serverSettings(layout: Layout): string {
  return [
    "# Written by wmn at every start of its embedded server: change wmn's configuration, not this file.",
    `listen_addresses = ${confString(layout.tcp ? '127.0.0.1' : '')}`,
    `port = ${layout.port}`,
    `unix_socket_directories = ${confString(layout.socketDir)}`,
    'unix_socket_permissions = 0700',
    // A monitor needs a handful of connections; fewer slots mean less shared memory.
    'max_connections = 20',
    // One log file per weekday in pgdata/log, overwritten a week later: bounded however long wmn runs.
    'logging_collector = on',
    "log_directory = 'log'",
    "log_filename = 'postgresql-%a.log'",
    'log_rotation_age = 1d',
    'log_rotation_size = 0',
    'log_truncate_on_rotation = on',
    '',
  ].join('\n');
}

function confString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * Starts the server, or takes over the one a killed wmn left running (restarting it if wmn's settings
 * changed since); returns the owner's connection. Settings are written only once ownership is certain,
 * so a refused second wmn never touches the running server's configuration.
 */
async function startOrAdopt(
  bins: Binaries,
  layout: Layout,
  runAs: RunAs | null,
  log: Logger,
): Promise<pg.Client> {
  const running = await runningServer(layout.pgdata);
  const leftOver = running ? await takeOwnership(layout, running, log) : null;
  const settingsChanged = await writeSettings(layout, runAs);
  if (running && leftOver) {
    if (!settingsChanged) {
      log.warn('adopted the embedded PostgreSQL server an earlier wmn left running', { pid: running.pid });
      return leftOver;
    }
    log.warn('restarting the embedded PostgreSQL server an earlier wmn left running, for new settings', {
      pid: running.pid,
    });
    await leftOver.end();
    await stopServer(bins, layout, runAs);
  }
  await startServer(bins, layout, runAs);
  return takeOwnership(layout, layout, log);
}

interface Postmaster {
  readonly pid: number;
  readonly port: number;
  readonly socketDir: string;
}

/**
 * The server postmaster.pid describes, if its process is alive. A stale file (the machine crashed, or
 * the server was killed) reads as no server: PostgreSQL itself replaces it at start.
 */
async function runningServer(pgdata: string): Promise<Postmaster | null> {
  const text = await readIfExists(join(pgdata, 'postmaster.pid'));
  if (!text) return null;
  // Lines: pid, data directory, start time, port, first socket directory, listen address, shmem key, status.
  const [pid, , , port, socketDir] = text.split('\n');
  const server = { pid: Number(pid), port: Number(port), socketDir: socketDir ?? '' };
  return isAlive(server.pid) ? server : null;
}

/** The liveness test PostgreSQL applies to its own lock file: a process we may not signal is not ours. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Connects to the server and takes the owner's lock, waiting briefly for a killed owner's session to end. */
async function takeOwnership(
  layout: Layout,
  where: { readonly socketDir: string; readonly port: number; readonly pid?: number },
  log: Logger,
): Promise<pg.Client> {
  const owner = new pg.Client({
    host: where.socketDir,
    port: where.port,
    user: SUPERUSER,
    database: 'postgres',
    application_name: 'wmn (embedded server owner)',
    connectionTimeoutMillis: 10_000,
    lock_timeout: OWNER_WAIT_MS,
  });
  owner.on('error', (err) => log.error('lost the connection that owns the embedded server', { error: err }));
  try {
    await owner.connect();
  } catch (err) {
    // A live pid that is not PostgreSQL (reused after a crash) would also refuse a start: say which file lies.
    const stale = where.pid
      ? ` (postmaster.pid names pid ${where.pid}: if that is not PostgreSQL, delete the file)`
      : '';
    throw new StoreError('embedded', `cannot connect to the embedded server in ${where.socketDir}${stale}`, {
      cause: err,
    });
  }
  try {
    await owner.query('SELECT pg_advisory_lock($1)', [OWNER_LOCK]);
    return owner;
  } catch (err) {
    await owner.end();
    const inUse = (err as { code?: unknown }).code === '55P03';
    const message = inUse
      ? `the embedded database in ${layout.pgdata} is in use by another running wmn: stop it, or give this one another data_dir`
      : `cannot take ownership of the embedded server in ${layout.pgdata}`;
    throw new StoreError('embedded', message, { cause: err });
  }
}

async function startServer(bins: Binaries, layout: Layout, runAs: RunAs | null): Promise<void> {
  // The log explains a failed start; empty it so it explains this one.
  await truncate(layout.startupLog).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const args = ['start', '-w', '-t', PG_CTL_WAIT_S, '-D', layout.pgdata, '-l', layout.startupLog];
  const result = await runTool(bins.pg_ctl, args, runAs);
  if (result.code !== 0) {
    const serverLog = `${(await readIfExists(layout.startupLog)) ?? ''}\n${await collectorLogTail(layout.pgdata)}`;
    throw await toolError(
      'pg_ctl start',
      { ...result, output: `${result.output}\n${serverLog}` },
      layout,
      runAs,
    );
  }
}

/** The end of the logging collector's newest file: it starts before the server binds its sockets. */
async function collectorLogTail(pgdata: string): Promise<string> {
  const dir = join(pgdata, 'log');
  // Diagnostics for an error already being raised: no log directory just means no more to tell.
  const files = await readdir(dir).catch(() => []);
  const dated = await Promise.all(
    files.map(async (file) => ({ file, mtime: (await stat(join(dir, file))).mtimeMs })),
  );
  const newest = dated.sort((a, b) => b.mtime - a.mtime)[0];
  return newest ? ((await readIfExists(join(dir, newest.file))) ?? '').split('\n').slice(-8).join('\n') : '';
}

async function stopServer(bins: Binaries, layout: Layout, runAs: RunAs | null): Promise<void> {
  const args = ['stop', '-w', '-t', PG_CTL_WAIT_S, '-m', 'fast', '-D', layout.pgdata];
  const result = await runTool(bins.pg_ctl, args, runAs);
  if (result.code !== 0) throw await toolError('pg_ctl stop', result, layout, runAs);
}

async function ensureDatabase(owner: pg.Client): Promise<void> {
  const found = await owner.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  if (found.rowCount === 0) await owner.query(`CREATE DATABASE ${DATABASE}`);
}

/** Sets the role's password from its file, creating the file (0600) on first use; edit it to choose one. */
async function ensurePassword(owner: pg.Client, file: string): Promise<void> {
  let password = (await readIfExists(file))?.trim();
  if (!password) {
    password = randomBytes(24).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
  }
  // ALTER ROLE takes no bind parameters: the client escapes the literal.
  await owner.query(`ALTER ROLE ${SUPERUSER} PASSWORD ${owner.escapeLiteral(password)}`);
}

async function toolError(
  tool: string,
  result: ToolResult,
  layout: Layout,
  runAs: RunAs | null,
): Promise<StoreError> {
  const output = result.output.trim().split('\n').slice(-12).join('\n');
  const hint = runAs && /permission denied/i.test(output) ? await accessHint(runAs, [layout.pgdata]) : '';
  return new StoreError('embedded', `${tool} failed (exit code ${result.code})${hint}:\n${output}`);
}
