// CI's dependency audit: fails on any high or critical advisory in a production dependency. When the
// registry's audit endpoint does not answer (some mirrors and proxies refuse its POST), that is said
// loudly and the audit is reported as NOT RUN: it neither passes nor fails the build silently.
import { spawnSync } from 'node:child_process';

const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  console.error(`audit: NOT RUN: npm audit printed no JSON report:\n${run.stdout}${run.stderr}`);
  process.exit(0);
}
const counts = report.metadata?.vulnerabilities;
if (!counts) {
  const why = report.message ?? report.error?.summary ?? 'no vulnerability metadata in the report';
  console.error(`audit: NOT RUN: the registry's audit endpoint did not answer (${why}).`);
  console.error('audit: run `npm audit --omit=dev` where the npm registry audit service is reachable.');
  process.exit(0);
}
const serious = (counts.high ?? 0) + (counts.critical ?? 0);
console.log(`audit: production dependencies: ${JSON.stringify(counts)}`);
if (serious > 0) {
  console.error(`audit: FAILED: ${serious} high/critical advisories; see \`npm audit --omit=dev\``);
  process.exit(1);
}
