// The one interface every backend call goes through: undici's `dispatch(opts, handler)` with its
// current handler methods (onRequestStart, onResponseStart, onResponseData, onResponseEnd,
// onResponseError, each given the request's controller). gw's HTTP/1.1 pool (h1-client.ts)
// implements it, undici's Pool implements it natively, and what a call needs beyond one request
// (deadlines, redirects, decompression: interceptors.ts) wraps a dispatch as undici's
// `compose` interceptors do: `(dispatch) => dispatch`, outermost first.
//
// Two things gw's pool adds, both optional so undici's Pool satisfies the same shape:
// - onResponseStart's `passedHead` and `bodyLength` (the head's lines as bytes in HeadMode.Pass;
//   the announced body size, -1 unknown);
// - onResponseData's chunk may be a view of the pool's read buffer, valid during the call only:
//   a handler copies what it keeps (undici's chunks are its own, and copying them costs one memcpy).

import type { BackendTimings, ResponseHeaders } from '../types.js';
import type { DeadlineList } from './deadlines.js';
import type { HeadMode } from './h1-parser.js';

export interface DispatchOptions {
  /** `http://host:port` or `https://…`: the pool the request goes to. */
  origin: string;
  method: string;
  path: string;
  /** Flat [name, value, name, value…] list. */
  headers: string[];
  body: Buffer | null;
  /** The request's whole head, written and checked by the caller (an http: origin on gw's pool only). */
  head?: string;
  /** How gw's pool reads the answer's head (h1-parser.ts): a full header map when not given. */
  headMode?: HeadMode;
  /** Filled with the call's phases when given (telemetry); nothing is timed without it. */
  timings?: BackendTimings;
  /** The deadline interceptor: ms from now (≤ 0: none), on this list (one per backend). */
  timeoutMs?: number;
  deadlines?: DeadlineList;
  /** The redirect interceptor: follow 3xx as Go's http.Client does (up to 10). */
  followRedirects?: boolean;
  /** The decompression interceptor: undo a Content-Encoding gw asked for, up to `maxBodyBytes`. */
  decompress?: boolean;
  maxBodyBytes?: number;
}

/**
 * DispatchOptions as gw's callers build them: every field present, in one order, so that the
 * pool and the interceptors read one object shape (one hidden class) on every call.
 */
export class BackendCallOptions implements DispatchOptions {
  constructor(
    public origin: string,
    public method: string,
    public path: string,
    public headers: string[],
    public body: Buffer | null,
    public head: string | undefined,
    public headMode: HeadMode | undefined,
    public timings: BackendTimings | undefined,
    public timeoutMs: number,
    public deadlines: DeadlineList | undefined,
    public followRedirects: boolean,
    public decompress: boolean,
    public maxBodyBytes: number,
  ) {}
}

/** The request's handle, given to every handler method (undici's DispatchController). */
export interface DispatchController {
  abort(reason: Error): void;
  readonly aborted: boolean;
  pause(): void;
  resume(): void;
}

export interface DispatchHandler {
  /** The request has its connection and is being written. */
  onRequestStart?(controller: DispatchController, context: unknown): void;
  onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
    passedHead?: Buffer,
    bodyLength?: number,
  ): void;
  onResponseData(controller: DispatchController, chunk: Buffer): void;
  onResponseEnd(controller: DispatchController, trailers: ResponseHeaders): void;
  /** The request failed; `controller` is undefined when it failed before it had a connection. */
  onResponseError(controller: DispatchController | undefined, err: Error): void;
}

export type Dispatch = (opts: DispatchOptions, handler: DispatchHandler) => void;

/** Wraps a dispatch: sees each request before the one below, and may wrap its handler. */
export type Interceptor = (next: Dispatch) => Dispatch;

/** `bottom` wrapped by `interceptors`, the first one outermost (undici's `compose`). */
export function compose(bottom: Dispatch, ...interceptors: Interceptor[]): Dispatch {
  let dispatch = bottom;
  for (let i = interceptors.length - 1; i >= 0; i--) dispatch = interceptors[i](dispatch);
  return dispatch;
}

/**
 * A handler that passes every event on to `inner`: interceptors extend it and override what they
 * act on (undici's DecoratorHandler).
 */
export class ForwardingHandler implements DispatchHandler {
  constructor(protected readonly inner: DispatchHandler) {}

  onRequestStart(controller: DispatchController, context: unknown): void {
    this.inner.onRequestStart?.(controller, context);
  }

  onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
    statusMessage?: string,
    passedHead?: Buffer,
    bodyLength?: number,
  ): void {
    this.inner.onResponseStart(controller, statusCode, headers, statusMessage, passedHead, bodyLength);
  }

  onResponseData(controller: DispatchController, chunk: Buffer): void {
    this.inner.onResponseData(controller, chunk);
  }

  onResponseEnd(controller: DispatchController, trailers: ResponseHeaders): void {
    this.inner.onResponseEnd(controller, trailers);
  }

  onResponseError(controller: DispatchController | undefined, err: Error): void {
    this.inner.onResponseError(controller, err);
  }
}
