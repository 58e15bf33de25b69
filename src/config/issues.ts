/**
 * zod issues in wmn's words: each located by its key path (`sources[1].timeout`) and saying what to do.
 * Unknown keys become one issue per key with a "did you mean", and a union (a source is a string or a
 * mapping) reports only the branch the user evidently meant.
 */
import { z } from 'zod';
import { suggest } from './suggest.js';
import { describe, quote } from './text.js';
import type { ConfigIssue } from './types.js';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** Known keys of each mapping that had unknown ones, keyed by that mapping (zod's issue omits them). */
type KnownKeys = WeakMap<object, readonly string[]>;

/** The outcome of validating a value: the schema's output, or every problem found. */
export type Validated<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issues: ConfigIssue[] };

/** Validates `input` against `schema`; issue paths start with `prefix` (an environment variable's name). */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  prefix: Path = [],
): Validated<z.output<S>> {
  const knownKeys: KnownKeys = new WeakMap();
  const result = schema.safeParse(input, { reportInput: true, error: (iss) => message(iss, knownKeys) });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.flatMap((issue) => convert(issue, prefix, knownKeys)) };
}

/** `sources[1].timeout`: indices in brackets, keys joined by dots. */
export function formatPath(path: Path): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return text === '' ? String(key) : `${text}.${String(key)}`;
  }, '');
}

function convert(issue: Issue, prefix: Path, knownKeys: KnownKeys): ConfigIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const known = (issue.input && knownKeys.get(issue.input)) || [];
    return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: unknownKey(key, known) }));
  }
  if (issue.code === 'invalid_union') {
    const meant = meantBranch(issue.errors);
    if (meant) return meant.flatMap((inner) => convert(inner, path, knownKeys));
  }
  return [{ path: formatPath(path), message: issue.message }];
}

/**
 * The branch of a union the input was written for: the only one that did not fail on the input's type
 * itself. A mapping is meant as the mapping form even when its keys are wrong.
 */
function meantBranch(branches: readonly Issue[][]): Issue[] | undefined {
  const plausible = branches.filter(
    (issues) => !issues.some((i) => i.code === 'invalid_type' && i.path.length === 0),
  );
  return plausible.length === 1 ? plausible[0] : undefined;
}

function unknownKey(key: string, known: readonly string[]): string {
  if (known.includes(`${key}_file`)) {
    return `secrets are not written in this file: put it in a file only wmn can read, and set ${key}_file`;
  }
  const guess = suggest(key, known);
  if (guess !== undefined) return `unknown key; did you mean "${guess}"?`;
  return `unknown key; expected one of: ${known.join(', ')}`;
}

/** wmn's message for an issue zod raised without one of ours (schemas set their own where it matters). */
function message(iss: z.core.$ZodRawIssue, knownKeys: KnownKeys): string | undefined {
  switch (iss.code) {
    case 'unrecognized_keys':
      // Only here is the rejecting schema at hand: remember its keys; convert() words one issue per key.
      if (iss.inst instanceof z.ZodObject && iss.input && typeof iss.input === 'object') {
        knownKeys.set(iss.input, Object.keys(iss.inst.shape));
      }
      return undefined;
    case 'invalid_type':
      return wrongType(iss.expected, iss.input);
    case 'invalid_value':
      return notOneOf(iss.values, iss.input);
    case 'too_small':
      return `must be at least ${iss.minimum}`;
    case 'too_big':
      return `must be at most ${iss.maximum}`;
    default:
      return undefined;
  }
}

const KINDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping (key: value)',
};

function wrongType(expected: string, input: unknown): string {
  if (input === undefined) return 'is required';
  if (input === null) return 'has no value; give one, or remove the key to use the default';
  return `expected ${KINDS[expected] ?? expected}, got ${describe(input)}`;
}

function notOneOf(values: readonly unknown[], input: unknown): string {
  const options = values.join(', ');
  if (typeof input !== 'string') return `expected one of ${options}, got ${describe(input)}`;
  const guess = suggest(input, values.map(String));
  return `${quote(input)} is not one of ${options}${guess === undefined ? '' : `; did you mean "${guess}"?`}`;
}
