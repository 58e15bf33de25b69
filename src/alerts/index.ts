/**
 * Alerting in a running agent: every finished cycle goes through the rules (rules/engine.ts), and each
 * event they make goes into the durable outbox (outbox.ts) before anything else happens, from where the
 * notifiers get it, in order, when they can be reached. When a cycle is UP again after a DOWN one the
 * outbox stops waiting out its backoff and tries at once: the link is back.
 *
 * The rules' state (open conditions, events held by maintenance or by the hourly cap, reminders made) is
 * kept in `<data_dir>/alerts/rules.json`, written after the events it accounts for are in the outbox, so
 * a restart goes on where the last run stopped: an outage that began before it ends with its recovery
 * notice, and an event made twice gets the same id, which the outbox keeps once.
 */

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { AlertsConfig, Config, NotifierConfig } from '../config/types.js';
import { isDown } from '../diagnosis/diagnose.js';
import { errorText, type Logger } from '../log.js';
import type { Clock } from '../scheduler/clock.js';
import type { CycleRecord } from '../store/types.js';
import type { LiveHub } from '../web/live.js';
import { createNotifier as registryNotifier } from './notifiers/index.js';
import type { NotifierDeps } from './notifiers/types.js';
import { type Outbox, openOutbox, outboxDir } from './outbox.js';
import { type AlertEngine, createEngine, type EngineStats, type Outcome } from './rules/engine.js';
import type { Notifier } from './types.js';

/** How often time-driven work runs: reminders, releases when maintenance ends, the hour's digest. */
const TICK_MS = 5_000;

export interface AlertsOptions {
  readonly config: AlertsConfig;
  readonly agent: string;
  readonly intervalMs: number;
  /** The outbox lives in `<dataDir>/outbox`, the rules' state in `<dataDir>/alerts`. */
  readonly dataDir: string;
  readonly live: LiveHub;
  readonly log: Logger;
  readonly clock: Clock;
  /** Builds a notifier (default: the registry in notifiers/index.ts). */
  readonly createNotifier?: (config: NotifierConfig, deps: NotifierDeps) => Notifier;
}

export interface Alerts {
  /** A reloaded configuration: new rules and notifiers; open conditions and pending events are kept. */
  reconfigure(config: Config): void;
  /** Stops evaluating and delivering; what is pending stays on disk for the next start. */
  stop(): Promise<void>;
  stats(): EngineStats;
}

/**
 * Opens the outbox, restores the rules' state and subscribes to the agent's cycles.
 * @throws when the data directory cannot hold the outbox or the state.
 */
export async function startAlerts(opts: AlertsOptions): Promise<Alerts> {
  const { live, log, clock } = opts;
  const build = opts.createNotifier ?? registryNotifier;
  const stateDir = join(opts.dataDir, 'alerts');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const statePath = join(stateDir, 'rules.json');
  let config: AlertsConfig | null = opts.config;
  let agent = opts.agent;
  const makeEngine = (alerts: AlertsConfig, intervalMs: number, saved?: unknown) =>
    createEngine({ config: alerts, agent, intervalMs, now: () => clock.wallNow(), saved });
  let engine: AlertEngine = makeEngine(opts.config, opts.intervalMs, await readState(statePath, log));
  let savedRevision = engine.revision;

  const openFor = async (notifiers: readonly NotifierConfig[]) => {
    const outbox = await openOutbox({
      dir: outboxDir(opts.dataDir),
      notifiers: notifiers.map((n) => build(n, { log })),
      log,
      clock: { now: () => clock.wallNow() },
    });
    outbox.start();
    return outbox;
  };
  let notifiers = opts.config.notifiers;
  let outbox: Outbox = await openFor(notifiers);

  // Everything that touches the engine or the outbox runs here, one step at a time, in order.
  let chain: Promise<void> = Promise.resolve();
  const serial = (step: () => Promise<void>) => {
    chain = chain
      .then(step)
      .catch((err: unknown) => log.error('alerting step failed', { err: errorText(err) }));
    return chain;
  };

  /** Events to the outbox (durable before anything else), then the state that accounts for them. */
  let dropped = 0;
  const deliver = async (outcome: Outcome) => {
    for (const { event, by } of outcome.held)
      log.info('alert held', { id: event.id, by, summary: event.summary });
    const nowDropped = engine.stats().dropped;
    if (nowDropped > dropped) {
      log.error('too many alerts held by maintenance: the oldest were dropped', {
        dropped: nowDropped - dropped,
      });
      dropped = nowDropped;
    }
    for (const event of outcome.send) {
      try {
        await outbox.enqueue(event);
        log.info('alert', { id: event.id, state: event.state, summary: event.summary });
      } catch (err) {
        log.error('alert not kept on disk: delivered by this run only', {
          id: event.id,
          err: errorText(err),
        });
      }
    }
    if (engine.revision === savedRevision) return;
    const revision = engine.revision;
    try {
      await writeState(statePath, engine.save());
      savedRevision = revision;
    } catch (err) {
      log.warn('cannot save the alert rules state; will retry', { path: statePath, err: errorText(err) });
    }
  };

  let last: { probeId: number; down: boolean } | null = null;
  const onCycle = (cycle: CycleRecord) => {
    const down = isDown(cycle.results);
    if (last === null || cycle.probeId > last.probeId) {
      if (last?.down && !down) outbox.retry();
      last = { probeId: cycle.probeId, down };
    }
    void serial(async () => {
      if (config !== null) await deliver(engine.observe(cycle));
    });
  };
  const unsubscribe = live.on('cycle', onCycle);
  const timer = setInterval(() => {
    void serial(async () => {
      if (config !== null) await deliver(engine.tick());
    });
  }, TICK_MS);
  timer.unref();
  log.info('alerting started', {
    notifiers: notifiers.map((n) => n.name).join(',') || 'none',
    state: statePath,
  });
  if (notifiers.length === 0) log.warn('alerting has no notifiers: alerts go to this log only');

  const reconfigure = async (next: Config) => {
    if (next.alerts === null) {
      if (config !== null)
        log.warn('reload: alerts removed: rules stopped; pending notifications are still delivered');
      config = null;
      return;
    }
    if (next.agent !== agent) {
      log.info('reload: new agent name: alert rules start afresh', { agent: next.agent });
      agent = next.agent;
      engine = makeEngine(next.alerts, next.intervalMs);
      dropped = 0;
    } else {
      for (const c of engine.reconfigure(next.alerts, next.intervalMs)) {
        log.warn('reload: rule turned off while firing: no recovery notice will follow', {
          kind: c.kind,
          subject: c.subject ?? undefined,
        });
      }
    }
    config = next.alerts;
    if (JSON.stringify(next.alerts.notifiers) !== JSON.stringify(notifiers)) {
      await outbox.stop();
      notifiers = next.alerts.notifiers;
      outbox = await openFor(notifiers);
      log.info('reload: notifiers changed', { notifiers: notifiers.map((n) => n.name).join(',') || 'none' });
    } else {
      // Someone fixed a receiver and reloaded: try what is pending now.
      outbox.retry();
    }
    await deliver(engine.tick());
  };

  return {
    reconfigure(next) {
      void serial(() => reconfigure(next));
    },
    async stop() {
      unsubscribe();
      clearInterval(timer);
      await serial(async () => {
        if (engine.revision !== savedRevision) await writeState(statePath, engine.save());
      });
      await outbox.stop();
    },
    stats: () => engine.stats(),
  };
}

/** The state an earlier run saved, or undefined (none yet, or unreadable: logged, and started afresh). */
async function readState(path: string, log: Logger): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      log.warn('cannot read the alert rules state; starting afresh', { path, err: errorText(err) });
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    log.warn('alert rules state is damaged; starting afresh', { path, err: errorText(err) });
    return undefined;
  }
}

/** Writes `state` whole or not at all: a temporary file, synced, renamed over the old one. */
async function writeState(path: string, state: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(state));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}
