/** The cases the accuracy worker measures and what it reports (shared by the worker and the section). */
import type { Engine } from '../src/probes/types.js';
import type { BenchLabPorts } from './lab-precise.js';
import type { Phases } from './phases.js';
import type { Spread } from './stats.js';

export const DELAY_KINDS = ['dns', 'tls', 'server'] as const;
export type DelayKind = (typeof DELAY_KINDS)[number];
export const MEASURERS = ['http', 'curl', 'curl-cli'] as const;
export type Measurer = (typeof MEASURERS)[number];

export interface AccuracyInput {
  readonly ports: BenchLabPorts;
  readonly delays: readonly number[];
  /** Probes per (kind, delay, measurer). */
  readonly runs: number;
  readonly crowd: { readonly sizes: readonly number[]; readonly rounds: number; readonly delayMs: number };
}

export interface SequentialSample {
  readonly kind: DelayKind;
  readonly delayMs: number;
  readonly measurer: Measurer;
  /** The probe's phases; null when it failed. */
  readonly phases: Phases | null;
}

export interface CrowdSample {
  readonly engine: Engine;
  readonly size: number;
  readonly spread: boolean;
  readonly phases: Phases[];
  readonly failed: number;
}

export interface AccuracyOutput {
  readonly sequential: SequentialSample[];
  readonly crowd: CrowdSample[];
  /** How late the lab's own delay timers fired, per part. */
  readonly labTimers: { readonly sequential: Spread; readonly crowd: Spread };
}
