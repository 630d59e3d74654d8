// The uWebSockets.js front. uWS parses the head and frames the body; gw reads the headers into the
// request's header map and the HeadScan that http1.ts judges, then hands the request to the
// gateway's pipeline. Its Exchange is the Reply the pipeline writes to: a header map, or header
// lines as bytes after the status line in one uWS call.
//
// Reading every header costs a call from uWS into JavaScript per header (measured: ~4 % of a
// no-op request's CPU). The current build's parser already refuses most of what the scan would
// (NUL and most control bytes, obs-fold, a missing or repeated Host), so a request that declares
// no body, to a route that reads only Host, Content-Type and Accept (the app's `headerReads`,
// compiled per endpoint: a backend head written from a template, a negotiated encoding; an
// unmatched path reads X-Forwarded-Prefix for gin's trailing-slash redirect), has
// only those read by name, with Connection, and checked. uWS gives a name's first value only: a
// repeated Content-Type or Accept counts by its first there. Any other request, and every request
// on the old build (whose parser lets bad heads through), has all its headers read and checked.

import { gatherBody } from '../proxy/body-stream.js';
import { bodyBytes } from '../proxy/util.js';
import type {
  BodySink,
  BodyStream,
  GwRequest,
  GwResponse,
  Handler,
  HeaderMap,
  Reply,
  WsConnection,
  WsSession,
} from '../types.js';
import type { GatewayApp } from './app.js';
import {
  type AnswerLog,
  addHeader,
  arrivalMs,
  asUpgrade,
  type FrontOptions,
  type FrontTls,
  type HttpFront,
  InFlight,
  isFramingHeader,
  newRequest,
  refusalResponse,
  runPipeline,
  statusLine,
  UpgradeReply,
} from './front.js';
import { HeadScan, originPath, REFUSED, type Refusal, refusalOf } from './http1.js';
import type { UwsBuild, UwsModule } from './platform.js';

type UwsResponse = import('uWebSockets.js').HttpResponse;
type UwsRequest = import('uWebSockets.js').HttpRequest;
type UwsContext = import('uWebSockets.js').us_socket_context_t;
type UwsWebSocket = import('uWebSockets.js').WebSocket<WsUserData>;

/** What uWS keeps with an upgraded connection. */
interface WsUserData {
  session: WsSession;
  conn: UwsConnection | null;
}

/** Each status's line text as bytes, for answers written with their header lines as bytes. */
const statusLineBytes: Buffer[] = [];
function statusLineBytesOf(code: number): Buffer {
  let bytes = statusLineBytes[code];
  if (bytes === undefined) {
    bytes = Buffer.from(statusLine(code), 'latin1');
    if (code >= 100 && code < 600) statusLineBytes[code] = bytes;
  }
  return bytes;
}

/**
 * Where a status line and header lines are put together, as bytes: uWS copies them from here (a
 * string would be encoded to UTF-8 by uWS first). One per thread: a head is written before the
 * next is put together.
 */
let headBuffer = Buffer.allocUnsafe(16 * 1024);

/** The line a client that asked `Connection: close` is answered with (uWS leaves it out then). */
const CLOSE_LINE = Buffer.from('\r\nConnection: close');

const textDecoder = new TextDecoder();
const EMPTY: Buffer = Buffer.alloc(0);

// uWS hands headers over through a callback; one module-level callback and a scratch slot (the
// handler runs synchronously, one request at a time per thread) avoid a closure per request.
const NO_HEADERS: HeaderMap = {};
let collecting: HeaderMap = NO_HEADERS;
/** uWS lets through some names and values its parser should refuse: the scan checks them. */
const scan = new HeadScan(true);

/** A header name as uWS reads it fastest: bytes (a string key is encoded to UTF-8 on every call). */
const headerKeys = new Map<string, ArrayBuffer>();
function headerKey(name: string): ArrayBuffer {
  let key = headerKeys.get(name);
  if (key === undefined) {
    key = new ArrayBuffer(name.length);
    Buffer.from(key).write(name, 'latin1');
    headerKeys.set(name, key);
  }
  return key;
}
/** The headers a request may have read by name alone (see above). */
const READ_BY_NAME = new Set(['host', 'content-type', 'accept', 'x-forwarded-prefix']);
const readableByName = new WeakMap<readonly string[], boolean>();
function byNameOnly(reads: readonly string[]): boolean {
  let known = readableByName.get(reads);
  if (known === undefined) {
    known = reads.every((name) => READ_BY_NAME.has(name));
    readableByName.set(reads, known);
  }
  return known;
}
const HOST_KEY = headerKey('host');
const CONNECTION_KEY = headerKey('connection');
const CONTENT_LENGTH_KEY = headerKey('content-length');
const TRANSFER_ENCODING_KEY = headerKey('transfer-encoding');
function collectHeader(name: string, value: string): void {
  scan.add(name, value);
  addHeader(collecting, name, value);
}

/**
 * Why a scanned head must be refused. uWS hands over only what it accepted as HTTP/1.1 (it answers
 * HTTP/1.0 with 505 itself); its head limit counts the request line, which the scan does not see.
 */
function headRefusal(method: string, url: string, query: string, maxHead: number): Refusal | undefined {
  return url.length + query.length >= maxHead
    ? REFUSED.targetTooLong
    : refusalOf(scan, true, maxHead - method.length - url.length - query.length);
}

// An IPv4 peer's text form, cached by its 32-bit value: uWS's text form costs an inet_ntop,
// an ArrayBuffer and a decode per request (+4.7 % req/CPU-s on a minimal proxy without them).
const ipv4Texts = new Map<number, string>();

function clientIpOf(res: UwsResponse): string {
  const raw = new Uint8Array(res.getRemoteAddress());
  if (raw.length !== 4) return textDecoder.decode(res.getRemoteAddressAsText());
  const key = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
  let text = ipv4Texts.get(key);
  if (text === undefined) {
    text = `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
    if (ipv4Texts.size >= 65536) ipv4Texts.clear();
    ipv4Texts.set(key, text);
  }
  return text;
}

/**
 * The peer of a connection whose head was refused for its framing, until the event loop turns.
 * uWS goes on parsing what followed that head in the same read as further requests of the same
 * connection, and calls the handler for each before it reads any other socket: those are held
 * unanswered, and their connection closed once the refusal is written (uWS writes a read's
 * answers when it is done with the read), so that a smuggled request never reaches a backend. (A
 * request of another connection from the same address, read in the same turn of the loop, is
 * closed too: rare, and harmless.)
 */
let framingRefusedPeer: string | undefined;
const heldAfterRefusal: UwsResponse[] = [];
function ignoreAbort(): void {}
function holdAfterRefusal(peer: string): void {
  framingRefusedPeer = peer;
  setImmediate(closeHeld);
}
function closeHeld(): void {
  framingRefusedPeer = undefined;
  for (const res of heldAfterRefusal) res.close();
  heldAfterRefusal.length = 0;
}

export class UwsFront implements HttpFront {
  readonly kind = 'uws' as const;
  private listenSocket: unknown = null;
  private readonly requests = new InFlight();
  private closing = false;
  private app: import('uWebSockets.js').TemplatedApp;
  /** Apps replaced by a certificate reload: their connections finish, then close with the front. */
  private readonly oldApps: Array<import('uWebSockets.js').TemplatedApp> = [];

  private readonly serve: Handler;
  private readonly headerReads: GatewayApp['headerReads'];
  private readonly log: AnswerLog;
  /** The build's parser refuses bad heads itself: headers may be read by name. */
  private readonly parserChecks: boolean;

  constructor(
    private readonly uws: UwsModule,
    build: UwsBuild,
    private readonly opts: FrontOptions,
    app: Pick<GatewayApp, 'serve' | 'headerReads'>,
  ) {
    this.serve = app.serve;
    this.headerReads = app.headerReads;
    this.log = opts.answers;
    this.parserChecks = build === 'current';
    this.app = this.makeApp(opts.tls);
  }

  private makeApp(tls: FrontTls | undefined): import('uWebSockets.js').TemplatedApp {
    const app = tls
      ? this.uws.SSLApp({
          cert_file_name: tls.certFile,
          key_file_name: tls.keyFile,
          ca_file_name: tls.caFile,
          passphrase: tls.passphrase,
          ssl_ciphers: tls.ciphers,
        })
      : this.uws.App();
    const ws = this.opts.webSocket;
    if (ws !== undefined)
      app.ws<WsUserData>('/*', {
        compression: 0 as import('uWebSockets.js').CompressOptions,
        maxPayloadLength: ws.maxMessageBytes,
        maxBackpressure: ws.maxBufferedBytes,
        closeOnBackpressureLimit: true as never,
        // The endpoints ping their clients themselves (`ping_period`, `pong_wait`).
        idleTimeout: 0,
        sendPingsAutomatically: false,
        upgrade: (res, req, context) => this.onUpgrade(res, req, context),
        open: (socket) => {
          const data = socket.getUserData();
          const conn = new UwsConnection(socket);
          data.conn = conn;
          this.webSockets.add(conn);
          data.session.opened(conn);
        },
        message: (socket, message, isBinary) => {
          // The view is uWS's until the callback returns: the session gets a copy.
          socket.getUserData().session.message(Buffer.from(message.slice(0)), isBinary);
        },
        drain: (socket) => socket.getUserData().session.drained(),
        pong: (socket) => socket.getUserData().session.pong(),
        close: (socket, code, message) => {
          const data = socket.getUserData();
          if (data.conn !== null) {
            data.conn.closed = true;
            this.webSockets.delete(data.conn);
          }
          data.session.closed(code, Buffer.from(message).toString());
        },
      });
    app.any('/*', (res, req) => this.onRequest(res, req));
    return app;
  }

  /** Upgraded connections, told the gateway is going away at close. */
  private readonly webSockets = new Set<UwsConnection>();

  /**
   * A WebSocket upgrade: the request runs the pipeline like any other; a `websocket` endpoint that
   * admits it answers 101 with the session, and the upgrade completes then.
   */
  private onUpgrade(res: UwsResponse, ureq: UwsRequest, context: UwsContext): void {
    const clientIp = clientIpOf(res);
    scan.reset();
    const headers: HeaderMap = {};
    collecting = headers;
    ureq.forEach(collectHeader);
    collecting = NO_HEADERS;
    const method = ureq.getCaseSensitiveMethod();
    let path = ureq.getUrl();
    const query = ureq.getQuery() ?? '';
    let refused = headRefusal(method, path, query, this.opts.maxHeaderBytes);
    if (refused === undefined && path.charCodeAt(0) !== 47) {
      const origin = originPath(path);
      if (origin === undefined) refused = REFUSED.badTarget;
      else path = origin;
    }
    const req = asUpgrade(newRequest(method, path, query, headers, clientIp));
    const exchange = new UpgradeExchange(res, req, context, this.log);
    res.onAborted(() => {
      exchange.gone = true;
    });
    if (refused !== undefined) {
      // The same head checks as any request: an upgrade is refused before any endpoint sees it.
      if (refused.framing) holdAfterRefusal(clientIp);
      exchange.answer(refusalResponse(refused));
      return;
    }
    runPipeline(this.serve, this.opts.onFailure, req, exchange);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.app.listen(this.opts.host, this.opts.port, (socket) => {
        if (!socket) {
          reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port}`));
          return;
        }
        this.listenSocket = socket;
        resolve();
      });
    });
  }

  /**
   * uWS reads certificates only when an SSLApp is made (its addServerName serves other SNI names,
   * not the default one): a new SSLApp listens on the same port (uWS binds with SO_REUSEPORT), and
   * the old one stops accepting; its open connections are served until they close.
   */
  updateTls(tls: FrontTls): void {
    if (this.opts.tls === undefined || this.closing) return;
    const next = this.makeApp(tls);
    next.listen(this.opts.host, this.opts.port, (socket) => {
      if (!socket || this.closing) return;
      const old = this.listenSocket;
      this.listenSocket = socket;
      if (old) this.uws.us_listen_socket_close(old as never);
      this.oldApps.push(this.app);
      this.app = next;
    });
  }

  inFlight(): number {
    return this.requests.count;
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    for (const conn of this.webSockets) conn.close(1001, 'going away');
    if (this.listenSocket) {
      this.uws.us_listen_socket_close(this.listenSocket as never);
      this.listenSocket = null;
    }
    await this.requests.drain(deadlineMs);
    // keep-alive connections are closed by closing the app (uWS ≥ 20.x has app.close()).
    for (const app of [...this.oldApps, this.app]) (app as unknown as { close?: () => void }).close?.();
  }

  private finished(): void {
    this.requests.end();
  }

  private onRequest(res: UwsResponse, ureq: UwsRequest): void {
    const clientIp = clientIpOf(res);
    if (framingRefusedPeer !== undefined && framingRefusedPeer === clientIp) {
      res.onAborted(ignoreAbort);
      heldAfterRefusal.push(res);
      return;
    }
    const method = ureq.getCaseSensitiveMethod();
    let url = ureq.getUrl();
    const query = ureq.getQuery() ?? '';
    scan.reset();
    const headers: HeaderMap = {};
    let reads = this.parserChecks ? this.headerReads(method, url) : null;
    if (
      reads !== null &&
      (!byNameOnly(reads) ||
        ureq.getHeader(CONTENT_LENGTH_KEY) !== '' ||
        ureq.getHeader(TRANSFER_ENCODING_KEY) !== '')
    )
      reads = null;
    if (reads === null) {
      collecting = headers;
      ureq.forEach(collectHeader);
      collecting = NO_HEADERS;
    } else {
      const host = ureq.getHeader(HOST_KEY);
      if (host !== '') scan.addHost(host);
      const connection = ureq.getHeader(CONNECTION_KEY);
      if (connection !== '') scan.addConnection(connection);
      for (let i = 0; i < reads.length; i++) {
        const name = reads[i];
        if (name === 'host') {
          if (host !== '') headers.host = host;
          continue;
        }
        const value = ureq.getHeader(headerKey(name));
        if (value === '') continue;
        scan.addValue(name, value);
        headers[name] = value;
      }
    }
    let refused = headRefusal(method, url, query, this.opts.maxHeaderBytes);
    if (refused === undefined && url.charCodeAt(0) !== 47) {
      const path = originPath(url);
      if (path === undefined) refused = REFUSED.badTarget;
      else url = path;
    }
    const req = newRequest(method, url, query, headers, clientIp);
    const exchange = new Exchange(this, res, req, method === 'HEAD', arrivalMs(this.log), scan.close);
    this.requests.begin();
    res.onAborted(() => exchange.aborted());

    if (refused !== undefined) {
      if (refused.framing) holdAfterRefusal(clientIp);
      this.respond(res, exchange, refusalResponse(refused), true);
      return;
    }
    if (!scan.hasBody()) {
      runPipeline(this.serve, this.opts.onFailure, req, exchange);
      return;
    }
    const declared = scan.contentLengths > 0 ? Number(scan.contentLength) : -1;
    if (declared > this.opts.maxBodyBytes) {
      this.respond(res, exchange, refusalResponse(REFUSED.bodyTooLarge), true);
      return;
    }
    if (this.opts.readTimeoutMs > 0) {
      exchange.timer = setTimeout(() => {
        this.respond(res, exchange, refusalResponse(REFUSED.timeout), true);
      }, this.opts.readTimeoutMs);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (exchange.done) return;
      size += chunk.byteLength;
      if (size > this.opts.maxBodyBytes) {
        this.respond(res, exchange, refusalResponse(REFUSED.bodyTooLarge), true);
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        if (exchange.timer) clearTimeout(exchange.timer);
        req.body =
          chunks.length === 1 ? chunks[0] : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, size);
        runPipeline(this.serve, this.opts.onFailure, req, exchange);
      }
    });
  }

  /** The client left before its answer: the request no longer counts as in flight. */
  left(exchange: Exchange): void {
    if (exchange.timer) clearTimeout(exchange.timer);
    if (!exchange.done) {
      exchange.done = true;
      this.finished();
    }
  }

  /** The pipeline's answer: written, and told to the access log (even when the client left). */
  answer(res: UwsResponse, exchange: Exchange, r: GwResponse): void {
    this.log.answered(exchange.req, r.status, exchange.startedMs);
    this.respond(res, exchange, r, false);
  }

  /** An answer with its header lines as bytes, after the status line, in one uWS call. */
  pass(
    res: UwsResponse,
    exchange: Exchange,
    status: number,
    passed: Buffer | null,
    added: Buffer,
    body: Buffer,
  ): void {
    this.log.answered(exchange.req, status, exchange.startedMs);
    if (exchange.gone || exchange.done) return;
    exchange.done = true;
    if (exchange.timer) clearTimeout(exchange.timer);
    const line = statusLineBytesOf(status);
    const size = line.length + (passed === null ? 0 : passed.length) + added.length + CLOSE_LINE.length;
    if (size > headBuffer.length) headBuffer = Buffer.allocUnsafe(size * 2);
    const head = headBuffer;
    let at = line.copy(head, 0);
    if (passed !== null) at += passed.copy(head, at);
    at += added.copy(head, at);
    if (exchange.close) at += CLOSE_LINE.copy(head, at);
    const statusAndLines = head.subarray(0, at);
    const close = this.closing || exchange.close;
    res.cork(() => {
      // uWS writes the status text and CRLF as given: the lines ride along with it.
      res.writeStatus(statusAndLines);
      if (exchange.head) {
        res.writeHeader('content-length', String(body.length));
        res.endWithoutBody();
      } else res.end(body as never, close);
    });
    this.finished();
  }

  /**
   * An answer whose body is still arriving: the head now, the body as it comes, at the client's
   * pace (uWS `write`/`tryEnd` and `onWritable`; the backend paused meanwhile).
   */
  passStream(
    res: UwsResponse,
    exchange: Exchange,
    status: number,
    passed: Buffer | null,
    added: Buffer,
    body: BodyStream,
  ): void {
    if (exchange.gone || exchange.done) {
      this.log.answered(exchange.req, status, exchange.startedMs);
      body.abort();
      return;
    }
    if (exchange.head || exchange.close || this.closing) {
      // A HEAD answer states a length it does not carry; a connection closed after the answer
      // ends with uWS's `end(body, close)`: both take the whole body first.
      gatherBody(body, (whole) => {
        if (whole !== null) this.pass(res, exchange, status, passed, added, whole);
        else {
          this.log.answered(exchange.req, 502, exchange.startedMs);
          if (!exchange.gone && !exchange.done) {
            exchange.done = true;
            res.close();
            this.finished();
          }
        }
      });
      return;
    }
    this.log.answered(exchange.req, status, exchange.startedMs);
    exchange.done = true;
    if (exchange.timer) clearTimeout(exchange.timer);
    const line = statusLineBytesOf(status);
    const head = Buffer.concat(passed === null ? [line, added] : [line, passed, added]);
    res.cork(() => res.writeStatus(head));
    const sink = new UwsBodySink(res, body, () => this.finished());
    exchange.streaming = sink;
    body.pipe(sink);
  }

  private respond(res: UwsResponse, exchange: Exchange, r: GwResponse, close: boolean): void {
    if (exchange.gone || exchange.done) return;
    exchange.done = true;
    if (exchange.timer) clearTimeout(exchange.timer);
    // uWS writes `Connection: close` itself when it is told to close, but not when the client
    // asked for it: that line is gw's.
    const closeConn = close || this.closing || exchange.close;
    res.cork(() => {
      res.writeStatus(statusLine(r.status));
      if (exchange.close) res.writeHeader('connection', 'close');
      const h = r.headers;
      for (const k in h) {
        if (isFramingHeader(k)) continue;
        const v = h[k];
        if (typeof v === 'string') res.writeHeader(k, v);
        else for (let i = 0; i < v.length; i++) res.writeHeader(k, v[i]);
      }
      const body = r.body;
      // A HEAD response announces the length but carries no content (RFC 9110 §9.3.2), as Go's
      // server does. The old uWS build throws on endWithoutBody(length, close): the length is ours.
      if (exchange.head) {
        res.writeHeader('content-length', String(body == null ? 0 : bodyBytes(body)));
        res.endWithoutBody();
      } else if (body === null || body === undefined) res.end(undefined, closeConn);
      else res.end(body as never, closeConn);
    });
    this.finished();
  }
}

/**
 * A body piped to a uWS response. With a known length, `tryEnd` writes what the socket takes and
 * the rest waits in one copy for `onWritable`; with an unknown one, `write` sends a chunk (uWS
 * keeps what the socket does not take) and the backend pauses until `onWritable`. Either way the
 * client costs the socket's buffers and one chunk, whatever the body's size.
 */
class UwsBodySink implements BodySink {
  private gone = false;
  private over = false;
  /** tryEnd: the part of a chunk the socket did not take, and the write offset it starts at. */
  private pending: Buffer | null = null;
  private pendingAt = 0;
  private readonly onWritable = (offset: number): boolean => this.writable(offset);

  constructor(
    private readonly res: UwsResponse,
    private readonly body: BodyStream,
    private readonly finished: () => void,
  ) {}

  data(chunk: Buffer): boolean {
    if (this.gone || this.over) return true;
    const res = this.res;
    const total = this.body.length;
    if (total >= 0) {
      const at = res.getWriteOffset();
      let ok = false;
      let done = false;
      res.cork(() => {
        [ok, done] = res.tryEnd(chunk as never, total);
      });
      if (done) {
        this.finish();
        return true;
      }
      if (ok) return true;
      this.pending = Buffer.from(chunk);
      this.pendingAt = at;
    } else {
      let ok = false;
      res.cork(() => {
        ok = res.write(chunk as never);
      });
      if (ok) return true;
    }
    res.onWritable(this.onWritable);
    return false;
  }

  private writable(offset: number): boolean {
    if (this.gone || this.over) return true;
    const pending = this.pending;
    if (pending !== null) {
      const [ok, done] = this.res.tryEnd(
        pending.subarray(offset - this.pendingAt) as never,
        this.body.length,
      );
      if (done) {
        this.finish();
        return true;
      }
      if (!ok) return false;
      this.pending = null;
    }
    this.body.resume();
    return true;
  }

  end(): void {
    if (this.gone || this.over) return;
    // tryEnd ends the response with the last byte of a known length; a chunked one ends here.
    if (this.body.length < 0) this.res.cork(() => this.res.end());
    this.finish();
  }

  fail(): void {
    if (this.gone || this.over) return;
    // The head went out: the client can only learn of the failure by the connection closing.
    this.res.close();
    this.finish();
  }

  /** The client left mid-body: the backend stops too. */
  clientGone(): void {
    this.gone = true;
    this.body.abort();
    this.finish();
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.pending = null;
    this.finished();
  }
}

/** One request on the uWS front, from arrival to its answer: the Reply its pipeline writes to. */
class Exchange implements Reply {
  /** The client left. */
  gone = false;
  /** Answered (or the client left): nothing more is written. */
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;
  /** An answer whose body is being piped. */
  streaming: UwsBodySink | null = null;

  constructor(
    private readonly front: UwsFront,
    private readonly res: UwsResponse,
    readonly req: GwRequest,
    readonly head: boolean,
    readonly startedMs: number,
    /** The client asked `Connection: close`: answered so, then closed. */
    readonly close: boolean,
  ) {}

  aborted(): void {
    this.gone = true;
    this.streaming?.clientGone();
    this.front.left(this);
  }

  answer(r: GwResponse): void {
    this.front.answer(this.res, this, r);
  }

  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void {
    this.front.pass(this.res, this, status, passed, added, body);
  }

  passStream(status: number, passed: Buffer | null, added: Buffer, body: BodyStream): void {
    this.front.passStream(this.res, this, status, passed, added, body);
  }
}

/** An upgrade request on the uWS front: uWS completes an admitted one. */
class UpgradeExchange extends UpgradeReply {
  /** The client left before the answer. */
  gone = false;

  constructor(
    private readonly res: UwsResponse,
    req: GwRequest,
    private readonly context: UwsContext,
    log: AnswerLog,
  ) {
    super(req, log);
  }

  protected write(r: GwResponse, session: WsSession | undefined): void {
    if (this.gone) {
      session?.closed(1006, '');
      return;
    }
    const res = this.res;
    const h = this.req.headers;
    res.cork(() => {
      if (session !== undefined) {
        // The pipeline's headers (CORS) ride on the 101: the status first (a header written
        // before it would make uWS write 200), then uWS's own upgrade headers.
        res.writeStatus('101 Switching Protocols');
        for (const k in r.headers) {
          const v = r.headers[k];
          for (const one of typeof v === 'string' ? [v] : v) res.writeHeader(k, one);
        }
        res.upgrade<WsUserData>(
          { session, conn: null },
          h['sec-websocket-key'] ?? '',
          session.protocol,
          h['sec-websocket-extensions'] ?? '',
          this.context,
        );
        return;
      }
      res.writeStatus(statusLine(r.status));
      for (const k in r.headers) {
        if (isFramingHeader(k)) continue;
        const v = r.headers[k];
        for (const one of typeof v === 'string' ? [v] : v) res.writeHeader(k, one);
      }
      res.end((r.body ?? '') as never, true);
    });
  }
}

/** An upgraded uWS connection as the WebSocket proxy writes to it. */
class UwsConnection implements WsConnection {
  closed = false;

  constructor(private readonly ws: UwsWebSocket) {}

  send(data: Buffer | string, binary: boolean): void {
    // uWS corks a send made outside a callback itself: no closure per message.
    if (!this.closed) this.ws.send(data as never, binary);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  ping(): void {
    if (!this.closed) this.ws.ping();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.end(code, reason);
  }

  terminate(): void {
    if (this.closed) return;
    this.ws.close();
  }
}
