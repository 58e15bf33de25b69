/** `wmn migrate`: apply the schema to the configured database and exit. */
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { openStore } from '../../store/index.js';
import { type Command, EXIT, stringOpt } from '../command.js';

export const migrateCommand: Command = {
  path: ['migrate'],
  usage: 'migrate [--config FILE]',
  summary: 'Apply pending schema migrations to the configured database and exit.',
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
      const report = await store.migrate();
      const what = report.applied.length > 0 ? `applied ${report.applied.join(', ')}` : 'already current';
      process.stdout.write(`schema version ${report.current} (${what}) on ${store.describe.url}\n`);
      process.stdout.write(`connect with: ${store.describe.psql}\n`);
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
