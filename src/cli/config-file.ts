// How every command reads its configuration file: parsed, with the KRAKEND_* overrides applied;
// KrakenD CE's long namespace names read as the short ones; a file that cannot be read or parsed
// has its issues printed, and the command exits 1.

import { formatIssues } from '../config/issues.js';
import { normalizeNamespaces } from '../config/krakend-defaults.js';
import { ConfigLoadError, loadConfigFile } from '../config/load.js';
import type { ServiceConfig } from '../types.js';

/** The configuration in `file`, or undefined once its load issues are on stderr. */
export function readConfigFile(file: string): ServiceConfig | undefined {
  try {
    const config = loadConfigFile(file);
    normalizeNamespaces(config);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigLoadError)) throw err;
    process.stderr.write(formatIssues(err.issues, []));
    return undefined;
  }
}
