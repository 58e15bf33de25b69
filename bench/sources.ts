/**
 * Lab sources exactly as the agent would get them: a configuration of `n` distinct source URIs on one
 * lab URL (`?i=k`, since rows are keyed by source), or one source of any kind, resolved by wmn's own
 * config loader, so `spread` gives the same start offsets it gives in `wmn run`.
 */

import { systemHost } from '../src/config/host.js';
import { parseConfig } from '../src/config/load.js';
import type { SourceConfig } from '../src/config/types.js';
import type { Engine } from '../src/probes/types.js';

export interface SourceSpec {
  readonly url: string;
  readonly engine: Engine;
  readonly caFile?: string;
  readonly timeoutMs: number;
}

/** A configured HTTP(S) source: what the lab's URLs always are. */
export type HttpSourceConfig = Extract<SourceConfig, { kind: 'http' }>;

export function labSources(spec: SourceSpec, n: number, spread = false): HttpSourceConfig[] {
  const urls = Array.from({ length: n }, (_, i) => {
    const url = new URL(spec.url);
    if (n > 1) url.searchParams.set('i', String(i));
    return url.href;
  });
  return configured(spec, urls, spread).filter((s): s is HttpSourceConfig => s.kind === 'http');
}

/** One source of any kind (`tcp://`, `dns://`, `icmp://` as well as HTTP), configured as `wmn run` would. */
export function labSource(spec: SourceSpec): SourceConfig {
  const [source] = configured(spec, [spec.url], false);
  if (!source) throw new Error(`no source configured from ${spec.url}`);
  return source;
}

function configured(spec: SourceSpec, urls: readonly string[], spread: boolean): readonly SourceConfig[] {
  // Only http(s) sources take a CA file; the config check rejects it on any other kind.
  const ca = (url: string) =>
    spec.caFile !== undefined && /^https?:/.test(url) ? { ca_file: spec.caFile } : {};
  const sources = urls.map((url) => ({ url, ...ca(url) }));
  // JSON is YAML: the text goes through the same parse → defaults → validate as a wmn.yaml.
  const text = JSON.stringify({ timeout: `${spec.timeoutMs}ms`, engine: spec.engine, spread, sources });
  return parseConfig(text, null, {}, systemHost).sources;
}
