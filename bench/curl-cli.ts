/** curl run directly, as a person would on the command line: the reference the engines are held to. */
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { fromCurlJson, type Phases } from './phases.js';

const run = promisify(execFile);

/** One `curl -w '%{json}'` of `url` with a fresh connection; null when curl got no response. */
export async function curlCommandLine(url: string, caFile: string): Promise<Phases | null> {
  const args = ['-s', '-o', '/dev/null', '--no-keepalive', '-H', 'Connection: close', '--cacert', caFile];
  try {
    const { stdout } = await run('curl', [...args, '-w', '%{json}', url]);
    const json = JSON.parse(stdout) as Record<string, unknown>;
    if (json.http_code === 0) return null;
    return fromCurlJson(json, isIP(new URL(url).hostname.replace(/^\[|\]$/g, '')) !== 0);
  } catch {
    return null;
  }
}
