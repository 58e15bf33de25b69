/**
 * The report as Markdown: what a person pastes into a ticket to their ISP. Every string from the
 * database is escaped, so an agent or source name cannot inject markup.
 */
import { DURATION_BUCKETS } from '../analysis/index.js';
import { chartFloor, textBar } from './chart.js';
import {
  days,
  duration,
  durationExact,
  errorCounts,
  outageFigures,
  pct,
  phaseFigures,
  target,
} from './format.js';
import type { AgentReport, Report } from './model.js';
import { formatTime } from './time.js';
import * as words from './words.js';

/** Text made literal for Markdown (CommonMark and GFM): punctuation escaped, line breaks flattened. */
export function mdText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/[\\`*_[\]<>|&~#!]/g, '\\$&');
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(head: readonly string[], align: string, rows: readonly (readonly string[])[]): string[] {
  const rule = [...align].map((a) => (a === 'r' ? '---:' : '---'));
  return [row(head), row(rule), ...rows.map(row)];
}

export function renderMarkdown(report: Report): string {
  const tz = report.range.timeZone;
  const out: string[] = [
    `# ${mdText(words.title(report))}`,
    '',
    `**Period:** ${mdText(words.period(report))}  `,
    `**Contracted availability target:** ${target(report.slaTargetPct)}  `,
    mdText(words.generated(report)),
    '',
    '## Summary',
    '',
  ];
  if (report.agents.length === 0) out.push('No agent recorded any cycle in this period.', '');
  else {
    out.push(
      ...table(
        words.summaryHeader(report),
        words.SUMMARY_ALIGN,
        report.agents.map((a) => summaryRow(a)),
      ),
      '',
    );
  }
  out.push(...certificatesSection(report, tz));
  for (const agent of report.agents) out.push(...agentSection(agent, report, tz));
  out.push(
    '## Definitions',
    '',
    ...words.DEFINITIONS.map(([term, text]) => `- **${term}:** ${mdText(text)}`),
    '',
  );
  return `${out.join('\n')}`;
}

function summaryRow(a: AgentReport): string[] {
  const name = mdText(a.agent);
  if (!a.availability || !a.sla) return [name, 'no data', '0 %', '—', '—', '—', '—'];
  const v = a.availability;
  return [
    name,
    pct(v.uptimePct),
    `${pct(v.coveragePct)}${a.coverageWarning ? ' ⚠' : ''}`,
    duration(v.unknownS),
    a.sla.met ? words.verdictShort(a.sla) : `**${words.verdictShort(a.sla)}**`,
    String(a.outageSummary?.outages ?? 0),
    duration(v.downS),
  ];
}

/** Omitted when no source reported a certificate: most setups probe no https source at all. */
function certificatesSection(report: Report, tz: string): string[] {
  if (report.certificates.length === 0) return [];
  return [
    '## Certificates',
    '',
    mdText(words.certificatesIntro(report)),
    '',
    ...table(
      words.CERT_HEADER,
      words.CERT_ALIGN,
      report.certificates.map((c) => {
        const status = mdText(words.certStatus(c));
        return [
          mdText(c.agent),
          mdText(c.source),
          formatTime(c.expiresAt, tz),
          days(c.daysLeft),
          c.expiringSoon ? `**${status}** ⚠` : status,
          formatTime(c.seenAt, tz),
        ];
      }),
    ),
    '',
  ];
}

function agentSection(a: AgentReport, report: Report, tz: string): string[] {
  const out = [`## Agent ${mdText(a.agent)}`, ''];
  const v = a.availability;
  if (!v || !a.sla) return [...out, mdText(words.noData(a.agent)), ''];
  out.push(
    `**Availability ${pct(v.uptimePct)}** (${mdText(words.coverage(v))}) against a target of ${target(a.sla.targetPct)}: ` +
      `**${mdText(words.verdict(a.sla))}**.`,
    '',
  );
  if (a.coverageWarning) out.push(`> **Warning:** ${mdText(words.coverageWarning(v))}`, '');
  out.push(
    `- **Downtime budget:** ${mdText(words.budget(a.sla, v))}`,
    `- **Cycles:** ${mdText(words.cycles(v))}`,
  );
  if (a.outageSummary) {
    const s = a.outageSummary;
    out.push(
      `- **Outages:** ${mdText(words.outageStats(s, tz))}`,
      `- **Outages by duration:** ${DURATION_BUCKETS.map((b) => `${mdText(b)}: ${s.buckets[b]}`).join(' · ')}`,
    );
  }
  out.push('');
  if (a.outages.length > 0) {
    out.push(`### Outages (${a.outages.length})`, '');
    out.push(
      ...table(
        words.OUTAGE_HEADER,
        words.OUTAGE_ALIGN,
        a.outages.map((o, i) => [
          String(i + 1),
          formatTime(o.startedAt, tz),
          words.outageEnd(o, tz),
          ...outageFigures(o),
          mdText(o.errors.join(', ') || '—'),
          mdText(words.outageWhere(o)),
          mdText(words.outageNotes(o, report)),
        ]),
      ),
      '',
    );
  }
  if (a.sources.length > 0) {
    out.push('### Loss per source', '');
    out.push(
      ...table(
        ['Source', 'Probes', 'Failed', 'Loss', 'Failure classes'],
        'lrrrl',
        a.sources.map(({ summary: s }) => [
          mdText(s.source),
          String(s.probes),
          String(s.failed),
          pct(s.lossPct),
          mdText(errorCounts(s.errors)),
        ]),
      ),
      '',
      '### Latency per source (ms)',
      '',
      ...table(
        ['Source', 'Phase', 'Samples', 'p50', 'p95', 'p99', 'Min', 'Max', 'Mean'],
        'llrrrrrrr',
        a.sources.flatMap(({ summary, phases }) =>
          phases.map((p) => [mdText(summary.source), ...phaseFigures(p)]),
        ),
      ),
      '',
    );
  }
  out.push(...chartSection(a, report, tz));
  return out;
}

function chartSection(a: AgentReport, report: Report, tz: string): string[] {
  const floor = chartFloor(a.chart, report.slaTargetPct);
  return [
    `### ${words.chartTitle(report.chartUnit)}`,
    '',
    ...table(
      [report.chartUnit === 'day' ? 'Day' : 'Hour', 'Availability', 'Coverage', 'Down', `${floor} % … 100 %`],
      'lrrrl',
      a.chart.map((p) => {
        const label = words.periodLabel(p, report.chartUnit, tz);
        const s = p.summary;
        if (!s) return [label, 'no data', pct(0), '—', ''];
        const miss = s.uptimePct < report.slaTargetPct ? ' ✗' : '';
        return [
          label,
          `${pct(s.uptimePct)}${miss}`,
          pct(s.coveragePct),
          durationExact(s.downS),
          textBar(s.uptimePct, floor, 20),
        ];
      }),
    ),
    '',
  ];
}
