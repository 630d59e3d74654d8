// The HTTP front: where a request's head arrives, is checked (http1.ts) and becomes a GwRequest
// for the gateway's one pipeline, and where its answer is written. Two fronts present the same
// interface: uWebSockets.js (front-uws.ts) and node:http (front-node.ts); platform.ts picks one,
// instance.ts starts it. What they do alike lives here: the GwRequest built, the pipeline run,
// an upgrade's answer, the requests in flight, the access log's clock.

import type https from 'node:https';
import { gatherBody } from '../proxy/body-stream.js';
import type { BodyStream, GwRequest, GwResponse, Handler, HeaderMap, Reply, WsSession } from '../types.js';
import type { Refusal } from './http1.js';
import type { FrontKind } from './platform.js';
import { STATUS_TEXT } from './status-text.js';

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
  /** Heads beyond this are refused with 431 (414 when the request line alone is). */
  maxHeaderBytes: number;
  /** Whole request (headers + body) must arrive within this; 0 = no limit. */
  readTimeoutMs: number;
  readHeaderTimeoutMs: number;
  writeTimeoutMs: number;
  idleTimeoutMs: number;
  tls?: FrontTls;
  /**
   * Serve HTTP/2 too (node:http only): ALPN h2 beside http/1.1 with TLS, as Go's server does;
   * h2c with prior knowledge beside HTTP/1.1 without (`use_h2c`).
   */
  http2?: boolean;
  /** Told of every answer the handler gave: the access log, which a reload may switch on or off. */
  answers: AnswerLog;
  /** A request's pipeline threw (a bug): the client got a 500; this logs what was asked. */
  onFailure?: (req: GwRequest, err: unknown) => void;
  /** Set when an endpoint serves WebSockets: the front then takes upgrades. */
  webSocket?: FrontWebSocket;
}

/**
 * The access log as the fronts see it. A front reads `on` once per request, at its arrival, and
 * reads the clock only then: a configuration without an access log costs no clock per request.
 */
export interface AnswerLog {
  /** The serving configuration logs answers. */
  readonly on: boolean;
  /**
   * An answer the handler gave; `startedMs` is the request's `arrivalMs`. A request that arrived
   * while the log was off (NOT_TIMED) is not logged: its latency is unknown.
   */
  answered(req: GwRequest, status: number, startedMs: number): void;
}

/** The arrival time of a request that arrived while the access log was off. */
export const NOT_TIMED = -1;

/** A request's arrival time for the access log: performance.now() while the log is on. */
export function arrivalMs(log: AnswerLog): number {
  return log.on ? performance.now() : NOT_TIMED;
}

export interface FrontWebSocket {
  /** The largest `max_message_size` of the endpoints (each endpoint checks its own). */
  maxMessageBytes: number;
  /** The most a client may have unsent before the front drops it (beyond the endpoints' own policy). */
  maxBufferedBytes: number;
}

export interface HttpFront {
  readonly kind: FrontKind;
  listen(): Promise<void>;
  /** Stops accepting, waits for in-flight requests up to `deadlineMs`, then closes. */
  close(deadlineMs: number): Promise<void>;
  inFlight(): number;
  /** New certificates (a reload): connections from now on are served with them. */
  updateTls?(tls: FrontTls): void;
}

const statusLines: string[] = [];
export function statusLine(code: number): string {
  let line = statusLines[code];
  if (line === undefined) {
    line = `${code} ${STATUS_TEXT[code] ?? 'Unknown'}`;
    if (code >= 100 && code < 600) statusLines[code] = line;
  }
  return line;
}

/** An answer as HTTP/1.1 bytes, the connection closed after it (an upgrade refused). */
export function closingResponseBytes(r: GwResponse): Buffer {
  const body = r.body === null || r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  let head = `HTTP/1.1 ${statusLine(r.status)}\r\n`;
  for (const k in r.headers) {
    if (isFramingHeader(k)) continue;
    const v = r.headers[k];
    for (const one of typeof v === 'string' ? [v] : v) head += `${k}: ${one}\r\n`;
  }
  head += `connection: close\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** An answer given as header lines (CRLF-prefixed) read back into a header map. */
function responseOfLines(status: number, lines: Array<Buffer | null>, body: Buffer): GwResponse {
  const headers: Record<string, string | string[]> = {};
  for (const part of lines) {
    if (part === null) continue;
    for (const line of part.toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
  }
  return { status, headers, body };
}

/** The subprotocols a Sec-WebSocket-Protocol header offers, in order. */
function offeredProtocols(header: string | undefined): string[] {
  if (header === undefined || header === '') return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

export function plainResponse(status: number, text: string): GwResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

export function refusalResponse(r: Refusal): GwResponse {
  return plainResponse(r.status, r.body);
}

/** What the front answers when a request's pipeline threw (a bug). */
const INTERNAL_ERROR = plainResponse(500, '500 Internal Server Error');

/** Runs the pipeline on a request; a throw is logged (`onFailure`) and answered 500. */
export function runPipeline(
  serve: Handler,
  onFailure: FrontOptions['onFailure'],
  req: GwRequest,
  reply: Reply,
): void {
  try {
    serve(req, reply);
  } catch (err) {
    onFailure?.(req, err);
    reply.answer(INTERNAL_ERROR);
  }
}

/** The requests a front is serving, and the wait for them at shutdown. */
export class InFlight {
  count = 0;
  private drained: (() => void) | null = null;

  begin(): void {
    this.count++;
  }

  end(): void {
    this.count--;
    if (this.count === 0 && this.drained !== null) this.drained();
  }

  /** Resolves once none is in flight, or after `deadlineMs`. */
  drain(deadlineMs: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      this.drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** A request as the pipeline takes it: its path and query apart, no params or body yet. */
export function newRequest(
  method: string,
  path: string,
  query: string,
  headers: HeaderMap,
  clientIp: string,
): GwRequest {
  return { method, path, query, headers, params: {}, body: null, clientIp };
}

/** `newRequest` of a request target, its query (after the first `?`) split from its path. */
export function requestOfTarget(
  method: string,
  target: string,
  headers: HeaderMap,
  clientIp: string,
): GwRequest {
  const q = target.indexOf('?');
  return q < 0
    ? newRequest(method, target, '', headers, clientIp)
    : newRequest(method, target.slice(0, q), target.slice(q + 1), headers, clientIp);
}

/**
 * One header line into a request's header map (`name` lower-cased): a repeated header is joined
 * with `, ` (RFC 9110 §5.3), but Content-Type keeps its first value, as Go's `Header.Get` reads it.
 */
export function addHeader(headers: HeaderMap, name: string, value: string): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else if (name !== 'content-type') headers[name] = `${prev}, ${value}`;
}

/** A header the front frames the answer with itself: the pipeline's own is not written. */
export function isFramingHeader(name: string): boolean {
  return name === 'content-length' || name === 'transfer-encoding' || name === 'connection';
}

/** Marks a request as an upgrade, with the subprotocols it offers (the endpoint picks one). */
export function asUpgrade(req: GwRequest): GwRequest {
  req.upgrade = { protocols: offeredProtocols(req.headers['sec-websocket-protocol']) };
  return req;
}

/**
 * The Reply of an upgrade request on either front. Its answer is taken whole: header lines are
 * read back into a map, a streamed body is gathered first (502 when it cannot be). An admitted
 * upgrade (101 with the endpoint's session) completes it; any other answer closes the connection.
 */
export abstract class UpgradeReply implements Reply {
  private answered = false;
  private readonly startedMs: number;

  constructor(
    protected readonly req: GwRequest,
    private readonly log: AnswerLog,
  ) {
    this.startedMs = arrivalMs(log);
  }

  /** Writes the answer: the upgrade completed with `session`, when the endpoint admitted it. */
  protected abstract write(r: GwResponse, session: WsSession | undefined): void;

  answer(r: GwResponse): void {
    if (this.answered) return;
    this.answered = true;
    this.log.answered(this.req, r.status, this.startedMs);
    this.write(r, r.status === 101 ? this.req.upgrade?.accepted : undefined);
  }

  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void {
    this.answer(responseOfLines(status, [passed, added], body));
  }

  passStream(status: number, passed: Buffer | null, added: Buffer, body: BodyStream): void {
    gatherBody(body, (whole) => {
      if (whole !== null) this.pass(status, passed, added, whole);
      else this.answer(plainResponse(502, '502 Bad Gateway'));
    });
  }
}
