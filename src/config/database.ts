/**
 * PostgreSQL connection URLs. A URL may carry a password, so no message here ever echoes one: at most
 * its scheme.
 */
import type { Checked } from './checked.js';
import { quote } from './text.js';

const EXAMPLE = 'postgres://wmn@db.example.com:5432/wmn';

/** Checks that `text` is a postgres:// or postgresql:// URL; the value is the text unchanged. */
export function checkDatabaseUrl(text: string): Checked<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: `is not a URL; write it like ${EXAMPLE}` };
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return {
      ok: false,
      message: `must be a postgres:// or postgresql:// URL (got scheme ${quote(url.protocol)}), like ${EXAMPLE}`,
    };
  }
  // A password holding "/", "?" or "#" unencoded ends the authority early: the rest of it would parse as
  // the path, query or fragment, where masking cannot find it and pg would not see a password at all.
  if (`${url.pathname}${url.search}${url.hash}`.includes('@')) {
    return {
      ok: false,
      message:
        'has "@" after the host: a password holding "/", "?", "#" or "@" must be percent-encoded, or kept in database.password_file',
    };
  }
  return { ok: true, value: text };
}

/**
 * `url` with `password` as its password, percent-encoded so every character survives (pg and libpq both
 * decode it). Any password already in the URL is replaced.
 */
export function withPassword(url: string, password: string): Checked<string> {
  const parsed = new URL(url);
  // WHATWG URLs without a host cannot hold credentials: the setter would silently do nothing.
  if (parsed.host === '') {
    return { ok: false, message: `a password needs a database URL with a host, like ${EXAMPLE}` };
  }
  parsed.password = encodeURIComponent(password);
  return { ok: true, value: parsed.href };
}
