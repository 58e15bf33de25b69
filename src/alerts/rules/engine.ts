/**
 * The alert engine: cycles in, {@link AlertEvent}s out, with no I/O and no timers of its own (the
 * caller passes a wall clock and calls {@link AlertEngine.tick} now and then). It runs the configured
 * rules, then:
 * - names each event per the {@link AlertEvent.id} contract, so an event made twice (after a crash, say)
 *   has one id and the outbox keeps it once;
 * - reminds of a condition still firing every `repeat` (`…:reminder:n`);
 * - holds events made during a maintenance window and releases them, in order, when it ends, marked
 *   `details.held_by_maintenance` (no reminders are made inside a window: the held events say it all);
 * - caps notifications per clock hour; past the cap events are held and go out as one digest when the
 *   hour rolls (rate-limit.ts).
 * {@link AlertEngine.save} is what a restart needs to go on where this run stopped: the open conditions,
 * the held events, the reminders made and the hour's count.
 */
import type { AlertsConfig } from '../../config/types.js';
import type { CycleRecord } from '../../store/types.js';
import type { AlertEvent, AlertKind } from '../types.js';
import { certExpiryRule } from './cert-expiry.js';
import { ipv6Rule } from './ipv6.js';
import { latencyRule } from './latency.js';
import { linkDownRule } from './link-down.js';
import { lossRule } from './loss.js';
import { maintenanceEnd } from './maintenance.js';
import { admit, digestDue, emptyRate, type RateState } from './rate-limit.js';
import { sourceDownRule } from './source-down.js';
import { eventId, type OpenCondition, type Rule, type Transition } from './types.js';

const KINDS = [
  'link_down',
  'source_down',
  'latency',
  'loss',
  'ipv6',
  'cert_expiry',
] as const satisfies readonly AlertKind[];
/** Events held by maintenance kept at most; older ones are dropped (and counted) past it. */
const MAX_HELD = 1000;
const STATE_VERSION = 1;

export interface EngineOptions {
  readonly config: AlertsConfig;
  readonly agent: string;
  /** The agent's interval: a cycle covers [ts, ts + interval). */
  readonly intervalMs: number;
  /** Wall-clock ms: event times, reminders, maintenance windows, the hourly cap. */
  readonly now: () => number;
  /** What {@link AlertEngine.save} returned in an earlier run; anything unusable is ignored. */
  readonly saved?: unknown;
}

export type HoldReason = 'maintenance' | 'max_per_hour';

/** What a call produced: events to send now, in order, and events it held back. */
export interface Outcome {
  readonly send: AlertEvent[];
  readonly held: { readonly event: AlertEvent; readonly by: HoldReason }[];
}

export interface EngineStats {
  /** Conditions firing now. */
  readonly open: number;
  readonly heldByMaintenance: number;
  readonly heldByRate: number;
  /** Held events dropped past the bound, this run. */
  readonly dropped: number;
  /** The end of the maintenance window in force, or null. */
  readonly maintenanceUntil: Date | null;
}

export interface AlertEngine {
  /** Feeds one finished cycle; also does {@link tick}'s work first. */
  observe(cycle: CycleRecord): Outcome;
  /** Time-driven work: the hour's digest, releases at the end of maintenance, reminders. */
  tick(): Outcome;
  /**
   * New rules and settings (a reload). Open conditions and held events carry over; those of a rule now
   * off are dropped and returned, as nothing will end them.
   */
  reconfigure(config: AlertsConfig, intervalMs: number): OpenCondition[];
  /** JSON-able state for the next run ({@link EngineOptions.saved}). */
  save(): SavedEngine;
  /** Grows whenever {@link save} would say something new worth keeping. */
  readonly revision: number;
  stats(): EngineStats;
}

export interface SavedEngine {
  readonly version: number;
  readonly agent: string;
  readonly rules: Partial<Record<AlertKind, unknown>>;
  readonly reminders: readonly { readonly key: string; readonly firedAtMs: number; readonly sent: number }[];
  readonly heldByMaintenance: readonly AlertEvent[];
  readonly rate: RateState;
}

type Rules = Record<AlertKind, Rule | null>;

export function createEngine(opts: EngineOptions): AlertEngine {
  const { agent, now } = opts;
  const saved = usable(opts.saved, agent);
  let config = opts.config;
  let intervalMs = opts.intervalMs;
  let rules = buildRules(config, saved?.rules ?? {});
  const reminders = new Map(saved?.reminders.map((r) => [r.key, { firedAtMs: r.firedAtMs, sent: r.sent }]));
  let heldByMaintenance: AlertEvent[] = [...(saved?.heldByMaintenance ?? [])];
  const rate: RateState = saved?.rate ?? emptyRate(now());
  let dropped = 0;
  let seenCycle = false;
  let revision = 0;
  let lastKey = '';

  const toEvent = (t: Transition, nowMs: number): AlertEvent => ({
    id: eventId(t.kind, agent, t.subject, t.startProbeId, t.state),
    kind: t.kind,
    state: t.state,
    agent,
    subject: t.subject,
    startedAt: iso(t.startedAtMs),
    endedAt: t.endedAtMs === null ? null : iso(t.endedAtMs),
    durationS: t.endedAtMs === null ? null : (t.endedAtMs - t.startedAtMs) / 1000,
    summary: t.summary,
    details: t.details,
    createdAt: iso(nowMs),
  });

  /** Sends or holds `events` (made at `nowMs`), after the digest and the releases due. */
  const pass = (fresh: readonly AlertEvent[], nowMs: number): Outcome => {
    const out: Outcome = { send: [], held: [] };
    const digest = digestDue(rate, config.maxPerHour, nowMs);
    if (digest) out.send.push(digest);
    const inMaintenance = maintenanceEnd(config.maintenance, nowMs) !== null;
    const gate = (event: AlertEvent) => {
      if (admit(rate, event, config.maxPerHour, nowMs)) out.send.push(event);
      else out.held.push({ event, by: 'max_per_hour' });
    };
    if (!inMaintenance && heldByMaintenance.length > 0) {
      const released = heldByMaintenance;
      heldByMaintenance = [];
      for (const event of released)
        gate({ ...event, details: { ...event.details, held_by_maintenance: true } });
    }
    const all = [...fresh, ...remindersDue(nowMs, inMaintenance)];
    for (const event of all) {
      if (!inMaintenance) gate(event);
      else {
        heldByMaintenance.push(event);
        out.held.push({ event, by: 'maintenance' });
      }
    }
    if (heldByMaintenance.length > MAX_HELD)
      dropped += heldByMaintenance.splice(0, heldByMaintenance.length - MAX_HELD).length;
    const key = JSON.stringify(stateOf());
    if (key !== lastKey) {
      lastKey = key;
      revision++;
    }
    return out;
  };

  /** The reminders due at `nowMs`; inside maintenance they are skipped (counted as made, not made). */
  const remindersDue = (nowMs: number, skip: boolean): AlertEvent[] => {
    if (config.repeatMs === null || !seenCycle) return [];
    const out: AlertEvent[] = [];
    for (const rule of Object.values(rules)) {
      for (const c of rule?.open() ?? []) {
        const repeatMs = Math.max(config.repeatMs, c.minRepeatMs ?? 0);
        const key = conditionKey(c);
        const entry = reminders.get(key) ?? { firedAtMs: nowMs, sent: 0 };
        reminders.set(key, entry);
        // After a long stop only the latest reminder due is made, not every one missed.
        const due = Math.floor((nowMs - entry.firedAtMs) / repeatMs);
        if (due <= entry.sent) continue;
        entry.sent = due;
        if (skip) continue;
        const { summary, details } = c.reminder(nowMs);
        out.push({
          id: eventId(c.kind, agent, c.subject, c.startProbeId, 'reminder', due),
          kind: c.kind,
          state: 'reminder',
          agent,
          subject: c.subject,
          startedAt: iso(c.startedAtMs),
          endedAt: null,
          durationS: null,
          summary,
          details: { ...details, reminder: due },
          createdAt: iso(nowMs),
        });
      }
    }
    return out;
  };

  const stateOf = (): SavedEngine => {
    const ruleStates: Partial<Record<AlertKind, unknown>> = {};
    for (const kind of KINDS) {
      const state = rules[kind]?.save();
      if (Array.isArray(state) && state.length > 0) ruleStates[kind] = state;
    }
    return {
      version: STATE_VERSION,
      agent,
      rules: ruleStates,
      reminders: [...reminders].map(([key, r]) => ({ key, ...r })),
      heldByMaintenance,
      rate,
    };
  };

  return {
    observe(cycle) {
      seenCycle = true;
      const nowMs = now();
      const fresh: AlertEvent[] = [];
      for (const kind of KINDS) {
        for (const t of rules[kind]?.observe(cycle, intervalMs) ?? []) {
          const key = conditionKey(t);
          if (t.state === 'firing') reminders.set(key, { firedAtMs: nowMs, sent: 0 });
          else reminders.delete(key);
          fresh.push(toEvent(t, nowMs));
        }
      }
      return pass(fresh, nowMs);
    },
    tick: () => pass([], now()),
    reconfigure(next, nextIntervalMs) {
      const carried = Object.fromEntries(KINDS.map((kind) => [kind, rules[kind]?.save()]));
      const dropped: OpenCondition[] = [];
      for (const kind of KINDS)
        if (ruleConfig(next, kind) === null) dropped.push(...(rules[kind]?.open() ?? []));
      for (const c of dropped) reminders.delete(conditionKey(c));
      config = next;
      intervalMs = nextIntervalMs;
      rules = buildRules(next, carried);
      return dropped;
    },
    save: stateOf,
    get revision() {
      return revision;
    },
    stats() {
      const end = maintenanceEnd(config.maintenance, now());
      return {
        open: KINDS.reduce((n, kind) => n + (rules[kind]?.open().length ?? 0), 0),
        heldByMaintenance: heldByMaintenance.length,
        heldByRate: rate.held.length + rate.overflow,
        dropped,
        maintenanceUntil: end === null ? null : new Date(end),
      };
    },
  };
}

function ruleConfig(config: AlertsConfig, kind: AlertKind) {
  return {
    link_down: config.linkDown,
    source_down: config.sourceDown,
    latency: config.latency,
    loss: config.loss,
    ipv6: config.ipv6,
    cert_expiry: config.certExpiry,
  }[kind];
}

function buildRules(config: AlertsConfig, saved: Partial<Record<AlertKind, unknown>>): Rules {
  return {
    link_down: config.linkDown && linkDownRule(config.linkDown, saved.link_down),
    source_down: config.sourceDown && sourceDownRule(config.sourceDown, saved.source_down),
    latency: config.latency && latencyRule(config.latency, saved.latency),
    loss: config.loss && lossRule(config.loss, saved.loss),
    ipv6: config.ipv6 && ipv6Rule(config.ipv6, saved.ipv6),
    cert_expiry: config.certExpiry && certExpiryRule(config.certExpiry, saved.cert_expiry),
  };
}

function conditionKey(c: { kind: AlertKind; subject: string | null; startProbeId: number }): string {
  return `${c.kind} ${c.subject ?? '-'} ${c.startProbeId}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The saved state when it is this version's and this agent's, with its parts checked; else null. */
function usable(saved: unknown, agent: string): SavedEngine | null {
  const s = saved as Partial<SavedEngine> | null | undefined;
  if (typeof s !== 'object' || s === null || s.version !== STATE_VERSION || s.agent !== agent) return null;
  const rate = s.rate as Partial<RateState> | undefined;
  return {
    version: STATE_VERSION,
    agent,
    rules: typeof s.rules === 'object' && s.rules !== null ? s.rules : {},
    reminders: Array.isArray(s.reminders)
      ? s.reminders.filter(
          (r) => typeof r?.key === 'string' && Number.isFinite(r.firedAtMs) && Number.isFinite(r.sent),
        )
      : [],
    heldByMaintenance: Array.isArray(s.heldByMaintenance) ? s.heldByMaintenance.filter(isEvent) : [],
    rate: {
      hour: Number.isFinite(rate?.hour) ? (rate?.hour as number) : 0,
      sent: Number.isFinite(rate?.sent) ? (rate?.sent as number) : 0,
      held: Array.isArray(rate?.held) ? rate.held.filter(isEvent) : [],
      overflow: Number.isFinite(rate?.overflow) ? (rate?.overflow as number) : 0,
    },
  };
}

function isEvent(value: unknown): value is AlertEvent {
  const e = value as AlertEvent;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.id === 'string' &&
    KINDS.includes(e.kind) &&
    typeof e.summary === 'string' &&
    typeof e.createdAt === 'string' &&
    typeof e.details === 'object'
  );
}
