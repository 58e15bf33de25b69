/** `wmn report`'s engine: read the SLA answers for a range, then print them as md, html, csv or json. */
import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './md.js';
import type { Report } from './model.js';

export { COVERAGE_WARNING_PCT, REPORT_SCHEMA, type Report, type ReportRange } from './model.js';
export { type ReadReportOptions, readReport } from './read.js';

export const FORMATS = ['md', 'html', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

const RENDERERS = { md: renderMarkdown, html: renderHtml, csv: renderCsv, json: renderJson } satisfies Record<
  Format,
  (report: Report) => string
>;

export function renderReport(report: Report, format: Format): string {
  return RENDERERS[format](report);
}
