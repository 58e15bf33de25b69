/**
 * Source URIs: one string names a target in the config, the database and the dashboards alike. Anything
 * that could be misread downstream (by curl, by a log reader) is refused here, at load, with the fix.
 */
import type { Source } from '../probes/types.js';
import type { Checked } from './checked.js';
import { hex4, quote } from './text.js';

const PROBED_SCHEMES = new Set(['http', 'https']);
/** wmn's own schemes (see DESIGN.md), reserved for probes this version does not have yet. */
const PLANNED_SCHEMES = new Set(['icmp', 'dns', 'tcp']);
const EXAMPLE = 'https://example.com/';

// C0/C1 controls, invisible format characters (bidi overrides, zero-width) and any kind of space.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Z}]/u;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** `scheme://authority`, where the authority runs to the first `/`, `?` or `#` (or `\`, as WHATWG reads it). */
const AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#\\]*)/;
/** An authority without its userinfo: a host (an IPv6 literal in brackets) and an optional `:port`. */
const HOST_PORT = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/;

/**
 * Parses a source URI into a {@link Source} whose `uri` is the canonical WHATWG form (`HTTPS://Example.com`
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
  return { ok: true, value: { kind: 'http', uri: url.href, url } };
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
    return `has no scheme; write it with http:// or https:// in front, e.g. ${EXAMPLE}`;
  }
  const scheme = match[1].toLowerCase();
  if (PROBED_SCHEMES.has(scheme)) return undefined;
  if (PLANNED_SCHEMES.has(scheme)) {
    return `${scheme}:// sources are not supported yet by this version of wmn; use http:// or https://`;
  }
  if (scheme === 'file')
    return 'file: URLs are not allowed: wmn probes network endpoints; use http:// or https://';
  return `scheme "${scheme}:" is not supported; use http:// or https://`;
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
