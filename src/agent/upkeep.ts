/**
 * The agent's bookkeeping in the database besides its rows: registering its interval and sources (the
 * rollups count each cycle as covering one interval), and deleting raw rows past `retention.raw`.
 * Neither may disturb probing: a failure is logged and retried later, never thrown at the agent.
 */
import type { Config } from '../config/types.js';
import { errorText, type Logger } from '../log.js';
import type { AgentRegistration, Store } from '../store/index.js';
import { VERSION } from '../version.js';

export interface UpkeepOptions {
  readonly store: Pick<Store, 'registerAgent' | 'applyRetention'>;
  readonly config: Config;
  readonly log: Logger;
  /** How often a failed registration is retried. */
  readonly retryMs?: number;
  /** How often retention runs after the first, which {@link Upkeep.applyRetention} starts. */
  readonly retentionEveryMs?: number;
}

export interface Upkeep {
  /** Registers the current configuration unless already done; rejects when the database refuses. */
  ensureRegistered(): Promise<void>;
  /** A reloaded configuration: registered again, retention follows its `retention.raw`. */
  reconfigure(config: Config): void;
  /** Resolves with the raw rows deleted (0 without `retention.raw`); logs instead of rejecting. */
  applyRetention(): Promise<number>;
  stop(): void;
}

export function registrationOf(config: Config): AgentRegistration {
  return {
    agent: config.agent,
    intervalMs: config.intervalMs,
    sources: config.sources.map((s) => s.source.uri),
    version: VERSION,
  };
}

export function startUpkeep(opts: UpkeepOptions): Upkeep {
  const { store, log } = opts;
  let config = opts.config;
  let registered: string | null = null;
  let failing = false;

  const ensureRegistered = async () => {
    const registration = registrationOf(config);
    const key = JSON.stringify(registration);
    if (registered === key) return;
    await store.registerAgent(registration);
    registered = key;
    if (failing) log.info('agent registered', { interval_s: registration.intervalMs / 1000 });
    failing = false;
  };
  const tryRegister = () =>
    ensureRegistered().catch((err: unknown) => {
      // Logged once per failing streak: the writer already reports an unreachable database every cycle.
      if (!failing) log.warn('cannot register the agent yet; will retry', { err: errorText(err) });
      failing = true;
    });

  const applyRetention = async () => {
    const keepMs = config.rawRetentionMs;
    if (keepMs === null) return 0;
    try {
      const deleted = await store.applyRetention(keepMs);
      if (deleted > 0)
        log.info('raw rows past retention deleted', { deleted, older_than_days: keepMs / 86_400_000 });
      return deleted;
    } catch (err) {
      log.warn('raw-row retention failed; will retry', { err: errorText(err) });
      return 0;
    }
  };

  const retry = setInterval(() => void tryRegister(), opts.retryMs ?? 30_000);
  retry.unref();
  const retention = setInterval(() => void applyRetention(), opts.retentionEveryMs ?? 3_600_000);
  retention.unref();

  return {
    ensureRegistered,
    reconfigure(next) {
      config = next;
      void tryRegister();
    },
    applyRetention,
    stop() {
      clearInterval(retry);
      clearInterval(retention);
    },
  };
}
