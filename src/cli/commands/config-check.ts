/** `wmn config check [FILE]`: validate only; prints the resolved configuration on success. */
import { loadConfig } from '../../config/load.js';
import { maskUrl } from '../../log.js';
import { type Command, EXIT, UsageError } from '../command.js';

export const configCheckCommand: Command = {
  path: ['config', 'check'],
  usage: 'config check [FILE]',
  summary: 'Validate a config file (default: $WMN_CONFIG) without starting anything.',
  help: '  FILE   the YAML file to check',
  options: {},
  async run(args) {
    if (args.positionals.length > 1) throw new UsageError('takes at most one FILE');
    const config = await loadConfig({ file: args.positionals[0], env: process.env });
    const lines = [
      `ok: agent=${config.agent} interval=${config.intervalMs}ms timeout=${config.timeoutMs}ms engine=${config.engine}`,
      `database: ${config.database.url ? maskUrl(config.database.url) : `embedded in ${config.dataDir}`}`,
      ...config.sources.map((s) => `source: ${s.source.uri} [${s.engine}, timeout ${s.options.timeoutMs}ms]`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  },
};
