/** `wmn run`: the agent, until SIGTERM/SIGINT (a second signal aborts in-flight probes). */
import { startAgent } from '../../agent/agent.js';
import { CycleWriter } from '../../agent/writer.js';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { ENGINES } from '../../probes/index.js';
import { systemClock } from '../../scheduler/clock.js';
import { openStore } from '../../store/index.js';
import { type Command, EXIT, stringOpt } from '../command.js';

export const runCommand: Command = {
  path: ['run'],
  usage: 'run [--config FILE]',
  summary: 'Probe every source each interval and store every row (the agent).',
  help: '  -c, --config FILE   YAML config (default: $WMN_CONFIG, else built-in defaults)',
  options: { config: { type: 'string', short: 'c' } },
  async run(args) {
    const config = await loadConfig({ file: stringOpt(args, 'config'), env: process.env });
    const log = createLogger({ level: config.logLevel });
    const store = await openStore({
      database: config.database,
      dataDir: config.dataDir,
      agent: config.agent,
      log,
    });
    try {
      const migration = await store.migrate();
      if (migration.applied.length > 0) log.info('schema migrated', { applied: migration.applied.join(',') });
      log.info('storage ready', {
        kind: store.describe.kind,
        url: store.describe.url,
        psql: store.describe.psql,
      });
      const writer = new CycleWriter(store, log);
      const agent = startAgent({ config, writer, probers: ENGINES, clock: systemClock, log });
      const signal = await nextSignal(() => {
        log.warn('second signal: aborting in-flight probes');
        agent.abort();
      });
      log.info('stopping', { signal });
      const unwritten = await agent.stop();
      return unwritten === 0 ? EXIT.ok : EXIT.failure;
    } finally {
      await store.close();
    }
  },
};

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
