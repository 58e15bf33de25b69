/** The availability axis the charts share: bars from a floor to 100 %, so 99.2 % and 99.9 % look different. */
import type { ChartPoint } from './model.js';

const FLOORS = [99.99, 99.95, 99.9, 99.5, 99, 98, 95, 90, 80, 50, 0] as const;

/** The highest floor strictly below both the lowest availability charted and the target. */
export function chartFloor(points: readonly ChartPoint[], targetPct: number): number {
  const lowest = Math.min(targetPct, ...points.map((p) => p.summary?.uptimePct ?? 100));
  return FLOORS.find((f) => f < lowest) ?? 0;
}

/** Where a value sits between the floor (0) and 100 % (1). */
export function fraction(valuePct: number, floor: number): number {
  return Math.max(0, Math.min(1, (valuePct - floor) / (100 - floor)));
}

const BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A text bar `width` cells wide at full scale, in eighths of a cell. */
export function textBar(valuePct: number, floor: number, width: number): string {
  const eighths = Math.round(fraction(valuePct, floor) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + (BLOCKS[eighths % 8] ?? '');
}
