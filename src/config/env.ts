// KrakenD's reserved environment variables ("Environment variables in the configuration",
// "HTTP Server Settings"): any root-level string, integer or boolean already present in the
// configuration can be replaced by KRAKEND_<KEY IN UPPER CASE>. A variable whose key is absent
// from the file has no effect (it overrides, it never adds).

import type { ConfigIssue } from '../types.js';

/**
 * `version` is the format of the file, not a setting: KRAKEND_VERSION is a common name for
 * build variables and must not silently turn a v3 file into something else.
 */
const NOT_OVERRIDABLE = new Set(['version']);

/** Go's strconv.ParseBool, which viper uses to read booleans. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function envVarName(key: string): string {
  return `KRAKEND_${key.toUpperCase()}`;
}

export interface EnvOverrideResult {
  /** Keys replaced, with the variable that replaced them (for `gw check -d`). */
  applied: Array<{ key: string; variable: string }>;
  issues: ConfigIssue[];
}

/** Applies the KRAKEND_* overrides in place on the root object. */
export function applyEnvOverrides(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): EnvOverrideResult {
  const applied: EnvOverrideResult['applied'] = [];
  const issues: ConfigIssue[] = [];
  for (const key of Object.keys(config)) {
    if (NOT_OVERRIDABLE.has(key) || !/^[A-Za-z0-9_]+$/.test(key)) continue;
    const current = config[key];
    const kind = typeof current;
    if (kind !== 'string' && kind !== 'number' && kind !== 'boolean') continue;
    const variable = envVarName(key);
    const raw = env[variable];
    if (raw === undefined) continue;
    const path = `$.${key}`;
    if (kind === 'string') {
      config[key] = raw;
    } else if (kind === 'number') {
      const text = raw.trim();
      const n = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(n) || (Number.isInteger(current) && !Number.isInteger(n))) {
        issues.push({
          path,
          message: `${variable}=${JSON.stringify(raw)} is not ${Number.isInteger(current) ? 'an integer' : 'a number'}`,
        });
        continue;
      }
      config[key] = n;
    } else if (TRUE.has(raw.trim())) {
      config[key] = true;
    } else if (FALSE.has(raw.trim())) {
      config[key] = false;
    } else {
      issues.push({ path, message: `${variable}=${JSON.stringify(raw)} is not a boolean (true or false)` });
      continue;
    }
    applied.push({ key, variable });
  }
  return { applied, issues };
}
