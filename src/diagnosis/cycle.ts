/**
 * A finished cycle's diagnosis, worked out once: the writer, the log line, the dashboard, the exporter
 * and the alert rules all ask for it, and a cycle's results never change once it is recorded.
 */
import type { CycleRecord } from '../store/types.js';
import { type Diagnosis, diagnose } from './diagnose.js';

const known = new WeakMap<CycleRecord, Diagnosis>();

export function cycleDiagnosis(cycle: CycleRecord): Diagnosis {
  let diagnosis = known.get(cycle);
  if (diagnosis === undefined) {
    diagnosis = diagnose(cycle.results);
    known.set(cycle, diagnosis);
  }
  return diagnosis;
}
