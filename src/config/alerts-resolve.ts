/**
 * From the validated `alerts:` section to {@link AlertsConfig}: secrets read from their files, CA bundles
 * checked, ports defaulted from the security mode, and the checks that need another key (a window must
 * hold at least one cycle of the interval).
 */
import type { AlertsFile, NamedNotifierEntry } from './alerts-schema.js';
import { formatDuration } from './duration.js';
import { besideFile, checkCaFile, readSecret, report } from './files.js';
import type { ResolveContext } from './resolve.js';
import type { AlertsConfig, ConfigIssue, NotifierConfig } from './types.js';

const SMTP_PORTS = { tls: 465, starttls: 587, none: 25 } as const;

export function resolveAlerts(
  alerts: AlertsFile,
  intervalMs: number,
  ctx: ResolveContext,
  issues: ConfigIssue[],
): AlertsConfig {
  const windowHoldsCycles = (key: string, windowMs: number) => {
    if (windowMs >= intervalMs) return;
    const message = `must be at least the interval (${formatDuration(intervalMs)}), or it holds no cycle`;
    issues.push({ path: `alerts.${key}.window`, message });
  };
  if (alerts.latency) windowHoldsCycles('latency', alerts.latency.window);
  if (alerts.loss) windowHoldsCycles('loss', alerts.loss.window);
  return {
    linkDown: alerts.link_down,
    sourceDown: alerts.source_down,
    latency: alerts.latency
      ? {
          phase: alerts.latency.phase,
          thresholdMs: alerts.latency.p95_above,
          windowMs: alerts.latency.window,
        }
      : null,
    loss: alerts.loss ? { abovePct: alerts.loss.above, windowMs: alerts.loss.window } : null,
    ipv6: alerts.ipv6,
    certExpiry: alerts.cert_expiry,
    repeatMs: alerts.repeat,
    maxPerHour: alerts.max_per_hour,
    maintenance: alerts.maintenance,
    notifiers: alerts.notifiers.map((entry, index) => resolveNotifier(entry, index, ctx, issues)),
  };
}

function resolveNotifier(
  entry: NamedNotifierEntry,
  index: number,
  ctx: ResolveContext,
  issues: ConfigIssue[],
): NotifierConfig {
  const at = `alerts.notifiers[${index}]`;
  /** The secret in the file `key` names (null when the key is absent). */
  const secret = (key: string, path: string | undefined): string | null => {
    if (path === undefined) return null;
    return report(issues, `${at}.${key}`, readSecret(besideFile(ctx.file, path), ctx.host)) ?? null;
  };
  const base = {
    name: entry.name,
    template: {
      ...(entry.template?.title === undefined ? {} : { title: entry.template.title }),
      ...(entry.template?.body === undefined ? {} : { body: entry.template.body }),
    },
  };
  switch (entry.type) {
    case 'webhook':
      return { ...base, type: 'webhook', url: entry.url, secret: secret('secret_file', entry.secret_file) };
    case 'slack':
      return { ...base, type: 'slack', url: entry.url };
    case 'ntfy':
      return { ...base, type: 'ntfy', url: entry.url, token: secret('token_file', entry.token_file) };
    case 'email': {
      const caFile = entry.ca_file === undefined ? null : besideFile(ctx.file, entry.ca_file);
      if (caFile !== null) report(issues, `${at}.ca_file`, checkCaFile(caFile, ctx.host));
      return {
        ...base,
        type: 'email',
        host: entry.host,
        port: entry.port ?? SMTP_PORTS[entry.security],
        security: entry.security,
        username: entry.username ?? null,
        password: secret('password_file', entry.password_file),
        from: entry.from,
        to: entry.to,
        caFile,
      };
    }
    case 'command':
      return { ...base, type: 'command', argv: entry.argv, timeoutMs: entry.timeout };
  }
}
