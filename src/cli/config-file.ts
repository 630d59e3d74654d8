// How every command reads its configuration file: parsed, with the KRAKEND_* overrides applied;
// KrakenD CE's long namespace names read as the short ones; a file that cannot be read or parsed
// has its issues printed, and the command exits 1.

import { formatIssues } from '../config/issues.js';
import { normalizeNamespaces } from '../config/krakend-defaults.js';
import { ConfigLoadError, loadConfigFile } from '../config/load.js';
import type { ConfigIssue, ServiceConfig } from '../types.js';

/** The configuration in `file`, or the issues that keep it from loading (a reload logs them). */
export function loadConfigOrIssues(file: string): ServiceConfig | ConfigIssue[] {
  try {
    const config = loadConfigFile(file);
    normalizeNamespaces(config);
    return config;
  } catch (err) {
    if (!(err instanceof ConfigLoadError)) throw err;
    return err.issues;
  }
}

/** The configuration in `file`, or undefined once its load issues are on stderr. */
export function readConfigFile(file: string): ServiceConfig | undefined {
  const loaded = loadConfigOrIssues(file);
  if (!Array.isArray(loaded)) return loaded;
  process.stderr.write(formatIssues(loaded, []));
  return undefined;
}
