/** `wmn config check [FILE]`: validate only; prints the resolved configuration on success. */
import { origin } from '../../alerts/notifiers/http.js';
import { loadConfig } from '../../config/load.js';
import type { AlertsConfig, Config, NotifierConfig } from '../../config/types.js';
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
      ...config.sources.map(sourceLine),
      ...(config.alerts === null ? ['alerts: none configured'] : alertLines(config.alerts)),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  },
};

function sourceLine(s: Config['sources'][number]): string {
  const engine = s.kind === 'http' ? `${s.engine}, ` : '';
  return `source: ${s.source.uri} [${engine}layer ${s.layer}, timeout ${s.options.timeoutMs}ms]`;
}

/** The rules as they will run (defaults applied) and where notices go, secrets left out. */
function alertLines(a: AlertsConfig): string[] {
  const ofLast = (r: { cycles: number; of: number } | null) => (r ? `${r.cycles} of ${r.of}` : 'off');
  const rules = [
    `link_down ${ofLast(a.linkDown)}`,
    `source_down ${ofLast(a.sourceDown)}`,
    `latency ${a.latency ? `${a.latency.phase} p95 > ${a.latency.thresholdMs}ms over ${a.latency.windowMs / 1000}s` : 'off'}`,
    `loss ${a.loss ? `> ${a.loss.abovePct}% over ${a.loss.windowMs / 1000}s` : 'off'}`,
    `ipv6 ${ofLast(a.ipv6)}`,
    `cert_expiry ${a.certExpiry ? `< ${a.certExpiry.days} days` : 'off'}`,
  ];
  const pacing = [
    `repeat ${a.repeatMs === null ? 'off' : `${a.repeatMs / 1000}s`}`,
    `at most ${a.maxPerHour}/h per notifier`,
    `${a.maintenance.length} maintenance window${a.maintenance.length === 1 ? '' : 's'}`,
  ];
  return [
    `alerts: ${rules.join(', ')}`,
    `alerts: ${pacing.join(', ')}`,
    ...a.notifiers.map((n) => `notifier: ${n.name} (${n.type} → ${destination(n)})`),
  ];
}

/**
 * Where a notifier delivers, without anything secret: only a URL's origin, since the path of a Slack
 * webhook or an ntfy topic is itself the credential.
 */
function destination(n: NotifierConfig): string {
  switch (n.type) {
    case 'webhook':
    case 'slack':
    case 'ntfy':
      return `${origin(n.url)}/…`;
    case 'email':
      return `${n.to.join(', ')} via ${n.host}:${n.port} (${n.security})`;
    case 'command':
      return n.argv.join(' ');
  }
}
