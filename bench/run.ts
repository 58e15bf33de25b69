/**
 * The benchmark: `npm run bench [-- --quick] [-- --only cadence,accuracy,cost,blackbox,storage]`.
 * Runs each section against lab servers it starts on loopback (or in a network namespace it creates),
 * prints one table and writes bench/results.json with the machine, the versions, the load average and
 * every figure with its unit and sample size. `--quick` (a few minutes) is for development only.
 * Everything started is stopped, and every namespace and database removed, even on failure or Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
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
const sections: Record<string, unknown> = {};
const rows: Row[] = [];
let failed = false;
/** Written after every section, so an hour's run keeps what it measured should a later section fail. */
const save = () => {
  const results = {
    quick: values.quick,
    seconds: Math.round((performance.now() - began) / 1000),
    machine: { ...machine, loadAverage: { ...machine.loadAverage, after: loadNow() } },
    sections,
    table: rows,
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return results;
};
for (const section of SECTIONS.filter((s) => wanted.includes(s.name))) {
  const started = performance.now();
  try {
    const result = await section.run({ quick: values.quick, log });
    sections[section.name] = {
      seconds: Math.round((performance.now() - started) / 1000),
      ...asObject(result.figures),
    };
    rows.push(...result.rows);
  } catch (err) {
    failed = true;
    log(`${section.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    sections[section.name] = { error: String(err) };
    rows.push({ section: section.name, measure: 'section failed', value: String(err) });
  }
  save();
}
const results = save();
process.stdout.write(renderTable(rows));
log(`done in ${results.seconds} s; wrote ${RESULTS}`);
process.exitCode = failed ? 1 : 0;

function asObject(figures: unknown): Record<string, unknown> {
  return typeof figures === 'object' && figures !== null && !Array.isArray(figures)
    ? (figures as Record<string, unknown>)
    : { figures };
}
