/**
 * The `alerts:` section of wmn.yaml: rules, reminders, the hourly cap, maintenance windows and
 * notifiers. Like the rest of the schema it is strict: unknown keys are errors with a "did you mean", and
 * a secret is never written here (each has a `*_file` key; writing the secret itself is refused).
 * Secrets and CA files are read when the configuration is resolved (alerts-resolve.ts).
 */

import { z } from 'zod';
import { TEMPLATE_FIELDS } from '../alerts/notifiers/template.js';
import type { Checked } from './checked.js';
import { formatDuration } from './duration.js';
import { checkedBy, duration, durationOrOff, pathSchema } from './schema-parts.js';
import { suggest } from './suggest.js';
import { describe, quote } from './text.js';

export const NOTIFIER_TYPES = ['webhook', 'slack', 'ntfy', 'email', 'command'] as const;
export const LATENCY_PHASES = ['dns', 'connect', 'tls', 'ttfb', 'total'] as const;
/** The longest `of` of a counting rule: the window is kept per source, in memory. */
const MAX_CYCLES = 1000;
const DAY_MS = 86_400_000;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const WEEKDAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** `off`, as a string: a rule that is on by default is turned off by it. `keys` name its mapping's. */
const offSchema = (keys: string) =>
  z
    .string()
    .refine((text) => text === 'off', {
      error: (iss) => `${quote(String(iss.input))} is not "off"; write "off", or a mapping with ${keys}`,
    })
    .transform((): null => null)
    .meta({ enum: ['off'] });

/** The error of a rule on by default that is neither `off` nor a mapping with `keys`. */
const notOffNorMapping = (keys: string) => (iss: { input: unknown }) =>
  `expected "off" or a mapping with ${keys}, got ${describe(iss.input)}`;

/** A rule counting failures: `cycles` of the last `of` (or `off`). */
function countingRule(defaults: { cycles: number; of: number }, what: string, description: string) {
  const counts = z
    .strictObject({
      cycles: z
        .int()
        .min(1)
        .max(MAX_CYCLES)
        .prefault(defaults.cycles)
        .meta({ description: `How many of the last \`of\` ${what} must have failed.` }),
      of: z
        .int()
        .min(1)
        .max(MAX_CYCLES)
        .prefault(defaults.of)
        .meta({ description: `How many of the latest ${what} are counted (at most ${MAX_CYCLES}).` }),
    })
    .superRefine((rule, ctx) => {
      if (rule.cycles <= rule.of) return;
      const message = `must be at most of (${rule.of}): the rule fires when ${rule.cycles} of the last ${rule.of} ${what} failed, which can never happen`;
      ctx.addIssue({ code: 'custom', path: ['cycles'], message, input: rule.cycles });
    });
  return z
    .union([offSchema('cycles and of'), counts], { error: notOffNorMapping('cycles and of') })
    .prefault(defaults)
    .meta({ description });
}

const certExpirySchema = z
  .union(
    [
      offSchema('days'),
      z.strictObject({
        days: z.int().min(1).max(365).prefault(14).meta({
          description: "Fire when a source's certificate expires in fewer than this many days: 1 to 365.",
        }),
      }),
    ],
    { error: notOffNorMapping('days') },
  )
  .prefault({ days: 14 })
  .meta({
    description:
      'An https source presents a certificate that expires in less than `days` days. Default 14; "off" turns it off.',
  });

/** `5%`, `0.5%`: a percentage below 100, written with its sign (a bare 5 could mean 5 % or 500 %). */
function parsePercent(text: string): Checked<number> {
  const match = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (!match) {
    const hint = /^\d+(\.\d+)?$/.test(text) ? 'has no unit' : 'is not a percentage';
    return { ok: false, message: `${quote(text)} ${hint}; write it with a % sign, e.g. "5%"` };
  }
  const value = Number(match[1]);
  if (value >= 100)
    return { ok: false, message: `must be below 100% (got ${text}): loss can never exceed it` };
  return { ok: true, value };
}

const percentSchema = z
  .string({
    error: (iss) =>
      typeof iss.input === 'number' ? `${iss.input} has no unit; write "${iss.input}%"` : undefined,
  })
  .transform(checkedBy(parsePercent));

const windowSchema = (what: string) =>
  duration(
    { min: 10_000, max: 3_600_000 },
    `The sliding window ${what} is computed over: 10s to 1h (default 5m); at least the interval.`,
  ).prefault('5m');

const latencySchema = z
  .strictObject({
    phase: z
      .enum(LATENCY_PHASES)
      .prefault('total')
      .meta({ description: 'The phase watched: dns, connect, tls, ttfb or total (default).' }),
    p95_above: duration(
      { min: 1, max: 60_000 },
      "Fire when a source's p95 of the phase over the window is above this (up to 1m).",
    ),
    window: windowSchema('the p95'),
  })
  .meta({ description: "A phase's p95 over a window, per source, above a threshold. Off unless set." });

const lossSchema = z
  .strictObject({
    above: percentSchema.meta({
      description: 'Fire when failed probes / probes over the window is above this, e.g. "5%".',
    }),
    window: windowSchema('the loss'),
  })
  .meta({ description: 'Loss (failed probes / probes, every source) over a window. Off unless set.' });

// ---- maintenance windows ----

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** An ISO 8601 date-time with its offset (`Z` or `+01:00`): an instant, whatever the host's zone. */
function parseInstant(text: string): Checked<Date> {
  const example = 'e.g. "2026-03-01T02:00:00+01:00" or "2026-03-01T01:00:00Z"';
  if (!ISO_WITH_OFFSET.test(text)) {
    const bare = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text);
    const why = bare ? 'has no UTC offset' : 'is not an ISO 8601 date-time';
    return { ok: false, message: `${quote(text)} ${why}; write it with its offset, ${example}` };
  }
  const at = new Date(text);
  // Date accepts 2026-02-30 as March 2nd: the calendar date itself must exist.
  const [year = 0, month = 0, day = 0] = text.slice(0, 10).split('-').map(Number);
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (Number.isNaN(at.getTime()) || month < 1 || month > 12 || day < 1 || day > lastDay) {
    return { ok: false, message: `${quote(text)} is not a real date and time` };
  }
  return { ok: true, value: at };
}

const instantSchema = z.string().transform(checkedBy(parseInstant));

/** "HH:MM", 00:00 to 23:59. */
function parseClock(text: string): Checked<string> {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (!match || Number(match[1]) > 23 || Number(match[2]) > 59) {
    return { ok: false, message: `${quote(text)} is not a time of day; write "HH:MM", e.g. "02:30"` };
  }
  return { ok: true, value: text };
}

/** An IANA time zone name as Intl knows it (canonical spelling), with a "did you mean". */
function parseTimeZone(text: string): Checked<string> {
  try {
    return {
      ok: true,
      value: new Intl.DateTimeFormat('en-US', { timeZone: text }).resolvedOptions().timeZone,
    };
  } catch {
    const guess = suggest(text, [...Intl.supportedValuesOf('timeZone'), 'UTC']);
    const hint =
      guess === undefined ? '; use an IANA name such as Europe/Berlin or UTC' : `; did you mean "${guess}"?`;
    return { ok: false, message: `${quote(text)} is not a time zone${hint}` };
  }
}

/** `day`, a weekday name, or a list of weekday names: the days (0 = Sunday) a window starts on. */
function parseDay(text: string): Checked<number> {
  const lower = text.toLowerCase();
  const index = Math.max(WEEKDAYS.indexOf(lower as (typeof WEEKDAYS)[number]), WEEKDAY_NAMES.indexOf(lower));
  if (index >= 0) return { ok: true, value: index };
  const guess = suggest(text, ['day', ...WEEKDAY_NAMES]);
  return {
    ok: false,
    message: `${quote(text)} is not a day; write "day" (every day) or weekday names (mon … sun)${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
  };
}

const daySchema = z.string().transform(checkedBy(parseDay));

const everySchema = z.union(
  [
    z.string().transform((text, ctx): readonly number[] => {
      if (text.toLowerCase() === 'day') return [0, 1, 2, 3, 4, 5, 6];
      const day = checkedBy(parseDay)(text, ctx);
      return typeof day === 'number' ? [day] : z.NEVER;
    }),
    z.array(daySchema).min(1, { error: 'lists no day; write "day" or weekday names, e.g. [sat, sun]' }),
  ],
  { error: (iss) => `expected "day" or a list of weekday names, got ${describe(iss.input)}` },
);

const maintenanceEntrySchema = z
  .strictObject({
    start: instantSchema.meta({ description: 'One-off window: its start, ISO 8601 with offset.' }).optional(),
    end: instantSchema.meta({ description: 'One-off window: its end, ISO 8601 with offset.' }).optional(),
    every: everySchema
      .meta({ description: 'Recurring window: "day", or the weekdays it starts on, e.g. [sat, sun].' })
      .optional(),
    at: z
      .string()
      .transform(checkedBy(parseClock))
      .meta({ description: 'Recurring window: local start time "HH:MM" in time_zone.' })
      .optional(),
    for: duration(
      { min: 60_000, max: 7 * DAY_MS },
      'Recurring window: how long it lasts (1m to 7d).',
    ).optional(),
    time_zone: z
      .string()
      .transform(checkedBy(parseTimeZone))
      .meta({ description: 'Recurring window: the IANA time zone of `at`, e.g. Europe/Berlin or UTC.' })
      .optional(),
  })
  .transform((entry, ctx) => maintenanceWindow(entry, ctx))
  .meta({
    description:
      'A window in which alerts are held and delivered when it ends: {start, end} once, or {every, at, for, time_zone} recurring.',
  });

type MaintenanceEntry = {
  start?: Date | undefined;
  end?: Date | undefined;
  every?: readonly number[] | undefined;
  at?: string | undefined;
  for?: number | undefined;
  time_zone?: string | undefined;
};

function maintenanceWindow(entry: MaintenanceEntry, ctx: z.core.$RefinementCtx<MaintenanceEntry>) {
  const fail = (path: PropertyKey[], message: string) => {
    ctx.addIssue({ code: 'custom', path, message, input: entry });
    return z.NEVER;
  };
  const recurring = entry.every !== undefined;
  if (!recurring && entry.start === undefined && entry.end === undefined) {
    return fail(
      [],
      'give start and end (a one-off window), or every, at, for and time_zone (a recurring one)',
    );
  }
  if (recurring) {
    for (const key of ['start', 'end'] as const)
      if (entry[key] !== undefined)
        return fail([key], 'is for one-off windows; a recurring one has every, at, for and time_zone');
    for (const key of ['at', 'for', 'time_zone'] as const)
      if (entry[key] === undefined) return fail([key], 'is required in a recurring window (with every)');
    const days = [...new Set(entry.every)].sort((a, b) => a - b);
    const forMs = entry.for as number;
    const gapMs = smallestGapDays(days) * DAY_MS;
    if (forMs >= gapMs) {
      return fail(
        ['for'],
        `must be shorter than the ${formatDuration(gapMs)} between two starts of the window, or it never ends`,
      );
    }
    return {
      kind: days.length === 7 ? ('daily' as const) : ('weekly' as const),
      days,
      at: entry.at as string,
      durationMs: forMs,
      timeZone: entry.time_zone as string,
    };
  }
  for (const key of ['at', 'for', 'time_zone'] as const)
    if (entry[key] !== undefined)
      return fail([key], 'is for recurring windows (with every); a one-off one has start and end');
  if (entry.start === undefined) return fail(['start'], 'is required (with end)');
  if (entry.end === undefined) return fail(['end'], 'is required (with start)');
  if (entry.end <= entry.start) return fail(['end'], 'must be after start');
  return { kind: 'once' as const, start: entry.start, end: entry.end };
}

/** The fewest days from one listed weekday to the next (7 for a single day). */
function smallestGapDays(days: readonly number[]): number {
  let gap = 7;
  days.forEach((day, i) => {
    const next = days[(i + 1) % days.length] as number;
    gap = Math.min(gap, (next - day + 7) % 7 || 7);
  });
  return gap;
}

// ---- notifiers ----

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

function checkTemplate(text: string): Checked<string> {
  for (const [, name = ''] of text.matchAll(PLACEHOLDER)) {
    if (/^details\.[^\s{}]+$/.test(name)) continue;
    const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (TEMPLATE_FIELDS.includes(camel)) continue;
    const guess = suggest(name, TEMPLATE_FIELDS);
    const hint =
      guess === undefined
        ? `; use one of ${TEMPLATE_FIELDS.join(', ')} or details.<key>`
        : `; did you mean {{${guess}}}?`;
    return { ok: false, message: `unknown placeholder {{${name}}}${hint}` };
  }
  return { ok: true, value: text };
}

const templateText = (description: string) =>
  z.string().transform(checkedBy(checkTemplate)).meta({ description }).optional();

const common = {
  name: z
    .string()
    .regex(NAME_PATTERN, {
      error: (iss) =>
        `${quote(String(iss.input))} is not a valid name: use 1 to 64 letters, digits, ".", "_" or "-"`,
    })
    .meta({ description: 'Name in logs and in the outbox (default: <type>-<n>). Unique.' })
    .optional(),
  template: z
    .strictObject({
      title: templateText('Title template with {{field}} placeholders (default: the built-in title).'),
      body: templateText('Body template with {{field}} placeholders (default: the built-in text).'),
    })
    .optional(),
};

/** http(s) only, and no credentials (they would be logged); `what` names the receiver in the message. */
function checkWebUrl(text: string): Checked<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: 'is not a URL; write it like https://hooks.example.com/wmn' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `must be an http:// or https:// URL (got scheme ${quote(url.protocol)})` };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      ok: false,
      message: 'contains credentials ("user:password@"): they would be logged; remove them',
    };
  }
  return { ok: true, value: url.href };
}

const webUrl = (description: string) => z.string().transform(checkedBy(checkWebUrl)).meta({ description });

const secretFile = (description: string) => pathSchema.meta({ description }).optional();

function checkAddress(text: string): Checked<string> {
  return /^[^\s@<>,;"]+@[^\s@<>,;"]+$/.test(text)
    ? { ok: true, value: text }
    : { ok: false, message: `${quote(text)} is not a mail address; write it like ops@example.com` };
}
const addressSchema = z.string().transform(checkedBy(checkAddress));

const webhookSchema = z.strictObject({
  type: z.literal('webhook'),
  ...common,
  url: webUrl('Where the event is POSTed as JSON.'),
  secret_file: secretFile('File holding the HMAC-SHA256 key: requests carry X-Wmn-Signature: sha256=<hex>.'),
});

const slackSchema = z.strictObject({
  type: z.literal('slack'),
  ...common,
  url: webUrl('The Slack-compatible incoming webhook URL.'),
});

const ntfySchema = z.strictObject({
  type: z.literal('ntfy'),
  ...common,
  url: webUrl('The topic URL, e.g. https://ntfy.sh/my-topic.'),
  token_file: secretFile('File holding an access token, sent as a bearer token.'),
});

const emailSchema = z
  .strictObject({
    type: z.literal('email'),
    ...common,
    host: z
      .string()
      .min(1, { error: 'is empty; give the SMTP server, e.g. smtp.example.com' })
      .meta({ description: 'SMTP server.' }),
    port: z
      .int()
      .min(1)
      .max(65_535)
      .meta({ description: 'Default: 465 for tls, 587 for starttls, 25 for none.' })
      .optional(),
    security: z.enum(['tls', 'starttls', 'none']).prefault('starttls').meta({
      description:
        'tls: TLS from the start; starttls (default): upgrade required; none: plain (a local relay).',
    }),
    username: z.string().min(1).meta({ description: 'SMTP AUTH user (with password_file).' }).optional(),
    password_file: secretFile('File holding the SMTP password (with username).'),
    from: addressSchema.meta({ description: 'Sender address.' }),
    to: z
      .array(addressSchema)
      .min(1, { error: 'lists no address; give at least one' })
      .meta({ description: 'Recipients.' }),
    ca_file: pathSchema
      .meta({ description: "Extra CA bundle (PEM) to trust for the server's certificate." })
      .optional(),
  })
  .superRefine((email, ctx) => {
    if (email.password_file !== undefined && email.username === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['username'],
        message: 'is required with password_file',
        input: email,
      });
    }
    if (email.username !== undefined && email.password_file === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['password_file'],
        message: 'is required with username (a file holding the password)',
        input: email,
      });
    }
  });

const commandSchema = z.strictObject({
  type: z.literal('command'),
  ...common,
  argv: z
    .array(z.string().min(1, { error: 'is empty' }))
    .min(1, { error: 'is empty; give the program and its arguments, e.g. [/usr/local/bin/page, --urgent]' })
    .meta({ description: 'The program and its arguments; no shell. The event arrives as JSON on stdin.' }),
  timeout: duration({ min: 100, max: 600_000 }, 'Deadline of one run: 100ms to 10m (default 10s).').prefault(
    '10s',
  ),
});

const notifierSchema = z
  .discriminatedUnion('type', [webhookSchema, slackSchema, ntfySchema, emailSchema, commandSchema], {
    error: (iss) => notifierTypeProblem(iss.input),
  })
  .meta({ description: 'A destination: webhook, slack, ntfy, email or command, with its options.' });

function notifierTypeProblem(input: unknown): string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return `expected a mapping with a type (${NOTIFIER_TYPES.join(', ')}), got ${describe(input)}`;
  }
  const type = (input as { type?: unknown }).type;
  if (type === undefined) return `is required: one of ${NOTIFIER_TYPES.join(', ')}`;
  if (typeof type !== 'string') return `expected one of ${NOTIFIER_TYPES.join(', ')}, got ${describe(type)}`;
  const guess = suggest(type, NOTIFIER_TYPES);
  return `${quote(type)} is not one of ${NOTIFIER_TYPES.join(', ')}${guess === undefined ? '' : `; did you mean "${guess}"?`}`;
}

type NotifierEntry = z.output<typeof notifierSchema>;
/** A notifier entry with its name settled: the given one, or `<type>-<n>` (n counts that type from 1). */
export type NamedNotifierEntry = NotifierEntry & { readonly name: string };

function nameNotifiers(
  entries: NotifierEntry[],
  ctx: z.core.$RefinementCtx<NotifierEntry[]>,
): NamedNotifierEntry[] {
  const perType = new Map<string, number>();
  const firstIndex = new Map<string, number>();
  return entries.map((entry, index) => {
    const n = (perType.get(entry.type) ?? 0) + 1;
    perType.set(entry.type, n);
    const name = entry.name ?? `${entry.type}-${n}`;
    const earlier = firstIndex.get(name);
    if (earlier === undefined) firstIndex.set(name, index);
    else {
      const message = `${quote(name)} is also the name of notifiers[${earlier}]; names must be unique (the outbox tracks deliveries by name)`;
      ctx.addIssue({ code: 'custom', path: [index, 'name'], message, input: entry });
    }
    return { ...entry, name };
  });
}

const alertsSectionSchema = z
  .strictObject({
    link_down: countingRule(
      { cycles: 3, of: 5 },
      'cycles',
      'The link is DOWN (every source failed) in `cycles` of the last `of` cycles. Default 3 of 5; "off" turns it off.',
    ),
    source_down: countingRule(
      { cycles: 5, of: 5 },
      'probes',
      'A source failed (no response) `cycles` of its last `of` probes. Default 5 of 5; "off" turns it off.',
    ),
    latency: latencySchema.optional(),
    loss: lossSchema.optional(),
    ipv6: countingRule(
      { cycles: 5, of: 5 },
      'cycles',
      'IPv6 broken while IPv4 works (every source pinned to IPv6 failed, one pinned to IPv4 answered) in `cycles` of the last `of` cycles. Never fires without a source pinned to IPv6 (#ipv6). Default 5 of 5; "off" turns it off.',
    ),
    cert_expiry: certExpirySchema,
    repeat: durationOrOff(
      { min: 60_000, max: 7 * DAY_MS },
      'Remind of a condition still firing every so often: 1m to 7d, or "off". Default 1h.',
    ).prefault('1h'),
    max_per_hour: z.int().min(1).max(10_000).prefault(20).meta({
      description:
        'Notifications per clock hour at most; past it they are held and sent as one digest when the hour ends.',
    }),
    maintenance: z
      .array(maintenanceEntrySchema)
      .prefault([])
      .meta({ description: 'Windows in which alerts are held (not lost): delivered when the window ends.' }),
    notifiers: z.array(notifierSchema).transform(nameNotifiers).prefault([]).meta({
      description:
        'Where alerts go. Every alert goes to every notifier, through a durable outbox in data_dir.',
    }),
  })
  .meta({ description: 'Alert rules and notifiers.' });

/** `alerts:` with nothing under it (every line commented out, say) is present: alerting with the defaults. */
export const alertsSchema = z
  .union([z.null().transform(() => alertsSectionSchema.parse({})), alertsSectionSchema], {
    error: (iss) => `expected a mapping (key: value), got ${describe(iss.input)}`,
  })
  .meta({
    description:
      'Alert rules and notifiers. Present (even empty): alerting is on, with the defaults. Absent: no alerting.',
  });

export type AlertsFile = z.output<typeof alertsSectionSchema>;
