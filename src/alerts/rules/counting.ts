/**
 * "Failed in N of the last M": the machinery link_down, source_down and ipv6 share. Each subject (the
 * link, or one source) keeps its last M marks ordered by probe_id (cycles finish, and so arrive, slightly
 * out of order when probes overlap) and, while the condition holds, an episode: from the first bad mark
 * that made it fire to the end of the last bad one. A rule may fold more than counts into the episode (a
 * {@link Tally}: link_down's diagnosis), from facts its bad marks carry.
 */
import type { CycleRecord } from '../../store/types.js';
import type { AlertKind } from '../types.js';
import { type Details, type OpenCondition, type Rule, type Transition, transitionOf } from './types.js';

/** One cycle as a rule counts it. */
export interface Mark<F = never> {
  readonly probeId: number;
  /** The cycle's ts, and its end (ts + the interval), in wall-clock ms. */
  readonly ts: number;
  readonly end: number;
  readonly bad: boolean;
  /** Failure classes of a bad mark. */
  readonly errors: readonly string[];
  /**
   * What the rule's tally takes from a bad mark. Kept in memory only: a saved mark has none, as only
   * marks of an open episode are saved and those are already in its tally.
   */
  readonly facts?: F;
}

/**
 * A rule's own account of an episode, folded from the facts of its bad marks. It is saved with the
 * episode, so it must be JSON-able and bounded, whatever the episode's length.
 */
export interface Tally<F, T> {
  empty(): T;
  /** Folds one bad mark's facts into `tally`. */
  add(tally: T, facts: F): void;
  /** A tally from {@link Rule.save}, or null when it is unusable (the episode goes on with an empty one). */
  restore(saved: unknown): T | null;
  details(tally: T | null): Details;
}

/** A condition from firing to recovery. */
export interface Episode<T = null> {
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
  /** The rule's tally of the bad marks; null for a rule without one. */
  tally: T | null;
}

interface SubjectState<F, T> {
  marks: Mark<F>[];
  episode: Episode<T> | null;
}

/** What one counting rule says, in its own words. */
export interface CountingWords<T = null> {
  firing(
    subject: string | null,
    episode: Episode<T>,
    window: { bad: number; of: number },
    nowMs: number,
  ): string;
  resolved(subject: string | null, episode: Episode<T>): string;
  reminder(subject: string | null, episode: Episode<T>, nowMs: number): string;
  /** A subject no longer in the cycles (a source removed by a reload) while its condition was open. */
  gone(subject: string | null, episode: Episode<T>): string;
}

export interface CountingOptions<F = never, T = null> {
  readonly kind: AlertKind;
  readonly cycles: number;
  readonly of: number;
  /** The marks of one cycle: one per subject (null: the whole link). */
  readonly marksOf: (cycle: CycleRecord, intervalMs: number) => ReadonlyMap<string | null, Mark<F>>;
  /** Subjects missing from a cycle are forgotten (their open condition ends as gone). */
  readonly forgetsAbsent: boolean;
  readonly words: CountingWords<T>;
  readonly tally?: Tally<F, T>;
  /** The names of the episode's counts in details: bad marks, and good ones between the first and last bad. */
  readonly names: { readonly bad: string; readonly goodBetween: string };
  readonly saved?: unknown;
}

export function countingRule<F = never, T = null>(opts: CountingOptions<F, T>): Rule {
  const { kind, cycles, of, words, tally } = opts;
  const subjects = restore<F, T>(opts.saved, of, tally);

  const { names } = opts;
  const details = (episode: Episode<T>): Details => ({
    rule: `${cycles} of ${of}`,
    [names.bad]: episode.bad,
    [names.goodBetween]: episode.good,
    errors: episode.errors.join(','),
    ...tally?.details(episode.tally),
  });
  const transition = (
    state: Transition['state'],
    subject: string | null,
    episode: Episode<T>,
    summary: string,
    extra: Details = {},
  ): Transition =>
    transitionOf(episode, { kind, state, subject, summary, details: { ...details(episode), ...extra } });

  const step = (
    subject: string | null,
    state: SubjectState<F, T>,
    mark: Mark<F>,
    nowMs: number,
  ): Transition[] => {
    if (!insert(state.marks, mark, of)) return [];
    const bad = state.marks.filter((m) => m.bad).length;
    const { episode } = state;
    if (episode) {
      count(episode, mark, tally);
      if (bad >= cycles) return [];
      state.episode = null;
      return [transition('resolved', subject, episode, words.resolved(subject, episode))];
    }
    if (bad < cycles) return [];
    const started = startEpisode(state.marks, tally);
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
        .map(([subject, state]) => ({
          subject,
          marks: state.marks.map(({ facts: _, ...mark }) => mark),
          episode: state.episode,
        }));
    },
  };
}

/** Inserts `mark` in probe_id order, keeping the last `of`; false for a repeat or one older than them all. */
function insert<F>(marks: Mark<F>[], mark: Mark<F>, of: number): boolean {
  let i = marks.length;
  while (i > 0 && (marks[i - 1] as Mark<F>).probeId > mark.probeId) i--;
  if (i > 0 && (marks[i - 1] as Mark<F>).probeId === mark.probeId) return false;
  if (i === 0 && marks.length >= of) return false;
  marks.splice(i, 0, mark);
  if (marks.length > of) marks.splice(0, marks.length - of);
  return true;
}

/** The episode the window holds when the condition starts: from its first bad mark. */
function startEpisode<F, T>(marks: readonly Mark<F>[], tally: Tally<F, T> | undefined): Episode<T> {
  const first = marks.findIndex((m) => m.bad);
  const head = marks[first] as Mark<F>;
  const episode: Episode<T> = {
    startProbeId: head.probeId,
    startedAtMs: head.ts,
    endedAtMs: head.end,
    bad: 0,
    good: 0,
    trailingGood: 0,
    errors: [],
    tally: tally ? tally.empty() : null,
  };
  for (const mark of marks.slice(first)) count(episode, mark, tally);
  return episode;
}

function count<F, T>(episode: Episode<T>, mark: Mark<F>, tally: Tally<F, T> | undefined): void {
  if (!mark.bad) {
    episode.trailingGood++;
    return;
  }
  episode.bad++;
  episode.good += episode.trailingGood;
  episode.trailingGood = 0;
  episode.endedAtMs = Math.max(episode.endedAtMs, mark.end);
  episode.errors = [...new Set([...episode.errors, ...mark.errors])].sort();
  if (tally && episode.tally !== null && mark.facts !== undefined) tally.add(episode.tally, mark.facts);
}

/** Subjects with open episodes from {@link Rule.save}; anything malformed is left out. */
function restore<F, T>(
  saved: unknown,
  of: number,
  tally: Tally<F, T> | undefined,
): Map<string | null, SubjectState<F, T>> {
  const subjects = new Map<string | null, SubjectState<F, T>>();
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
      .map(({ facts: _, ...mark }): Mark<F> => mark)
      .sort((a, b) => a.probeId - b.probeId)
      .slice(-of);
    // A tally lost (saved by an older version) starts afresh: the cycles still to come are evidence too.
    const restored = tally ? (tally.restore(episode.tally) ?? tally.empty()) : null;
    subjects.set(subject, {
      marks: kept,
      episode: { ...episode, errors: [...episode.errors], tally: restored },
    });
  }
  return subjects;
}

function isMark(value: unknown): value is Mark<unknown> {
  const m = value as Mark<unknown>;
  return (
    typeof m === 'object' &&
    m !== null &&
    [m.probeId, m.ts, m.end].every(Number.isFinite) &&
    typeof m.bad === 'boolean' &&
    Array.isArray(m.errors)
  );
}

function isEpisode(value: unknown): value is Episode<unknown> {
  const e = value as Episode<unknown>;
  return (
    typeof e === 'object' &&
    e !== null &&
    [e.startProbeId, e.startedAtMs, e.endedAtMs, e.bad, e.good, e.trailingGood].every(Number.isFinite) &&
    Array.isArray(e.errors)
  );
}
