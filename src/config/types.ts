/** The resolved configuration: what the rest of wmn sees after parse → defaults → validate. */

import type { Layer } from '../diagnosis/layers.js';
import type { LogLevel } from '../log.js';
import type {
  DnsProbeOptions,
  DnsSource,
  Engine,
  HttpProbeOptions,
  HttpSource,
  IcmpProbeOptions,
  IcmpSource,
  TcpProbeOptions,
  TcpSource,
} from '../probes/types.js';

interface SourceCommon {
  /** Where the source sits on the path out (fault localisation; only some layers decide DOWN). */
  readonly layer: Layer;
  /** When to start within each cycle, ms after the tick (set by `spread`); absent or 0: at the tick. */
  readonly offsetMs?: number;
}

/** One source to probe with its options; `kind` (the source's) picks the prober. */
export type SourceConfig = SourceCommon &
  (
    | {
        readonly kind: 'http';
        readonly source: HttpSource;
        readonly engine: Engine;
        readonly options: HttpProbeOptions;
      }
    | { readonly kind: 'icmp'; readonly source: IcmpSource; readonly options: IcmpProbeOptions }
    | { readonly kind: 'tcp'; readonly source: TcpSource; readonly options: TcpProbeOptions }
    | { readonly kind: 'dns'; readonly source: DnsSource; readonly options: DnsProbeOptions }
  );

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

/** Shared by every notifier: a name for logs and the outbox, and overridable message templates. */
interface NotifierBase {
  /** Unique among the notifiers (default: `<type>-<index>`). */
  readonly name: string;
  /**
   * Message templates with `{{field}}` placeholders (fields of AlertEvent, `details.x`, `delayed`); a
   * notifier uses `title` and `body` where its format has room for them. Absent: the built-in text.
   */
  readonly template: { readonly title?: string; readonly body?: string };
}

export type NotifierConfig =
  | (NotifierBase & {
      readonly type: 'webhook';
      readonly url: string;
      /** HMAC-SHA256 key: `X-Wmn-Signature: sha256=<hex of HMAC("<X-Wmn-Timestamp>.<body>")>`. */
      readonly secret: string | null;
    })
  | (NotifierBase & { readonly type: 'slack'; readonly url: string })
  | (NotifierBase & {
      readonly type: 'ntfy';
      /** The topic URL, e.g. https://ntfy.sh/my-topic. */
      readonly url: string;
      readonly token: string | null;
    })
  | (NotifierBase & {
      readonly type: 'email';
      readonly host: string;
      readonly port: number;
      /** tls: TLS from the start (465); starttls: upgrade required (587); none: plain (a local relay). */
      readonly security: 'tls' | 'starttls' | 'none';
      readonly username: string | null;
      readonly password: string | null;
      readonly from: string;
      readonly to: readonly string[];
      /** Extra CA bundle (PEM) to trust for the server's certificate. */
      readonly caFile: string | null;
    })
  | (NotifierBase & {
      readonly type: 'command';
      /** argv[0] and its arguments; no shell. The event arrives as JSON on stdin. */
      readonly argv: readonly string[];
      readonly timeoutMs: number;
    });

/** A window in which alerts are held (delivered when it ends), one-off or recurring. */
export type MaintenanceWindow =
  | { readonly kind: 'once'; readonly start: Date; readonly end: Date }
  | {
      readonly kind: 'weekly' | 'daily';
      /** Days of the week (0 = Sunday) for weekly windows. */
      readonly days: readonly number[];
      /** Local wall time "HH:MM" in `timeZone`. */
      readonly at: string;
      readonly durationMs: number;
      readonly timeZone: string;
    };

export interface AlertsConfig {
  /** The link is DOWN for `cycles` of the last `of` cycles (default 3 of 5); null: rule off. */
  readonly linkDown: { readonly cycles: number; readonly of: number } | null;
  /** A source failed `cycles` of its last `of` probes (default 5 of 5). */
  readonly sourceDown: { readonly cycles: number; readonly of: number } | null;
  /** A phase's p95 over `windowMs` above `thresholdMs`, per source; null: off (the default). */
  readonly latency: {
    readonly phase: 'dns' | 'connect' | 'tls' | 'ttfb' | 'total';
    readonly thresholdMs: number;
    readonly windowMs: number;
  } | null;
  /** Loss over `windowMs` above `abovePct`, per agent; null: off (the default). */
  readonly loss: { readonly abovePct: number; readonly windowMs: number } | null;
  /** IPv6 broken while IPv4 works in `cycles` of the last `of` cycles (default 5 of 5); null: off. */
  readonly ipv6: { readonly cycles: number; readonly of: number } | null;
  /** An https source's certificate expires in less than `days` days (default 14); null: off. */
  readonly certExpiry: { readonly days: number } | null;
  /** Reminder of a condition still firing after this long; null: none. */
  readonly repeatMs: number | null;
  /** Notifications per hour at most (per notifier); past it they are held, then sent as one digest. */
  readonly maxPerHour: number;
  readonly maintenance: readonly MaintenanceWindow[];
  readonly notifiers: readonly NotifierConfig[];
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
  /** Alert rules and notifiers, or null when the config has no `alerts` key. */
  readonly alerts: AlertsConfig | null;
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
