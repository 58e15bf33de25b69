/**
 * The files a configuration names (passwords, tokens, CA bundles), read and checked at load through the
 * {@link ConfigHost}: a missing or wrong one is a configuration problem now, not a failure at run time.
 */
import { dirname, isAbsolute, join } from 'node:path';
import type { Checked } from './checked.js';
import { type ConfigHost, readFailure } from './host.js';
import type { ConfigIssue } from './types.js';

/** A file holding one secret; the newline editors and `echo` end a file with is not part of it. */
export function readSecret(path: string, host: ConfigHost): Checked<string> {
  let text: string;
  try {
    text = host.readFile(path);
  } catch (err) {
    return { ok: false, message: `cannot read ${path}: ${readFailure(err)}` };
  }
  const secret = text.replace(/\r?\n$/, '');
  return secret === '' ? { ok: false, message: `${path} is empty` } : { ok: true, value: secret };
}

/** A missing or wrong CA bundle would fail every connection that needs it at run time; say so now. */
export function checkCaFile(path: string, host: ConfigHost): Checked<string> {
  let text: string;
  try {
    text = host.readFile(path);
  } catch (err) {
    return { ok: false, message: `cannot read ${path}: ${readFailure(err)}` };
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    return { ok: false, message: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  }
  return { ok: true, value: path };
}

/** A path from the file, taken relative to the file's directory (a path from the environment is not). */
export function besideFile(file: string | null, path: string): string {
  return file === null || isAbsolute(path) ? path : join(dirname(file), path);
}

/** The checked value, or undefined with its problem added to `issues` under `path`. */
export function report<T>(issues: ConfigIssue[], path: string, checked: Checked<T>): T | undefined {
  if (checked.ok) return checked.value;
  issues.push({ path, message: checked.message });
  return undefined;
}
