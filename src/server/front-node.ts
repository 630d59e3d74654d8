// The node:http front (node:https with TLS settings uWS does not serve). node:http's parser
// refuses bad names, values and framing itself (`clientError`, answered here as Go's server
// answers); gw adds the Host rules of http1.ts, absolute-form targets and HTTP/1.0 keep-alive.
// With `http2` it serves HTTP/2 too, through node:http2 (http2.ts): ALPN on the TLS port, h2c
// (prior knowledge) beside HTTP/1.1 on a plain one. Both versions feed the same pipeline; its
// Exchange is the Reply the pipeline writes to.

import http from 'node:http';
import type http2 from 'node:http2';
import https from 'node:https';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { gatherBody } from '../proxy/body-stream.js';
import { bodyBytes } from '../proxy/util.js';
import type {
  BodyStream,
  GwRequest,
  GwResponse,
  Handler,
  HeaderMap,
  Reply,
  WsConnection,
  WsSession,
} from '../types.js';
import {
  type AnswerLog,
  addHeader,
  arrivalMs,
  asUpgrade,
  closingResponseBytes,
  type FrontOptions,
  type FrontTls,
  type HttpFront,
  InFlight,
  isFramingHeader,
  refusalResponse,
  requestOfTarget,
  runPipeline,
  UpgradeReply,
} from './front.js';
import { HeadScan, originPath, REFUSED, type Refusal, refusalBytes, refusalOf } from './http1.js';
import { createH2cServer, createHttp2SecureServer, H2_CONNECTION_HEADERS } from './http2.js';

/** Connections whose last head gw refused: closed once answered, nothing more is parsed. */
const refusedSockets = new WeakSet<Socket>();

/** node:http's parser lets no bad name, value or framing through: the scan reads Host and framing only. */
const scan = new HeadScan(false);

/**
 * Reads an HTTP/1 head's headers into `headers` (and the scan): the origin-form target to serve,
 * or why the head is refused.
 */
function readHead(req: http.IncomingMessage, headers: HeaderMap): string | Refusal {
  scan.reset();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    scan.add(k, raw[i + 1]);
    addHeader(headers, k, raw[i + 1]);
  }
  const refused = refusalOf(scan, req.httpVersionMinor === 1, Number.POSITIVE_INFINITY);
  if (refused !== undefined) return refused;
  const target = req.url ?? '/';
  if (target.charCodeAt(0) === 47) return target;
  return originPath(target) ?? REFUSED.badTarget;
}

/**
 * The answer to a head node:http's parser refused. A request line longer than the limit in the
 * request's first read is a long target (414); otherwise too many header bytes (431). node:http
 * tells only the read that overflowed: a long target that spans reads is answered 431.
 */
function parserRefusal(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHeaderBytes: number): Refusal {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      const raw = err.rawPacket;
      if (raw === undefined || !/^[A-Za-z]+ /.test(raw.toString('latin1', 0, 24)))
        return REFUSED.headTooLarge;
      const lineEnd = raw.indexOf(10);
      return lineEnd < 0 || lineEnd >= maxHeaderBytes ? REFUSED.targetTooLong : REFUSED.headTooLarge;
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return REFUSED.timeout;
    default:
      return REFUSED.badRequest;
  }
}

export class NodeFront implements HttpFront {
  readonly kind = 'node' as const;
  /** What listens: an http.Server, an https.Server, node:http2's secure server, or the h2c sniffer. */
  private readonly server: Server;
  /** The server that parses HTTP/1.x (its idle connections close first at shutdown). */
  private readonly http1: http.Server | undefined;
  /** Open HTTP/2 sessions: told GOAWAY at shutdown. */
  private readonly sessions = new Set<http2.Http2Session>();
  private readonly requests = new InFlight();
  closing = false;
  private readonly sockets = new Set<Socket>();
  private wss: WebSocketServer | undefined;
  /** Upgraded connections, told the gateway is going away at close. */
  readonly webSockets = new Set<NodeWsConnection>();

  constructor(
    private readonly opts: FrontOptions,
    private readonly serve: Handler,
  ) {
    const serverOpts: http.ServerOptions = {
      maxHeaderSize: opts.maxHeaderBytes,
      requestTimeout: opts.readTimeoutMs,
      headersTimeout: opts.readHeaderTimeoutMs || Math.min(opts.readTimeoutMs || 60000, 60000),
      keepAliveTimeout: opts.idleTimeoutMs || 5000,
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res);
    const onSession = (session: http2.Http2Session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
    };
    if (opts.tls && opts.http2) {
      this.server = createHttp2SecureServer(opts, serverOpts, onRequest, onSession);
    } else if (opts.tls) {
      this.http1 = https.createServer({ ...serverOpts, ...opts.tls.node }, onRequest);
      this.server = this.http1;
    } else {
      this.http1 = http.createServer(serverOpts, onRequest);
      this.server = opts.http2 ? createH2cServer(this.http1, opts, onRequest, onSession) : this.http1;
    }
    // The server that parses HTTP/1.x: node:http2's TLS server parses it itself (allowHTTP1).
    const http1Parser = (this.http1 ?? this.server) as http.Server;
    if (opts.writeTimeoutMs > 0) http1Parser.setTimeout(opts.writeTimeoutMs + (opts.readTimeoutMs || 0));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    if (opts.webSocket !== undefined) {
      // `ws` completes the upgrades the pipeline admits; the subprotocol is the session's choice.
      this.wss = new WebSocketServer({
        noServer: true,
        maxPayload: opts.webSocket.maxMessageBytes,
        perMessageDeflate: false,
        clientTracking: false,
        handleProtocols: (_offered, request) => sessionOf(request)?.protocol || false,
      });
      this.wss.on('headers', (lines, request) => {
        const extra = (request as UpgradingRequest).gwHeaders;
        if (extra === undefined) return;
        for (const k in extra) {
          const v = extra[k];
          for (const one of typeof v === 'string' ? [v] : v) lines.push(`${k}: ${one}`);
        }
      });
      http1Parser.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
        this.onUpgrade(req, socket as Socket, head),
      );
    }
    http1Parser.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      // A head gw refused already has its answer: what follows it on the connection is not read.
      if (!socket.writable || refusedSockets.has(socket)) return socket.destroy();
      socket.end(refusalBytes(parserRefusal(err, opts.maxHeaderBytes)));
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // Worker threads share the port from Node 22.12 (platform.ts); one listens alone otherwise.
      const reusePort = this.opts.workers > 1;
      this.server.listen({ port: this.opts.port, host: this.opts.host, reusePort } as never, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  inFlight(): number {
    return this.requests.count;
  }

  /** node:https swaps the certificates of new connections in place (`setSecureContext`). */
  updateTls(tls: FrontTls): void {
    if (this.opts.tls === undefined) return;
    (this.server as unknown as https.Server).setSecureContext(tls.node);
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    for (const conn of this.webSockets) conn.close(1001, 'going away');
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.http1?.closeIdleConnections();
    for (const session of this.sessions) session.close();
    await this.requests.drain(deadlineMs);
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  finished(): void {
    this.requests.end();
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.httpVersionMajor === 2) {
      this.onHttp2Request(req as unknown as http2.Http2ServerRequest, res);
      return;
    }
    // A request pipelined after a refused head is never served: the connection closes once the
    // refusal is written.
    if (refusedSockets.has(req.socket)) return;
    const headers: HeaderMap = {};
    const head = readHead(req, headers);
    const http11 = req.httpVersionMinor === 1;
    const target = typeof head === 'string' ? head : (req.url ?? '/');
    const exchange = this.begin(req, res, headers, target, !http11 && scan.keepAlive && !scan.close, false);
    if (typeof head !== 'string') {
      refusedSockets.add(req.socket);
      exchange.refuse(head);
      return;
    }
    this.admit(req, exchange, scan.hasBody());
  }

  /**
   * An HTTP/2 request (node:http2's compatibility API): its pseudo-headers are checked by node:http2;
   * `:authority` stands for Host when the client sent none, as Go's server does.
   */
  private onHttp2Request(req: http2.Http2ServerRequest, res: http.ServerResponse): void {
    const headers: HeaderMap = {};
    const raw = req.rawHeaders;
    let authority = '';
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i];
      if (k.charCodeAt(0) === 58) {
        if (k === ':authority') authority = raw[i + 1];
        continue;
      }
      // HTTP/2 may split the cookie header: joined back with "; " (RFC 9113, 8.2.3).
      if (k === 'cookie' && headers.cookie !== undefined) headers.cookie = `${headers.cookie}; ${raw[i + 1]}`;
      else addHeader(headers, k, raw[i + 1]);
    }
    if (headers.host === undefined && authority !== '') headers.host = authority;
    const target = req.url ?? '/';
    const request = req as unknown as http.IncomingMessage;
    const exchange = this.begin(request, res, headers, target, false, true);
    if (target.charCodeAt(0) !== 47) {
      exchange.refuse(REFUSED.badTarget);
      return;
    }
    this.admit(request, exchange, !req.stream.endAfterHeaders);
  }

  /** The request of a head and its Exchange, in flight until its response closes. */
  private begin(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    headers: HeaderMap,
    target: string,
    keepHttp10: boolean,
    http2: boolean,
  ): Exchange {
    const gwReq = requestOfTarget(req.method ?? 'GET', target, headers, req.socket.remoteAddress ?? '');
    const log = this.opts.answers;
    const exchange = new Exchange(this, res, gwReq, log, arrivalMs(log), keepHttp10, http2);
    this.requests.begin();
    res.on('close', () => exchange.finish());
    return exchange;
  }

  /** A head that may be served: a declared body over the limit is refused (413), any other read, then served. */
  private admit(req: http.IncomingMessage, exchange: Exchange, hasBody: boolean): void {
    const declared = exchange.req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.opts.maxBodyBytes) {
      exchange.refuse(REFUSED.bodyTooLarge);
      req.resume();
      return;
    }
    if (hasBody) this.readBody(req, exchange);
    else runPipeline(this.serve, this.opts.onFailure, exchange.req, exchange);
  }

  /** Gathers the request body (up to max_payload_size, else 413), then dispatches. */
  private readBody(req: http.IncomingMessage, exchange: Exchange): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > this.opts.maxBodyBytes) {
        tooLarge = true;
        exchange.refuse(REFUSED.bodyTooLarge);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return;
      // An HTTP/2 stream may end with no data: no body, as an HTTP/1.1 request without one.
      exchange.req.body = size === 0 && req.httpVersionMajor === 2 ? null : Buffer.concat(chunks, size);
      runPipeline(this.serve, this.opts.onFailure, exchange.req, exchange);
    });
    req.on('error', () => exchange.finish());
  }

  /**
   * A request with an `Upgrade` header (node:http hands every one here once a listener exists).
   * A WebSocket upgrade runs the pipeline like any request; a `websocket` endpoint that admits it
   * answers 101 and `ws` completes the upgrade. Any other upgrade is served as a plain request.
   */
  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      const res = new http.ServerResponse(req);
      res.assignSocket(socket);
      res.shouldKeepAlive = false;
      res.on('finish', () => socket.end());
      if (head.length > 0) socket.unshift(head);
      this.onRequest(req, res);
      return;
    }
    socket.on('error', () => socket.destroy());
    const headers: HeaderMap = {};
    const checked = readHead(req, headers);
    const target = typeof checked === 'string' ? checked : (req.url ?? '/');
    const gwReq = asUpgrade(
      requestOfTarget(req.method ?? 'GET', target, headers, socket.remoteAddress ?? ''),
    );
    const exchange = new NodeUpgradeExchange(
      this,
      req as UpgradingRequest,
      socket,
      head,
      gwReq,
      this.opts.answers,
    );
    // The same head checks as any request: an upgrade is refused before any endpoint sees it.
    if (typeof checked !== 'string') exchange.answer(refusalResponse(checked));
    else runPipeline(this.serve, this.opts.onFailure, gwReq, exchange);
  }

  /** Completes an admitted upgrade. */
  upgrade(
    req: UpgradingRequest,
    socket: Socket,
    head: Buffer,
    session: WsSession,
    headers: GwResponse['headers'],
  ): void {
    const wss = this.wss!;
    req.gwSession = session;
    req.gwHeaders = headers;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new NodeWsConnection(ws);
      this.webSockets.add(conn);
      ws.on('message', (data: Buffer, binary: boolean) => session.message(data, binary));
      ws.on('pong', () => session.pong());
      ws.on('error', () => {});
      ws.on('close', (code: number, reason: Buffer) => {
        this.webSockets.delete(conn);
        session.closed(code, reason.toString());
      });
      // 'drain' of the socket: what was buffered for the client went out.
      (ws as unknown as { _socket: Socket })._socket.on('drain', () => session.drained());
      session.opened(conn);
    });
  }
}

/** An upgrade request carrying what `ws` needs to answer it. */
type UpgradingRequest = http.IncomingMessage & { gwSession?: WsSession; gwHeaders?: GwResponse['headers'] };

function sessionOf(req: http.IncomingMessage): WsSession | undefined {
  return (req as UpgradingRequest).gwSession;
}

/** A WebSocket upgrade on the node:http front: `ws` completes an admitted one. */
class NodeUpgradeExchange extends UpgradeReply {
  constructor(
    private readonly front: NodeFront,
    private readonly upgrading: UpgradingRequest,
    private readonly socket: Socket,
    private readonly head: Buffer,
    req: GwRequest,
    log: AnswerLog,
  ) {
    super(req, log);
  }

  protected write(r: GwResponse, session: WsSession | undefined): void {
    if (session !== undefined) {
      if (this.socket.destroyed) session.closed(1006, '');
      else this.front.upgrade(this.upgrading, this.socket, this.head, session, r.headers);
      return;
    }
    if (!this.socket.destroyed) this.socket.end(closingResponseBytes(r));
  }
}

/** An upgraded `ws` connection as the WebSocket proxy writes to it. */
class NodeWsConnection implements WsConnection {
  constructor(private readonly ws: WebSocket) {}

  send(data: Buffer | string, binary: boolean): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary });
  }

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  ping(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** One request on the node:http front: the Reply its pipeline writes to. */
class Exchange implements Reply {
  private finished = false;

  constructor(
    private readonly front: NodeFront,
    private readonly res: http.ServerResponse,
    readonly req: GwRequest,
    private readonly log: AnswerLog,
    private readonly startedMs: number,
    /** An HTTP/1.0 client asked to keep the connection: node:http closes every HTTP/1.0 one. */
    private readonly keepHttp10: boolean,
    /** An HTTP/2 stream: connection-specific headers are not written (RFC 9113, 8.2.2). */
    private readonly http2: boolean,
  ) {}

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.front.finished();
  }

  answer(r: GwResponse): void {
    this.log.answered(this.req, r.status, this.startedMs);
    this.write(r);
  }

  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void {
    this.log.answered(this.req, status, this.startedMs);
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    // node:http writes its own head: the lines become headers, names in the case they came.
    if (passed !== null) setLines(res, passed, this.http2);
    setLines(res, added, this.http2);
    this.end(status, body);
  }

  /**
   * The body at the client's pace: written as it arrives, the backend paused while node:http
   * holds more than its high-water mark for this client (`write` false, until 'drain').
   */
  passStream(status: number, passed: Buffer | null, added: Buffer, body: BodyStream): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      this.log.answered(this.req, status, this.startedMs);
      body.abort();
      return;
    }
    if (this.req.method === 'HEAD' || this.keepHttp10) {
      // A HEAD answer states the length of a body it does not carry; an HTTP/1.0 client kept
      // alive needs the length too: both take the whole body first.
      gatherBody(body, (whole) => {
        if (whole !== null) this.pass(status, passed, added, whole);
        else {
          this.log.answered(this.req, 502, this.startedMs);
          res.destroy();
        }
      });
      return;
    }
    this.log.answered(this.req, status, this.startedMs);
    if (passed !== null) setLines(res, passed, this.http2);
    setLines(res, added, this.http2);
    if (this.front.closing && !this.http2) res.setHeader('connection', 'close');
    if (body.length >= 0) res.setHeader('content-length', body.length);
    res.statusCode = status;
    res.on('close', () => {
      if (!res.writableFinished) body.abort();
    });
    body.pipe({
      data: (chunk) => {
        // node:http keeps what it cannot send yet: a copy, the chunk being a lent view.
        if (res.write(Buffer.from(chunk))) return true;
        res.once('drain', () => body.resume());
        return false;
      },
      end: () => res.end(),
      fail: () => res.destroy(),
    });
  }

  /**
   * A head refused before the pipeline, or a body over the limit: answered (not logged), and the
   * HTTP/1 connection closed after it.
   */
  refuse(refusal: Refusal): void {
    if (!this.http2) this.res.shouldKeepAlive = false;
    this.write(refusalResponse(refusal));
  }

  /** An answer from a header map (framing headers are node:http's own). */
  private write(r: GwResponse): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) return;
    const h = r.headers;
    for (const k in h) {
      if (isFramingHeader(k)) continue;
      if (this.http2 && H2_CONNECTION_HEADERS.has(k)) continue;
      res.setHeader(k, h[k]);
    }
    this.end(r.status, r.body ?? '');
  }

  private end(status: number, body: Buffer | string): void {
    const res = this.res;
    // node:http answers `Connection: close` (and closes) by itself when the client asked it.
    if (this.front.closing) {
      if (!this.http2) res.setHeader('connection', 'close');
    } else if (this.keepHttp10) res.shouldKeepAlive = true;
    // The length is stated: what keeps an HTTP/1.0 connection open, and a HEAD answer's length.
    res.setHeader('content-length', bodyBytes(body));
    res.statusCode = status;
    res.end(body);
  }
}

/** CRLF-prefixed header lines as headers of `res`; framing headers stay node:http's. */
function setLines(res: http.ServerResponse, lines: Buffer, http2: boolean): void {
  for (const line of lines.toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const lower = name.toLowerCase();
    if (isFramingHeader(lower)) continue;
    if (http2 && H2_CONNECTION_HEADERS.has(lower)) continue;
    const value = line.slice(colon + 1).trim();
    const prev = res.getHeader(name);
    if (prev === undefined) res.setHeader(name, value);
    else res.setHeader(name, Array.isArray(prev) ? [...prev, value] : [String(prev), value]);
  }
}
