/**
 * The report as one CSV table (RFC 4180: CRLF, fields quoted when they hold a comma, quote or line
 * break), in a long layout every spreadsheet and script reads the same way:
 *
 *   section,agent,source,key,metric,value,unit
 *
 * one figure per line. `section` says what the line is about (report, certificate, availability, sla,
 * outage_summary, outage_bucket, outage, source, source_error, phase, chart); `key` tells apart the
 * lines of one section and agent (an outage's start, a phase name, a failure class, a chart period's
 * start); values are exact (seconds, %, ms as full-precision numbers; times ISO 8601 with the report's
 * offset). Text from the database that a spreadsheet would run as a formula (starting with = + - @) is
 * prefixed with an apostrophe.
 */
import { DURATION_BUCKETS } from '../analysis/index.js';
import type { Report } from './model.js';
import { isoTime } from './time.js';

export const CSV_HEADER = ['section', 'agent', 'source', 'key', 'metric', 'value', 'unit'] as const;

type Value = string | number | boolean | null;

/** One field, quoted when RFC 4180 needs it. */
export function csvField(value: Value): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Text from the database, defused for spreadsheets. */
function text(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function renderCsv(report: Report): string {
  const tz = report.range.timeZone;
  const t = (d: Date) => isoTime(d, tz);
  const lines: Value[][] = [[...CSV_HEADER]];
  const add = (
    section: string,
    agent: string,
    source: string,
    key: string,
    metric: string,
    value: Value,
    unit: string,
  ) => lines.push([section, text(agent), text(source), text(key), metric, value, unit]);
  const r = report.range;
  add('report', '', '', '', 'schema', report.schema, 'text');
  add('report', '', '', '', 'generated_at', t(report.generatedAt), 'time');
  add('report', '', '', '', 'generator', report.generator, 'text');
  add('report', '', '', '', 'from', t(r.from), 'time');
  add('report', '', '', '', 'to', t(r.to), 'time');
  add('report', '', '', '', 'range_s', (r.to.getTime() - r.from.getTime()) / 1000, 's');
  add('report', '', '', '', 'time_zone', r.timeZone, 'text');
  add('report', '', '', '', 'label', r.label, 'text');
  add('report', '', '', '', 'in_progress', r.inProgress, 'bool');
  add('report', '', '', '', 'sla_target_pct', report.slaTargetPct, '%');
  add('report', '', '', '', 'chart_unit', report.chartUnit, 'text');
  for (const c of report.certificates) {
    add('certificate', c.agent, c.source, '', 'expires_at', t(c.expiresAt), 'time');
    add('certificate', c.agent, c.source, '', 'days_left', c.daysLeft, 'd');
    add('certificate', c.agent, c.source, '', 'expiring_soon', c.expiringSoon, 'bool');
    add('certificate', c.agent, c.source, '', 'seen_at', t(c.seenAt), 'time');
  }
  for (const a of report.agents) {
    const name = a.agent;
    const v = a.availability;
    if (!v || !a.sla) {
      add('availability', name, '', '', 'cycles', 0, 'count');
      add('availability', name, '', '', 'coverage_pct', 0, '%');
      continue;
    }
    for (const [metric, value, unit] of [
      ['range_s', v.rangeS, 's'],
      ['covered_s', v.coveredS, 's'],
      ['unknown_s', v.unknownS, 's'],
      ['coverage_pct', v.coveragePct, '%'],
      ['cycles', v.cycles, 'count'],
      ['expected_cycles', v.expectedCycles, 'count'],
      ['up_cycles', v.upCycles, 'count'],
      ['down_cycles', v.downCycles, 'count'],
      ['uptime_pct', v.uptimePct, '%'],
      ['down_s', v.downS, 's'],
      ['coverage_warning', a.coverageWarning, 'bool'],
    ] as const)
      add('availability', name, '', '', metric, value, unit);
    add('sla', name, '', '', 'target_pct', a.sla.targetPct, '%');
    add('sla', name, '', '', 'met', a.sla.met, 'bool');
    add('sla', name, '', '', 'margin_pp', a.sla.marginPp, 'pp');
    add('sla', name, '', '', 'allowed_down_s', a.sla.allowedDownS, 's');
    add('sla', name, '', '', 'used_down_s', a.sla.downS, 's');
    const s = a.outageSummary;
    if (s) {
      add('outage_summary', name, '', '', 'outages', s.outages, 'count');
      add('outage_summary', name, '', '', 'down_s', s.downS, 's');
      add('outage_summary', name, '', '', 'mttr_s', s.mttrS, 's');
      add('outage_summary', name, '', '', 'mtbf_s', s.mtbfS, 's');
      add('outage_summary', name, '', '', 'longest_s', s.longestS, 's');
      add(
        'outage_summary',
        name,
        '',
        '',
        'longest_started_at',
        s.longestStartedAt && t(s.longestStartedAt),
        'time',
      );
      for (const b of DURATION_BUCKETS) add('outage_bucket', name, '', b, 'outages', s.buckets[b], 'count');
    }
    for (const o of a.outages) {
      const key = t(o.startedAt);
      add('outage', name, '', key, 'started_at', key, 'time');
      add('outage', name, '', key, 'ended_at', t(o.endedAt), 'time');
      add('outage', name, '', key, 'duration_s', o.durationS, 's');
      add('outage', name, '', key, 'cycles', o.cycles, 'count');
      add('outage', name, '', key, 'unknown_s', o.unknownS, 's');
      add('outage', name, '', key, 'errors', o.errors.join(' '), 'text');
      add('outage', name, '', key, 'diagnosis', o.diagnosis?.text ?? null, 'text');
      add('outage', name, '', key, 'diagnosis_kind', o.diagnosis?.kind ?? null, 'text');
      add('outage', name, '', key, 'ongoing', o.ongoing, 'bool');
      add('outage', name, '', key, 'bucket', o.bucket, 'text');
    }
    for (const { summary: src, phases } of a.sources) {
      add('source', name, src.source, '', 'probes', src.probes, 'count');
      add('source', name, src.source, '', 'failed', src.failed, 'count');
      add('source', name, src.source, '', 'loss_pct', src.lossPct, '%');
      for (const [cls, n] of Object.entries(src.errors))
        add('source_error', name, src.source, cls, 'probes', n, 'count');
      for (const p of phases) {
        add('phase', name, src.source, p.phase, 'samples', p.samples, 'count');
        for (const [metric, value] of [
          ['p50_ms', p.p50Ms],
          ['p95_ms', p.p95Ms],
          ['p99_ms', p.p99Ms],
          ['min_ms', p.minMs],
          ['max_ms', p.maxMs],
          ['avg_ms', p.avgMs],
        ] as const)
          add('phase', name, src.source, p.phase, metric, value, 'ms');
      }
    }
    for (const p of a.chart) {
      const key = t(p.from);
      add('chart', name, '', key, 'to', t(p.to), 'time');
      add('chart', name, '', key, 'cycles', p.summary?.cycles ?? 0, 'count');
      add('chart', name, '', key, 'uptime_pct', p.summary?.uptimePct ?? null, '%');
      add('chart', name, '', key, 'coverage_pct', p.summary?.coveragePct ?? 0, '%');
      add('chart', name, '', key, 'down_s', p.summary?.downS ?? 0, 's');
    }
  }
  return lines.map((l) => `${l.map(csvField).join(',')}\r\n`).join('');
}
