/** `wmn migrate`: apply the schema to the configured database and exit. */
import { CONFIG_OPTION, type Command, EXIT, openConfigured } from '../command.js';

export const migrateCommand: Command = {
  path: ['migrate'],
  usage: 'migrate [--config FILE]',
  summary: 'Apply pending schema migrations to the configured database and exit.',
  ...CONFIG_OPTION,
  async run(args) {
    const { store } = await openConfigured(args);
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
