/**
 * `wmn check` output for people: one bar per phase on a shared time axis, the way httpstat draws it,
 * so where the time went is visible at a glance.
 */
import { fmtMs, waitMs } from '../agent/summary.js';
import type { ProbeResult } from '../probes/types.js';

const WIDTH = 40;

interface Segment {
  readonly label: string;
  readonly ms: number | null;
}

function segments(r: ProbeResult): Segment[] {
  return [
    { label: 'DNS lookup', ms: r.dnsMs },
    { label: 'TCP connect', ms: r.connectMs },
    { label: 'TLS handshake', ms: r.tlsMs },
    { label: 'Server wait', ms: waitMs(r) },
    { label: 'Transfer', ms: r.ttfbMs === null ? null : r.totalMs - r.ttfbMs },
  ];
}

export function renderResult(r: ProbeResult, color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const verdict = r.disconnected
    ? paint(31, `DOWN (${r.error})`)
    : r.status === null
      ? paint(32, 'OK')
      : paint(r.status < 400 ? 32 : 33, `HTTP ${r.status}${r.error ? ` then ${r.error}` : ''}`);
  const lines = [
    `${paint(1, r.source)}  ${verdict}  ${fmtMs(r.totalMs)}${r.remoteIp ? `  via ${r.remoteIp}` : ''}`,
  ];
  const scale = WIDTH / Math.max(r.totalMs, 1e-9);
  let offset = 0;
  for (const { label, ms } of segments(r)) {
    if (ms === null) {
      lines.push(`  ${label.padEnd(14)} ${' '.repeat(WIDTH)}        -`);
      continue;
    }
    const start = Math.min(WIDTH, Math.round(offset * scale));
    const len = Math.max(1, Math.min(WIDTH - start, Math.round(ms * scale)));
    const bar = `${' '.repeat(start)}${paint(36, '█'.repeat(len))}${' '.repeat(Math.max(0, WIDTH - start - len))}`;
    lines.push(`  ${label.padEnd(14)} ${bar} ${fmtMs(ms).padStart(9)}`);
    offset += ms;
  }
  if (r.samplesMs) lines.push(`  ${'Replies'.padEnd(14)} ${replies(r.samplesMs)}`);
  if (r.certExpiresAt !== undefined)
    lines.push(`  ${'Certificate'.padEnd(14)} ${certificate(r.certExpiresAt)}`);
  if (r.detail && r.error) lines.push(`  ${paint(2, r.detail)}`);
  return lines.join('\n');
}

/** "4/5 (20% loss), min/avg/max 0.05/0.06/0.08ms". */
function replies(samples: readonly (number | null)[]): string {
  const rtts = samples.filter((s) => s !== null);
  const loss = Math.round((100 * (samples.length - rtts.length)) / Math.max(samples.length, 1));
  const spread =
    rtts.length === 0
      ? ''
      : `, min/avg/max ${[Math.min(...rtts), rtts.reduce((a, b) => a + b, 0) / rtts.length, Math.max(...rtts)].map(fmtMs).join('/')}`;
  return `${rtts.length}/${samples.length} (${loss}% loss)${spread}`;
}

/** "expires 2027-01-01 (38 days)", or "EXPIRED 2020-01-01 (2150 days ago)". */
function certificate(expiresAt: number): string {
  const days = Math.floor((expiresAt * 1000 - Date.now()) / 86_400_000);
  const date = new Date(expiresAt * 1000).toISOString().slice(0, 10);
  return days >= 0 ? `expires ${date} (${days} days)` : `EXPIRED ${date} (${-days} days ago)`;
}
