/**
 * Source URIs: one string names a target in the config, the database and the dashboards alike. Anything
 * that could be misread downstream (by curl, by a log reader) is refused here, at load, with the fix.
 *
 * Canonical forms (what the `source` column holds):
 *   https://host/path, http://…  (WHATWG href)       icmp://host
 *   tcp://host:port                                  dns://resolver[:port]/name?type=A[&nocache]
 * each optionally ending in `#ipv4` or `#ipv6`: the address family the probe is pinned to. A fragment is
 * never sent to a server, so it can carry this without changing what is requested; `ip: both` makes
 * one source of each.
 */
import { isIP } from 'node:net';
import {
  DNS_RECORD_TYPES,
  type DnsRecordType,
  type DnsSource,
  type IcmpSource,
  type IpFamily,
  type Source,
  type TcpSource,
} from '../probes/types.js';
import type { Checked } from './checked.js';
import { hex4, quote } from './text.js';

const SCHEMES = ['http', 'https', 'icmp', 'tcp', 'dns'] as const;
const EXAMPLE = 'https://example.com/';
const SCHEME_LIST = 'http://, https://, icmp://, tcp:// or dns://';

// C0/C1 controls, invisible format characters (bidi overrides, zero-width) and any kind of space.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Z}]/u;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** `scheme://authority`, where the authority runs to the first `/`, `?` or `#` (or `\`, as WHATWG reads it). */
const AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#\\]*)/;
/** An authority without its userinfo: a host (an IPv6 literal in brackets) and an optional `:port`. */
const HOST_PORT = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/;
/** A DNS name: labels of 1–63 letters, digits, `-` or `_` (service labels), 253 characters at most. */
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const FAMILY_MARKERS: Readonly<Record<string, IpFamily>> = { '#ipv4': 4, '#ipv6': 6 };

/**
 * Parses a source URI into a {@link Source} whose `uri` is the canonical form (`HTTPS://Example.com`
 * becomes `https://example.com/`), or says why it is refused.
 */
export function parseSource(text: string): Checked<Source> {
  const problem = lexicalProblem(text) ?? schemeProblem(text) ?? authorityProblem(text);
  if (problem !== undefined) return { ok: false, message: problem };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: `is not a valid URL; write it like ${EXAMPLE}favicon.ico` };
  }
  if (url.username !== '' || url.password !== '') {
    return {
      ok: false,
      message:
        'contains credentials ("user:password@"): they would be logged and stored with every row; remove them',
    };
  }
  const family = FAMILY_MARKERS[url.hash] ?? null;
  if (url.hash !== '' && family === null) {
    return {
      ok: false,
      message: `ends in the fragment ${quote(url.hash)}: wmn reads only #ipv4 or #ipv6 there (or set ip: 4, 6 or both)`,
    };
  }
  url.hash = '';
  switch (url.protocol) {
    case 'icmp:':
      return parseIcmp(url, family);
    case 'tcp:':
      return parseTcp(url, family);
    case 'dns:':
      return parseDns(url, family);
    default:
      return { ok: true, value: { kind: 'http', uri: withFamily(url.href, family), url, family } };
  }
}

/** The source pinned to `family`: its URI marked `#ipv4`/`#ipv6`, or why it cannot be. */
export function pinFamily(source: Source, family: IpFamily): Checked<Source> {
  if (source.family !== null && source.family !== family) {
    return {
      ok: false,
      message: `is marked #ipv${source.family}, so it cannot also be probed over IPv${family}`,
    };
  }
  const literal = literalFamily(hostOf(source));
  if (literal !== null && literal !== family) {
    return { ok: false, message: `is an IPv${literal} address, so it cannot be probed over IPv${family}` };
  }
  const uri = withFamily(source.uri.replace(/#ipv[46]$/, ''), family);
  return { ok: true, value: { ...source, uri, family } };
}

/** The host a source's address family applies to (for dns://, the resolver's). */
export function hostOf(source: Source): string {
  switch (source.kind) {
    case 'http':
      return source.url.hostname.replace(/^\[(.*)\]$/, '$1');
    case 'dns':
      return source.resolver;
    default:
      return source.host;
  }
}

/** 4 or 6 for an IP literal, null for a name. */
export function literalFamily(host: string): IpFamily | null {
  const version = isIP(host);
  return version === 4 || version === 6 ? version : null;
}

function withFamily(uri: string, family: IpFamily | null): string {
  return family === null ? uri : `${uri}#ipv${family}`;
}

function parseIcmp(url: URL, family: IpFamily | null): Checked<IcmpSource> {
  const extra = leftovers(url, { path: false, query: false, port: false });
  if (extra) return { ok: false, message: `${extra}; write it like icmp://192.0.2.1 or icmp://gateway` };
  const host = checkHost(url.hostname, family);
  if (!host.ok) return host;
  const uri = withFamily(`icmp://${bracketed(host.value)}`, family);
  return { ok: true, value: { kind: 'icmp', uri, host: host.value, family } };
}

function parseTcp(url: URL, family: IpFamily | null): Checked<TcpSource> {
  const extra = leftovers(url, { path: false, query: false, port: true });
  if (extra) return { ok: false, message: `${extra}; write it like tcp://example.com:443` };
  if (url.port === '') return { ok: false, message: 'has no port; write it like tcp://example.com:443' };
  const host = checkHost(url.hostname, family);
  if (!host.ok) return host;
  const port = Number(url.port);
  const uri = withFamily(`tcp://${bracketed(host.value)}:${port}`, family);
  return { ok: true, value: { kind: 'tcp', uri, host: host.value, port, family } };
}

const DNS_EXAMPLE = 'dns://9.9.9.9/example.com?type=A';

function parseDns(url: URL, family: IpFamily | null): Checked<DnsSource> {
  const resolver = checkHost(url.hostname, family);
  if (!resolver.ok) return resolver;
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')).replace(/\.$/, '').toLowerCase();
  if (name === '') return { ok: false, message: `names no query; write it like ${DNS_EXAMPLE}` };
  if (!HOST_NAME.test(name)) return { ok: false, message: `${quote(name)} is not a DNS name` };
  const query = parseDnsQuery(url.searchParams);
  if (!query.ok) return query;
  const port = url.port === '' ? 53 : Number(url.port);
  const { type, nocache } = query.value;
  const base = `dns://${bracketed(resolver.value)}${port === 53 ? '' : `:${port}`}/${name}?type=${type}`;
  const uri = withFamily(nocache ? `${base}&nocache` : base, family);
  return {
    ok: true,
    value: { kind: 'dns', uri, resolver: resolver.value, port, name, type, nocache, family },
  };
}

function parseDnsQuery(params: URLSearchParams): Checked<{ type: DnsRecordType; nocache: boolean }> {
  let type: DnsRecordType = 'A';
  let nocache = false;
  for (const [key, value] of params) {
    if (key === 'type') {
      const upper = value.toUpperCase();
      const known = DNS_RECORD_TYPES.find((t) => t === upper);
      if (!known)
        return { ok: false, message: `type ${quote(value)} is not one of ${DNS_RECORD_TYPES.join(', ')}` };
      type = known;
    } else if (key === 'nocache' && value === '') {
      nocache = true;
    } else {
      return {
        ok: false,
        message: `has the unknown parameter ${quote(key)}; dns:// takes type=… and nocache`,
      };
    }
  }
  return { ok: true, value: { type, nocache } };
}

/** What an icmp:// or tcp:// URI has that it must not: a path, a query, a port. */
function leftovers(url: URL, allowed: { path: boolean; query: boolean; port: boolean }): string | undefined {
  if (!allowed.path && url.pathname !== '' && url.pathname !== '/')
    return `has a path (${quote(url.pathname)})`;
  if (!allowed.query && url.search !== '') return `has a query (${quote(url.search)})`;
  if (!allowed.port && url.port !== '') return 'has a port';
  return undefined;
}

/** A host of a non-HTTP URI (which WHATWG leaves as written): an IP literal or a DNS name, lower-cased. */
function checkHost(raw: string, family: IpFamily | null): Checked<string> {
  const host = raw.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const literal = literalFamily(host);
  if (literal === 6) return { ok: true, value: new URL(`http://[${host}]`).hostname.slice(1, -1) };
  if (literal === null && !HOST_NAME.test(host)) {
    return { ok: false, message: `${quote(raw)} is neither an IP address nor a host name` };
  }
  if (literal !== null && family !== null && literal !== family) {
    return { ok: false, message: `${host} is an IPv${literal} address but is marked #ipv${family}` };
  }
  return { ok: true, value: host };
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Problems visible in the raw characters, before any URL parsing can normalise them away. */
function lexicalProblem(text: string): string | undefined {
  if (text === '') return `is empty; write a URL such as ${EXAMPLE}`;
  if (text.startsWith('-')) {
    return `starts with "-", which curl could read as an option; write a full URL such as ${EXAMPLE}`;
  }
  const bad = UNPRINTABLE.exec(text);
  if (bad) {
    return `contains a control character or whitespace (U+${hex4(bad[0]).toUpperCase()}) at character ${bad.index + 1}; remove it`;
  }
  return undefined;
}

function schemeProblem(text: string): string | undefined {
  const match = SCHEME.exec(text);
  // `example.com:8080/x` parses as scheme "example.com": a port right after the colon means no scheme.
  if (!match?.[1] || /^\d/.test(text.slice(match[0].length))) {
    return `has no scheme; write it with ${SCHEME_LIST} in front, e.g. ${EXAMPLE}`;
  }
  const scheme = match[1].toLowerCase();
  if ((SCHEMES as readonly string[]).includes(scheme)) return undefined;
  if (scheme === 'file')
    return `file: URLs are not allowed: wmn probes network endpoints; use ${SCHEME_LIST}`;
  return `scheme "${scheme}:" is not supported; use ${SCHEME_LIST}`;
}

/**
 * A host must be written out: WHATWG would read `https:///x` as host "x" and `https:x` as host "x",
 * and reject a port out of range only as "Invalid URL".
 */
function authorityProblem(text: string): string | undefined {
  // Userinfo runs to the last "@"; it is refused later, and never echoed.
  const hostAndPort = AUTHORITY.exec(text)?.[1]?.replace(/^.*@/, '') ?? '';
  const [, host, port] = HOST_PORT.exec(hostAndPort) ?? [];
  if (!host) return `has no host; write it like ${EXAMPLE}favicon.ico`;
  if (port === undefined || port === '') return undefined;
  if (!/^\d+$/.test(port)) return `port ${quote(port)} is not a number`;
  const number = Number(port);
  return number >= 1 && number <= 65_535 ? undefined : `port ${port} is out of range (1-65535)`;
}
