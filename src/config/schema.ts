/**
 * The shape of wmn.yaml, defined once: load-time validation and the shipped JSON Schema (editor
 * completion) both come from these zod definitions. Keys are snake_case, as written in YAML.
 *
 * Static defaults live here as `prefault`s, so they pass through the same checks as user input and show
 * up in the JSON Schema. Defaults that depend on the host (agent, data_dir) or on other keys (a source's
 * engine and timeout) are applied when the configuration is resolved.
 */
import { z } from 'zod';
import { LAYERS } from '../diagnosis/layers.js';
import type { LogLevel } from '../log.js';
import type { Engine } from '../probes/types.js';
import { alertsSchema } from './alerts-schema.js';
import type { Checked } from './checked.js';
import { checkDatabaseUrl } from './database.js';
import { checkedBy, duration, pathSchema } from './schema-parts.js';
import { parseSize } from './size.js';
import { parseSource } from './sources.js';
import { describe, quote } from './text.js';

export { pathSchema } from './schema-parts.js';

const ENGINES = ['curl', 'http'] as const satisfies readonly Engine[];
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];
const AGENT_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Probed when the configuration lists none: the original wmn's targets (named services), the default
 * gateway (the LAN) and two anchors by address (the internet without DNS), so a failure is localised
 * out of the box.
 */
export const DEFAULT_SOURCES = [
  'https://google.com/favicon.ico',
  'https://cloudflare.com/favicon.ico',
  'icmp://gateway',
  'icmp://1.1.1.1',
  'icmp://9.9.9.9',
];
/** Per-source options when a source does not set them (engine and timeout come from the top level). */
export const SOURCE_DEFAULTS = {
  follow_redirects: true,
  max_redirects: 10,
  insecure: false,
  count: 1,
} as const;

/** What is wrong with an agent name (also used for the host-name default). */
export function badAgentName(name: string): string {
  return `${quote(name)} is not a valid agent name: use 1 to 64 letters, digits, ".", "_" or "-"`;
}

/** Checks an agent name. */
export function checkAgentName(name: string): Checked<string> {
  return AGENT_PATTERN.test(name) ? { ok: true, value: name } : { ok: false, message: badAgentName(name) };
}

export const DEFAULT_LISTEN = '127.0.0.1:9797';

/** `host:port`, `[v6]:port` or `:port` (every address); the port 0–65535. */
function parseListen(text: string): Checked<{ host: string; port: number }> {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535)
    return {
      ok: false,
      message: `${JSON.stringify(text)} is not host:port; write e.g. "127.0.0.1:9797" or "[::1]:9797"`,
    };
  return { ok: true, value: { host: match[1] ?? match[2] ?? '', port } };
}

export const listenSchema = z
  .string()
  .transform(checkedBy(parseListen))
  .meta({
    description: `host:port to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free one). Any address but loopback needs token_file. Overridden by WMN_WEB_LISTEN.`,
  });

export const agentSchema = z
  .string()
  .regex(AGENT_PATTERN, { error: (iss) => badAgentName(String(iss.input)) })
  .meta({ description: 'Name of this vantage point, stored with every row. Default: the host name.' });

export const intervalSchema = duration(
  { min: 1_000, max: 3_600_000, wholeSecondsBecause: 'probe_id is the unix second of the scheduled tick' },
  'Time between probe cycles: whole seconds, 1s to 1h. Ticks are aligned to the wall clock.',
);

export const timeoutSchema = duration(
  { min: 1, max: 60_000 },
  'Deadline of one probe, redirects included: up to 1m. May exceed the interval (cycles then overlap).',
);

export const engineSchema = z
  .enum(ENGINES)
  .meta({ description: 'curl: a curl subprocess, as the original wmn. http: in-process Node.js, cheaper.' });

export const logLevelSchema = z.enum(LOG_LEVELS).meta({ description: 'Least severe level logged.' });

export const databaseUrlSchema = z.string().transform(checkedBy(checkDatabaseUrl)).meta({
  description: 'PostgreSQL server URL. Omit to use the embedded server. Overridden by DATABASE_URL.',
});

const sourceUriSchema = z.string().transform(checkedBy(parseSource)).meta({
  description:
    'A source URI: https://host/path or http://… (HTTP), icmp://host (echo; icmp://gateway is the default gateway), tcp://host:port (connect), dns://resolver[:port]/name?type=A[&nocache] (one query). End it in #ipv4 or #ipv6 to pin the address family.',
});

const sourceObjectSchema = z
  .strictObject({
    url: sourceUriSchema,
    engine: engineSchema
      .meta({ description: 'Engine for this source. Default: the top-level engine.' })
      .optional(),
    timeout: timeoutSchema
      .meta({ description: 'Deadline for this source. Default: the top-level timeout.' })
      .optional(),
    follow_redirects: z
      .boolean()
      .meta({
        default: SOURCE_DEFAULTS.follow_redirects,
        description: 'Follow redirects, as the original wmn.',
      })
      .optional(),
    max_redirects: z
      .int()
      .min(0)
      .max(50)
      .meta({ default: SOURCE_DEFAULTS.max_redirects, description: 'Redirects followed at most.' })
      .optional(),
    insecure: z
      .boolean()
      .meta({ default: SOURCE_DEFAULTS.insecure, description: 'Accept any TLS certificate.' })
      .optional(),
    ca_file: pathSchema.meta({ description: 'Extra CA bundle (PEM) to trust.' }).optional(),
    ip: z
      .union([z.literal(4), z.literal(6), z.literal('both')])
      .meta({
        description:
          'Address family: 4, 6, or both (each probed in the same cycle, stored as url#ipv4 and url#ipv6). Default: whichever the resolver answers first.',
      })
      .optional(),
    layer: z
      .enum(LAYERS)
      .meta({
        description:
          "Where the source sits, for fault localisation: lan (icmp://gateway), isp (your provider's resolver or first hop), dns (dns:// sources), internet (by IP address), service (named sites). Default from the URI.",
      })
      .optional(),
    count: z
      .int()
      .min(1)
      .max(100)
      .meta({
        default: SOURCE_DEFAULTS.count,
        description: 'icmp:// only: echo requests per cycle (loss and jitter within a cycle).',
      })
      .optional(),
  })
  .transform(({ url, ...options }) => ({ source: url, ...options }));

/** One entry of `sources` as `{ source, ...options }`, whichever way it was written. */
export type SourceEntry = z.output<typeof sourceObjectSchema>;

const sourceEntrySchema = z.union(
  [sourceUriSchema.transform((source): SourceEntry => ({ source })), sourceObjectSchema],
  { error: (iss) => `expected a source URI or a mapping with a "url" key, got ${describe(iss.input)}` },
);

const sourcesSchema = z
  .array(sourceEntrySchema)
  .min(1, { error: 'must list at least one source (remove the key to probe the default sources)' })
  .prefault(DEFAULT_SOURCES)
  .meta({ description: 'What to probe: source URIs, or mappings with a url and per-source options.' });

const databaseSchema = z.strictObject({
  url: databaseUrlSchema.optional(),
  password_file: pathSchema
    .meta({
      description: 'File holding the password, put into the URL in memory. Keeps it out of this file.',
    })
    .optional(),
  embedded_port: z
    .int()
    .min(1)
    .max(65_535)
    .meta({ description: 'Embedded server only: also listen on 127.0.0.1:PORT (for Grafana, psql).' })
    .optional(),
});

/** The whole file. */
export const configFileSchema = z
  .strictObject({
    agent: agentSchema.optional(),
    interval: intervalSchema.prefault('1s'),
    timeout: timeoutSchema.prefault('1.5s'),
    engine: engineSchema.prefault('curl'),
    sources: sourcesSchema,
    spread: z.boolean().prefault(false).meta({
      description:
        "Start source i of n at i/n of the interval after each tick instead of all at the tick: many sources probed at one instant inflate each other's timings.",
    }),
    database: databaseSchema.prefault({}),
    data_dir: pathSchema
      .meta({
        description:
          'State directory (embedded database, spool). Default: /var/lib/wmn as root, else $XDG_STATE_HOME/wmn or ~/.local/state/wmn.',
      })
      .optional(),
    log: z.strictObject({ level: logLevelSchema.prefault('info') }).prefault({}),
    spool: z
      .strictObject({
        max_size: z
          .string({ error: (iss) => `${String(iss.input)} is not a size; write e.g. "256MiB"` })
          .transform(checkedBy((text) => parseSize(text, { min: 1024 ** 2, max: 64 * 1024 ** 3 })))
          .prefault('256MiB')
          .meta({
            description:
              'Bound of the on-disk spool that keeps cycles the database has not taken yet (1MiB to 64GiB). Past it the oldest cycles are dropped, with an error logged.',
          }),
      })
      .prefault({}),
    web: z
      .strictObject({
        enabled: z
          .boolean()
          .prefault(true)
          .meta({ description: 'Serve the dashboard, /metrics, /healthz and /readyz.' }),
        listen: listenSchema.prefault(DEFAULT_LISTEN),
        token_file: pathSchema
          .meta({
            description:
              'File holding the access token: a browser opens /?token=…, Prometheus sends it as a bearer token or basic-auth password.',
          })
          .optional(),
      })
      .prefault({}),
    retention: z
      .strictObject({
        raw: duration(
          { min: 86_400_000, max: 3_650 * 86_400_000 },
          'Delete raw rows (favicon_metrics) older than this, once rolled up: 1d to 3650d. Rollups, outages and SLA figures stay. Default: keep every row.',
        ).optional(),
      })
      .prefault({}),
    alerts: alertsSchema.optional(),
  })
  .meta({ title: 'wmn configuration', description: 'watch my network: wmn.yaml' });

/** The file after validation and static defaults: what {@link configFileSchema} outputs. */
export type ConfigFile = z.output<typeof configFileSchema>;

/** The JSON Schema of wmn.yaml (draft-07, which YAML editors support best), as the committed file holds it. */
export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(configFileSchema, { io: 'input', target: 'draft-7' });
  return `${JSON.stringify(schema, null, 2)}\n`;
}
