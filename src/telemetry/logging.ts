// `telemetry/logging` (the "Logging" page): level, prefix, stdout, syslog, format
// default/logstash/custom. The logger itself is built by createLogger (logger.ts) from the
// settings compiled here; this module checks the config for `gw check`.
//
// syslog: Node has no client for the local syslog socket (/dev/log is a datagram unix socket,
// which node:dgram cannot open), so `syslog: true` is reported by `gw check` and application
// logs go to stdout instead.

import type { ConfigIssue, FeatureModule, ServiceConfig } from '../types.js';
import { DEFAULT_PATTERN, LOGSTASH_PATTERN, patternIssues } from './log-format.js';

export const LOGGING_NAMESPACE = 'telemetry/logging';

const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];
const FACILITIES = ['local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

export interface LoggingConfig {
  level?: string;
  prefix?: string;
  syslog?: boolean;
  stdout?: boolean;
  format?: 'default' | 'logstash' | 'custom';
  custom_format?: string;
  syslog_facility?: string;
}

/** What createLogger needs, decided once from the config. */
export interface LoggingSettings {
  /** KrakenD level name (upper case). */
  level: string;
  /** False when neither stdout nor syslog is on: the application log goes nowhere, as in KrakenD. */
  enabled: boolean;
  prefix: string;
  /** The go-logging pattern of the application log lines. */
  pattern: string;
  /** logstash lines are JSON: the prefix is not prepended to them. */
  json: boolean;
  syslogRequested: boolean;
}

export function loggingConfig(service: ServiceConfig | undefined): LoggingConfig | undefined {
  const cfg = service?.extra_config?.[LOGGING_NAMESPACE];
  return cfg !== null && typeof cfg === 'object' && !Array.isArray(cfg) ? (cfg as LoggingConfig) : undefined;
}

export function loggingSettings(cfg: LoggingConfig): LoggingSettings {
  const format = cfg.format ?? 'default';
  const pattern =
    format === 'custom'
      ? (cfg.custom_format ?? DEFAULT_PATTERN)
      : format === 'logstash'
        ? LOGSTASH_PATTERN
        : DEFAULT_PATTERN;
  return {
    level: (cfg.level ?? 'INFO').toUpperCase(),
    // syslog cannot be honoured: its lines go to stdout rather than nowhere
    enabled: cfg.stdout === true || cfg.syslog === true,
    prefix: cfg.prefix ?? '',
    pattern,
    json: format === 'logstash',
    syslogRequested: cfg.syslog === true,
  };
}

const schema = {
  type: 'object',
  properties: {
    level: { type: 'string' },
    prefix: { type: 'string' },
    syslog: { type: 'boolean' },
    stdout: { type: 'boolean' },
    format: { enum: ['default', 'logstash', 'custom'] },
    custom_format: { type: 'string' },
    syslog_facility: { type: 'string' },
  },
};

function validate(raw: unknown, path: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const cfg = raw as LoggingConfig;
  if (cfg.level !== undefined && !LEVELS.includes(cfg.level.toUpperCase()))
    issues.push({
      path: `${path}.level`,
      message: `unknown level "${cfg.level}"; expected one of ${LEVELS.join(', ')}`,
    });
  if (cfg.format === 'custom') {
    if (cfg.custom_format === undefined || cfg.custom_format === '')
      issues.push({
        path: `${path}.custom_format`,
        message: 'format "custom" needs a custom_format pattern',
      });
    else
      for (const message of patternIssues(cfg.custom_format))
        issues.push({ path: `${path}.custom_format`, message });
  } else if (cfg.custom_format !== undefined) {
    issues.push({
      path: `${path}.custom_format`,
      message: 'custom_format is used only with "format": "custom" (ignored)',
      severity: 'warning',
    });
  }
  if (cfg.syslog_facility !== undefined && !FACILITIES.includes(cfg.syslog_facility))
    issues.push({ path: `${path}.syslog_facility`, message: `expected one of ${FACILITIES.join(', ')}` });
  if (cfg.syslog === true)
    issues.push({
      path: `${path}.syslog`,
      message:
        'syslog is not supported by gw (Node cannot open the local syslog socket): application logs go to stdout; collect them from there',
      severity: 'warning',
    });
  if (cfg.stdout !== true && cfg.syslog !== true)
    issues.push({
      path,
      message:
        'neither "stdout" nor "syslog" is true: the application log is off (as in KrakenD); the access log still prints',
      severity: 'warning',
    });
  return issues;
}

export const loggingModule: FeatureModule = {
  namespace: LOGGING_NAMESPACE,
  schema,
  validate,
};
