/** Building blocks shared by the schema's sections: checked transforms, durations, paths. */
import { z } from 'zod';
import type { Checked } from './checked.js';
import { DURATION_PATTERN, type DurationLimits, malformedDuration, parseDuration } from './duration.js';
import { quote } from './text.js';

/** A zod transform that runs a {@link Checked} parser, turning its refusal into an issue. */
export function checkedBy<T>(check: (text: string) => Checked<T>) {
  return (text: string, ctx: z.core.$RefinementCtx<string>): T => {
    const result = check(text);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message, input: text });
    return z.NEVER;
  };
}

/** A duration string (`1.5s`, `2m`) within `limits`, as milliseconds. */
export function duration(limits: DurationLimits, description: string) {
  return z
    .string({ error: (iss) => (typeof iss.input === 'number' ? malformedDuration(iss.input) : undefined) })
    .regex(DURATION_PATTERN, { error: (iss) => malformedDuration(String(iss.input)) })
    .transform(checkedBy((text) => parseDuration(text, limits)))
    .meta({ description });
}

/** A duration within `limits`, or `off` (null). */
export function durationOrOff(limits: DurationLimits, description: string) {
  return z
    .string({ error: (iss) => (typeof iss.input === 'number' ? malformedDuration(iss.input) : undefined) })
    .transform(
      checkedBy<number | null>((text) => {
        if (text === 'off') return { ok: true, value: null };
        if (!DURATION_PATTERN.test(text) && !/^\d+(\.\d+)?$/.test(text)) {
          return {
            ok: false,
            message: `${quote(text)} is not a duration or "off"; write e.g. "1h", "30m", or "off"`,
          };
        }
        return parseDuration(text, limits);
      }),
    )
    .meta({ description });
}

/** Paths are taken literally: `~` is not expanded (a directory named "~" would be a nasty surprise). */
function checkPath(text: string): Checked<string> {
  if (text === '') return { ok: false, message: 'is empty; give a path' };
  if (text.startsWith('~')) return { ok: false, message: '"~" is not expanded here; write the full path' };
  return { ok: true, value: text };
}

export const pathSchema = z.string().transform(checkedBy(checkPath));
