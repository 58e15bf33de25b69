/**
 * `sources` from the file to the {@link SourceConfig}s the agent probes: `ip: both` makes two sources
 * (`#ipv4` and `#ipv6`), options are checked against the kind of source they apply to, layers default
 * from the URI, and `spread` offsets are laid over the expanded list.
 */
import { defaultLayer } from '../diagnosis/layers.js';
import type { IpFamily, Source } from '../probes/types.js';
import { besideFile, checkCaFile, report } from './files.js';
import type { ResolveContext } from './resolve.js';
import type { ConfigFile, SourceEntry } from './schema.js';
import { SOURCE_DEFAULTS } from './schema.js';
import { pinFamily } from './sources.js';
import type { ConfigIssue, SourceConfig } from './types.js';

/** Options that mean something for one kind of source only. */
const ONLY_FOR: Readonly<Record<string, { kind: Source['kind']; what: string }>> = {
  engine: { kind: 'http', what: 'http(s)://' },
  follow_redirects: { kind: 'http', what: 'http(s)://' },
  max_redirects: { kind: 'http', what: 'http(s)://' },
  insecure: { kind: 'http', what: 'http(s)://' },
  ca_file: { kind: 'http', what: 'http(s)://' },
  count: { kind: 'icmp', what: 'icmp://' },
};

interface Expanded {
  readonly entry: SourceEntry;
  readonly index: number;
  readonly source: Source;
}

export function resolveSources(
  settings: ConfigFile,
  ctx: ResolveContext,
  issues: ConfigIssue[],
): SourceConfig[] {
  const expanded = settings.sources.flatMap((entry, index) => expand(entry, index, issues));
  rejectDuplicates(expanded, issues);
  return expanded.map((item, i) => {
    // Source i of n starts i/n of the interval after the tick; offsets are recomputed on every reload.
    const offsetMs = settings.spread ? Math.floor((i * settings.interval) / expanded.length) : 0;
    return build(item, offsetMs, settings, ctx, issues);
  });
}

/** The entry's source, once per address family `ip` asks for; misplaced options reported. */
function expand(entry: SourceEntry, index: number, issues: ConfigIssue[]): Expanded[] {
  const { source } = entry;
  for (const [key, rule] of Object.entries(ONLY_FOR)) {
    if (key in entry && entry[key as keyof SourceEntry] !== undefined && rule.kind !== source.kind) {
      issues.push({ path: `sources[${index}].${key}`, message: `applies to ${rule.what} sources only` });
    }
  }
  const families: IpFamily[] = entry.ip === undefined ? [] : entry.ip === 'both' ? [4, 6] : [entry.ip];
  if (families.length === 0) return [{ entry, index, source }];
  return families.flatMap((family) => {
    const pinned = report(issues, `sources[${index}].ip`, pinFamily(source, family));
    return pinned === undefined ? [] : [{ entry, index, source: pinned }];
  });
}

/** Rows are keyed by (agent, probe_id, source), so each source may be probed once per cycle. */
function rejectDuplicates(expanded: readonly Expanded[], issues: ConfigIssue[]): void {
  const first = new Map<string, number>();
  for (const { source, index } of expanded) {
    const earlier = first.get(source.uri);
    if (earlier === undefined) {
      first.set(source.uri, index);
    } else if (earlier !== index) {
      const message = `duplicates sources[${earlier}] (${source.uri}); rows are keyed by source, so list each once`;
      issues.push({ path: `sources[${index}]`, message });
    }
  }
}

function build(
  { entry, index, source }: Expanded,
  offsetMs: number,
  settings: ConfigFile,
  ctx: ResolveContext,
  issues: ConfigIssue[],
): SourceConfig {
  const common = {
    layer: entry.layer ?? defaultLayer(source),
    ...(offsetMs > 0 ? { offsetMs } : {}),
  };
  const timeoutMs = entry.timeout ?? settings.timeout;
  switch (source.kind) {
    case 'icmp': {
      const count = entry.count ?? SOURCE_DEFAULTS.count;
      // fping sends at most one echo per 10 ms and each needs as long again to come back.
      if (timeoutMs < count * 20) {
        const message = `${count} echo requests need a timeout of at least ${count * 20}ms (10 ms apart, as long again to answer)`;
        issues.push({ path: `sources[${index}].count`, message });
      }
      return { ...common, kind: 'icmp', source, options: { timeoutMs, count } };
    }
    case 'tcp':
      return { ...common, kind: 'tcp', source, options: { timeoutMs } };
    case 'dns':
      return { ...common, kind: 'dns', source, options: { timeoutMs } };
    case 'http': {
      const caFile = entry.ca_file === undefined ? undefined : besideFile(ctx.file, entry.ca_file);
      if (caFile !== undefined) report(issues, `sources[${index}].ca_file`, checkCaFile(caFile, ctx.host));
      return {
        ...common,
        kind: 'http',
        source,
        engine: entry.engine ?? settings.engine,
        options: {
          timeoutMs,
          followRedirects: entry.follow_redirects ?? SOURCE_DEFAULTS.follow_redirects,
          maxRedirects: entry.max_redirects ?? SOURCE_DEFAULTS.max_redirects,
          insecure: entry.insecure ?? SOURCE_DEFAULTS.insecure,
          ...(caFile === undefined ? {} : { caFile }),
        },
      };
    }
  }
}
