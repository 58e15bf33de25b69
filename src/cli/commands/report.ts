/**
 * `wmn report`: availability against a contracted target, coverage, every outage to the second, loss,
 * phase percentiles and a daily (or hourly) chart, for a month or any range, as md, html, csv or json.
 * Every figure comes from the SQL functions of migration 002, through src/analysis/.
 *
 * Exit codes: 0 whenever the report was produced, whether or not the target was met (a report is a
 * document, not a check: scripts read `agents[].sla.met` from --format json); 1 when the database
 * cannot be read; 2 for bad options.
 */
import { writeFile } from 'node:fs/promises';
import { parseDuration } from '../../config/duration.js';
import { FORMATS, type Format, type ReportRange, readReport, renderReport } from '../../report/index.js';
import { checkTimeZone, monthRange, parseTime, systemTimeZone, wallTime } from '../../report/time.js';
import { StoreError } from '../../store/index.js';
import { VERSION } from '../../version.js';
import {
  CONFIG_OPTION,
  type Command,
  EXIT,
  openConfigured,
  type ParsedArgs,
  stringOpt,
  UsageError,
} from '../command.js';

const DAY_MS = 86_400_000;
/** Ranges longer than this print progress on stderr even when it is not a terminal. */
const LONG_RANGE_MS = 7 * DAY_MS;
const LONGEST_LAST = { min: 1_000, max: 3_660 * DAY_MS };
const DEFAULT_SLA = 99.9;

export const reportCommand: Command = {
  path: ['report'],
  usage: 'report [--month YYYY-MM | --from T --to T | --last DUR] [--format md|html|csv|json]',
  summary: 'Availability vs the SLA target, outages, loss and latency for a period (md, html, csv, json).',
  help: [
    '  --month YYYY-MM     a calendar month in --tz (default: the current month, up to now)',
    '  --from TIME         start, ISO 8601 (2026-10-01, 2026-10-01T08:00, …Z or …+02:00); no offset: in --tz',
    '  --to TIME           end, exclusive (default with --from: now)',
    '  --last DUR          the DUR up to now, e.g. 7d, 24h, 90m',
    '  --agent NAME        report on this agent (repeat for more; default: every agent with data)',
    `  --sla PCT           contracted availability target in % (default ${DEFAULT_SLA})`,
    '  --format FMT        md (default), html (one self-contained file), csv or json',
    '  -o, --output FILE   write the report there (format from its extension unless --format)',
    '  --tz ZONE           time zone for months, days and every time shown (default: the system zone)',
    CONFIG_OPTION.help,
  ].join('\n'),
  options: {
    month: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    last: { type: 'string' },
    agent: { type: 'string', multiple: true },
    sla: { type: 'string' },
    format: { type: 'string' },
    output: { type: 'string', short: 'o' },
    tz: { type: 'string' },
    ...CONFIG_OPTION.options,
  },
  async run(args) {
    const request = parseReportArgs(args, new Date());
    const verbose =
      process.stderr.isTTY === true ||
      request.range.to.getTime() - request.range.from.getTime() > LONG_RANGE_MS;
    const say = (message: string) => process.stderr.write(`wmn report: ${message}\n`);
    // A guest: with the embedded database, the running agent's server is read, not refused.
    const { store } = await openConfigured(args, { guest: true, quiet: true });
    try {
      await store.reader.query('SELECT 1').catch((err: unknown) => {
        throw new StoreError('connect', `cannot connect to ${store.describe.url}`, { cause: err });
      });
      const report = await readReport(store.reader, {
        range: request.range,
        agents: request.agents,
        slaTargetPct: request.slaPct,
        generator: `wmn ${VERSION}`,
        progress: verbose ? say : undefined,
      });
      for (const a of report.agents)
        if (!a.availability) say(`agent ${JSON.stringify(a.agent)} recorded no cycle in the period`);
      const text = renderReport(report, request.format);
      if (request.output === undefined) process.stdout.write(text);
      else {
        await writeFile(request.output, text);
        say(`wrote ${request.output} (${request.format}, ${Buffer.byteLength(text)} bytes)`);
      }
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};

/** What `wmn report`'s options ask for, checked. */
export interface ReportRequest {
  readonly range: ReportRange;
  readonly agents: readonly string[] | undefined;
  readonly slaPct: number;
  readonly format: Format;
  readonly output: string | undefined;
}

/** Checks the options against `now`; every problem is a UsageError (exit 2) naming the option. */
export function parseReportArgs(args: ParsedArgs, now: Date): ReportRequest {
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
  const timeZone = zoneOpt(stringOpt(args, 'tz'));
  const output = stringOpt(args, 'output');
  const agents = args.values.agent;
  if (Array.isArray(agents) && agents.some((a) => a === '')) throw new UsageError('--agent needs a name');
  return {
    range: rangeOpts(args, new Date(Math.floor(now.getTime() / 1000) * 1000), timeZone),
    agents: Array.isArray(agents) && agents.length > 0 ? [...new Set(agents)] : undefined,
    slaPct: slaOpt(stringOpt(args, 'sla')),
    format: formatOpt(stringOpt(args, 'format'), output),
    output,
  };
}

function zoneOpt(text: string | undefined): string {
  if (text === undefined) return systemTimeZone();
  try {
    return checkTimeZone(text);
  } catch (err) {
    throw new UsageError(`--tz: ${(err as Error).message}`);
  }
}

function rangeOpts(args: ParsedArgs, now: Date, timeZone: string): ReportRange {
  const month = stringOpt(args, 'month');
  const fromText = stringOpt(args, 'from');
  const toText = stringOpt(args, 'to');
  const last = stringOpt(args, 'last');
  const given = [month && '--month', (fromText || toText) && '--from/--to', last && '--last'].filter(Boolean);
  if (given.length > 1)
    throw new UsageError(`give one of --month, --from/--to and --last, not ${given.join(' and ')}`);
  if (toText !== undefined && fromText === undefined) throw new UsageError('--to needs --from');
  if (fromText !== undefined) {
    const from = timeOpt(fromText, '--from', timeZone);
    const to = toText === undefined ? now : timeOpt(toText, '--to', timeZone);
    if (from.getTime() >= to.getTime())
      throw new UsageError(`--from (${fromText}) must be before --to (${toText ?? 'now'})`);
    return clamp(
      from,
      to,
      now,
      timeZone,
      toText === undefined ? `from ${fromText}` : `${fromText} to ${toText}`,
    );
  }
  if (last !== undefined) {
    const parsed = parseDuration(last, LONGEST_LAST);
    if (!parsed.ok) throw new UsageError(`--last: ${parsed.message}`);
    return clamp(new Date(now.getTime() - parsed.value), now, now, timeZone, `last ${last}`);
  }
  const w = wallTime(now, timeZone);
  const name = month ?? `${w.year}-${String(w.month).padStart(2, '0')}`;
  const range = monthRange(name, timeZone);
  if (!range)
    throw new UsageError(`--month ${JSON.stringify(name)} is not a month; write YYYY-MM, e.g. 2026-10`);
  return clamp(range.from, range.to, now, timeZone, `month ${name}`);
}

/** A range reaching past now ends now: what has not happened yet is not unknown, it is not there. */
function clamp(from: Date, to: Date, now: Date, timeZone: string, label: string): ReportRange {
  if (from.getTime() >= now.getTime()) throw new UsageError(`the period (${label}) has not started yet`);
  const inProgress = to.getTime() >= now.getTime();
  return { from, to: inProgress ? now : to, timeZone, label, inProgress };
}

function timeOpt(text: string, name: string, timeZone: string): Date {
  const at = parseTime(text, timeZone);
  if (!at)
    throw new UsageError(
      `${name} ${JSON.stringify(text)} is not a time; write ISO 8601, e.g. 2026-10-01, 2026-10-01T08:00 or 2026-10-01T06:00Z`,
    );
  return at;
}

function slaOpt(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SLA;
  const m = /^(\d{1,3}(?:\.\d+)?)\s*%?$/.exec(text.trim());
  const value = m ? Number(m[1]) : Number.NaN;
  if (!(value > 0 && value <= 100))
    throw new UsageError(
      `--sla ${JSON.stringify(text)} is not a target; write a percentage above 0 and at most 100, e.g. 99.9`,
    );
  return value;
}

const EXTENSIONS: Readonly<Record<string, Format>> = {
  md: 'md',
  markdown: 'md',
  html: 'html',
  htm: 'html',
  csv: 'csv',
  json: 'json',
};

function formatOpt(text: string | undefined, output: string | undefined): Format {
  if (text === undefined) {
    const ext = output?.match(/\.([a-z]+)$/i)?.[1]?.toLowerCase();
    return (ext && EXTENSIONS[ext]) || 'md';
  }
  if (!(FORMATS as readonly string[]).includes(text))
    throw new UsageError(`unknown --format ${JSON.stringify(text)}; use ${FORMATS.join(', ')}`);
  return text as Format;
}
