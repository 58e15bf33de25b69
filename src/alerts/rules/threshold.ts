/**
 * "A figure over a sliding window above a limit": the machinery latency and loss share. The figure is
 * judged once the rule has watched one whole window (after a start or a reload it first waits that long),
 * at every cycle that has data for it; the condition holds from the first cycle judged above the limit to
 * the end of the last one.
 */
import type { CycleRecord } from '../../store/types.js';
import type { AlertKind } from '../types.js';
import { type Details, type OpenCondition, type Rule, type Transition, transitionOf } from './types.js';

/** The figure of one subject at one cycle. */
export interface Level {
  readonly value: number;
  /** The samples it was computed from. */
  readonly samples: number;
}

export interface ThresholdEpisode {
  readonly startProbeId: number;
  readonly startedAtMs: number;
  endedAtMs: number;
  /** The highest figure while it held, and the latest. */
  worst: number;
  last: Level;
}

export interface ThresholdWords {
  firing(subject: string | null, level: Level): string;
  resolved(subject: string | null, episode: ThresholdEpisode, level: Level): string;
  reminder(subject: string | null, episode: ThresholdEpisode, nowMs: number): string;
  gone(subject: string | null, episode: ThresholdEpisode): string;
}

export interface ThresholdOptions {
  readonly kind: AlertKind;
  readonly windowMs: number;
  readonly limit: number;
  /** Adds the cycle to the windows (forgetting subjects it lacks); the figure of each it has data for. */
  readonly measure: (cycle: CycleRecord, intervalMs: number) => ReadonlyMap<string | null, Level>;
  /** The subjects the cycle covers (a source with no data this cycle is still probed). */
  readonly subjectsOf: (cycle: CycleRecord) => readonly (string | null)[];
  readonly details: (level: Level) => Details;
  readonly words: ThresholdWords;
  readonly saved?: unknown;
}

export function thresholdRule(opts: ThresholdOptions): Rule {
  const { kind, words } = opts;
  const episodes = restore(opts.saved);
  let firstTs: number | null = null;

  const transition = (
    state: Transition['state'],
    subject: string | null,
    e: ThresholdEpisode,
    summary: string,
    extra: Details = {},
  ): Transition =>
    transitionOf(e, {
      kind,
      state,
      subject,
      summary,
      details: { ...opts.details(e.last), worst: round(e.worst), ...extra },
    });

  return {
    kind,
    observe(cycle, intervalMs) {
      const ts = cycle.ts.getTime();
      firstTs = Math.min(firstTs ?? ts, ts);
      const levels = opts.measure(cycle, intervalMs);
      const out: Transition[] = [];
      const present = new Set(opts.subjectsOf(cycle));
      for (const [subject, episode] of episodes) {
        if (present.has(subject) || present.size === 0) continue;
        episodes.delete(subject);
        out.push(transition('resolved', subject, episode, words.gone(subject, episode), { gone: true }));
      }
      // Judged only over a whole window: right after a start the first samples alone would decide.
      if (ts + intervalMs - firstTs < opts.windowMs) return out;
      for (const [subject, level] of levels) {
        const over = level.value > opts.limit;
        const episode = episodes.get(subject);
        if (episode && over) {
          episode.endedAtMs = Math.max(episode.endedAtMs, ts + intervalMs);
          episode.worst = Math.max(episode.worst, level.value);
          episode.last = level;
        } else if (episode) {
          episodes.delete(subject);
          out.push(
            transition(
              'resolved',
              subject,
              { ...episode, last: level },
              words.resolved(subject, episode, level),
            ),
          );
        } else if (over) {
          const started = {
            startProbeId: cycle.probeId,
            startedAtMs: ts,
            endedAtMs: ts + intervalMs,
            worst: level.value,
            last: level,
          };
          episodes.set(subject, started);
          out.push(transition('firing', subject, started, words.firing(subject, level)));
        }
      }
      return out;
    },
    open() {
      return [...episodes].map(
        ([subject, e]): OpenCondition => ({
          kind,
          subject,
          startProbeId: e.startProbeId,
          startedAtMs: e.startedAtMs,
          reminder: (nowMs) => ({
            summary: words.reminder(subject, e, nowMs),
            details: { ...opts.details(e.last), worst: round(e.worst) },
          }),
        }),
      );
    },
    save() {
      return [...episodes].map(([subject, episode]) => ({ subject, episode }));
    },
  };
}

export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function restore(saved: unknown): Map<string | null, ThresholdEpisode> {
  const episodes = new Map<string | null, ThresholdEpisode>();
  if (!Array.isArray(saved)) return episodes;
  for (const item of saved) {
    const { subject, episode } = (item ?? {}) as { subject?: unknown; episode?: Partial<ThresholdEpisode> };
    if (subject !== null && typeof subject !== 'string') continue;
    const e = episode ?? {};
    const numbers = [e.startProbeId, e.startedAtMs, e.endedAtMs, e.worst, e.last?.value, e.last?.samples];
    if (!numbers.every(Number.isFinite)) continue;
    episodes.set(subject, { ...(e as ThresholdEpisode), last: { ...(e.last as Level) } });
  }
  return episodes;
}
