// pino from the start. Without `telemetry/logging`: pino's JSON lines. With it: KrakenD's
// text formats (default / logstash / custom), written by a pino hook to the same destination.
// Lines go straight to fd 1 from the thread that makes them (in a worker thread, process.stdout
// would hop through the main thread for every line): written by the thread itself when stdout is
// a pipe or a file (stdout-lines.ts), through sonic-boom otherwise (a terminal, a socket).
import { isatty } from 'node:tty';
import { format } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import type { ServiceConfig } from '../types.js';
import { compilePattern } from './log-format.js';
import { type LoggingSettings, loggingConfig, loggingSettings } from './logging.js';
import { StdoutLines } from './stdout-lines.js';

export interface LoggerOptions {
  level?: string;
  /** Text prepended to every message, as KrakenD's `prefix`. */
  prefix?: string;
  /** Bindings added to every line (worker id, …). */
  bindings?: Record<string, unknown>;
  /** The service config, for its `telemetry/logging` options. */
  service?: ServiceConfig;
  /** Write each line before returning (the main thread's few lines must not be lost at exit). */
  sync?: boolean;
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

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * Lines gathered into one string and handed to sonic-boom per 8 KiB: sonic-boom measures the
 * UTF-8 length of its pending chunk (a string of up to 16 KiB, flattened again) on every write,
 * which made each access-log line cost ~4 µs; one write per ~100 lines makes that negligible.
 * Every line of the thread goes through here, so the order of lines is kept.
 */
class BatchedDestination {
  private pending = '';

  constructor(private readonly inner: SonicBoom) {}

  write(line: string): boolean {
    this.pending += line;
    if (this.pending.length >= 8192) this.drain();
    return true;
  }

  drain(): void {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.inner.write(chunk);
  }

  flush(cb?: (err?: Error) => void): void {
    this.drain();
    this.inner.flush(cb);
  }

  flushSync(): void {
    this.drain();
    this.inner.flushSync();
  }

  end(): void {
    this.drain();
    this.inner.end();
  }
}

type Destination = SonicBoom | BatchedDestination | StdoutLines;

/**
 * fd 1. Async destinations batch lines (one write per chunk or per 200 ms) instead of one write
 * syscall per access-log line, which cost a third of no-op throughput.
 */
function openDestination(sync: boolean): Destination {
  if (sync) return pino.destination({ dest: 1, sync: true });
  const destination =
    StdoutLines.open() ?? new BatchedDestination(pino.destination({ dest: 1, sync: false, minLength: 8192 }));
  setInterval(() => {
    try {
      destination.flush();
    } catch {
      // not ready yet, or already ended: nothing to write
    }
  }, 200).unref();
  return destination;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const destination = openDestination(opts.sync === true);
  const logging = loggingConfig(opts.service);
  if (logging) return createTextLogger(opts, loggingSettings(logging), destination);
  const level = opts.level ?? process.env.GW_LOG_LEVEL;
  return pino(
    {
      level: pinoLevel(level),
      base: { ...(opts.bindings ?? {}) },
      msgPrefix: opts.prefix ? `${opts.prefix} ` : undefined,
    },
    destination,
  );
}

/** The message of a pino call: `(msg, ...args)`, `(obj, msg, ...args)` or `(err, msg?)`. */
function messageOf(args: unknown[]): string {
  const [first, ...rest] = args;
  if (typeof first === 'string') return rest.length === 0 ? first : format(first, ...rest);
  if (first instanceof Error) {
    const msg = typeof rest[0] === 'string' ? format(...(rest as [string, ...unknown[]])) : '';
    return msg ? `${msg}: ${first.message}` : first.message;
  }
  const msg = typeof rest[0] === 'string' ? format(...(rest as [string, ...unknown[]])) : '';
  if (first === null || first === undefined) return msg;
  let fields: string;
  try {
    fields = JSON.stringify(first);
  } catch {
    fields = String(first);
  }
  return msg ? `${msg} ${fields}` : fields;
}

/**
 * `telemetry/logging` configured: KrakenD's text lines (default/custom patterns) or logstash JSON.
 * pino still decides levels and holds the destination; its logMethod hook writes our line
 * instead of serializing its JSON.
 */
function createTextLogger(opts: LoggerOptions, settings: LoggingSettings, destination: Destination): Logger {
  const explicit = opts.level ?? process.env.GW_LOG_LEVEL;
  const level =
    explicit !== undefined ? pinoLevel(explicit) : settings.enabled ? pinoLevel(settings.level) : 'silent';
  const line = compilePattern(settings.pattern, { colors: isatty(1), module: 'KRAKEND', program: 'gw' });
  const prefix = settings.prefix && !settings.json ? `${settings.prefix} ` : '';
  let id = 0;
  const logger = pino(
    {
      level,
      base: { ...(opts.bindings ?? {}) },
      hooks: {
        logMethod(args, _method, levelValue) {
          const text = line({ level: levelValue, message: messageOf(args), time: new Date(), id: ++id });
          destination.write(`${prefix}${text}\n`);
        },
      },
    },
    destination,
  );
  if (settings.syslogRequested && isMainThread)
    logger.warn('telemetry/logging: syslog is not supported by gw; application logs go to stdout');
  return logger;
}

/** The destination a logger writes to (the access log writes its lines there directly). */
export function loggerDestination(logger: Logger): { write(line: string): unknown } | undefined {
  return (logger as unknown as Record<symbol, { write(line: string): unknown } | undefined>)[
    pino.symbols.streamSym
  ];
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
