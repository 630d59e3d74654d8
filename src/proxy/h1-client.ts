// gw's own HTTP/1.1 client for plain-http backends: keep-alive connections on node:net, one
// request per connection at a time, the head written as one string. Measured per no-op request
// at a fixed rate (bench/experiments/cpu-ab.mjs): undici's JavaScript was ~10 µs of the ~36 µs a
// uWS + undici proxy spends; this client keeps what a gateway needs and nothing else.
// https origins stay on undici (src/proxy/http-client.ts).

import net from 'node:net';
import type { BackendTimings, ResponseHeaders } from '../types.js';
import type { DispatchController, DispatchHandler, DispatchOptions } from './dispatch.js';
import { HeadMode, ParseError, ResponseParser, type ResponseSink } from './h1-parser.js';

/**
 * What the pool reads of a request (DispatchOptions): `head`, when given, is the whole head,
 * already written and checked by the caller (the backend stage builds it from a template), and
 * `headers` is then not read; `headMode` says how the answer's head is read (ResponseParser).
 */
export type H1Request = Pick<
  DispatchOptions,
  'method' | 'path' | 'headers' | 'body' | 'timings' | 'head' | 'headMode'
>;

export class H1RequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface H1PoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
}

// As undici validates them: a header injection must not reach the wire.
export const INVALID_PATH = /[^\u0021-\u00ff]/;
export const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const INVALID_HEADER_NAME = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** Methods already checked to be tokens (a method is written as it is into the request line). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const EXPECTS_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** A server's `Keep-Alive: timeout=N` hint is trusted minus this margin (as undici does). */
const KEEP_ALIVE_MARGIN_MS = 1000;

/**
 * Every connection of this thread reads into this one buffer (net's `onread`): no Buffer per
 * read and no stream machinery ('data' events) on the way to the parser; +5 % req/CPU-s on a
 * minimal uWS proxy at a fixed rate (README, Performance).
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

const NO_TRAILERS: ResponseHeaders = Object.freeze({}) as ResponseHeaders;

/** One request from dispatch to its end, and its controller. */
export class PendingRequest implements DispatchController {
  connection: Connection | null = null;
  retried = false;
  done = false;
  aborted = false;
  /** The reader asked to stop reading (its client is slow): the connection's socket is paused. */
  paused = false;
  /** The serialized head, kept while the request waits for a connection. */
  head = '';
  constructor(
    readonly pool: H1Pool,
    readonly request: H1Request,
    readonly handler: DispatchHandler,
  ) {}

  /** Gives up on the request: its connection, if any, is closed; the handler hears `reason`. */
  abort(reason: Error): void {
    // Asked after the answer came (a deadline during decompression): what reads on learns it.
    this.aborted = true;
    if (this.done) return;
    this.done = true;
    if (this.connection) this.connection.destroyFor(this);
    else this.pool.unqueue(this);
    this.handler.onResponseError(this, reason);
  }

  /** Stops reading the answer until `resume` (the reader is slower than the backend). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.connection?.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection?.socket.resume();
  }
}

class Connection implements ResponseSink {
  readonly socket: net.Socket;
  private readonly parser: ResponseParser;
  current: PendingRequest | null = null;
  /** Requests answered on this connection: a reused connection may have been closed by the peer. */
  served = 0;
  private responseStarted = false;
  private closed = false;
  idleSince = 0;
  idleLimitMs: number;

  constructor(
    private readonly pool: H1Pool,
    host: string,
    port: number,
  ) {
    this.idleLimitMs = pool.options.keepAliveTimeoutMs;
    this.parser = new ResponseParser(this);
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number) => {
          this.onSocketData(readBuffer, n);
          return true;
        },
      },
    });
    this.socket.setKeepAlive(true, 60000);
    this.socket.on('error', this.onSocketError.bind(this));
    this.socket.on('close', this.onSocketClose.bind(this));
    this.socket.on('end', this.onSocketEnd.bind(this));
  }

  send(pending: PendingRequest, head: string): void {
    this.current = pending;
    pending.connection = this;
    this.responseStarted = false;
    const req = pending.request;
    this.parser.expect(req.method === 'HEAD', req.headMode ?? HeadMode.Map);
    if (req.timings !== undefined) this.timeSend(req.timings);
    const body = req.body;
    if (body !== null && body.length > 0) {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    } else this.socket.write(head, 'latin1');
  }

  /** A new connection's request goes out once it is connected (the head waits in the socket). */
  private timeSend(t: BackendTimings): void {
    const now = performance.now();
    t.reused = this.served > 0;
    if (!this.socket.connecting) {
      t.sent = now;
      return;
    }
    t.connectStart = now;
    t.sent = 0; // a retry after a reused connection died goes out on this new one
    this.socket.once('lookup', () => {
      t.resolved = performance.now();
    });
    this.socket.once('connect', () => {
      t.sent = performance.now();
    });
  }

  onHead(status: number, headers: ResponseHeaders, passed: Buffer | undefined, bodyLength: number): void {
    const pending = this.current;
    if (pending === null) return;
    const hint = headers['keep-alive'];
    if (typeof hint === 'string') this.applyKeepAliveHint(hint);
    pending.handler.onResponseStart(pending, status, headers, '', passed, bodyLength);
  }

  onBody(chunk: Buffer): void {
    const pending = this.current;
    if (pending !== null) pending.handler.onResponseData(pending, chunk);
  }

  onMessageComplete(keepAlive: boolean): void {
    const pending = this.current;
    this.current = null;
    this.served++;
    if (!keepAlive) this.destroy();
    if (pending === null || pending.done) return;
    pending.done = true;
    pending.connection = null;
    // The whole answer is in, and the next request on this connection reads its own.
    if (pending.paused) {
      pending.paused = false;
      this.socket.resume();
    }
    if (keepAlive) this.pool.release(this);
    pending.handler.onResponseEnd(pending, NO_TRAILERS);
  }

  /**
   * `n` bytes arrived in the shared read buffer: parsed in place. What outlives this call is
   * copied by whoever keeps it (the parser a partial head, the handler the body): a large body
   * is then copied once, into a buffer of its announced size.
   */
  private onSocketData(buffer: Buffer, n: number): void {
    if (this.current === null) {
      // Nothing was asked: a server talking out of turn cannot be trusted with the next request.
      this.destroy();
      return;
    }
    this.responseStarted = true;
    const chunk = buffer.subarray(0, n);
    let used: number;
    try {
      used = this.parser.execute(chunk);
    } catch (err) {
      this.fail(new H1RequestError(`invalid response: ${(err as Error).message}`, 'protocol'));
      return;
    }
    if (used < chunk.length) {
      // The response ended before these bytes: they belong to no request.
      this.destroy();
    }
  }

  private onSocketError(err: Error): void {
    this.fail(err);
  }

  private onSocketEnd(): void {
    if (this.current !== null && this.parser.finish()) return;
    this.fail(new H1RequestError('other side closed', 'ECONNRESET'));
  }

  private onSocketClose(): void {
    this.fail(new H1RequestError('other side closed', 'ECONNRESET'));
  }

  /** The connection cannot go on: its request fails (or is retried once) and the pool forgets it. */
  private fail(err: Error): void {
    const pending = this.current;
    this.current = null;
    this.destroy();
    if (pending === null || pending.done) return;
    pending.connection = null;
    const req = pending.request;
    // Go's Transport: a reused connection that dies before any byte of the answer was probably
    // closed by the server while idle; an idempotent (or body-less) request is safe to send again.
    if (
      !this.responseStarted &&
      this.served > 0 &&
      !pending.retried &&
      (IDEMPOTENT.has(req.method) || req.body === null)
    ) {
      pending.retried = true;
      this.pool.resend(pending);
      return;
    }
    pending.done = true;
    pending.handler.onResponseError(
      pending,
      err instanceof ParseError ? new H1RequestError(err.message, 'protocol') : err,
    );
  }

  destroyFor(pending: PendingRequest): void {
    if (this.current === pending) this.current = null;
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.forget(this);
    this.socket.destroy();
  }

  private applyKeepAliveHint(hint: string): void {
    const at = hint.indexOf('timeout=');
    if (at < 0) return;
    const seconds = Number.parseInt(hint.slice(at + 8), 10);
    if (!(seconds > 0)) return;
    const limit = seconds * 1000 - KEEP_ALIVE_MARGIN_MS;
    this.idleLimitMs = Math.max(0, Math.min(this.pool.options.keepAliveTimeoutMs, limit));
  }
}

/** Keep-alive connections to one `http:` origin, at most `options.connections` at once. */
export class H1Pool {
  private readonly idle: Connection[] = [];
  private readonly queue: PendingRequest[] = [];
  private queueHead = 0;
  private open = 0;
  private readonly hostHeader: string;
  private readonly host: string;
  private readonly port: number;
  private sweeper: NodeJS.Timeout | null = null;
  private closing: (() => void) | null = null;

  constructor(
    origin: string,
    readonly options: H1PoolOptions,
  ) {
    const url = new URL(origin);
    if (url.protocol !== 'http:') throw new Error(`H1Pool serves http: origins, not ${url.protocol}`);
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? 80 : Number(url.port);
    this.hostHeader = url.host;
  }

  /**
   * Sends `request`. The handler hears onRequestStart at once (with the request's controller),
   * then the answer or an error: an unsendable request (a header injection, a bad path) fails
   * with an H1RequestError before anything is written.
   */
  dispatch(request: H1Request, handler: DispatchHandler): void {
    const pending = new PendingRequest(this, request, handler);
    handler.onRequestStart?.(pending, null);
    if (pending.done) return;
    let head: string;
    try {
      head = this.serialize(request);
      if (this.closing !== null) throw new H1RequestError('the client is closed', 'UND_ERR_CLOSED');
    } catch (err) {
      pending.done = true;
      handler.onResponseError(pending, err as Error);
      return;
    }
    this.assign(pending, head, false);
  }

  /**
   * A reused connection died before any byte of the answer: the request goes out again on a new
   * connection, never on another idle one, which may have been closed by the same server as well.
   */
  resend(pending: PendingRequest): void {
    this.assign(pending, this.serialize(pending.request), true);
  }

  private assign(pending: PendingRequest, head: string, fresh: boolean): void {
    const now = Date.now();
    let connection = fresh ? undefined : this.idle.pop();
    while (connection !== undefined && now - connection.idleSince >= connection.idleLimitMs) {
      connection.destroy();
      connection = this.idle.pop();
    }
    if (connection === undefined) {
      // A retry makes room by closing the oldest idle connection, or it could wait for ever.
      if (fresh && this.open >= this.options.connections && this.idle.length > 0) this.idle[0].destroy();
      if (this.open >= this.options.connections) {
        pending.head = head;
        this.queue.push(pending);
        return;
      }
      connection = new Connection(this, this.host, this.port);
      this.open++;
    }
    connection.send(pending, head);
  }

  /** The oldest queued request still wanted, taken off the queue; undefined when none waits. */
  private nextQueued(): PendingRequest | undefined {
    while (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined as never;
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      }
      if (!next.done) return next;
    }
    return undefined;
  }

  /** A connection finished its request and may carry the next one. */
  release(connection: Connection): void {
    const next = this.nextQueued();
    if (next !== undefined) {
      connection.send(next, next.head);
      next.head = '';
      return;
    }
    if (this.closing !== null) {
      connection.destroy();
      return;
    }
    connection.idleSince = Date.now();
    this.idle.push(connection);
    this.sweeper ??= setInterval(() => this.sweep(), 1000).unref();
  }

  /** A connection is gone: it leaves the idle list, and a queued request gets a new one. */
  forget(connection: Connection): void {
    this.open--;
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.closing !== null) {
      if (this.open === 0) this.closing();
      return;
    }
    if (this.open >= this.options.connections) return;
    const next = this.nextQueued();
    if (next === undefined) return;
    const fresh = new Connection(this, this.host, this.port);
    this.open++;
    fresh.send(next, next.head);
    next.head = '';
  }

  unqueue(pending: PendingRequest): void {
    // Left in the queue marked done: release() and forget() skip it.
    pending.head = '';
  }

  private sweep(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i];
      if (now - c.idleSince >= c.idleLimitMs) c.destroy();
    }
    if (this.idle.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private serialize(request: H1Request): string {
    if (request.head !== undefined) return request.head;
    const path = request.path;
    if (path === '' || (path.charCodeAt(0) !== 47 && path !== '*') || INVALID_PATH.test(path))
      throw new H1RequestError(`invalid request path ${JSON.stringify(path)}`, 'UND_ERR_INVALID_ARG');
    const method = request.method;
    if (!METHODS.has(method)) {
      if (method === '' || INVALID_HEADER_NAME.test(method))
        throw new H1RequestError(`invalid method ${JSON.stringify(method)}`, 'UND_ERR_INVALID_ARG');
      if (METHODS.size < 64) METHODS.add(method);
    }
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasHost = false;
    const headers = request.headers;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const value = headers[i + 1];
      const kind = headerKind(name);
      if (INVALID_HEADER_VALUE.test(value))
        throw new H1RequestError(`invalid ${name} header value`, 'UND_ERR_INVALID_ARG');
      if (kind === HeaderKind.Framing) continue;
      if (kind === HeaderKind.Host) hasHost = true;
      head += `${name}: ${value}\r\n`;
    }
    if (!hasHost) head += `host: ${this.hostHeader}\r\n`;
    const body = request.body;
    if (body !== null && body.length > 0) head += `content-length: ${body.length}\r\n`;
    else if (EXPECTS_BODY.has(request.method)) head += 'content-length: 0\r\n';
    return `${head}\r\n`;
  }

  /** Closes idle connections now and busy ones when their answer is in. */
  close(): Promise<void> {
    if (this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
    return new Promise((resolve) => {
      this.closing = resolve;
      for (const c of [...this.idle]) c.destroy();
      if (this.open === 0) resolve();
    });
  }
}

enum HeaderKind {
  Plain,
  Host,
  /** Framing is the client's to decide: the body it sends is the one it measures. */
  Framing,
}

/** Names already checked: backends send the same few names on every request. */
const headerKinds = new Map<string, HeaderKind>();

function headerKind(name: string): HeaderKind {
  let kind = headerKinds.get(name);
  if (kind !== undefined) return kind;
  if (name === '' || INVALID_HEADER_NAME.test(name))
    throw new H1RequestError(`invalid header name ${JSON.stringify(name)}`, 'UND_ERR_INVALID_ARG');
  const lower = name.toLowerCase();
  kind =
    lower === 'host'
      ? HeaderKind.Host
      : lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding'
        ? HeaderKind.Framing
        : HeaderKind.Plain;
  if (headerKinds.size < 4096) headerKinds.set(name, kind);
  return kind;
}
