/** `wmn run`: the agent, until SIGTERM/SIGINT (a second signal aborts in-flight probes). */
import { type Agent, startAgent } from '../../agent/agent.js';
import { startUpkeep } from '../../agent/upkeep.js';
import { openCycleWriter } from '../../agent/writer.js';
import { type Alerts, startAlerts } from '../../alerts/index.js';
import { type AlertsConfig, type Config, ConfigError, type WebConfig } from '../../config/types.js';
import { errorText, type Logger } from '../../log.js';
import { PROBERS } from '../../probes/index.js';
import { systemClock } from '../../scheduler/clock.js';
import { migrateBeforeWrites, type Store, StoreError } from '../../store/index.js';
import { createLiveHub, type LiveHub } from '../../web/live.js';
import { allRoutes } from '../../web/routes.js';
import { type Route, startWebServer, type WebServer } from '../../web/server.js';
import { CONFIG_OPTION, type Command, EXIT, loadConfigFrom, openConfigured } from '../command.js';

export const runCommand: Command = {
  path: ['run'],
  usage: 'run [--config FILE]',
  summary: 'Probe every source each interval and store every row (the agent).',
  ...CONFIG_OPTION,
  async run(args) {
    const { config, log, store } = await openConfigured(args);
    try {
      const migrated = await migrateAtStart(store, log);
      log.info('storage ready', {
        kind: store.describe.kind,
        url: store.describe.url,
        psql: store.describe.psql,
      });
      const upkeep = startUpkeep({ store, config, log });
      const registered = () =>
        upkeep.ensureRegistered().catch((err: unknown) => {
          log.warn('cannot register the agent yet; will retry', { err: errorText(err) });
        });
      if (migrated) await registered();
      const target = migrated ? store : migrateBeforeWrites(store, log, registered);
      void upkeep.applyRetention();
      const writer = await openCycleWriter({
        store: target,
        dataDir: config.dataDir,
        log,
        maxSpoolBytes: config.spoolMaxBytes,
      });
      const live = createLiveHub();
      const alerts = config.alerts && (await startAlertsOrLog(config, config.alerts, live, log));
      const agent = startAgent({
        config,
        writer,
        probers: PROBERS,
        clock: systemClock,
        log,
        onCycle: live.publishCycle,
        onTick: live.publishTick,
      });
      let running = config;
      const web =
        config.web &&
        (await startWeb(config.web, allRoutes({ config: () => running, store, live, agent, log }), log));
      const current = {
        reconfigure: (next: Config) => {
          running = next;
          if (!alerts && next.alerts) log.warn('reload: alerting needs a restart to start');
        },
      };
      const targets = [agent, upkeep, current, ...(alerts ? [alerts] : [])];
      const onHangup = () => void reload(() => loadConfigFrom(args), config, targets, log);
      process.on('SIGHUP', onHangup);
      const signal = await nextSignal(() => {
        log.warn('second signal: aborting in-flight probes');
        agent.abort();
      });
      log.info('stopping', { signal });
      const unwritten = await agent.stop();
      await alerts?.stop();
      upkeep.stop();
      await web?.close();
      return unwritten === 0 ? EXIT.ok : EXIT.failure;
    } finally {
      await store.close();
    }
  },
};

/**
 * The dashboard and exporter listener. Monitoring matters more than its display: if the address cannot
 * be had (another program holds the port), the agent says so and goes on probing and storing.
 */
async function startWeb(web: WebConfig, routes: readonly Route[], log: Logger): Promise<WebServer | null> {
  try {
    return await startWebServer({ web, routes, log });
  } catch (err) {
    log.error('web dashboard and /metrics not started; probing goes on', {
      listen: `${web.host}:${web.port}`,
      err: errorText(err),
      fix: 'free the port, or set web.listen (or WMN_WEB_LISTEN) to another',
    });
    return null;
  }
}

/**
 * Alerting, when configured. Like the dashboard it must not stop monitoring: if its outbox cannot be
 * opened (data_dir unusable) the agent says so and goes on probing and storing.
 */
async function startAlertsOrLog(
  config: Config,
  alerts: AlertsConfig,
  live: LiveHub,
  log: Logger,
): Promise<Alerts | null> {
  try {
    const { agent, intervalMs, dataDir } = config;
    return await startAlerts({ config: alerts, agent, intervalMs, dataDir, live, log, clock: systemClock });
  } catch (err) {
    log.error('alerting not started; probing goes on', { err: errorText(err), fix: 'check data_dir' });
    return null;
  }
}

/**
 * Migrates before probing starts. A server that cannot be reached yet (it boots with the agent, or the
 * network to it is down) must not stop monitoring: the agent starts, spools, and migrates on its first
 * successful write. Any other migration failure is a real fault and stops the agent.
 */
async function migrateAtStart(store: Store, log: Logger): Promise<boolean> {
  try {
    const report = await store.migrate();
    if (report.applied.length > 0) log.info('schema migrated', { applied: report.applied.join(',') });
    return true;
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 'connect')) throw err;
    log.warn(
      'database unreachable at start: probing into the spool; will migrate and write when it is back',
      {
        err: errorText(err),
      },
    );
    return false;
  }
}

/**
 * SIGHUP: load the configuration again and apply it, or keep the running one if the new one is invalid.
 * Settings bound to resources opened at start (database, data_dir, log level) need a restart; they are
 * kept as they were, with a warning.
 */
async function reload(
  load: () => Promise<Config>,
  started: Config,
  targets: readonly Pick<Agent, 'reconfigure'>[],
  log: Logger,
): Promise<void> {
  let next: Config;
  try {
    next = await load();
  } catch (err) {
    const issues =
      err instanceof ConfigError ? err.issues.map((i) => `${i.path}: ${i.message}`) : [errorText(err)];
    log.error('reload rejected: keeping the running configuration', { problems: issues.join('; ') });
    return;
  }
  const fixed = {
    database: started.database,
    dataDir: started.dataDir,
    web: started.web,
    spoolMaxBytes: started.spoolMaxBytes,
    logLevel: started.logLevel,
  } satisfies Partial<Config>;
  const changed = (Object.keys(fixed) as (keyof typeof fixed)[]).filter(
    (key) => JSON.stringify(next[key]) !== JSON.stringify(started[key]),
  );
  if (changed.length > 0)
    log.warn('reload: these settings need a restart and were kept', { keys: changed.join(',') });
  for (const target of targets) target.reconfigure({ ...next, ...fixed });
}

/** Resolves on the first SIGTERM/SIGINT; later ones call `onRepeat`. */
function nextSignal(onRepeat: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false;
    const handler = (signal: NodeJS.Signals) => {
      if (seen) return onRepeat();
      seen = true;
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}
