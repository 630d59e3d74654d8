// Configuration: load (JSON/YAML/TOML + KRAKEND_* overrides), check (schema + semantics +
// namespaces), and the shared formatting of issues for `gw check` and `gw run`.

export { formatDuration, parseDuration, parseGoDuration } from './duration.js';
export { applyEnvOverrides, envVarName } from './env.js';
export { formatIssues } from './issues.js';
export { locateJsonError } from './json-error.js';
export type { ConfigSources } from './load.js';
export { ConfigLoadError, loadConfigFile, loadConfigFileWithSources, parseConfigText } from './load.js';
export type { CheckOptions, CheckResult } from './validate.js';
export { checkConfig, childPath, parseRoute } from './validate.js';
