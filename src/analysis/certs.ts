/** Certificate expiry of the https sources (`wmn_cert_expiry`, migration 003). */
import { type Queryable, read, real } from './db.js';

/** One https source of one agent, as of the latest row in which it presented a certificate. */
export interface CertExpiry {
  readonly agent: string;
  readonly source: string;
  /** The earliest notAfter among the certificates the source presented. */
  readonly expiresAt: Date;
  /** Days from the database's clock to `expiresAt`, fractional; negative once expired. */
  readonly daysLeft: number;
  /** When that row was written. */
  readonly seenAt: Date;
}

/**
 * Every registered https source that has reported a certificate, sorted by agent then source; only
 * those of `agents` when given. The answer is about now, not about a range: it is the certificate a
 * source presents today that expires.
 */
export async function certExpiry(db: Queryable, agents?: readonly string[]): Promise<CertExpiry[]> {
  const rows = await read<{
    agent: string;
    source: string;
    cert_expiry: Date;
    days_left: number | null;
    seen_at: Date;
  }>(
    db,
    'wmn_cert_expiry',
    `SELECT c.agent, c.source, c.cert_expiry, c.days_left, c.seen_at
       FROM wmn_cert_expiry($1::text[]) AS c ORDER BY c.agent, c.source`,
    [agents ? [...agents] : null],
  );
  return rows.map((r) => ({
    agent: r.agent,
    source: r.source,
    expiresAt: r.cert_expiry,
    daysLeft: real(r.days_left, 'days_left'),
    seenAt: r.seen_at,
  }));
}
