/** The resolved configuration: what the rest of wmn sees after parse → defaults → validate. */
import type { LogLevel } from '../log.js';
import type { Engine, HttpProbeOptions, Source } from '../probes/types.js';

export interface SourceConfig {
  readonly source: Source;
  readonly engine: Engine;
  readonly options: HttpProbeOptions;
  /** When to start within each cycle, ms after the tick (set by `spread`); absent or 0: at the tick. */
  readonly offsetMs?: number;
}

export interface DatabaseConfig {
  /** A PostgreSQL server URL (from DATABASE_URL or `database.url`), or null for the embedded server. */
  readonly url: string | null;
  /** Embedded server only: also listen on 127.0.0.1:port (for Grafana/psql over TCP); null = socket only. */
  readonly embeddedPort: number | null;
}

export interface WebConfig {
  /** Listen address ('' or '::' or '0.0.0.0': every address) and port (0: a free one). */
  readonly host: string;
  readonly port: number;
  /** Required from clients when set (always set for a non-loopback address). */
  readonly token: string | null;
}

export interface Config {
  /** Vantage point name stored in the `agent` column (default: host name). */
  readonly agent: string;
  readonly intervalMs: number;
  /** Default probe deadline; may exceed the interval (cycles then overlap). */
  readonly timeoutMs: number;
  /** Default engine for sources that do not name one. */
  readonly engine: Engine;
  readonly sources: readonly SourceConfig[];
  /** Spread each cycle's probes evenly across the interval instead of starting them all at the tick. */
  readonly spread: boolean;
  readonly database: DatabaseConfig;
  /** State directory: embedded database, spool. */
  readonly dataDir: string;
  /** Bound of the spool's files in bytes; past it the oldest cycles are dropped. */
  readonly spoolMaxBytes: number;
  /** The dashboard and exporter listener, or null when `web.enabled` is false. */
  readonly web: WebConfig | null;
  /** Age past which raw rows are deleted (their rollups stay), or null to keep every row. */
  readonly rawRetentionMs: number | null;
  readonly logLevel: LogLevel;
}

/** A configuration problem, located by its key path (e.g. `sources[1].timeout`). */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly code = 'config';
  constructor(
    readonly file: string | null,
    readonly issues: readonly ConfigIssue[],
    subject = 'configuration',
  ) {
    super(
      `invalid ${subject}${file ? ` in ${file}` : ''}:\n${issues.map((i) => `  - ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}
