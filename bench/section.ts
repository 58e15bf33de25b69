/** What every benchmark section is: a name, and a run that returns its figures and its table rows. */
import { loadavg } from 'node:os';

export interface Row {
  readonly section: string;
  readonly measure: string;
  readonly value: string;
  /** The goal this row is judged against, when it has one. */
  readonly goal?: string;
  readonly met?: boolean;
}

export interface SectionContext {
  readonly quick: boolean;
  log(message: string): void;
}

export interface SectionResult {
  readonly figures: unknown;
  readonly rows: readonly Row[];
}

export interface Section {
  readonly name: string;
  run(ctx: SectionContext): Promise<SectionResult>;
}

/** The 1-minute load average before and after `fn`: the machine is shared, so every figure carries it. */
export async function withLoad<T>(
  fn: () => Promise<T>,
): Promise<T & { load: { before: number; after: number } }> {
  const before = loadavg()[0]!;
  const result = await fn();
  return { ...result, load: { before: round2(before), after: round2(loadavg()[0]!) } };
}

export function ms(value: number, digits = 2): string {
  return `${value.toFixed(digits)} ms`;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
