// What a backend call needs beyond one HTTP request, each an interceptor around a dispatch
// (dispatch.ts), composed once per pool registry (http-client.ts) in this order, outermost first:
//   deadline    → the call's whole time, redirects and decompression included, is bounded;
//   decompress  → the last answer's Content-Encoding is undone, up to a byte limit;
//   redirect    → 3xx answers are followed as Go's http.Client follows them.
// An interceptor whose option is off for a request passes it down untouched (no handler made).

import {
  brotliDecompressSync,
  createBrotliDecompress,
  createGunzip,
  createInflate,
  gunzipSync,
  inflateSync,
} from 'node:zlib';
import type { ResponseHeaders } from '../types.js';
import type { DeadlineEntry, DeadlineList } from './deadlines.js';
import {
  BackendCallOptions,
  type Dispatch,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  ForwardingHandler,
  type Interceptor,
} from './dispatch.js';
import { deadlineExceeded, UpstreamError } from './errors.js';

// --- deadline -------------------------------------------------------------------------------

/**
 * Fails the call with `context deadline exceeded` (Lura's text) `timeoutMs` after dispatch, and
 * aborts what is in flight. The entry joins the backend's DeadlineList: no timer per call.
 */
export const deadline: Interceptor = (next) => (opts, handler) => {
  const ms = opts.timeoutMs ?? 0;
  if (ms <= 0 || opts.deadlines === undefined) {
    next(opts, handler);
    return;
  }
  const entry = new DeadlineHandler(handler, opts.deadlines);
  opts.deadlines.add(entry, ms);
  next(opts, entry);
};

class DeadlineHandler extends ForwardingHandler implements DeadlineEntry {
  deadlineAt = 0;
  prevDue: DeadlineEntry | null = null;
  nextDue: DeadlineEntry | null = null;
  due = false;
  private controller: DispatchController | undefined = undefined;
  private settled = false;

  constructor(
    inner: DispatchHandler,
    private readonly list: DeadlineList,
  ) {
    super(inner);
  }

  expire(): void {
    if (this.settled) return;
    this.settled = true;
    const err = deadlineExceeded();
    // The request below is told to stop; what it reports after this is not heard.
    this.controller?.abort(err);
    this.inner.onResponseError(this.controller, err);
  }

  override onRequestStart(controller: DispatchController, context: unknown): void {
    this.controller = controller;
    // undici gives the controller once connected: a request that expired waiting for it stops now.
    if (this.settled) controller.abort(deadlineExceeded());
    else this.inner.onRequestStart?.(controller, context);
  }

  override onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
    passedHead?: Buffer,
    bodyLength?: number,
  ): void {
    if (!this.settled)
      this.inner.onResponseStart(controller, statusCode, headers, statusMessage, passedHead, bodyLength);
  }

  override onResponseData(controller: DispatchController, chunk: Buffer): void {
    if (!this.settled) this.inner.onResponseData(controller, chunk);
  }

  override onResponseEnd(controller: DispatchController, trailers: ResponseHeaders): void {
    if (this.settled) return;
    this.settled = true;
    this.unlink();
    this.inner.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.unlink();
    this.inner.onResponseError(controller, err);
  }

  private unlink(): void {
    this.list.remove(this);
  }
}

// --- redirect -------------------------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const SENSITIVE_ON_REDIRECT = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2']);

/** Follows 301, 302, 303, 307 and 308 answers that carry a Location, as Go's http.Client does. */
export const redirect: Interceptor = (next) => (opts, handler) => {
  if (opts.followRedirects !== true) {
    next(opts, handler);
    return;
  }
  next(opts, new RedirectHandler(handler, next, opts));
};

class RedirectHandler extends ForwardingHandler {
  private hops = 0;
  /** The hop to make when this answer ends (its body is dropped), or the error to report. */
  private nextHop: DispatchOptions | Error | null = null;

  constructor(
    inner: DispatchHandler,
    private readonly dispatch: Dispatch,
    private opts: DispatchOptions,
  ) {
    super(inner);
  }

  override onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
    passedHead?: Buffer,
    bodyLength?: number,
  ): void {
    this.nextHop = REDIRECTS.has(statusCode) ? this.follow(statusCode, headers.location) : null;
    if (this.nextHop === null)
      this.inner.onResponseStart(controller, statusCode, headers, statusMessage, passedHead, bodyLength);
  }

  override onResponseData(controller: DispatchController, chunk: Buffer): void {
    if (this.nextHop === null) this.inner.onResponseData(controller, chunk);
  }

  override onResponseEnd(controller: DispatchController, trailers: ResponseHeaders): void {
    const hop = this.nextHop;
    if (hop === null) this.inner.onResponseEnd(controller, trailers);
    else if (hop instanceof Error) this.inner.onResponseError(controller, hop);
    else {
      this.nextHop = null;
      this.opts = hop;
      this.dispatch(hop, this);
    }
  }

  /** The next hop for a 3xx, an error that ends the call, or null when the 3xx is the answer. */
  private follow(status: number, location: string | string[] | undefined): DispatchOptions | Error | null {
    if (typeof location !== 'string' || location === '') return null;
    const opts = this.opts;
    const from = new URL(`${opts.origin}${opts.path}`);
    let to: URL;
    try {
      to = new URL(location, from);
    } catch {
      return new UpstreamError(
        `failed to parse Location header ${JSON.stringify(location)}`,
        'GW_BACKEND_PROTOCOL',
      );
    }
    if (to.protocol !== 'http:' && to.protocol !== 'https:') return null;
    if (++this.hops >= MAX_REDIRECTS)
      return new UpstreamError('stopped after 10 redirects', 'GW_BACKEND_REDIRECTS');
    // Go: 301/302/303 turn a non-GET/HEAD request into a GET without body; 307/308 keep both.
    const toGet =
      status === 303 ||
      ((status === 301 || status === 302) && opts.method !== 'GET' && opts.method !== 'HEAD');
    return new BackendCallOptions(
      to.origin,
      toGet ? (opts.method === 'HEAD' ? 'HEAD' : 'GET') : opts.method,
      `${to.pathname}${to.search}`,
      redirectHeaders(opts.head !== undefined ? headersOfHead(opts.head) : opts.headers, from, to),
      toGet ? null : opts.body,
      undefined,
      opts.headMode,
      opts.timings,
      opts.timeoutMs ?? 0,
      opts.deadlines,
      true,
      opts.decompress === true,
      opts.maxBodyBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
    );
  }
}

/** The header lines of a request head written by the caller, as a flat list (Host left out). */
function headersOfHead(head: string): string[] {
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    if (name.toLowerCase() !== 'host') out.push(name, line.slice(colon + 1).trim());
  }
  return out;
}

/**
 * The headers of a redirected request, as Go's http.Client builds them: the original ones, minus
 * credentials when the new host is neither the previous one nor a subdomain of it, plus a Referer
 * naming the previous URL (unless the client sent one, or the hop goes from https to http).
 */
function redirectHeaders(initial: string[], from: URL, to: URL): string[] {
  const sameDomain = to.hostname === from.hostname || to.hostname.endsWith(`.${from.hostname}`);
  const out: string[] = [];
  let hasReferer = false;
  for (let i = 0; i < initial.length; i += 2) {
    const k = initial[i].toLowerCase();
    if (!sameDomain && SENSITIVE_ON_REDIRECT.has(k)) continue;
    if (k === 'referer') hasReferer = true;
    out.push(initial[i], initial[i + 1]);
  }
  if (!hasReferer && !(from.protocol === 'https:' && to.protocol === 'http:')) {
    from.username = '';
    from.password = '';
    out.push('Referer', from.href);
  }
  return out;
}

// --- decompress -----------------------------------------------------------------------------

/** What a decompressed answer may grow to when the service sets no `max_payload_size`. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
/**
 * A compressed body up to this size is inflated in one synchronous step of at most SYNC_OUTPUT
 * bytes (a few milliseconds at worst); a bigger one, or one that inflates past that, streams
 * through zlib on its thread pool, so the event loop and the deadline keep running.
 */
const SYNC_INPUT = 64 * 1024;
const SYNC_OUTPUT = 4 * 1024 * 1024;

/** zlib's output chunk: 64 KiB (its default is 16), four times fewer buffers per MiB. */
const INFLATE_CHUNK = 64 * 1024;

/**
 * At most this many answers inflate at once on zlib's thread pool, per thread; the others wait
 * their turn (their deadline still runs). Each holds up to its byte limit: this bounds what
 * decompression holds at once, whatever a backend sends.
 */
const MAX_INFLATIONS = 2;

/** A FIFO of tasks, `limit` running at once; a task calls `done` exactly once when it ends. */
class Slots {
  private running = 0;
  private readonly waiting: Array<(done: () => void) => void> = [];

  constructor(private readonly limit: number) {}

  run(task: (done: () => void) => void): void {
    if (this.running < this.limit) this.start(task);
    else this.waiting.push(task);
  }

  private start(task: (done: () => void) => void): void {
    this.running++;
    let ended = false;
    task(() => {
      if (ended) return;
      ended = true;
      this.running--;
      const next = this.waiting.shift();
      if (next !== undefined) this.start(next);
    });
  }
}

const inflations = new Slots(MAX_INFLATIONS);

type Coding = 'gzip' | 'deflate' | 'br';

function codingOf(value: string | string[] | undefined): Coding | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  return v === 'gzip' || v === 'x-gzip'
    ? 'gzip'
    : v === 'deflate'
      ? 'deflate'
      : v === 'br'
        ? 'br'
        : undefined;
}

/**
 * Undoes a gzip, deflate or br Content-Encoding (gw asked for it on the client's behalf), as Go's
 * Transport undoes the gzip it asked for: the header goes, the body is inflated, never past
 * `maxBodyBytes` (GW_BACKEND_TOO_LARGE beyond it).
 */
export const decompress: Interceptor = (next) => (opts, handler) => {
  if (opts.decompress !== true) {
    next(opts, handler);
    return;
  }
  next(opts, new DecompressHandler(handler, opts.maxBodyBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES));
};

class DecompressHandler extends ForwardingHandler {
  private coding: Coding | undefined = undefined;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    inner: DispatchHandler,
    private readonly limit: number,
  ) {
    super(inner);
  }

  override onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
    passedHead?: Buffer,
    bodyLength?: number,
  ): void {
    const coding = codingOf(headers['content-encoding']);
    this.coding = coding;
    if (coding === undefined) {
      this.inner.onResponseStart(controller, statusCode, headers, statusMessage, passedHead, bodyLength);
      return;
    }
    const plain = { ...headers };
    delete plain['content-encoding'];
    delete plain['content-length'];
    this.chunks = [];
    this.size = 0;
    this.inner.onResponseStart(
      controller,
      statusCode,
      plain,
      statusMessage,
      passedHead === undefined ? undefined : withoutLines(passedHead, 'content-encoding'),
      -1,
    );
  }

  override onResponseData(controller: DispatchController, chunk: Buffer): void {
    if (this.coding === undefined) {
      this.inner.onResponseData(controller, chunk);
      return;
    }
    // gw's pool lends a view of its read buffer: kept as a copy.
    this.chunks.push(Buffer.from(chunk));
    this.size += chunk.length;
  }

  override onResponseEnd(controller: DispatchController, trailers: ResponseHeaders): void {
    const coding = this.coding;
    if (coding === undefined) {
      this.inner.onResponseEnd(controller, trailers);
      return;
    }
    const input = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    if (input.length === 0) {
      this.inner.onResponseEnd(controller, trailers);
      return;
    }
    if (input.length <= SYNC_INPUT) {
      const syncLimit = Math.min(this.limit, SYNC_OUTPUT);
      try {
        const options = { maxOutputLength: syncLimit };
        const body =
          coding === 'gzip'
            ? gunzipSync(input, options)
            : coding === 'deflate'
              ? inflateSync(input, options)
              : brotliDecompressSync(input, options);
        this.inner.onResponseData(controller, body);
        this.inner.onResponseEnd(controller, trailers);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') {
          this.invalid(controller, coding, err as Error);
          return;
        }
        if (syncLimit === this.limit) {
          this.tooLarge(controller);
          return;
        }
      }
    }
    this.stream(controller, coding, input, trailers);
  }

  /** Inflates on zlib's thread pool, when one of the thread's inflation slots is free. */
  private stream(
    controller: DispatchController,
    coding: Coding,
    input: Buffer,
    trailers: ResponseHeaders,
  ): void {
    inflations.run((done) => {
      // A call that ended while it waited (its deadline) is not inflated at all.
      if (controller.aborted) {
        done();
        return;
      }
      const options = { chunkSize: INFLATE_CHUNK };
      const inflater =
        coding === 'gzip'
          ? createGunzip(options)
          : coding === 'deflate'
            ? createInflate(options)
            : createBrotliDecompress(options);
      let out: Buffer[] = [];
      let size = 0;
      let over = false;
      const stop = () => {
        over = true;
        out = [];
        inflater.destroy();
        done();
      };
      inflater.on('data', (chunk: Buffer) => {
        if (over) return;
        // A call that ended meanwhile (its deadline) stops the inflation: nothing more is kept.
        if (controller.aborted) {
          stop();
          return;
        }
        size += chunk.length;
        if (size > this.limit) {
          stop();
          this.tooLarge(controller);
          return;
        }
        out.push(chunk);
      });
      inflater.on('error', (err) => {
        if (over) return;
        stop();
        this.invalid(controller, coding, err);
      });
      inflater.on('end', () => {
        if (over) return;
        over = true;
        done();
        this.inner.onResponseData(controller, out.length === 1 ? out[0] : Buffer.concat(out, size));
        this.inner.onResponseEnd(controller, trailers);
      });
      inflater.end(input);
    });
  }

  private tooLarge(controller: DispatchController): void {
    this.inner.onResponseError(
      controller,
      new UpstreamError(
        `invalid response: body larger than ${this.limit} bytes once decompressed`,
        'GW_BACKEND_TOO_LARGE',
      ),
    );
  }

  private invalid(controller: DispatchController, coding: Coding, err: Error): void {
    this.inner.onResponseError(
      controller,
      new UpstreamError(`invalid ${coding} body: ${err.message}`, 'GW_BACKEND_PROTOCOL'),
    );
  }
}

/** `head`'s CRLF-prefixed lines but those named `lowerName`. */
function withoutLines(head: Buffer, lowerName: string): Buffer {
  let out = '';
  for (const line of head.toString('latin1').split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (line.slice(0, colon).trim().toLowerCase() !== lowerName) out += `\r\n${line}`;
  }
  return Buffer.from(out, 'latin1');
}
