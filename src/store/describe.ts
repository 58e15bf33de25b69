/** How wmn tells a person where its database is: a masked URL and a psql command line to paste. */
import { maskUrl } from '../log.js';
import type { StoreDescription } from './types.js';

/** A PostgreSQL server reached by URL. psql gets the URL without its password: psql asks, or reads ~/.pgpass. */
export function describeServer(url: string): StoreDescription {
  return { kind: 'server', url: maskUrl(url), psql: `psql ${shellQuote(withoutSecrets(url))}` };
}

/** The embedded server: reached by its unix socket, and over TCP (with the role's password) when it has a port. */
export function describeEmbedded(where: {
  readonly socketDir: string;
  readonly port: number;
  readonly tcp: boolean;
  readonly user: string;
  readonly database: string;
}): StoreDescription {
  const { socketDir, port, user, database } = where;
  const defaultPort = port === 5432;
  const url = where.tcp
    ? `postgresql://${user}:***@127.0.0.1:${port}/${database}`
    : `postgresql://${user}@/${database}?host=${encodeURIComponent(socketDir)}${defaultPort ? '' : `&port=${port}`}`;
  const portArg = defaultPort ? '' : ` -p ${port}`;
  return { kind: 'embedded', url, psql: `psql -h ${shellQuote(socketDir)}${portArg} -U ${user} ${database}` };
}

function withoutSecrets(raw: string): string {
  try {
    const url = new URL(raw);
    url.password = '';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|token/i.test(key)) url.searchParams.delete(key);
    }
    return url.toString();
  } catch {
    return maskUrl(raw);
  }
}

/** Quotes a word for a POSIX shell when it needs quoting. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
