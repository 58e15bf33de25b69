/**
 * Environment overrides. Each variable is checked by the same schema as the key it overrides, and its
 * problems are reported under the variable's name. An empty variable counts as unset (systemd's
 * `Environment=NAME=` and templated env files produce them).
 */
import type { z } from 'zod';
import type { LogLevel } from '../log.js';
import { type Validated, validate } from './issues.js';
import { agentSchema, databaseUrlSchema, listenSchema, logLevelSchema, pathSchema } from './schema.js';
import type { ConfigIssue } from './types.js';

/** The process environment, or any stand-in for it. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Settings given by the environment; they win over the file. */
export interface EnvOverrides {
  /** WMN_AGENT */
  readonly agent?: string;
  /** WMN_DATA_DIR */
  readonly dataDir?: string;
  /** WMN_LOG_LEVEL */
  readonly logLevel?: LogLevel;
  /** DATABASE_URL */
  readonly databaseUrl?: string;
  /** WMN_DATABASE_PASSWORD_FILE */
  readonly passwordFile?: string;
  /** WMN_WEB_LISTEN */
  readonly webListen?: { readonly host: string; readonly port: number };
}

/** Reads and checks the overrides in `env`. */
export function readEnv(env: Environment): Validated<EnvOverrides> {
  const issues: ConfigIssue[] = [];
  const read = <S extends z.ZodType>(name: string, schema: S): z.output<S> | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const result = validate(schema, raw, [name]);
    if (result.ok) return result.value;
    issues.push(...result.issues);
    return undefined;
  };
  const overrides: EnvOverrides = {
    agent: read('WMN_AGENT', agentSchema),
    dataDir: read('WMN_DATA_DIR', pathSchema),
    logLevel: read('WMN_LOG_LEVEL', logLevelSchema),
    databaseUrl: read('DATABASE_URL', databaseUrlSchema),
    passwordFile: read('WMN_DATABASE_PASSWORD_FILE', pathSchema),
    webListen: read('WMN_WEB_LISTEN', listenSchema),
  };
  return issues.length === 0 ? { ok: true, value: overrides } : { ok: false, issues };
}
