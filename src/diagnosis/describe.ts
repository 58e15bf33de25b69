/**
 * A diagnosis in words, for logs, notifications and reports: "ISP (gateway answered, 1.1.1.1 and
 * 9.9.9.9 did not)". Sources are named as a person would (a host, "gateway", "9.9.9.9 DNS").
 */
import { hostOf, parseSource } from '../config/sources.js';
import type { Diagnosis, DiagnosisKind } from './diagnose.js';

const TITLES: Readonly<Record<DiagnosisKind, string>> = {
  ok: 'OK',
  lan: 'LAN',
  isp: 'ISP',
  dns: 'DNS',
  partial: 'partial',
  ipv6: 'IPv6',
  down: 'down',
};

/** The diagnosis's one-word name ("ISP", "LAN", …). */
export function diagnosisTitle(kind: DiagnosisKind): string {
  return TITLES[kind];
}

/** What a person would call a source: its host (and port, resolver, family); the URI if it does not parse. */
export function sourceLabel(uri: string): string {
  const parsed = parseSource(uri);
  if (!parsed.ok) return uri;
  const source = parsed.value;
  const host = hostOf(source);
  const shown = host.includes(':') ? `[${host}]` : host;
  const name =
    source.kind === 'dns' ? `${shown} DNS` : source.kind === 'tcp' ? `${shown}:${source.port}` : shown;
  return source.family === null ? name : `${name} (IPv${source.family})`;
}

/** "a", "a and b", "a, b and c"; past four, "a, b, c and 5 more". */
export function listOf(items: readonly string[]): string {
  const unique = [...new Set(items)];
  if (unique.length <= 1) return unique[0] ?? '';
  const shown = unique.length > 4 ? [...unique.slice(0, 3), `${unique.length - 3} more`] : unique;
  return `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`;
}

/** The evidence in parentheses, or '' when there is none worth saying. */
function evidence(d: Diagnosis): string {
  const answered = listOf(d.answered.map(sourceLabel));
  const failed = listOf(d.failed.map(sourceLabel));
  switch (d.kind) {
    case 'ok':
      return '';
    case 'lan':
      return `${failed} did not answer`;
    case 'dns':
      return answered ? `${answered} answered, ${failed} did not resolve` : `${failed} did not resolve`;
    case 'ipv6':
      return `${answered} answered, ${failed} did not`;
    case 'isp':
      return `${answered} answered, ${failed} did not`;
    case 'partial':
      return `${failed} failed`;
    case 'down':
      return 'every source failed; add icmp://gateway to tell the LAN from the ISP';
  }
}

/** "ISP (gateway answered, 1.1.1.1 and 9.9.9.9 did not)". */
export function describeDiagnosis(d: Diagnosis): string {
  const why = evidence(d);
  return why ? `${TITLES[d.kind]} (${why})` : TITLES[d.kind];
}
