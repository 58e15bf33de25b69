/**
 * Loading the configuration: parse (YAML) → defaults → validate, strictly, before anything starts. Every
 * problem found is thrown at once as one {@link ConfigError}, each located by its key path.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { type Environment, readEnv } from './env.js';
import { type ConfigHost, readFailure, systemHost } from './host.js';
import { validate } from './issues.js';
import { resolve } from './resolve.js';
import { configFileSchema } from './schema.js';
import { type Config, ConfigError, type ConfigIssue } from './types.js';

export interface LoadOptions {
  /** The YAML file; else `WMN_CONFIG`; with neither, every setting takes its default. */
  readonly file?: string | undefined;
  /** The process environment: WMN_CONFIG, DATABASE_URL, WMN_DATABASE_PASSWORD_FILE, WMN_DATA_DIR, WMN_AGENT, WMN_LOG_LEVEL. */
  readonly env: Environment;
  /** The machine's facts (host name, root, files); tests pass their own. */
  readonly host?: ConfigHost;
}

/**
 * Reads, checks and resolves the configuration.
 * @throws {ConfigError} listing every problem, when the file is unreadable or anything in it or in the
 * environment is wrong.
 */
export async function loadConfig({ file, env, host = systemHost }: LoadOptions): Promise<Config> {
  const path = file || env.WMN_CONFIG || null;
  if (path === null) return parseConfig('', null, env, host);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read the file: ${readFailure(err)}` }]);
  }
  return parseConfig(text, path, env, host);
}

/**
 * Checks and resolves configuration `text` (YAML; empty for all defaults). Deterministic given its
 * arguments: the host's facts and the files the configuration names are read through `host`.
 * @param file where `text` came from: named in the error, and the base of relative paths in it.
 * @throws {ConfigError} listing every problem found.
 */
export function parseConfig(
  text: string,
  file: string | null,
  env: Environment,
  host: ConfigHost = systemHost,
): Config {
  return checkSettings(readYaml(text, file) ?? {}, file, env, host);
}

/**
 * Checks and resolves settings already in memory (the shape of the YAML file), exactly as a file would be:
 * `wmn check` builds its one-shot configuration this way from its arguments.
 * @throws {ConfigError} listing every problem found.
 */
export function checkSettings(
  document: unknown,
  file: string | null,
  env: Environment,
  host: ConfigHost = systemHost,
): Config {
  const settings = validate(configFileSchema, document);
  const overrides = readEnv(env);
  if (!settings.ok || !overrides.ok) {
    throw new ConfigError(file, [
      ...(settings.ok ? [] : settings.issues),
      ...(overrides.ok ? [] : overrides.issues),
    ]);
  }
  const config = resolve(settings.value, overrides.value, { file, env, host });
  if (!config.ok) throw new ConfigError(file, config.issues);
  return config.value;
}

/** The YAML document as plain data (null when empty); syntax errors are thrown with line and column. */
function readYaml(text: string, file: string | null): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  // Warnings (an unknown tag, say) are errors too: a config is either understood exactly or refused.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0)
    throw new ConfigError(
      file,
      problems.map((e) => yamlIssue(e, lineCounter)),
    );
  try {
    return doc.toJS();
  } catch (err) {
    // An alias to an undefined anchor, or too many aliases, only shows when the document is built.
    throw new ConfigError(file, [
      { path: '', message: `YAML error: ${err instanceof Error ? err.message : err}` },
    ]);
  }
}

function yamlIssue(error: YAMLError, lineCounter: LineCounter): ConfigIssue {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  const detail =
    error.code === 'MULTIPLE_DOCS'
      ? 'the file holds more than one YAML document (---); wmn reads one'
      : error.message;
  return { path: '', message: `YAML syntax error at line ${line}, column ${col}: ${detail}` };
}
