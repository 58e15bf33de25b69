/** The availability chart as inline SVG: one bar per period, the target as a dashed line, no script. */
import { chartFloor, fraction } from './chart.js';
import { escapeHtml as esc } from './escape.js';
import { durationExact, pct } from './format.js';
import { type ChartPoint, COVERAGE_WARNING_PCT } from './model.js';
import type { PeriodUnit } from './time.js';
import { periodLabel } from './words.js';

const WIDTH = 720;
const HEIGHT = 200;
const LEFT = 56;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 34;

export interface ChartOptions {
  readonly points: readonly ChartPoint[];
  readonly unit: PeriodUnit;
  readonly targetPct: number;
  readonly timeZone: string;
  /** Names the chart for screen readers. */
  readonly label: string;
}

export function availabilityChart(opts: ChartOptions): string {
  const { points, unit, targetPct, timeZone } = opts;
  const floor = chartFloor(points, targetPct);
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const slot = plotW / Math.max(1, points.length);
  const gap = slot > 6 ? Math.min(4, slot * 0.2) : 0;
  const y = (v: number) => TOP + plotH * (1 - fraction(v, floor));
  const parts: string[] = [];
  for (const v of [floor, (floor + 100) / 2, 100]) {
    parts.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${n(y(v))}" y2="${n(y(v))}" class="grid"/>`,
      `<text x="${LEFT - 4}" y="${n(y(v) + 4)}" class="axis" text-anchor="end">${esc(`${round(v)} %`)}</text>`,
    );
  }
  const every = Math.max(1, Math.ceil(points.length / 12));
  points.forEach((p, i) => {
    const x = LEFT + i * slot + gap / 2;
    const w = Math.max(0.5, slot - gap);
    const label = periodLabel(p, unit, timeZone);
    const s = p.summary;
    if (!s) {
      parts.push(
        `<rect x="${n(x)}" y="${TOP}" width="${n(w)}" height="${plotH}" class="bar-none"><title>${esc(`${label}: no data`)}</title></rect>`,
      );
    } else {
      const top = y(s.uptimePct);
      const cls = s.uptimePct < targetPct ? 'bar-miss' : 'bar-met';
      const tip = `${label}: availability ${pct(s.uptimePct)}, coverage ${pct(s.coveragePct)}, down ${durationExact(s.downS)}`;
      parts.push(
        `<rect x="${n(x)}" y="${n(top)}" width="${n(w)}" height="${n(Math.max(0.5, TOP + plotH - top))}" class="${cls}"><title>${esc(tip)}</title></rect>`,
      );
      if (s.coveragePct < COVERAGE_WARNING_PCT)
        parts.push(
          `<rect x="${n(x)}" y="${TOP + plotH + 2}" width="${n(w)}" height="4" class="bar-gap"><title>${esc(`${label}: coverage ${pct(s.coveragePct)}`)}</title></rect>`,
        );
    }
    if (i % every === 0) {
      const text = unit === 'day' ? label.slice(5) : label.slice(11, 16);
      parts.push(
        `<text x="${n(x + w / 2)}" y="${HEIGHT - 14}" class="axis" text-anchor="middle">${esc(text)}</text>`,
      );
    }
  });
  const ty = y(targetPct);
  parts.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${n(ty)}" y2="${n(ty)}" class="target"/>`,
    `<text x="${WIDTH - RIGHT}" y="${n(ty - 3)}" class="axis" text-anchor="end">${esc(`target ${targetPct} %`)}</text>`,
  );
  return [
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" aria-label="${esc(opts.label)}" class="chart">`,
    ...parts,
    '</svg>',
  ].join('\n');
}

function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function round(v: number): string {
  return String(Math.round(v * 100) / 100);
}
