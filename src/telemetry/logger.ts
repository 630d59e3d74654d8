// pino from the start. Without `telemetry/logging`: pino's JSON lines. With it (issue 6): KrakenD's
// text formats (default / logstash / custom), written by a pino hook to the same destination.
// Lines go straight to fd 1 (a LineBuffer, or sonic-boom for the main thread's synchronous
// logger): in a worker thread, process.stdout would hop through the main thread for every line.
import fs from 'node:fs';
import { isatty } from 'node:tty';
import { format } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import type { ServiceConfig } from '../types.js';
import { compilePattern } from './log-format.js';
import { type LoggingSettings, loggingConfig, loggingSettings } from './logging.js';

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
  /** Shared by the worker threads so that their lines are never cut into each other's (LineBuffer). */
  stdoutLock?: SharedArrayBuffer;
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

/** The encoded chunk: lines are written once they reach PENDING_CHARS (~160 access-log lines). */
const LINE_BUFFER_BYTES = 64 * 1024;
const PENDING_CHARS = 16 * 1024;
/** How long lines wait at most when traffic is too thin to fill the buffer. */
const FLUSH_INTERVAL_MS = 200;
/** The pause before writing again to a full non-blocking pipe (as sonic-boom's). */
const RETRY_MS = 100;

/**
 * Lines joined and written to the fd with one synchronous write(2) per 16 Ki characters (or every
 * 200 ms). Measured side by side at a fixed rate (bench/experiments/cpu-ab.mjs
 * --together), handing 8 KiB strings to sonic-boom's asynchronous writes cost twice the CPU per
 * access-log line: each write woke a libuv pool thread, and sonic-boom measured and re-joined its
 * strings. A synchronous write is what Node does for stdout pipes and files anyway, and what
 * KrakenD's logger does. When the fd is a non-blocking pipe that is full (EAGAIN), or takes part
 * of a chunk, the rest is kept in order and written again later: no line is lost because its
 * reader is slow. Every line of the thread goes through here, so the order of lines is kept.
 */
export class LineBuffer {
  private readonly buffer = Buffer.allocUnsafeSlow(LINE_BUFFER_BYTES);
  /** Lines joined, encoded once per chunk: one encoding call per line cost as much as formatting it. */
  private pending = '';
  /** Chunks not written yet (full pipe, or another worker writing), oldest first. */
  private readonly waiting: Buffer[] = [];
  private retry: NodeJS.Timeout | undefined;
  private holding = false;
  private closed = false;

  /**
   * `lock` (one Int32 shared by every worker thread) is held while a chunk is only partly
   * written: the other workers then queue their chunks instead of writing them into the middle
   * of its line. Without it, a full pipe cut a worker's line in two.
   */
  constructor(
    private readonly fd: number,
    private readonly lock?: Int32Array,
  ) {}

  write(line: string): boolean {
    if (this.closed) return false;
    this.pending += line;
    if (this.pending.length >= PENDING_CHARS) this.drain();
    return true;
  }

  /** Writes what the buffer holds (after what is still waiting). */
  drain(): void {
    const text = this.pending;
    if (text === '') return;
    this.pending = '';
    // Buffer#write writes only whole characters that fit: 3 bytes per UTF-16 unit always fits
    if (text.length * 3 > LINE_BUFFER_BYTES) {
      this.put(Buffer.from(text, 'utf8'), true);
      return;
    }
    this.put(this.buffer.subarray(0, this.buffer.write(text, 0)), false);
  }

  flush(cb?: (err?: Error) => void): void {
    this.drain();
    cb?.();
  }

  /** Writes everything out before returning, waiting up to half a second for a full pipe (exit paths). */
  flushSync(): void {
    this.drain();
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let tries = 0; this.waiting.length > 0 && tries < 50; tries++) {
      this.writeWaiting();
      if (this.waiting.length > 0) Atomics.wait(pause, 0, 0, 10);
    }
    this.release();
  }

  end(): void {
    this.flushSync();
    this.closed = true;
  }

  /** `owned`: the chunk is not the reused buffer, it may be kept as is. */
  private put(chunk: Buffer, owned: boolean): void {
    if (this.waiting.length > 0 || !this.acquire()) {
      this.wait(owned ? chunk : Buffer.from(chunk));
      return;
    }
    const rest = this.writeSome(chunk);
    if (rest === undefined) this.release();
    else this.wait(owned ? rest : Buffer.from(rest));
  }

  /** Writes `chunk`; returns the part not written because the pipe is full, if any. */
  private writeSome(chunk: Buffer): Buffer | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      try {
        offset += fs.writeSync(this.fd, chunk, offset, chunk.length - offset);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EBUSY') return chunk.subarray(offset);
        // EPIPE, EBADF…: nobody can read these lines any more
        return undefined;
      }
    }
    return undefined;
  }

  private wait(chunk: Buffer): void {
    this.waiting.push(chunk);
    if (this.retry === undefined) this.retry = setTimeout(this.retryWaiting, RETRY_MS).unref();
  }

  private readonly retryWaiting = (): void => {
    this.retry = undefined;
    this.writeWaiting();
    if (this.waiting.length > 0) this.retry = setTimeout(this.retryWaiting, RETRY_MS).unref();
  };

  private writeWaiting(): void {
    if (!this.acquire()) return;
    while (this.waiting.length > 0) {
      const rest = this.writeSome(this.waiting[0]!);
      if (rest !== undefined) {
        this.waiting[0] = rest;
        return;
      }
      this.waiting.shift();
    }
    this.release();
  }

  /** Whether this thread may write now: it is the only writer, or it holds the shared lock. */
  private acquire(): boolean {
    if (this.lock === undefined || this.holding) return true;
    if (Atomics.compareExchange(this.lock, 0, 0, 1) !== 0) return false;
    this.holding = true;
    return true;
  }

  private release(): void {
    if (!this.holding) return;
    this.holding = false;
    Atomics.store(this.lock!, 0, 0);
  }
}

type Destination = SonicBoom | LineBuffer;

/** fd 1: written at once (the main thread's few lines must not be lost at exit), or buffered. */
function openDestination(sync: boolean, stdoutLock: SharedArrayBuffer | undefined): Destination {
  if (sync) return pino.destination({ dest: 1, sync: true });
  const destination = new LineBuffer(1, stdoutLock ? new Int32Array(stdoutLock) : undefined);
  setInterval(() => destination.drain(), FLUSH_INTERVAL_MS).unref();
  return destination;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const destination = openDestination(opts.sync === true, opts.stdoutLock);
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
