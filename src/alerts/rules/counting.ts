/**
 * "Failed in N of the last M": the machinery link_down and source_down share. Each subject (the link,
 * or one source) keeps its last M marks ordered by probe_id (cycles finish, and so arrive, slightly out of
 * order when probes overlap) and, while the condition holds, an episode: from the first bad mark that made
 * it fire to the end of the last bad one.
 */
import type { CycleRecord } from '../../store/types.js';
import type { AlertKind } from '../types.js';
import type { Details, OpenCondition, Rule, Transition } from './types.js';

/** One cycle as a rule counts it. */
export interface Mark {
  readonly probeId: number;
  /** The cycle's ts, and its end (ts + the interval), in wall-clock ms. */
  readonly ts: number;
  readonly end: number;
  readonly bad: boolean;
  /** Failure classes of a bad mark. */
  readonly errors: readonly string[];
}

/** A condition from firing to recovery. */
export interface Episode {
  readonly startProbeId: number;
  readonly startedAtMs: number;
  /** The end of the last bad mark. */
  endedAtMs: number;
  /** Bad marks since the start. */
  bad: number;
  /** Good marks between the start and the last bad mark (0: one unbroken run, as wmn_outages counts). */
  good: number;
  /** Good marks after the last bad one. */
  trailingGood: number;
  errors: string[];
}

interface SubjectState {
  marks: Mark[];
  episode: Episode | null;
}

/** What one counting rule says, in its own words. */
export interface CountingWords {
  firing(
    subject: string | null,
    episode: Episode,
    window: { bad: number; of: number },
    nowMs: number,
  ): string;
  resolved(subject: string | null, episode: Episode): string;
  reminder(subject: string | null, episode: Episode, nowMs: number): string;
  /** A subject no longer in the cycles (a source removed by a reload) while its condition was open. */
  gone(subject: string | null, episode: Episode): string;
}

export interface CountingOptions {
  readonly kind: AlertKind;
  readonly cycles: number;
  readonly of: number;
  /** The marks of one cycle: one per subject (null: the whole link). */
  readonly marksOf: (cycle: CycleRecord, intervalMs: number) => ReadonlyMap<string | null, Mark>;
  /** Subjects missing from a cycle are forgotten (their open condition ends as gone). */
  readonly forgetsAbsent: boolean;
  readonly words: CountingWords;
  /** The names of the episode's counts in details: bad marks, and good ones between the first and last bad. */
  readonly names: { readonly bad: string; readonly goodBetween: string };
  readonly saved?: unknown;
}

export function countingRule(opts: CountingOptions): Rule {
  const { kind, cycles, of, words } = opts;
  const subjects = restore(opts.saved, of);

  const { names } = opts;
  const details = (episode: Episode): Details => ({
    rule: `${cycles} of ${of}`,
    [names.bad]: episode.bad,
    [names.goodBetween]: episode.good,
    errors: episode.errors.join(','),
  });
  const transition = (
    state: Transition['state'],
    subject: string | null,
    episode: Episode,
    summary: string,
    extra: Details = {},
  ): Transition => ({
    kind,
    state,
    subject,
    startProbeId: episode.startProbeId,
    startedAtMs: episode.startedAtMs,
    endedAtMs: state === 'resolved' ? episode.endedAtMs : null,
    summary,
    details: { ...details(episode), ...extra },
  });

  const step = (subject: string | null, state: SubjectState, mark: Mark, nowMs: number): Transition[] => {
    if (!insert(state.marks, mark, of)) return [];
    const bad = state.marks.filter((m) => m.bad).length;
    const { episode } = state;
    if (episode) {
      count(episode, mark);
      if (bad >= cycles) return [];
      state.episode = null;
      return [transition('resolved', subject, episode, words.resolved(subject, episode))];
    }
    if (bad < cycles) return [];
    const started = startEpisode(state.marks);
    state.episode = started;
    return [transition('firing', subject, started, words.firing(subject, started, { bad, of }, nowMs))];
  };

  return {
    kind,
    observe(cycle, intervalMs) {
      const marks = opts.marksOf(cycle, intervalMs);
      const nowMs = cycle.ts.getTime();
      const out: Transition[] = [];
      for (const [subject, mark] of marks) {
        const state = subjects.get(subject) ?? { marks: [], episode: null };
        subjects.set(subject, state);
        out.push(...step(subject, state, mark, nowMs));
      }
      if (opts.forgetsAbsent && marks.size > 0) {
        for (const [subject, state] of subjects) {
          if (marks.has(subject)) continue;
          subjects.delete(subject);
          const { episode } = state;
          if (episode)
            out.push(transition('resolved', subject, episode, words.gone(subject, episode), { gone: true }));
        }
      }
      return out;
    },
    open() {
      const out: OpenCondition[] = [];
      for (const [subject, { episode }] of subjects) {
        if (!episode) continue;
        out.push({
          kind,
          subject,
          startProbeId: episode.startProbeId,
          startedAtMs: episode.startedAtMs,
          reminder: (nowMs) => ({
            summary: words.reminder(subject, episode, nowMs),
            details: details(episode),
          }),
        });
      }
      return out;
    },
    save() {
      return [...subjects]
        .filter(([, state]) => state.episode !== null)
        .map(([subject, state]) => ({ subject, marks: state.marks, episode: state.episode }));
    },
  };
}

/** Inserts `mark` in probe_id order, keeping the last `of`; false for a repeat or one older than them all. */
function insert(marks: Mark[], mark: Mark, of: number): boolean {
  let i = marks.length;
  while (i > 0 && (marks[i - 1] as Mark).probeId > mark.probeId) i--;
  if (i > 0 && (marks[i - 1] as Mark).probeId === mark.probeId) return false;
  if (i === 0 && marks.length >= of) return false;
  marks.splice(i, 0, mark);
  if (marks.length > of) marks.splice(0, marks.length - of);
  return true;
}

/** The episode the window holds when the condition starts: from its first bad mark. */
function startEpisode(marks: readonly Mark[]): Episode {
  const first = marks.findIndex((m) => m.bad);
  const head = marks[first] as Mark;
  const episode: Episode = {
    startProbeId: head.probeId,
    startedAtMs: head.ts,
    endedAtMs: head.end,
    bad: 0,
    good: 0,
    trailingGood: 0,
    errors: [],
  };
  for (const mark of marks.slice(first)) count(episode, mark);
  return episode;
}

function count(episode: Episode, mark: Mark): void {
  if (!mark.bad) {
    episode.trailingGood++;
    return;
  }
  episode.bad++;
  episode.good += episode.trailingGood;
  episode.trailingGood = 0;
  episode.endedAtMs = Math.max(episode.endedAtMs, mark.end);
  episode.errors = [...new Set([...episode.errors, ...mark.errors])].sort();
}

/** Subjects with open episodes from {@link Rule.save}; anything malformed is left out. */
function restore(saved: unknown, of: number): Map<string | null, SubjectState> {
  const subjects = new Map<string | null, SubjectState>();
  if (!Array.isArray(saved)) return subjects;
  for (const item of saved) {
    const { subject, marks, episode } = (item ?? {}) as {
      subject?: unknown;
      marks?: unknown;
      episode?: unknown;
    };
    if ((subject !== null && typeof subject !== 'string') || !Array.isArray(marks) || !isEpisode(episode))
      continue;
    const kept = marks
      .filter(isMark)
      .sort((a, b) => a.probeId - b.probeId)
      .slice(-of);
    subjects.set(subject, { marks: kept, episode: { ...episode, errors: [...episode.errors] } });
  }
  return subjects;
}

function isMark(value: unknown): value is Mark {
  const m = value as Mark;
  return (
    typeof m === 'object' &&
    m !== null &&
    [m.probeId, m.ts, m.end].every(Number.isFinite) &&
    typeof m.bad === 'boolean' &&
    Array.isArray(m.errors)
  );
}

function isEpisode(value: unknown): value is Episode {
  const e = value as Episode;
  return (
    typeof e === 'object' &&
    e !== null &&
    [e.startProbeId, e.startedAtMs, e.endedAtMs, e.bad, e.good, e.trailingGood].every(Number.isFinite) &&
    Array.isArray(e.errors)
  );
}
