// pino from the start; `telemetry/logging` (issue 6) refines level/prefix/format through these options.
// Lines go straight to fd 1 through sonic-boom: in a worker thread, process.stdout would hop
// through the main thread for every line.
import pino, { type Logger } from 'pino';
import type { ServiceConfig } from '../types.js';

export interface LoggerOptions {
  level?: string;
  /** Text prepended to every message, as KrakenD's `prefix`. */
  prefix?: string;
  /** Bindings added to every line (worker id, …). */
  bindings?: Record<string, unknown>;
  /** The service config, for its `telemetry/logging` options. */
  service?: ServiceConfig;
}

/** KrakenD levels (DEBUG, INFO, WARNING, ERROR, CRITICAL) → pino levels. */
export function pinoLevel(level: string | undefined): string {
  switch ((level ?? 'info').toLowerCase()) {
    case 'debug':
      return 'debug';
    case 'warning':
    case 'warn':
      return 'warn';
    case 'error':
      return 'error';
    case 'critical':
    case 'fatal':
      return 'fatal';
    case 'silent':
      return 'silent';
    default:
      return 'info';
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const logging = opts.service?.extra_config?.['telemetry/logging'] as { level?: string; prefix?: string } | undefined;
  const level = opts.level ?? process.env.GW_LOG_LEVEL ?? logging?.level;
  const prefix = opts.prefix ?? logging?.prefix;
  return pino(
    {
      level: pinoLevel(level),
      base: { ...(opts.bindings ?? {}) },
      msgPrefix: prefix ? `${prefix} ` : undefined,
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

/** Writes out what the async destination still holds (before a worker thread exits). */
export function flushLogger(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // a destination that is not ready yet has nothing to flush
  }
}
