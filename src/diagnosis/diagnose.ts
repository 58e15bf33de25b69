/**
 * The diagnosis of one cycle: is the connection up, and if not (or not wholly), where did it break?
 * A pure function of the cycle's results and their layers, so the agent's live views, the rows it
 * writes (`favicon_metrics.diagnosis`), alerts and tests all reach the same verdict.
 *
 * Results of wmn's own failures (`internal`: fping missing, a bug) are no evidence about the network
 * and are left out of the localisation; they still count as failed for UP/DOWN, as in SQL.
 */
import type { ErrorClass } from '../probes/types.js';
import { type Layer, REACH_LAYERS } from './layers.js';

/** A result as a cycle holds it: with its source's layer (absent in cycles spooled by older versions). */
export interface LayeredResult {
  readonly source: string;
  readonly disconnected: boolean;
  /** A failure class (ErrorClass; as read back from the database, any string). */
  readonly error: string | null;
  readonly layer?: Layer;
}

export const DIAGNOSES = ['ok', 'lan', 'isp', 'dns', 'partial', 'ipv6', 'down'] as const;
/**
 * - ok: every source of the internet layers answered
 * - lan: the gateway did not answer either (Wi-Fi, cable, router)
 * - isp: the gateway (or the ISP's edge) answered, nothing beyond it did
 * - dns: addresses answer, names fail
 * - partial: some sources fail, the connection works
 * - ipv6: IPv6 fails where IPv4 works
 * - down: everything failed and no gateway source says which side of the router broke
 */
export type DiagnosisKind = (typeof DIAGNOSES)[number];

export interface Diagnosis {
  readonly kind: DiagnosisKind;
  /** Sources that answered and locate the fault (the gateway, the anchors): URIs. */
  readonly answered: readonly string[];
  /** Sources whose failure is the finding: URIs. */
  readonly failed: readonly string[];
}

const NAME_ERRORS: ReadonlySet<ErrorClass | string> = new Set([
  'dns',
  'nxdomain',
  'servfail',
  'dns_refused',
  'nodata',
  'dns_error',
]);

function isReach(r: LayeredResult): boolean {
  return r.layer === undefined || REACH_LAYERS.has(r.layer);
}

/** The results that decide UP/DOWN: the internet layers, or every result when the cycle has none. */
function reachOf<T extends LayeredResult>(results: readonly T[]): readonly T[] {
  const reach = results.filter(isReach);
  return reach.length > 0 ? reach : results;
}

/** DOWN: every source of the internet layers failed (the SQL of wmn_cycles says the same). */
export function isDown(results: readonly LayeredResult[]): boolean {
  const reach = reachOf(results);
  return reach.length > 0 && reach.every((r) => r.disconnected);
}

/** The family a source is pinned to, from its URI's `#ipv4`/`#ipv6` marker. */
function familyOf(r: LayeredResult): 4 | 6 | null {
  return r.source.endsWith('#ipv6') ? 6 : r.source.endsWith('#ipv4') ? 4 : null;
}

/** IPv6 broken while IPv4 works: every IPv6-pinned source failed and an IPv4-pinned one answered. */
export function ipv6Broken(results: readonly LayeredResult[]): boolean {
  const v6 = results.filter((r) => familyOf(r) === 6 && r.error !== 'internal');
  return (
    v6.length > 0 &&
    v6.every((r) => r.disconnected) &&
    results.some((r) => familyOf(r) === 4 && !r.disconnected)
  );
}

/** Evidence order: nearest layer first, so the anchors by address come before named sites. */
const RANK: Readonly<Record<Layer, number>> = { lan: 0, isp: 1, internet: 2, dns: 3, service: 4 };
const rank = (r: LayeredResult) => (r.layer === undefined ? 5 : RANK[r.layer]);
const uris = (results: readonly LayeredResult[]) =>
  [...results].sort((a, b) => rank(a) - rank(b)).map((r) => r.source);

export function diagnose(results: readonly LayeredResult[]): Diagnosis {
  const known = results.filter((r) => r.error !== 'internal');
  const reach = reachOf(known);
  const failed = reach.filter((r) => r.disconnected);
  const local = known.filter((r) => r.layer === 'lan' || r.layer === 'isp');
  const localUp = local.filter((r) => !r.disconnected);
  const gateway = known.filter((r) => r.layer === 'lan');
  const nameFailure = (r: LayeredResult) =>
    r.disconnected && (r.layer === 'dns' || NAME_ERRORS.has(r.error ?? ''));

  if (isDown(results)) {
    if (gateway.length > 0 && gateway.every((r) => r.disconnected)) {
      return { kind: 'lan', answered: [], failed: uris(gateway) };
    }
    const answered = uris(localUp);
    if (failed.length > 0 && failed.every(nameFailure) && answered.length > 0) {
      return { kind: 'dns', answered, failed: uris(failed) };
    }
    return { kind: answered.length > 0 ? 'isp' : 'down', answered, failed: uris(failed) };
  }
  if (failed.length === 0) return { kind: 'ok', answered: [], failed: [] };
  const byAddress = reach.filter((r) => r.layer === 'internet' && !r.disconnected);
  const names = reach.filter((r) => r.layer === 'dns' || r.layer === 'service');
  const namesDown =
    names.filter((r) => r.layer === 'dns').every((r) => r.disconnected) || names.every((r) => r.disconnected);
  if (byAddress.length > 0 && failed.every(nameFailure) && namesDown) {
    return { kind: 'dns', answered: uris(byAddress), failed: uris(failed) };
  }
  if (failed.every((r) => familyOf(r) === 6) && ipv6Broken(known)) {
    const v4 = known.filter((r) => familyOf(r) === 4 && !r.disconnected);
    return { kind: 'ipv6', answered: uris(v4), failed: uris(failed) };
  }
  return { kind: 'partial', answered: [], failed: uris(failed) };
}
