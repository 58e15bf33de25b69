/** Wording shared by configuration messages: values are shown quoted, escaped and cut short. */

const LONGEST = 60;
// JSON.stringify escapes C0 controls; these are the other characters a terminal would not show faithfully.
const INVISIBLE = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;

/** `text` as a JSON string literal, with invisible characters escaped and long text shortened. */
export function quote(text: string): string {
  const short = text.length > LONGEST ? `${text.slice(0, LONGEST - 1)}…` : text;
  return JSON.stringify(short).replace(INVISIBLE, (c) => `\\u${hex4(c)}`);
}

/** A value as the "got …" part of a message: its YAML kind and, for scalars, the value itself. */
export function describe(value: unknown): string {
  if (value === null) return 'no value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `a string (${quote(value)})`;
    case 'number':
      return `a number (${value})`;
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** The code point of a one-character string as four or more hex digits (`000a`). */
export function hex4(char: string): string {
  return (char.codePointAt(0) ?? 0).toString(16).padStart(4, '0');
}
