// Backend calls: the pools (gw's HTTP/1.1 pool for http: origins, undici's Pool for https: or
// when asked), the interceptors composed over them once (interceptors.ts: deadline, decompress,
// redirect), and the handler at the top that gathers an answer for the backend stage. Every
// piece speaks undici's `dispatch(opts, handler)` (dispatch.ts). undici's low-level dispatch was
// measured at 0.96× nginx against 0.71× with `Pool.request()` (docs/design.md).

import type { Pool } from 'undici';
import type { BackendTimings, BodySink, BodyStream, ResponseHeaders } from '../types.js';
import {
  compose,
  type Dispatch,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
} from './dispatch.js';
import { toUpstreamError, UpstreamError } from './errors.js';
import { H1Pool, type H1PoolOptions } from './h1-client.js';
import { deadline, decompress, redirect } from './interceptors.js';

export interface HttpResult {
  status: number;
  /** In pass or lean head mode (gw's client), only the names ResponseParser keeps for the client. */
  headers: ResponseHeaders;
  body: Buffer;
  /**
   * Asked in pass head mode (and answered by gw's client): the head's lines to hand back,
   * CRLF-prefixed, as bytes.
   */
  head?: Buffer;
  /** A body passed on as it arrives (`startBackendCall`'s streamAbove): `body` is empty then. */
  stream?: BodyStream;
}

export interface PoolOptions extends H1PoolOptions {
  /** `gw`: gw's own HTTP/1.1 client for http: origins (undici for https:); `undici`: undici for all. */
  client: 'gw' | 'undici';
}

function defaultPoolOptions(): PoolOptions {
  return {
    connections: 256,
    keepAliveTimeoutMs: 30000,
    client: process.env.GW_BACKEND_CLIENT === 'undici' ? 'undici' : 'gw',
  };
}

type OriginPool = Pool | H1Pool;

/**
 * undici, loaded by the first origin that needs it (https:, or GW_BACKEND_CLIENT=undici): ~29 MB
 * and ~145 ms per thread that a gateway of http: backends never uses.
 */
let UndiciPool: typeof Pool | undefined;
let loadingUndici: Promise<typeof Pool> | undefined;

function loadUndici(): Promise<typeof Pool> {
  loadingUndici ??= import('undici').then((m) => {
    UndiciPool = m.Pool;
    return m.Pool;
  });
  return loadingUndici;
}

/** Loads undici now when `origins` (a configuration's hosts) include one that needs it. */
export async function preloadClientsFor(
  origins: Iterable<string>,
  options = defaultPoolOptions(),
): Promise<void> {
  for (const origin of origins)
    if (options.client === 'undici' || !origin.startsWith('http:')) {
      await loadUndici();
      return;
    }
}

/** Pools by origin, shared by every backend of this worker that talks to the same origin. */
export class PoolRegistry {
  private readonly pools = new Map<string, OriginPool>();
  /** A backend call: the interceptors over the pools, outermost first. */
  readonly call: Dispatch;

  constructor(private readonly options: PoolOptions = defaultPoolOptions()) {
    this.call = compose(this.dispatch, deadline, decompress, redirect);
  }

  /** One request to `opts.origin`'s pool: each hop of a call passes here. */
  readonly dispatch: Dispatch = (opts, handler) => {
    if (opts.timings !== undefined) startTimings(opts.timings);
    const pool = this.get(opts.origin);
    if (pool === undefined) {
      // An https: origin no configured host named (a redirect): undici loads, then the request goes.
      loadUndici().then(
        () => this.dispatch(opts, handler),
        (err: Error) => handler.onResponseError(undefined, err),
      );
      return;
    }
    if (pool instanceof H1Pool) {
      pool.dispatch(opts, handler);
      return;
    }
    try {
      pool.dispatch(
        {
          path: opts.path,
          method: opts.method as never,
          headers: opts.headers,
          body: opts.body ?? undefined,
        },
        handler as never,
      );
    } catch (err) {
      handler.onResponseError(undefined, err as Error);
    }
  };

  /** The pool of `origin`; undefined while undici, which it needs, is still loading. */
  get(origin: string): OriginPool | undefined {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      if (this.options.client === 'gw' && origin.startsWith('http:')) pool = new H1Pool(origin, this.options);
      else if (UndiciPool !== undefined)
        pool = new UndiciPool(origin, {
          connections: this.options.connections,
          pipelining: 1,
          keepAliveTimeout: this.options.keepAliveTimeoutMs,
          keepAliveMaxTimeout: Math.max(this.options.keepAliveTimeoutMs, 60000),
          headersTimeout: 0,
          bodyTimeout: 0,
        });
      else return undefined;
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Whether calls to `origin` go through gw's own client (which a head from a template needs). */
  servesWithGwClient(origin: string): boolean {
    return this.options.client === 'gw' && origin.startsWith('http:');
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => (p instanceof H1Pool ? p.close() : p.close().catch(() => p.destroy()))));
  }
}

/** Hears how a call ended: exactly one of the two, once. */
export interface CallSink {
  resolved(res: HttpResult): void;
  rejected(err: Error): void;
}

const NO_HEADERS: ResponseHeaders = {};

const EMPTY = Buffer.alloc(0);

/**
 * The top of a call: gathers the last answer (its body into one buffer of the announced size
 * when there is one) and tells the sink, with failures as UpstreamErrors (errors.ts).
 *
 * With `streamAbove` ≥ 0, an answer whose body is larger (or of unknown size) is told to the sink
 * as soon as its head is in, its body as a BodyStream: chunks go to the client's sink as they
 * arrive, and the backend connection is paused while that sink is full.
 */
class AnswerCollector implements DispatchHandler, BodyStream {
  private status = 0;
  private headers: ResponseHeaders = NO_HEADERS;
  private passedHead: Buffer | undefined = undefined;
  private chunks: Buffer[] = [];
  /** The body, allocated at its announced size. */
  private sized: Buffer | null = null;
  private size = 0;
  // Streaming: the body's reader, what came before it piped, and how the body ended.
  length = -1;
  private streaming = false;
  /** Of unknown size, not streamed (yet): it becomes a stream once it passes streamAbove. */
  private tentative = false;
  private reader: BodySink | null = null;
  private controller: DispatchController | undefined = undefined;
  private ended = false;
  private failure: Error | null = null;
  private paused = false;

  constructor(
    private readonly sink: CallSink,
    private readonly timings: BackendTimings | undefined,
    private readonly streamAbove: number,
  ) {}

  onRequestStart(controller: DispatchController): void {
    this.controller = controller;
    // undici: connected and being written (gw's pool times its own sends, after this).
    if (this.timings !== undefined) this.timings.sent = performance.now();
  }

  onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    _statusMessage?: string,
    passedHead?: Buffer,
    bodyLength?: number,
  ): void {
    if (this.timings !== undefined) this.timings.head = performance.now();
    this.status = statusCode;
    this.headers = headers;
    this.passedHead = passedHead;
    const length = bodyLength ?? -1;
    this.controller = controller;
    if (this.streamAbove >= 0 && length > this.streamAbove) {
      this.startStream(length);
      return;
    }
    // Of unknown size: gathered until it passes streamAbove (then streamed, chunked), so that a
    // small one still goes out whole with its length, as Go's server sends a short body.
    this.tentative = this.streamAbove >= 0 && length < 0;
    if (length > 0) this.sized = Buffer.allocUnsafe(length);
  }

  private startStream(length: number): void {
    this.streaming = true;
    this.tentative = false;
    this.length = length;
    // Chunks gathered so far wait in `chunks` for the reader (pipe).
    this.sink.resolved({
      status: this.status,
      headers: this.headers,
      body: EMPTY,
      head: this.passedHead,
      stream: this,
    });
  }

  /** The chunk may be a view of gw's read buffer: copied, once, into the body. */
  onResponseData(_controller: DispatchController, chunk: Buffer): void {
    if (this.streaming) {
      const reader = this.reader;
      if (reader === null) this.chunks.push(Buffer.from(chunk));
      else if (!reader.data(chunk)) this.pause();
      return;
    }
    const sized = this.sized;
    if (sized !== null) {
      if (this.size + chunk.length <= sized.length) {
        chunk.copy(sized, this.size);
        this.size += chunk.length;
        return;
      }
      this.chunks.push(sized.subarray(0, this.size));
      this.sized = null;
    }
    this.chunks.push(Buffer.from(chunk));
    this.size += chunk.length;
    if (this.tentative && this.size > this.streamAbove) this.startStream(-1);
  }

  onResponseEnd(): void {
    if (this.timings !== undefined) this.timings.done = performance.now();
    if (this.streaming) {
      this.ended = true;
      this.reader?.end();
      return;
    }
    const chunks = this.chunks;
    const sized = this.sized;
    this.sink.resolved({
      status: this.status,
      headers: this.headers,
      body:
        sized !== null
          ? this.size === sized.length
            ? sized
            : sized.subarray(0, this.size)
          : chunks.length === 1
            ? chunks[0]
            : Buffer.concat(chunks, this.size),
      head: this.passedHead,
    });
  }

  onResponseError(_controller: DispatchController | undefined, err: Error): void {
    const failure = toUpstreamError(err);
    if (!this.streaming) {
      this.sink.rejected(failure);
      return;
    }
    // The head was passed on already: the client's answer is cut.
    this.failure = failure;
    this.reader?.fail(failure);
  }

  // BodyStream, for the front that pipes the body to its client.
  pipe(reader: BodySink): void {
    this.reader = reader;
    const early = this.chunks;
    this.chunks = [];
    for (const chunk of early) if (!reader.data(chunk)) this.pause();
    if (this.failure !== null) reader.fail(this.failure);
    else if (this.ended) reader.end();
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.controller?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.controller?.resume();
  }

  abort(): void {
    if (this.ended || this.failure !== null) return;
    this.reader = null;
    this.controller?.abort(new UpstreamError('the client went away', 'GW_BACKEND_RESET'));
  }
}

/** A hop starts: the phases of a previous hop (redirect) are forgotten. */
function startTimings(t: BackendTimings): void {
  t.dispatched = performance.now();
  t.connectStart = 0;
  t.resolved = 0;
  t.sent = 0;
  t.head = 0;
  t.done = 0;
  t.reused = undefined;
}

/**
 * Calls the backend `opts` names through the registry's interceptors; the answer goes to `sink`.
 * `streamAbove` ≥ 0: a body larger than that many bytes (or of unknown size) comes as a stream.
 */
export function startBackendCall(
  pools: PoolRegistry,
  opts: DispatchOptions,
  sink: CallSink,
  streamAbove = -1,
): void {
  pools.call(opts, new AnswerCollector(sink, opts.timings, streamAbove));
}
