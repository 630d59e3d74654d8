// What the fixed-rate experiments share (bench/experiments/cpu-ab.mjs): their
// command-line options and one load at a fixed request rate.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd } from './proc.mjs';

const LOADER = join(dirname(fileURLToPath(import.meta.url)), '..', 'experiments', 'fixed-rate-load.mjs');

/** `--name value` from `args`, or `fallback`. */
export function cliOption(args, name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}

/** `rate` requests per second to `url` for `seconds` (with `headers`): `{ ok, non2xx }`. */
export async function fixedRateLoad(url, rate, seconds, headers) {
  const extra = headers === undefined ? [] : [JSON.stringify(headers)];
  const { stdout } = await runToEnd(process.execPath, [LOADER, url, String(rate), String(seconds), ...extra]);
  return JSON.parse(stdout.trim());
}
