// Configuration: load (JSON/YAML/TOML + KRAKEND_* overrides), check (schema + semantics +
// namespaces), and the shared formatting of issues for `gw check` and `gw run`.

import type { ConfigIssue } from '../types.js';

export { formatDuration, parseDuration } from './duration.js';
export { applyEnvOverrides, envVarName } from './env.js';
export { ConfigLoadError, loadConfigFile, locateJsonError, parseConfigText } from './load.js';
export type { CheckOptions, CheckResult } from './validate.js';
export { checkConfig, childPath, parseRoute } from './validate.js';

/** `ERROR  $.path: message` / `WARN   $.path: message` lines, errors first, newline-terminated. */
export function formatIssues(errors: ConfigIssue[], warnings: ConfigIssue[]): string {
  let out = '';
  for (const e of errors) out += `ERROR  ${e.path}: ${e.message}\n`;
  for (const w of warnings) out += `WARN   ${w.path}: ${w.message}\n`;
  return out;
}
