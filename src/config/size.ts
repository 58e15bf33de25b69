/**
 * Sizes are strings with binary units, like durations: `64MiB`, `1GiB`. A bare number is refused for the
 * same reason as a bare duration: bytes or megabytes is a guess nobody should have to make.
 */
import type { Checked } from './checked.js';
import { quote } from './text.js';

const UNIT_BYTES = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;
const SIZE = /^(\d+)(KiB|MiB|GiB)$/;

/** Parses a size string into bytes within `[min, max]` bytes. */
export function parseSize(
  text: string,
  limits: { readonly min: number; readonly max: number },
): Checked<number> {
  const match = SIZE.exec(text);
  if (!match) {
    return {
      ok: false,
      message: `${quote(text)} is not a size; write a whole number and a unit (KiB, MiB, GiB), e.g. "256MiB"`,
    };
  }
  const bytes = Number(match[1]) * UNIT_BYTES[match[2] as keyof typeof UNIT_BYTES];
  if (bytes < limits.min)
    return { ok: false, message: `must be at least ${limits.min / UNIT_BYTES.MiB}MiB (got ${text})` };
  if (bytes > limits.max)
    return { ok: false, message: `must be at most ${limits.max / UNIT_BYTES.GiB}GiB (got ${text})` };
  return { ok: true, value: bytes };
}
