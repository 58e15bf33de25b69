/**
 * `wmn check SOURCE...`: probe each source once, now, and show where the time went. The sources and
 * options go through the same validation as a config file, so `check` accepts exactly what `run` would.
 */

import { setMaxListeners } from 'node:events';
import { runCycle } from '../../agent/cycle.js';
import { checkSettings } from '../../config/load.js';
import { parseSource } from '../../config/sources.js';
import { ConfigError, type ConfigIssue, type SourceConfig } from '../../config/types.js';
import { cycleDiagnosis } from '../../diagnosis/cycle.js';
import { describeDiagnosis } from '../../diagnosis/describe.js';
import { PROBERS } from '../../probes/index.js';
import type { SourceKind } from '../../probes/types.js';
import { toRow } from '../../row.js';
import { systemClock } from '../../scheduler/clock.js';
import { type Command, EXIT, type ParsedArgs, stringOpt, UsageError } from '../command.js';
import { renderResult } from '../render.js';

export const checkCommand: Command = {
  path: ['check'],
  usage: 'check SOURCE... [--json] [--engine curl|http] [--ip 4|6|both]',
  summary: 'Probe each source once and show its phases (or --json rows).',
  help: [
    '  --json             one JSON object per source, keyed by the database column names',
    '  --engine ENGINE    curl (default) or http',
    '  --timeout DUR      probe deadline, e.g. 1.5s (default) or 500ms',
    '  --no-follow        do not follow redirects',
    '  --insecure         accept any TLS certificate',
    '  --ca-file FILE     trust only this CA bundle (PEM)',
    '  --ip 4|6|both      address family (both: one probe over each)',
    '  --count N          icmp:// echo requests (default 1)',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    engine: { type: 'string' },
    timeout: { type: 'string' },
    'no-follow': { type: 'boolean' },
    insecure: { type: 'boolean' },
    'ca-file': { type: 'string' },
    ip: { type: 'string' },
    count: { type: 'string' },
  },
  async run(args) {
    if (args.positionals.length === 0)
      throw new UsageError('name at least one SOURCE, e.g. https://example.com/');
    const sources = resolveArguments(args);
    const now = systemClock.wallNow();
    const tick = { probeId: Math.floor(now / 1000), scheduledAt: now, lateMs: 0 };
    const signal = AbortSignal.timeout(120_000);
    setMaxListeners(0, signal); // one listener per source probed
    const ctx = { signal, clock: { now: systemClock.monoNow } };
    const cycle = await runCycle('check', tick, sources, PROBERS, ctx);
    const diagnosis = cycleDiagnosis(cycle);
    const out = args.values.json
      ? cycle.results.map((r) =>
          JSON.stringify(toRow(cycle.agent, cycle.probeId, cycle.ts, r, diagnosis.kind)),
        )
      : [
          ...cycle.results.map((r) => renderResult(r, process.stdout.isTTY === true)),
          ...(cycle.results.length > 1 ? [`Diagnosis: ${describeDiagnosis(diagnosis)}`] : []),
        ];
    process.stdout.write(`${out.join(args.values.json ? '\n' : '\n\n')}\n`);
    return cycle.results.every((r) => !r.disconnected) ? EXIT.ok : EXIT.failure;
  },
};

/** The arguments as a config document, so they meet the config file's rules and messages. */
function checkDocument(args: ParsedArgs): Record<string, unknown> {
  const ip = stringOpt(args, 'ip');
  const count = stringOpt(args, 'count');
  const forHttp = {
    ...(args.values['no-follow'] ? { follow_redirects: false } : {}),
    ...(args.values.insecure ? { insecure: true } : {}),
    ...(stringOpt(args, 'ca-file') ? { ca_file: stringOpt(args, 'ca-file') } : {}),
  };
  const forIcmp = count === undefined ? {} : { count: /^\d+$/.test(count) ? Number(count) : count };
  const forAll = ip === undefined ? {} : { ip: /^[46]$/.test(ip) ? Number(ip) : ip };
  // Options that do not apply to a kind of source are left off it: `check` mixes kinds freely.
  const byKind: Partial<Record<SourceKind, object>> = { http: forHttp, icmp: forIcmp };
  // A URI that does not parse gets no options: the config's own message about it is the one to show.
  const optionsFor = (url: string) => {
    const parsed = parseSource(url);
    return parsed.ok ? (byKind[parsed.value.kind] ?? {}) : {};
  };
  const doc: Record<string, unknown> = {
    agent: 'check',
    sources: args.positionals.map((url) => ({ url, ...forAll, ...optionsFor(url) })),
  };
  if (stringOpt(args, 'engine') !== undefined) doc.engine = stringOpt(args, 'engine');
  if (stringOpt(args, 'timeout') !== undefined) doc.timeout = stringOpt(args, 'timeout');
  return doc;
}

function resolveArguments(args: ParsedArgs): readonly SourceConfig[] {
  try {
    return checkSettings(checkDocument(args), null, {}).sources;
  } catch (err) {
    throw err instanceof ConfigError ? asArgumentIssues(err, args.positionals) : err;
  }
}

/** Config key paths → the argument the user typed, for messages about `check`'s own arguments. */
function asArgumentIssues(err: ConfigError, positionals: readonly string[]): ConfigError {
  const rename = (issue: ConfigIssue): ConfigIssue => {
    const source = /^sources\[(\d+)\](?:\.url)?$/.exec(issue.path);
    if (source)
      return { path: `SOURCE ${JSON.stringify(positionals[Number(source[1])])}`, message: issue.message };
    const option = /^sources\[\d+\]\.(\w+)$/.exec(issue.path)?.[1] ?? issue.path;
    return { path: `--${option.replace('_', '-')}`, message: issue.message };
  };
  return new ConfigError(null, err.issues.map(rename), 'arguments');
}
