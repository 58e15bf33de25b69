/**
 * The sentences every human-readable format shares, as plain text (each renderer escapes them for its
 * own syntax), so the markdown and the HTML report can never word a figure differently.
 */
import type { AgentSummary, Outage, OutageSummary } from '../analysis/index.js';
import { duration, durationExact, pct, pp, seconds, target } from './format.js';
import {
  CERT_WARNING_DAYS,
  type CertificateReport,
  type ChartPoint,
  COVERAGE_WARNING_PCT,
  type Report,
  type SlaVerdict,
} from './model.js';
import { formatDate, formatOffset, formatTime, offsetMinutes, type PeriodUnit, wallTime } from './time.js';

/** The columns of the per-agent summary table, and their alignment (l/r per column). */
export function summaryHeader(report: Report): string[] {
  return [
    'Agent',
    'Availability',
    'Coverage',
    'Unknown',
    `Target ${target(report.slaTargetPct)}`,
    'Outages',
    'Downtime',
  ];
}
export const SUMMARY_ALIGN = 'lrrrlrr';

export function title(report: Report): string {
  const who = report.agents.length === 1 ? ` — ${report.agents[0]?.agent}` : '';
  return `Network availability report${who}`;
}

/** "2026-10-01 00:00:00 +00:00 to 2026-10-01 03:00:00 +00:00 (3 h 00 min 00 s, UTC)". */
export function period(report: Report): string {
  const { from, to, timeZone, inProgress } = report.range;
  const span = duration((to.getTime() - from.getTime()) / 1000);
  const now = inProgress ? ', in progress: ends now' : '';
  return `${formatTime(from, timeZone)} to ${formatTime(to, timeZone)} (${span}, times in ${timeZone}${now})`;
}

export function generated(report: Report): string {
  const at = new Date(Math.floor(report.generatedAt.getTime() / 1000) * 1000);
  return `Generated ${formatTime(at, report.range.timeZone)} by ${report.generator}.`;
}

/** "met, 0.054 pp above the target" / "missed by 4.528 pp". */
export function verdict(sla: SlaVerdict): string {
  return sla.met
    ? `met (${pp(sla.marginPp)} above the ${target(sla.targetPct)} target)`
    : `missed by ${pp(sla.marginPp).replace(/^−/, '')} (target ${target(sla.targetPct)})`;
}

/** "met (+0.054 pp)" / "missed by 4.528 pp": for tables that name the target in their header. */
export function verdictShort(sla: SlaVerdict): string {
  return sla.met ? `met (${pp(sla.marginPp)})` : `missed by ${pp(sla.marginPp).replace(/^−/, '')}`;
}

/** The downtime budget the target leaves in the measured time, and how much of it was used. */
export function budget(sla: SlaVerdict, a: AgentSummary): string {
  const allowed = `${durationExact(sla.allowedDownS)} of downtime allowed (${complement(sla.targetPct)} % of the ${durationExact(a.coveredS)} measured)`;
  const used = `${durationExact(sla.downS)} used`;
  const rest = sla.budgetLeftS;
  const tail = rest >= 0 ? `${durationExact(rest)} left` : `${durationExact(-rest)} over the budget`;
  return `${allowed}; ${used}, ${tail}.`;
}

/** 100 − target, with the target's own decimals (100 − 99.9 is 0.1, not 0.09999999999999432). */
function complement(targetPct: number): string {
  const decimals = String(targetPct).split('.')[1]?.length ?? 0;
  return (100 - targetPct).toFixed(decimals);
}

/** "coverage 97.037 %, 5 min 20 s unknown": stated next to every availability figure. */
export function coverage(a: AgentSummary): string {
  return `coverage ${pct(a.coveragePct)}, ${durationExact(a.unknownS)} unknown`;
}

export function coverageWarning(a: AgentSummary): string {
  return (
    `Coverage is ${pct(a.coveragePct)}, below ${COVERAGE_WARNING_PCT} %: ${durationExact(a.unknownS)} of the ` +
    'period were not measured (the agent was not running, or its host was asleep). That time counts ' +
    'neither as up nor as down: the availability figure describes the measured time only.'
  );
}

export function noData(agent: string): string {
  return `No cycles recorded for agent ${agent} in this period: nothing was measured, so there is no availability figure.`;
}

export function cycles(a: AgentSummary): string {
  return `${a.cycles} recorded of ${a.expectedCycles} expected: ${a.upCycles} UP, ${a.downCycles} DOWN, for ${durationExact(a.downS)} of downtime.`;
}

export function outageStats(s: OutageSummary, timeZone: string): string {
  if (s.outages === 0) return 'No outages.';
  const longest =
    s.longestS === null
      ? ''
      : `; longest ${durationExact(s.longestS)}${s.longestStartedAt ? ` from ${formatTime(s.longestStartedAt, timeZone)}` : ''}`;
  return (
    `${s.outages} outage${s.outages === 1 ? '' : 's'}; MTTR (mean outage duration) ${nullable(s.mttrS)}; ` +
    `MTBF (up time per outage) ${nullable(s.mtbfS)}${longest}.`
  );
}

function nullable(s: number | null): string {
  return s === null ? '—' : durationExact(s);
}

/** What is unusual about an outage's place in the range. */
export function outageNotes(o: Outage, report: Report): string {
  const notes: string[] = [];
  if (o.startedAt.getTime() < report.range.from.getTime()) notes.push('began before the period');
  if (o.endedAt.getTime() > report.range.to.getTime() && !o.ongoing) notes.push('ended after the period');
  if (o.ongoing) notes.push('ongoing: no UP cycle since');
  if (o.unknownS > 0) notes.push(`${seconds(o.unknownS)} s not measured inside it`);
  return notes.join('; ');
}

/** Where an outage broke, with its evidence ("ISP (gateway answered, 1.1.1.1 did not)"), or a dash. */
export function outageWhere(o: Outage): string {
  return o.diagnosis?.text ?? '—';
}

/** The columns of an agent's outage table, and their alignment. */
export const OUTAGE_HEADER = [
  '#',
  'Start',
  'End',
  'Duration',
  'Seconds',
  'Down cycles',
  'Unknown s',
  'Failure classes',
  'Where',
  'Notes',
] as const;
export const OUTAGE_ALIGN = 'rllrrrrlll';

/** When an outage ended, or "… (ongoing)" when the period ended first. */
export function outageEnd(o: Outage, timeZone: string): string {
  return `${formatTime(o.endedAt, timeZone)}${o.ongoing ? ' (ongoing)' : ''}`;
}

/** The columns of the certificate table, and their alignment. */
export const CERT_HEADER = ['Agent', 'Source', 'Expires', 'Days left', 'Status', 'Last seen'] as const;
export const CERT_ALIGN = 'lllrll';

/** Certificates are read as of now, so say so: the report's range may lie far in the past. */
export function certificatesIntro(report: Report): string {
  const at = new Date(Math.floor(report.generatedAt.getTime() / 1000) * 1000);
  return (
    `The certificate each https source presented last, read at ${formatTime(at, report.range.timeZone)} ` +
    `(not limited to the period); flagged when fewer than ${CERT_WARNING_DAYS} days are left.`
  );
}

/** "ok", "expires within 14 days" or "expired". */
export function certStatus(c: CertificateReport): string {
  if (c.daysLeft < 0) return 'expired';
  return c.expiringSoon ? `expires within ${CERT_WARNING_DAYS} days` : 'ok';
}

export function chartTitle(unit: PeriodUnit): string {
  return unit === 'day' ? 'Daily availability' : 'Hourly availability';
}

/** "2026-10-01" for a day, "2026-10-01 02:00 +02:00" for an hour (a partial period shows its true start). */
export function periodLabel(p: ChartPoint, unit: PeriodUnit, timeZone: string): string {
  if (unit === 'day') return formatDate(p.from, timeZone);
  const w = wallTime(p.from, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${formatDate(p.from, timeZone)} ${two(w.hour)}:${two(w.minute)} ${formatOffset(offsetMinutes(p.from, timeZone))}`;
}

/** The definitions of migrations 002 and 003, for the reader of a report. */
export const DEFINITIONS: readonly (readonly [string, string])[] = [
  ['Cycle', 'one scheduled tick of the agent: every source probed once.'],
  ['DOWN', 'a cycle in which every source failed (no response at all); UP otherwise.'],
  [
    'Availability (uptime)',
    'UP cycles / recorded cycles. Time with no recorded cycle is unknown: neither up nor down.',
  ],
  [
    'Coverage',
    'seconds covered by recorded cycles (each covers the agent’s interval) / seconds in the period.',
  ],
  [
    'Outage',
    'a maximal run of DOWN cycles with no UP cycle between them, shown whole (its true start and end); missing cycles inside it do not end it and are counted as its unknown seconds.',
  ],
  [
    'Where',
    'where an outage broke: the diagnosis most of its DOWN cycles had. LAN: the gateway did not answer; ISP: the gateway answered, nothing beyond it did; DNS: addresses answered, names did not resolve; down: every source failed and no gateway source tells the LAN from the ISP. The sources in parentheses are the evidence (gone once retention has deleted the raw rows); a dash when the cycles predate diagnoses.',
  ],
  ['Loss', 'failed probes / probes sent, per source.'],
  ['MTTR', 'mean outage duration.'],
  ['MTBF', 'seconds up (covered − down) per outage.'],
  [
    'Downtime budget',
    'the DOWN time the target allows within the measured time: (100 % − target) × seconds covered.',
  ],
  [
    'Certificate days left',
    'from the time the report was read to the earliest expiry among the certificates the source presented in its latest probe that had one.',
  ],
  [
    'Latency percentiles',
    'p50/p95/p99 from the rollups’ histograms (within 4.5 % of the exact value); min, max and mean are exact.',
  ],
];
