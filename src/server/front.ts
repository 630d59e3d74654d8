// The HTTP front: where a request's head arrives, is checked (http1.ts) and becomes a GwRequest
// for the gateway's one pipeline, and where its answer is written. Two fronts present the same
// interface: uWebSockets.js (front-uws.ts) and node:http (front-node.ts); platform.ts picks one,
// instance.ts starts it.

import type https from 'node:https';
import type { GwRequest, GwResponse } from '../types.js';
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
  /** Told of every answer the handler gave (the access log); `startedMs` is performance.now() at arrival. */
  onAnswered?: (req: GwRequest, status: number, startedMs: number) => void;
  /** A request's pipeline threw (a bug): the client got a 500; this logs what was asked. */
  onFailure?: (req: GwRequest, err: unknown) => void;
  /** Set when an endpoint serves WebSockets: the front then takes upgrades. */
  webSocket?: FrontWebSocket;
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
    if (k === 'content-length' || k === 'transfer-encoding' || k === 'connection') continue;
    const v = r.headers[k];
    for (const one of typeof v === 'string' ? [v] : v) head += `${k}: ${one}\r\n`;
  }
  head += `connection: close\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** An answer given as header lines (CRLF-prefixed) read back into a header map. */
export function responseOfLines(status: number, lines: Array<Buffer | null>, body: Buffer): GwResponse {
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
export function offeredProtocols(header: string | undefined): string[] {
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
