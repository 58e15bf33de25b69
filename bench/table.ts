/** The results table, as Markdown: readable in a terminal and pasted as is into the README. */
import type { Row } from './section.js';

export function renderTable(rows: readonly Row[]): string {
  const head = ['section', 'measure', 'result', 'goal', 'met'];
  const body = rows.map((r) => [r.section, r.measure, r.value, r.goal ?? '', verdict(r.met)]);
  const lines = [head, head.map(() => '---'), ...body].map(
    (cells) => `| ${cells.map(escapeCell).join(' | ')} |`,
  );
  return `${lines.join('\n')}\n`;
}

function verdict(met: boolean | undefined): string {
  if (met === undefined) return '';
  return met ? 'yes' : '**no**';
}

function escapeCell(cell: string): string {
  return cell.replaceAll('|', '\\|');
}
