/** The outcome of checking one value: the parsed value, or a message saying what is wrong and how to fix it. */
export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };
