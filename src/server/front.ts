// The HTTP front: uWebSockets.js when its native binary loads, node:http otherwise (or by flag).
// Both present the same interface: a complete GwRequest in, a GwResponse out.

import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { bodyBytes } from '../proxy/util.js';
import {
  type DirectStage,
  type GwRequest,
  type GwResponse,
  type HeaderMap,
  type LaneMatch,
  type LaneReply,
} from '../types.js';
import { HeadScan, originPath, REFUSED, type Refusal, refusalBytes, refusalOf } from './http1.js';
import { type FrontKind, loadUws, type UwsBuild } from './platform.js';

export interface FrontTls {
  /** PEM file paths, for uWS. */
  certFile: string;
  keyFile: string;
  caFile?: string;
  passphrase?: string;
  /** TLS ≤ 1.2 cipher list (OpenSSL names), for uWS. */
  ciphers?: string;
  /** Options for node:https (the fallback). */
  node: https.ServerOptions;
}

export interface FrontOptions {
  port: number;
  /** Worker threads serving the port: node:http shares it with `reusePort` when more than one. */
  workers: number;
  host: string;
  /** Bodies beyond this are refused with 413. */
  maxBodyBytes: number;
  /** Headers beyond this are refused with 431. */
  maxHeaderBytes: number;
  /** Whole request (headers + body) must arrive within this; 0 = no limit. */
  readTimeoutMs: number;
  readHeaderTimeoutMs: number;
  writeTimeoutMs: number;
  idleTimeoutMs: number;
  tls?: FrontTls;
  /** Told of every answer the handler gave (the access log); `startedMs` is performance.now() at arrival. */
  onAnswered?: (req: GwRequest, status: number, startedMs: number) => void;
}

/** Answers with a fixed response, for errors the front detects before the handler. */
export type RequestHandler = (req: GwRequest) => Promise<GwResponse> | GwResponse;

export interface HttpFront {
  readonly kind: FrontKind;
  listen(): Promise<void>;
  /** Stops accepting, waits for in-flight requests up to `deadlineMs`, then closes. */
  close(deadlineMs: number): Promise<void>;
  inFlight(): number;
}

const statusLines: string[] = [];
export function statusLine(code: number): string {
  let line = statusLines[code];
  if (line === undefined) {
    line = `${code} ${STATUS_CODES[code] ?? 'Unknown'}`;
    if (code >= 100 && code < 600) statusLines[code] = line;
  }
  return line;
}

/** Each status's line text as bytes, for the lanes' heads. */
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
 * Where a lane's status line and header lines are put together, as bytes: uWS copies them from
 * here (a string would be encoded to UTF-8 by uWS first). One per thread: a head is written
 * before the next is put together.
 */
let laneHead = Buffer.allocUnsafe(16 * 1024);

const textDecoder = new TextDecoder();
const EMPTY: Buffer = Buffer.alloc(0);

// uWS hands headers over through a callback; one module-level callback and two scratch slots
// (the handler runs synchronously, one request at a time per thread) avoid a closure per request.
const NO_HEADERS: HeaderMap = {};
let collecting: HeaderMap = NO_HEADERS;
/** uWS lets through names and values its parser should refuse: the scan checks them. */
const uwsScan = new HeadScan(true);
function collectHeader(k: string, v: string): void {
  uwsScan.add(k, v);
  const prev = collecting[k];
  collecting[k] = prev === undefined ? v : `${prev}, ${v}`;
}
function scanHeader(k: string, v: string): void {
  uwsScan.add(k, v);
}

// An IPv4 peer's text form, cached by its 32-bit value: uWS's text form costs an inet_ntop,
// an ArrayBuffer and a decode per request (+4.7 % req/CPU-s on a minimal proxy without them).
const ipv4Texts = new Map<number, string>();

function clientIpOf(res: import('uWebSockets.js').HttpResponse): string {
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

function errorResponse(status: number, text: string): GwResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

function refusalResponse(r: Refusal): GwResponse {
  return errorResponse(r.status, r.body);
}

/** Finds the pass-through lane's route of a GET path (src/server/app.ts). */
export type LaneLookup = (path: string) => LaneMatch | undefined;

/**
 * The lane does not add up header sizes, so it is taken only when `maxHeaderBytes` is beyond what
 * uWS itself accepts (measured: a 100,000-byte header passes, 150,000 bytes are refused).
 */
const LANE_MIN_HEADER_LIMIT = 256 * 1024;

/** A request the lane served, as the access log reads it when it is off (never read then). */
const LANE_REQUEST: GwRequest = {
  method: 'GET',
  path: '',
  query: '',
  headers: NO_HEADERS,
  params: {},
  body: null,
  clientIp: '',
};

/**
 * `serve`, when given, is `handler` answering through a Reply: the uWS front prefers it. `lane`,
 * when given, is tried first for a GET without body on the uWS front.
 */
export function createFront(
  kind: FrontKind,
  build: UwsBuild | undefined,
  opts: FrontOptions,
  handler: RequestHandler,
  serve?: DirectStage,
  lane?: LaneLookup,
): HttpFront {
  if (kind === 'uws') {
    const uws = loadUws(build ?? 'current');
    if (uws) return new UwsFront(uws, opts, handler, serve, lane);
  }
  return new NodeFront(opts, handler);
}

class UwsFront implements HttpFront {
  readonly kind = 'uws' as const;
  private listenSocket: unknown = null;
  private active = 0;
  private closing = false;
  private drained: (() => void) | null = null;
  private readonly app: import('uWebSockets.js').TemplatedApp;
  private readonly lane: LaneLookup | undefined;

  constructor(
    private readonly uws: typeof import('uWebSockets.js'),
    private readonly opts: FrontOptions,
    private readonly handler: RequestHandler,
    private readonly serve: DirectStage | undefined,
    lane: LaneLookup | undefined,
  ) {
    this.lane = opts.maxHeaderBytes >= LANE_MIN_HEADER_LIMIT ? lane : undefined;
    this.app = opts.tls
      ? uws.SSLApp({
          cert_file_name: opts.tls.certFile,
          key_file_name: opts.tls.keyFile,
          ca_file_name: opts.tls.caFile,
          passphrase: opts.tls.passphrase,
          ssl_ciphers: opts.tls.ciphers,
        })
      : uws.App();
    this.app.any('/*', (res, req) => this.onRequest(res, req));
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

  inFlight(): number {
    return this.active;
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    if (this.listenSocket) {
      this.uws.us_listen_socket_close(this.listenSocket as never);
      this.listenSocket = null;
    }
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    // keep-alive connections are closed by closing the app (uWS ≥ 20.x has app.close()).
    const app = this.app as unknown as { close?: () => void };
    app.close?.();
  }

  private finished(): void {
    this.active--;
    if (this.active === 0 && this.drained) this.drained();
  }

  private onRequest(
    res: import('uWebSockets.js').HttpResponse,
    ureq: import('uWebSockets.js').HttpRequest,
  ): void {
    const method = ureq.getCaseSensitiveMethod();
    let url = ureq.getUrl();
    const query = ureq.getQuery() ?? '';
    const scan = uwsScan;
    scan.reset();
    // A GET whose route has a lane: its head is checked without building a header map.
    const match = this.lane !== undefined && method === 'GET' ? this.lane(url) : undefined;
    if (match !== undefined) {
      ureq.forEach(scanHeader);
      if (refusalOf(scan, true, this.opts.maxHeaderBytes) === undefined && !scan.hasBody()) {
        if (this.tryLane(res, ureq, url, query, match, scan.close)) return;
      }
      scan.reset();
    }
    const headers: HeaderMap = {};
    collecting = headers;
    ureq.forEach(collectHeader);
    collecting = NO_HEADERS;
    const clientIp = clientIpOf(res);
    let refused = refusalOf(scan, true, this.opts.maxHeaderBytes - method.length - url.length - query.length);
    if (refused === undefined && url.length + query.length >= this.opts.maxHeaderBytes)
      refused = REFUSED.targetTooLong;
    if (refused === undefined && url.charCodeAt(0) !== 47) {
      const path = originPath(url);
      if (path === undefined) refused = REFUSED.badTarget;
      else url = path;
    }
    const gwReq: GwRequest = { method, path: url, query, headers, params: {}, body: null, clientIp };
    const state = new Exchange(
      this,
      res,
      gwReq,
      method === 'HEAD',
      this.opts.onAnswered ? performance.now() : 0,
      scan.close,
    );
    this.watch(res, state);

    if (refused !== undefined) {
      this.respond(res, state, refusalResponse(refused), true);
      return;
    }
    if (!scan.hasBody()) {
      this.dispatch(res, state, gwReq);
      return;
    }
    const declared = scan.contentLengths > 0 ? Number(scan.contentLength) : -1;
    if (declared > this.opts.maxBodyBytes) {
      this.respond(res, state, refusalResponse(REFUSED.bodyTooLarge), true);
      return;
    }
    if (this.opts.readTimeoutMs > 0) {
      state.timer = setTimeout(() => {
        this.respond(res, state, refusalResponse(REFUSED.timeout), true);
      }, this.opts.readTimeoutMs);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (state.done) return;
      size += chunk.byteLength;
      if (size > this.opts.maxBodyBytes) {
        this.respond(res, state, refusalResponse(REFUSED.bodyTooLarge), true);
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        if (state.timer) clearTimeout(state.timer);
        gwReq.body =
          chunks.length === 1 ? chunks[0] : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, size);
        this.dispatch(res, state, gwReq);
      }
    });
  }

  /** Counts the request in flight until it is answered or the client leaves. */
  private watch(res: import('uWebSockets.js').HttpResponse, state: Exchange): void {
    this.active++;
    res.onAborted(() => {
      state.aborted = true;
      if (state.timer) clearTimeout(state.timer);
      if (!state.done) {
        state.done = true;
        this.finished();
      }
    });
  }

  /** Serves a GET without body through its route's lane; false when the lane leaves it to the stage. */
  private tryLane(
    res: import('uWebSockets.js').HttpResponse,
    ureq: import('uWebSockets.js').HttpRequest,
    url: string,
    query: string,
    match: LaneMatch,
    close: boolean,
  ): boolean {
    const clientIp = clientIpOf(res);
    const logged = this.opts.onAnswered !== undefined;
    const req: GwRequest = logged
      ? { method: 'GET', path: url, query, headers: NO_HEADERS, params: match.params, body: null, clientIp }
      : LANE_REQUEST;
    const state = new Exchange(this, res, req, false, logged ? performance.now() : 0, close);
    this.watch(res, state);
    if (match.lane(match.params, query, ureq, clientIp, state)) return true;
    // Left to the endpoint's stage: it watches the request anew (uWS keeps the last onAborted).
    this.active--;
    return false;
  }

  private dispatch(res: import('uWebSockets.js').HttpResponse, state: Exchange, gwReq: GwRequest): void {
    const serve = this.serve;
    if (serve !== undefined) {
      try {
        serve(gwReq, state);
      } catch (err) {
        state.answer(internalError(err));
      }
      return;
    }
    let result: Promise<GwResponse> | GwResponse;
    try {
      result = this.handler(gwReq);
    } catch (err) {
      result = internalError(err);
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.answer(res, state, r),
        (err) => this.answer(res, state, internalError(err)),
      );
    } else {
      this.answer(res, state, result);
    }
  }

  /** The handler's answer: written, and told to `onAnswered` (even when the client left). */
  answer(res: import('uWebSockets.js').HttpResponse, state: Exchange, r: GwResponse): void {
    this.opts.onAnswered?.(state.req, r.status, state.startedMs);
    this.respond(res, state, r, false);
  }

  /** A lane's answer: the header lines as bytes after the status line, in one call. */
  pass(
    res: import('uWebSockets.js').HttpResponse,
    state: Exchange,
    status: number,
    passed: Buffer | null,
    added: Buffer,
    body: Buffer,
  ): void {
    this.opts.onAnswered?.(state.req, status, state.startedMs);
    if (state.aborted || state.done) return;
    state.done = true;
    const close = this.closing || state.close;
    const line = statusLineBytesOf(status);
    const size = line.length + (passed === null ? 0 : passed.length) + added.length;
    if (size > laneHead.length) laneHead = Buffer.allocUnsafe(size * 2);
    const head = laneHead;
    let at = line.copy(head, 0);
    if (passed !== null) at += passed.copy(head, at);
    at += added.copy(head, at);
    const statusAndLines = head.subarray(0, at);
    res.cork(() => {
      // uWS writes the status text and CRLF as given: the lines ride along with it.
      res.writeStatus(statusAndLines);
      res.end(body as never, close);
    });
    this.finished();
  }

  private respond(
    res: import('uWebSockets.js').HttpResponse,
    state: Exchange,
    r: GwResponse,
    close: boolean,
  ): void {
    if (state.aborted || state.done) return;
    state.done = true;
    if (state.timer) clearTimeout(state.timer);
    // uWS writes `Connection: close` itself when it is told to close.
    const closeConn = close || this.closing || state.close;
    res.cork(() => {
      res.writeStatus(statusLine(r.status));
      const h = r.headers;
      for (const k in h) {
        if (k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue;
        const v = h[k];
        if (typeof v === 'string') res.writeHeader(k, v);
        else for (let i = 0; i < v.length; i++) res.writeHeader(k, v[i]);
      }
      const body = r.body;
      // A HEAD response announces the length but carries no content (RFC 9110 §9.3.2), as Go's
      // server does. This uWS build throws on endWithoutBody(length, close): write the length ourselves.
      if (state.head) {
        const length = body == null ? 0 : bodyBytes(body);
        res.writeHeader('content-length', String(length));
        res.endWithoutBody();
      } else if (body === null || body === undefined) res.end(undefined, closeConn);
      else res.end(body as never, closeConn);
    });
    this.finished();
  }
}

/** One request on the uWS front, from arrival to its answer; the Reply a direct stage or lane writes to. */
class Exchange implements LaneReply {
  aborted = false;
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly front: UwsFront,
    private readonly res: import('uWebSockets.js').HttpResponse,
    readonly req: GwRequest,
    readonly head: boolean,
    readonly startedMs: number,
    /** The client asked `Connection: close`: answered so, then closed. */
    readonly close: boolean,
  ) {}

  answer(r: GwResponse): void {
    this.front.answer(this.res, this, r);
  }

  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void {
    this.front.pass(this.res, this, status, passed, added, body);
  }
}

function internalError(err: unknown): GwResponse {
  return errorResponse(500, err instanceof Error ? `500 Internal Server Error` : '500 Internal Server Error');
}

/** Connections whose last head gw refused: closed once answered, nothing more is parsed. */
const refusedSockets = new WeakSet<Socket>();

/** node:http's parser lets no bad name, value or framing through: the scan reads Host and framing only. */
const nodeScan = new HeadScan(false);

/**
 * The answer to a head node:http's parser refused. A head that overflows before its request line
 * ends has a target too long (414); past it, too many header bytes (431).
 */
function parserRefusal(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHeaderBytes: number): Refusal {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // node:http tells only the read that overflowed: a request line that is longer than the
      // limit in the request's first read is a long target (later reads may hold a long header
      // as well: 431).
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

class NodeFront implements HttpFront {
  readonly kind = 'node' as const;
  private readonly server: http.Server;
  private active = 0;
  private closing = false;
  private drained: (() => void) | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly opts: FrontOptions,
    private readonly handler: RequestHandler,
  ) {
    const serverOpts: http.ServerOptions = {
      maxHeaderSize: opts.maxHeaderBytes,
      requestTimeout: opts.readTimeoutMs,
      headersTimeout: opts.readHeaderTimeoutMs || Math.min(opts.readTimeoutMs || 60000, 60000),
      keepAliveTimeout: opts.idleTimeoutMs || 5000,
    };
    this.server = opts.tls
      ? https.createServer({ ...serverOpts, ...opts.tls.node }, (req, res) => this.onRequest(req, res))
      : http.createServer(serverOpts, (req, res) => this.onRequest(req, res));
    if (opts.writeTimeoutMs > 0) this.server.setTimeout(opts.writeTimeoutMs + (opts.readTimeoutMs || 0));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      // A head gw refused already has its answer: what follows it on the connection is not read.
      if (!socket.writable || refusedSockets.has(socket)) return socket.destroy();
      socket.end(refusalBytes(parserRefusal(err, opts.maxHeaderBytes)));
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const shared = this.opts.workers > 1;
      this.server.listen({ port: this.opts.port, host: this.opts.host, reusePort: shared } as never, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  inFlight(): number {
    return this.active;
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    // A request pipelined after a refused head is never served: the connection closes once the
    // refusal is written.
    if (refusedSockets.has(req.socket)) return;
    const startedMs = this.opts.onAnswered ? performance.now() : 0;
    this.active++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.active--;
      if (this.active === 0 && this.drained) this.drained();
    };
    res.on('close', finish);
    // node:http's parser checks names, values and framing; the Host rules are gw's (http1.ts).
    const scan = nodeScan;
    scan.reset();
    const headers: HeaderMap = {};
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      scan.add(k, raw[i + 1]);
      const prev = headers[k];
      headers[k] = prev === undefined ? raw[i + 1] : `${prev}, ${raw[i + 1]}`;
    }
    const http11 = req.httpVersionMinor === 1;
    const keepHttp10 = !http11 && scan.keepAlive && !scan.close;
    let refused = refusalOf(scan, http11, Number.POSITIVE_INFINITY);
    let rawUrl = req.url ?? '/';
    if (refused === undefined && rawUrl.charCodeAt(0) !== 47) {
      const path = originPath(rawUrl);
      if (path === undefined) refused = REFUSED.badTarget;
      else rawUrl = path;
    }
    const q = rawUrl.indexOf('?');
    const gwReq: GwRequest = {
      method: req.method ?? 'GET',
      path: q < 0 ? rawUrl : rawUrl.slice(0, q),
      query: q < 0 ? '' : rawUrl.slice(q + 1),
      headers,
      params: {},
      body: null,
      clientIp: req.socket.remoteAddress ?? '',
    };
    const send = (r: GwResponse) => {
      if (res.headersSent || res.destroyed) return;
      const h = r.headers;
      for (const k in h) {
        if (k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue;
        res.setHeader(k, h[k]);
      }
      // node:http answers `Connection: close` (and closes) by itself when the client asked it. It
      // closes every HTTP/1.0 connection: one that asked to be kept alive is, with its length.
      if (this.closing) res.setHeader('connection', 'close');
      else if (keepHttp10) res.shouldKeepAlive = true;
      const body = r.body ?? '';
      res.setHeader('content-length', bodyBytes(body));
      res.statusCode = r.status;
      res.end(body);
    };
    if (refused !== undefined) {
      refusedSockets.add(req.socket);
      res.shouldKeepAlive = false;
      send(refusalResponse(refused));
      return;
    }
    const run = () => {
      let result: Promise<GwResponse> | GwResponse;
      try {
        result = this.handler(gwReq);
      } catch (err) {
        result = internalError(err);
      }
      const answer = (r: GwResponse) => {
        this.opts.onAnswered?.(gwReq, r.status, startedMs);
        send(r);
      };
      Promise.resolve(result).then(answer, (err) => answer(internalError(err)));
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.opts.maxBodyBytes) {
      res.shouldKeepAlive = false;
      send(refusalResponse(REFUSED.bodyTooLarge));
      req.resume();
      return;
    }
    if (declared === undefined && req.headers['transfer-encoding'] === undefined) {
      run();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > this.opts.maxBodyBytes) {
        tooLarge = true;
        res.shouldKeepAlive = false;
        send(refusalResponse(REFUSED.bodyTooLarge));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return;
      gwReq.body = Buffer.concat(chunks, size);
      run();
    });
    req.on('error', () => finish());
  }
}
