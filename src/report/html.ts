/**
 * The report as one self-contained HTML file: inline CSS and SVG, no script, no external resource, a
 * light page that prints well (A4, page breaks before big tables, headers repeated). Every string from
 * the database goes through {@link escapeHtml}.
 */
import { DURATION_BUCKETS } from '../analysis/index.js';
import { escapeHtml as esc } from './escape.js';
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
import { availabilityChart } from './svg.js';
import { formatTime } from './time.js';
import * as words from './words.js';

/** Tables longer than this start on a new page when printed. */
const BIG_TABLE = 20;

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #111;
  background: #fff; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #333; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .3rem; }
.meta p { margin: .1rem 0; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #bbb; padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { background: #eee; }
.n { text-align: right; white-space: nowrap; }
.t { white-space: nowrap; }
.src { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
.headline { font-size: 1.1rem; }
.met { color: #1b5e20; font-weight: 600; }
.missed { color: #b00020; font-weight: 700; }
.warn { border-left: 4px solid #b36b00; background: #fff4e0; padding: .45rem .75rem; margin: .6rem 0; }
ul.facts { padding-left: 1.2rem; }
dl.defs dt { font-weight: 600; } dl.defs dd { margin: 0 0 .4rem 1rem; }
svg.chart { max-width: 100%; height: auto; margin: .3rem 0 1rem; }
svg .grid { stroke: #ddd; stroke-width: 1; }
svg .target { stroke: #222; stroke-width: 1; stroke-dasharray: 5 3; }
svg .axis { font-size: 10px; fill: #333; }
svg .bar-met { fill: #2e7d32; }
svg .bar-miss { fill: #c62828; }
svg .bar-none { fill: none; stroke: #999; stroke-dasharray: 2 2; }
svg .bar-gap { fill: #b36b00; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 9.5pt; }
  h2, h3 { break-after: avoid; }
  .agent + .agent, .break { break-before: page; }
  thead { display: table-header-group; }
  tr, svg.chart, .warn, ul.facts { break-inside: avoid; }
  th, svg, .warn { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

type Cell = string | { readonly html: string; readonly cls?: string };

function td(cell: Cell, numeric: boolean): string {
  if (typeof cell === 'string') return `<td${numeric ? ' class="n"' : ''}>${esc(cell)}</td>`;
  const cls = cell.cls ?? (numeric ? 'n' : '');
  return `<td${cls ? ` class="${cls}"` : ''}>${cell.html}</td>`;
}

function table(head: readonly string[], align: string, rows: readonly (readonly Cell[])[]): string {
  const th = head.map((h, i) => `<th${align[i] === 'r' ? ' class="n"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => td(c, align[i] === 'r')).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function heading(text: string, rows: number): string {
  return `<h3${rows > BIG_TABLE ? ' class="break"' : ''}>${esc(text)}</h3>`;
}

export function renderHtml(report: Report): string {
  const tz = report.range.timeZone;
  const summary =
    report.agents.length === 0
      ? '<p>No agent recorded any cycle in this period.</p>'
      : table(
          words.summaryHeader(report),
          words.SUMMARY_ALIGN,
          report.agents.map((a) => summaryRow(a)),
        );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`${words.title(report)}, ${report.range.label}`)}</title>
<style>${CSS}</style>
</head>
<body>
<header class="meta">
<h1>${esc(words.title(report))}</h1>
<p><strong>Period:</strong> ${esc(words.period(report))}</p>
<p><strong>Contracted availability target:</strong> ${esc(target(report.slaTargetPct))}</p>
<p>${esc(words.generated(report))}</p>
</header>
<h2>Summary</h2>
${summary}
${certificatesSection(report, tz)}
${report.agents.map((a) => agentSection(a, report, tz)).join('\n')}
<h2>Definitions</h2>
<dl class="defs">
${words.DEFINITIONS.map(([term, text]) => `<dt>${esc(term)}</dt><dd>${esc(text)}</dd>`).join('\n')}
</dl>
</body>
</html>
`;
}

function verdictCell(a: AgentReport): Cell {
  if (!a.sla) return '—';
  return {
    html: `<span class="${a.sla.met ? 'met' : 'missed'}">${esc(words.verdictShort(a.sla))}</span>`,
    cls: 't',
  };
}

function summaryRow(a: AgentReport): Cell[] {
  const v = a.availability;
  if (!v) return [a.agent, 'no data', pct(0), '—', '—', '—', '—'];
  return [
    a.agent,
    pct(v.uptimePct),
    `${pct(v.coveragePct)}${a.coverageWarning ? ' ⚠' : ''}`,
    duration(v.unknownS),
    verdictCell(a),
    String(a.outageSummary?.outages ?? 0),
    duration(v.downS),
  ];
}

/** Omitted when no source reported a certificate: most setups probe no https source at all. */
function certificatesSection(report: Report, tz: string): string {
  if (report.certificates.length === 0) return '';
  const rows = report.certificates.map((c): Cell[] => [
    c.agent,
    { html: esc(c.source), cls: 'src' },
    { html: esc(formatTime(c.expiresAt, tz)), cls: 't' },
    days(c.daysLeft),
    c.expiringSoon
      ? { html: `<span class="missed">${esc(words.certStatus(c))}</span>`, cls: 't' }
      : words.certStatus(c),
    { html: esc(formatTime(c.seenAt, tz)), cls: 't' },
  ]);
  return [
    '<h2>Certificates</h2>',
    `<p>${esc(words.certificatesIntro(report))}</p>`,
    table(words.CERT_HEADER, words.CERT_ALIGN, rows),
  ].join('\n');
}

function agentSection(a: AgentReport, report: Report, tz: string): string {
  const v = a.availability;
  const head = `<section class="agent">\n<h2>Agent ${esc(a.agent)}</h2>`;
  if (!v || !a.sla) return `${head}\n<p>${esc(words.noData(a.agent))}</p>\n</section>`;
  const out = [
    head,
    `<p class="headline"><strong>Availability ${esc(pct(v.uptimePct))}</strong> (${esc(words.coverage(v))}) ` +
      `against a target of ${esc(target(a.sla.targetPct))}: ` +
      `<span class="${a.sla.met ? 'met' : 'missed'}">${esc(words.verdict(a.sla))}</span>.</p>`,
  ];
  if (a.coverageWarning)
    out.push(`<p class="warn"><strong>Warning:</strong> ${esc(words.coverageWarning(v))}</p>`);
  const facts = [
    `<li><strong>Downtime budget:</strong> ${esc(words.budget(a.sla, v))}</li>`,
    `<li><strong>Cycles:</strong> ${esc(words.cycles(v))}</li>`,
  ];
  if (a.outageSummary) {
    const s = a.outageSummary;
    facts.push(
      `<li><strong>Outages:</strong> ${esc(words.outageStats(s, tz))}</li>`,
      `<li><strong>Outages by duration:</strong> ${esc(DURATION_BUCKETS.map((b) => `${b}: ${s.buckets[b]}`).join(' · '))}</li>`,
    );
  }
  out.push(`<ul class="facts">\n${facts.join('\n')}\n</ul>`);
  out.push(
    `<h3>${esc(words.chartTitle(report.chartUnit))}</h3>`,
    availabilityChart({
      points: a.chart,
      unit: report.chartUnit,
      targetPct: report.slaTargetPct,
      timeZone: tz,
      label: `${words.chartTitle(report.chartUnit)} of agent ${a.agent}`,
    }),
  );
  if (a.outages.length > 0) {
    out.push(
      heading(`Outages (${a.outages.length})`, a.outages.length),
      table(
        words.OUTAGE_HEADER,
        words.OUTAGE_ALIGN,
        a.outages.map((o, i) => [
          String(i + 1),
          { html: esc(formatTime(o.startedAt, tz)), cls: 't' },
          { html: esc(words.outageEnd(o, tz)), cls: 't' },
          ...outageFigures(o),
          o.errors.join(', ') || '—',
          words.outageWhere(o),
          words.outageNotes(o, report),
        ]),
      ),
    );
  }
  if (a.sources.length > 0) {
    const phaseRows = a.sources.flatMap(({ summary, phases }) =>
      phases.map((p): Cell[] => [{ html: esc(summary.source), cls: 'src' }, ...phaseFigures(p)]),
    );
    out.push(
      heading('Loss per source', a.sources.length),
      table(
        ['Source', 'Probes', 'Failed', 'Loss', 'Failure classes'],
        'lrrrl',
        a.sources.map(({ summary: s }) => [
          { html: esc(s.source), cls: 'src' },
          String(s.probes),
          String(s.failed),
          pct(s.lossPct),
          errorCounts(s.errors),
        ]),
      ),
      heading('Latency per source (ms)', phaseRows.length),
      table(
        ['Source', 'Phase', 'Samples', 'p50', 'p95', 'p99', 'Min', 'Max', 'Mean'],
        'llrrrrrrr',
        phaseRows,
      ),
    );
  }
  const chartRows = a.chart.map((p): Cell[] => {
    const s = p.summary;
    const label = words.periodLabel(p, report.chartUnit, tz);
    if (!s) return [label, 'no data', pct(0), '—'];
    return [label, pct(s.uptimePct), pct(s.coveragePct), durationExact(s.downS)];
  });
  out.push(
    heading(`${words.chartTitle(report.chartUnit)}: figures`, chartRows.length),
    table(
      [report.chartUnit === 'day' ? 'Day' : 'Hour', 'Availability', 'Coverage', 'Down'],
      'lrrr',
      chartRows,
    ),
    '</section>',
  );
  return out.join('\n');
}
