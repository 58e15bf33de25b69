/**
 * The report as JSON: every figure, exact (seconds as numbers, times as ISO 8601 with the report's
 * offset), snake_case like the SQL columns, under a `schema` version.
 */
import type { Report } from './model.js';
import { isoTime } from './time.js';

/** The report as plain JSON-ready data. */
export function reportData(report: Report): Record<string, unknown> {
  const tz = report.range.timeZone;
  const t = (d: Date) => isoTime(d, tz);
  return {
    schema: report.schema,
    generated_at: t(report.generatedAt),
    generator: report.generator,
    range: {
      from: t(report.range.from),
      to: t(report.range.to),
      seconds: (report.range.to.getTime() - report.range.from.getTime()) / 1000,
      time_zone: tz,
      label: report.range.label,
      in_progress: report.range.inProgress,
    },
    sla_target_pct: report.slaTargetPct,
    chart_unit: report.chartUnit,
    agents: report.agents.map((a) => ({
      agent: a.agent,
      availability: a.availability && {
        range_s: a.availability.rangeS,
        covered_s: a.availability.coveredS,
        unknown_s: a.availability.unknownS,
        coverage_pct: a.availability.coveragePct,
        cycles: a.availability.cycles,
        expected_cycles: a.availability.expectedCycles,
        up_cycles: a.availability.upCycles,
        down_cycles: a.availability.downCycles,
        uptime_pct: a.availability.uptimePct,
        down_s: a.availability.downS,
      },
      coverage_warning: a.coverageWarning,
      sla: a.sla && {
        target_pct: a.sla.targetPct,
        met: a.sla.met,
        margin_pp: a.sla.marginPp,
        allowed_down_s: a.sla.allowedDownS,
        used_down_s: a.sla.downS,
      },
      outage_summary: a.outageSummary && {
        outages: a.outageSummary.outages,
        down_s: a.outageSummary.downS,
        mttr_s: a.outageSummary.mttrS,
        mtbf_s: a.outageSummary.mtbfS,
        longest_s: a.outageSummary.longestS,
        longest_started_at: a.outageSummary.longestStartedAt && t(a.outageSummary.longestStartedAt),
        buckets: a.outageSummary.buckets,
      },
      outages: a.outages.map((o) => ({
        started_at: t(o.startedAt),
        ended_at: t(o.endedAt),
        duration_s: o.durationS,
        cycles: o.cycles,
        unknown_s: o.unknownS,
        errors: o.errors,
        diagnosis: o.diagnosis && { kind: o.diagnosis.kind, text: o.diagnosis.text },
        ongoing: o.ongoing,
        bucket: o.bucket,
      })),
      sources: a.sources.map(({ summary: s, phases }) => ({
        source: s.source,
        probes: s.probes,
        failed: s.failed,
        loss_pct: s.lossPct,
        errors: s.errors,
        phases: phases.map((p) => ({
          phase: p.phase,
          samples: p.samples,
          p50_ms: p.p50Ms,
          p95_ms: p.p95Ms,
          p99_ms: p.p99Ms,
          min_ms: p.minMs,
          max_ms: p.maxMs,
          avg_ms: p.avgMs,
        })),
      })),
      chart: a.chart.map((p) => ({
        from: t(p.from),
        to: t(p.to),
        cycles: p.summary?.cycles ?? 0,
        down_cycles: p.summary?.downCycles ?? 0,
        uptime_pct: p.summary?.uptimePct ?? null,
        coverage_pct: p.summary?.coveragePct ?? 0,
        down_s: p.summary?.downS ?? 0,
      })),
    })),
    certificates: report.certificates.map((c) => ({
      agent: c.agent,
      source: c.source,
      expires_at: t(c.expiresAt),
      days_left: c.daysLeft,
      expiring_soon: c.expiringSoon,
      seen_at: t(c.seenAt),
    })),
  };
}

export function renderJson(report: Report): string {
  return `${JSON.stringify(reportData(report), null, 2)}\n`;
}
