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

export function plainResponse(status: number, text: string): GwResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

export function refusalResponse(r: Refusal): GwResponse {
  return plainResponse(r.status, r.body);
}
