/**
 * The benchmark: `npm run bench [-- --quick] [-- --only cadence,accuracy,cost,blackbox,storage]`.
 * Runs each section against lab servers it starts on loopback (or in a network namespace it creates),
 * prints one table and writes bench/results.json with the machine, the versions, the load average and
 * every figure with its unit and sample size. `--quick` (a few minutes) is for development only.
 * Everything started is stopped, and every namespace and database removed, even on failure or Ctrl-C.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { accuracy } from './accuracy.js';
import { blackbox } from './blackbox.js';
import { cadence } from './cadence.js';
import { killAll, ROOT } from './children.js';
import { undoAll } from './cleanup.js';
import { cost } from './cost.js';
import { describeMachine, loadNow } from './machine.js';
import type { Row, Section } from './section.js';
import { storage } from './storage.js';
import { renderTable } from './table.js';

const SECTIONS: readonly Section[] = [cadence, accuracy, cost, blackbox, storage];
const RESULTS = join(ROOT, 'bench', 'results.json');

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const wanted = values.only?.split(',').map((s) => s.trim()) ?? SECTIONS.map((s) => s.name);
const unknown = wanted.filter((name) => !SECTIONS.some((s) => s.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown section(s): ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}\n`,
  );
  process.exit(2);
}

const log = (message: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
// Children are stopped by pid on any exit; namespaces remove themselves on exit (test/lab/netns.ts);
// databases and the embedded server are undone before an interrupted run exits.
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping and cleaning up`);
    killAll();
    void undoAll().finally(() => process.exit(130));
  });
}

const began = performance.now();
const machine = await describeMachine();
// With --only, the other sections keep the figures of the last run of the same kind (each section
// records when it was measured and the load), so one section can be measured again on its own.
const sections: Record<string, SectionRecord> = previousSections(values.quick);
let failed = false;
/** Written after every section, so a long run keeps what it measured should a later section fail. */
const save = () => {
  const results = {
    quick: values.quick,
    machine: { ...machine, loadAverage: { ...machine.loadAverage, after: loadNow() } },
    sections,
    table: SECTIONS.flatMap((s) => sections[s.name]?.rows ?? []),
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return results;
};
for (const section of SECTIONS.filter((s) => wanted.includes(s.name))) {
  const started = performance.now();
  const measuredAt = new Date().toISOString();
  try {
    const result = await section.run({ quick: values.quick, log });
    const seconds = Math.round((performance.now() - started) / 1000);
    sections[section.name] = { measuredAt, seconds, figures: result.figures, rows: result.rows };
  } catch (err) {
    failed = true;
    log(`${section.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    const rows = [{ section: section.name, measure: 'section failed', value: String(err) }];
    sections[section.name] = { measuredAt, seconds: 0, figures: { error: String(err) }, rows };
  }
  save();
}
const results = save();
process.stdout.write(renderTable(results.table));
log(`done in ${Math.round((performance.now() - began) / 1000)} s; wrote ${RESULTS}`);
process.exitCode = failed ? 1 : 0;

interface SectionRecord {
  readonly measuredAt: string;
  readonly seconds: number;
  readonly figures: unknown;
  readonly rows: readonly Row[];
}

function previousSections(quick: boolean): Record<string, SectionRecord> {
  if (values.only === undefined || !existsSync(RESULTS)) return {};
  const previous = JSON.parse(readFileSync(RESULTS, 'utf8')) as {
    quick?: boolean;
    sections?: Record<string, SectionRecord>;
  };
  return previous.quick === quick ? (previous.sections ?? {}) : {};
}
