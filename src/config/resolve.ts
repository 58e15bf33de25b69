/**
 * From a validated file and the environment to the {@link Config} the rest of wmn sees: overrides win,
 * then the defaults that depend on the host or on other keys, then the files the configuration names
 * (password, CA bundles) are read and checked. Relative paths in the file are relative to the file.
 */
import { isAbsolute, join } from 'node:path';
import { resolveAlerts } from './alerts-resolve.js';
import type { Checked } from './checked.js';
import { withPassword } from './database.js';
import type { Environment, EnvOverrides } from './env.js';
import { besideFile, readSecret, report } from './files.js';
import type { ConfigHost } from './host.js';
import type { Validated } from './issues.js';
import { resolveSources } from './resolve-sources.js';
import { type ConfigFile, checkAgentName } from './schema.js';
import type { Config, ConfigIssue, DatabaseConfig, WebConfig } from './types.js';

export interface ResolveContext {
  /** The configuration file, or null when there is none. */
  readonly file: string | null;
  readonly env: Environment;
  readonly host: ConfigHost;
}

/** Resolves `settings` into a {@link Config}, or every problem found on the way. */
export function resolve(
  settings: ConfigFile,
  overrides: EnvOverrides,
  ctx: ResolveContext,
): Validated<Config> {
  // Each step reports into `issues` and returns a stand-in on failure; nothing escapes unless all is well.
  const issues: ConfigIssue[] = [];
  const config: Config = {
    agent: resolveAgent(settings, overrides, ctx.host, issues),
    intervalMs: settings.interval,
    timeoutMs: settings.timeout,
    engine: settings.engine,
    sources: resolveSources(settings, ctx, issues),
    spread: settings.spread,
    database: resolveDatabase(settings.database, overrides, ctx, issues),
    dataDir: resolveDataDir(settings, overrides, ctx),
    spoolMaxBytes: settings.spool.max_size,
    web: resolveWeb(settings.web, overrides, ctx, issues),
    alerts:
      settings.alerts === undefined ? null : resolveAlerts(settings.alerts, settings.interval, ctx, issues),
    rawRetentionMs: settings.retention.raw ?? null,
    logLevel: overrides.logLevel ?? settings.log.level,
  };
  return issues.length === 0 ? { ok: true, value: config } : { ok: false, issues };
}

function resolveAgent(
  settings: ConfigFile,
  overrides: EnvOverrides,
  host: ConfigHost,
  issues: ConfigIssue[],
): string {
  const chosen = overrides.agent ?? settings.agent;
  if (chosen !== undefined) return chosen;
  const name = host.hostname();
  const checked = checkAgentName(name);
  if (!checked.ok) {
    issues.push({ path: 'agent', message: `the host name ${checked.message}; set agent or WMN_AGENT` });
  }
  return name;
}

function resolveDatabase(
  database: ConfigFile['database'],
  overrides: EnvOverrides,
  ctx: ResolveContext,
  issues: ConfigIssue[],
): DatabaseConfig {
  const url = overrides.databaseUrl ?? database.url ?? null;
  const embeddedPort = database.embedded_port ?? null;
  const passwordFile = findPasswordFile(database, overrides, ctx.file);
  if (passwordFile === undefined) return { url, embeddedPort };
  return { url: addPassword(url, passwordFile, ctx.host, issues), embeddedPort };
}

interface PasswordFile {
  /** The key or variable that named the file, for messages. */
  readonly key: string;
  readonly path: string;
}

function findPasswordFile(
  database: ConfigFile['database'],
  overrides: EnvOverrides,
  file: string | null,
): PasswordFile | undefined {
  if (overrides.passwordFile !== undefined) {
    return { key: 'WMN_DATABASE_PASSWORD_FILE', path: overrides.passwordFile };
  }
  if (database.password_file !== undefined) {
    return { key: 'database.password_file', path: besideFile(file, database.password_file) };
  }
  return undefined;
}

function addPassword(
  url: string | null,
  { key, path }: PasswordFile,
  host: ConfigHost,
  issues: ConfigIssue[],
): string | null {
  if (url === null) {
    const message =
      'a password file needs a database URL (database.url or DATABASE_URL); the embedded server uses none';
    issues.push({ path: key, message });
    return null;
  }
  const password = report(issues, key, readSecret(path, host));
  return password === undefined ? url : (report(issues, key, withPassword(url, password)) ?? url);
}

function resolveDataDir(settings: ConfigFile, overrides: EnvOverrides, ctx: ResolveContext): string {
  if (overrides.dataDir !== undefined) return overrides.dataDir;
  if (settings.data_dir !== undefined) return besideFile(ctx.file, settings.data_dir);
  if (ctx.host.isRoot()) return '/var/lib/wmn';
  const xdg = ctx.env.XDG_STATE_HOME;
  // The XDG base directory spec says a relative path there is invalid and must be ignored.
  return xdg && isAbsolute(xdg) ? join(xdg, 'wmn') : join(ctx.host.homedir(), '.local', 'state', 'wmn');
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

function resolveWeb(
  web: ConfigFile['web'],
  overrides: EnvOverrides,
  ctx: ResolveContext,
  issues: ConfigIssue[],
): WebConfig | null {
  if (!web.enabled) return null;
  const { host, port } = overrides.webListen ?? web.listen;
  if (web.token_file === undefined) {
    if (!LOOPBACK.test(host)) {
      const message = `${host || 'every address'} is reachable from other machines: set web.token_file (a file holding a token), or listen on 127.0.0.1`;
      issues.push({ path: 'web.listen', message });
    }
    return { host, port, token: null };
  }
  const token = report(issues, 'web.token_file', readToken(besideFile(ctx.file, web.token_file), ctx.host));
  return { host, port, token: token ?? null };
}

/** A token shorter than 16 characters can be guessed; the check is the one place that says so. */
function readToken(path: string, host: ConfigHost): Checked<string> {
  const read = readSecret(path, host);
  if (!read.ok) return read;
  return read.value.length < 16
    ? {
        ok: false,
        message: `${path} holds a token of ${read.value.length} characters; use at least 16 (e.g. openssl rand -hex 16)`,
      }
    : read;
}
