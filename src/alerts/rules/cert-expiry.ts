/**
 * cert_expiry: an https source presents a certificate that expires in less than `days` days (its
 * `certExpiresAt`, the earliest notAfter of the chain, against the cycle's ts). It ends when a later
 * probe presents one beyond that (renewed). A probe without a certificate (it failed, or never got to
 * the handshake) says nothing about it: the source keeps its state, so a flaky server does not make the
 * alert flap. A source removed from the configuration while its condition is open ends it with a notice
 * saying so. Reminders come at most daily: the date does not change by the hour.
 */
import type { CycleRecord } from '../../store/types.js';
import { lasting } from './text.js';
import { type Details, type OpenCondition, type Rule, type Transition, transitionOf } from './types.js';

const DAY_MS = 86_400_000;

interface CertEpisode {
  readonly startProbeId: number;
  readonly startedAtMs: number;
  /** The end of the last cycle that found the certificate too close to its end. */
  endedAtMs: number;
  /** The notAfter (unix seconds) of the certificate last presented. */
  expiresAt: number;
}

interface SourceState {
  /** The probe_id of the latest cycle that presented a certificate: older ones arriving late are ignored. */
  lastProbeId: number;
  episode: CertEpisode | null;
}

export function certExpiryRule(config: { days: number }, saved?: unknown): Rule {
  const limitMs = config.days * DAY_MS;
  const sources = restore(saved);
  const under = `less than ${config.days} day${config.days === 1 ? '' : 's'}`;

  const details = (expiresAt: number, atMs: number): Details => ({
    expires_at: new Date(expiresAt * 1000).toISOString(),
    days_left: Math.floor((expiresAt * 1000 - atMs) / DAY_MS),
    threshold_days: config.days,
  });
  const transition = (
    state: Transition['state'],
    subject: string,
    e: CertEpisode,
    summary: string,
    details: Details,
  ) => transitionOf(e, { kind: 'cert_expiry', state, subject, summary, details });

  const judge = (cycle: CycleRecord, intervalMs: number, source: string, expiresAt: number): Transition[] => {
    const ts = cycle.ts.getTime();
    const state = sources.get(source) ?? { lastProbeId: Number.NEGATIVE_INFINITY, episode: null };
    sources.set(source, state);
    if (cycle.probeId <= state.lastProbeId) return [];
    state.lastProbeId = cycle.probeId;
    const short = expiresAt * 1000 - ts < limitMs;
    const { episode } = state;
    if (episode && short) {
      episode.endedAtMs = Math.max(episode.endedAtMs, ts + intervalMs);
      episode.expiresAt = expiresAt;
      return [];
    }
    if (episode) {
      state.episode = null;
      const renewed = expiresAt > episode.expiresAt;
      const summary = renewed
        ? `${source} certificate renewed: it ${expiry(expiresAt, ts)}; the old one ${expiry(episode.expiresAt, ts)}`
        : `${source} certificate ${expiry(expiresAt, ts)}: no longer ${under}`;
      return [transition('resolved', source, episode, summary, { ...details(expiresAt, ts), renewed })];
    }
    if (!short) return [];
    const started = { startProbeId: cycle.probeId, startedAtMs: ts, endedAtMs: ts + intervalMs, expiresAt };
    state.episode = started;
    const soon = expiresAt * 1000 > ts ? ` (${under})` : '';
    const summary = `${source} certificate ${expiry(expiresAt, ts)}${soon}`;
    return [transition('firing', source, started, summary, details(expiresAt, ts))];
  };

  return {
    kind: 'cert_expiry',
    observe(cycle, intervalMs) {
      const out: Transition[] = [];
      const present = new Set(cycle.results.map((r) => r.source));
      if (present.size > 0) {
        for (const [source, { episode }] of sources) {
          if (present.has(source)) continue;
          sources.delete(source);
          if (!episode) continue;
          const summary = `${source} no longer probed (removed from the configuration); its certificate ${expiry(episode.expiresAt, episode.endedAtMs)}`;
          const extra = { ...details(episode.expiresAt, episode.endedAtMs), gone: true };
          out.push(transition('resolved', source, episode, summary, extra));
        }
      }
      for (const r of cycle.results) {
        if (r.certExpiresAt !== undefined) out.push(...judge(cycle, intervalMs, r.source, r.certExpiresAt));
      }
      return out;
    },
    open() {
      const out: OpenCondition[] = [];
      for (const [source, { episode: e }] of sources) {
        if (!e) continue;
        out.push({
          kind: 'cert_expiry',
          subject: source,
          startProbeId: e.startProbeId,
          startedAtMs: e.startedAtMs,
          minRepeatMs: DAY_MS,
          reminder: (nowMs) => ({
            summary: `${source} certificate still not renewed: it ${expiry(e.expiresAt, nowMs)}`,
            details: details(e.expiresAt, nowMs),
          }),
        });
      }
      return out;
    },
    save() {
      return [...sources]
        .filter(([, state]) => state.episode !== null)
        .map(([subject, state]) => ({ subject, lastProbeId: state.lastProbeId, episode: state.episode }));
    },
  };
}

/** "expires 2026-03-10 12:00 UTC, in 9 days", or "EXPIRED 2026-02-20 12:00 UTC, 9 days ago". */
function expiry(expiresAt: number, atMs: number): string {
  const leftMs = expiresAt * 1000 - atMs;
  const date = `${new Date(expiresAt * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return leftMs > 0 ? `expires ${date}, in ${days(leftMs)}` : `EXPIRED ${date}, ${days(-leftMs)} ago`;
}

/** "9 days", "1 day"; under a day to the second: "5 h 12 min 00 s". */
function days(ms: number): string {
  if (ms < DAY_MS) return lasting(0, ms);
  const n = Math.floor(ms / DAY_MS);
  return `${n} day${n === 1 ? '' : 's'}`;
}

function restore(saved: unknown): Map<string, SourceState> {
  const sources = new Map<string, SourceState>();
  if (!Array.isArray(saved)) return sources;
  for (const item of saved) {
    const { subject, lastProbeId, episode } = (item ?? {}) as {
      subject?: unknown;
      lastProbeId?: unknown;
      episode?: Partial<CertEpisode>;
    };
    const e = episode ?? {};
    const numbers = [lastProbeId, e.startProbeId, e.startedAtMs, e.endedAtMs, e.expiresAt];
    if (typeof subject !== 'string' || !numbers.every(Number.isFinite)) continue;
    sources.set(subject, { lastProbeId: lastProbeId as number, episode: { ...(e as CertEpisode) } });
  }
  return sources;
}
