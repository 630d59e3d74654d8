// The pass-through lane: a plain no-op endpoint (one backend on http: origins, no middleware)
// served without header maps. The backend's head is written from a template with the few values
// a request changes, and the backend's answer goes back as the text of its header lines
// (ResponseParser's pass mode), in one uWS call. An endpoint that forwards client headers
// (`input_headers`) reads them into a map and has the request builder pick them, as the
// header-map path does: only the answer's side is saved then. What BackendCall does for any
// no-op call still holds: redirects, gzip undone, the retry of a reused connection, the deadline,
// and a failure rendered as the endpoint's 500 with X-Krakend-Completed: false.
// Measured against the header-map path (README, Performance): bench/experiments/cpu-ab.mjs and
// saturation-floor.mjs.

import type {
  GwRequest,
  GwResponse,
  HeaderMap,
  HeaderView,
  LaneGuard,
  LaneReply,
  LaneStage,
} from '../types.js';
import { DeadlineList } from './deadlines.js';
import { INVALID_HEADER_VALUE, INVALID_PATH } from './h1-client.js';
import {
  type CallOptions,
  type CallSink,
  type HttpResult,
  type PoolRegistry,
  startBackendCall,
  UpstreamError,
} from './http-client.js';

export interface LaneSpec {
  pools: PoolRegistry;
  /** The backend's hosts, http: origins served by gw's own client. */
  origins: readonly string[];
  /** The index of the next host in the backend's round-robin. */
  nextOrigin: () => number;
  path: (params: Record<string, string>, query: string) => string;
  timeoutMs: number;
  /** User-Agent sent to the backend. */
  userAgent: string;
  /** Value of the X-Krakend header. */
  versionHeader: string;
  /** The no-op answer from a header map: a redirect hop to an https: origin answers through undici. */
  rendered: (res: HttpResult) => GwResponse;
  /** The endpoint's answer when the backend call fails. */
  failed: (err: unknown) => GwResponse;
  /** The request builder's headers, when client headers are forwarded (no template then). */
  forwarded?: {
    headers: (req: GwRequest) => HeaderMap;
    /** The client's Accept-Encoding goes to the backend: its compressed answer passes as is. */
    acceptEncoding: boolean;
  };
  /** The endpoint middlewares' checks, outermost first (rate limits): a refusal is the answer. */
  guards: LaneGuard[];
}

// The request's headers as the front's header map holds them (a repeated name joined with ", "):
// one module-level collector and a scratch slot, as the lane reads them synchronously.
const NO_HEADER_MAP: HeaderMap = Object.freeze({}) as HeaderMap;
let collecting: HeaderMap = NO_HEADER_MAP;
function collectHeader(name: string, value: string): void {
  const prev = collecting[name];
  collecting[name] = prev === undefined ? value : `${prev}, ${value}`;
}

/** The request as a guard or the request builder reads it (a GET without body). */
function requestOf(
  params: Record<string, string>,
  query: string,
  headers: HeaderMap,
  clientIp: string,
): GwRequest {
  return { method: 'GET', path: '', query, headers, params, body: null, clientIp };
}

function headerMapOf(view: HeaderView): HeaderMap {
  const map: HeaderMap = {};
  collecting = map;
  view.forEach(collectHeader);
  collecting = NO_HEADER_MAP;
  return map;
}

const NO_HEADERS: string[] = [];

/** Hears one lane call's outcome and writes it to the client (no closure per request). */
class LaneCall implements CallSink {
  constructor(
    private readonly lane: CompiledLane,
    private readonly reply: LaneReply,
  ) {}

  resolved(res: HttpResult): void {
    if (res.head !== undefined) this.reply.pass(res.status, res.head + this.lane.krakendLines, res.body);
    else this.reply.answer(this.lane.spec.rendered(res));
  }

  rejected(err: Error): void {
    this.reply.answer(this.lane.spec.failed(err));
  }
}

class CompiledLane {
  readonly krakendLines: string;
  /** The backend head's fixed lines, as gw's client writes them for a header map. */
  private readonly agentLines: string;
  /** The head's last line per host. */
  private readonly hostLines: string[];
  readonly deadlines = new DeadlineList();
  private readonly guarded: boolean;
  private readonly guardsReadHeaders: boolean;

  constructor(readonly spec: LaneSpec) {
    this.guarded = spec.guards.length > 0;
    this.guardsReadHeaders = spec.guards.some((g) => g.readsHeaders);
    this.krakendLines = `\r\nX-Krakend: ${spec.versionHeader}\r\nX-Krakend-Completed: false`;
    this.agentLines = `User-Agent: ${spec.userAgent}\r\nAccept-Encoding: gzip\r\n`;
    this.hostLines = spec.origins.map((origin) => `host: ${new URL(origin).host}\r\n\r\n`);
  }

  start(
    params: Record<string, string>,
    query: string,
    headers: HeaderView,
    clientIp: string,
    reply: LaneReply,
  ): void {
    const spec = this.spec;
    let map: HeaderMap | undefined;
    if (this.guarded) {
      if (this.guardsReadHeaders) map = headerMapOf(headers);
      const req = requestOf(params, query, map ?? NO_HEADER_MAP, clientIp);
      for (const guard of spec.guards) {
        const refused = guard.check(req);
        if (refused !== undefined) {
          reply.answer(refused);
          return;
        }
      }
    }
    let path: string;
    try {
      path = spec.path(params, query);
    } catch (err) {
      reply.answer(spec.failed(err));
      return;
    }
    const host = spec.nextOrigin();
    if (spec.forwarded !== undefined) {
      map ??= headerMapOf(headers);
      this.startForwarding(spec.forwarded, host, path, requestOf(params, query, map, clientIp), reply);
      return;
    }
    if (INVALID_PATH.test(path)) {
      reply.answer(spec.failed(invalid(`request path ${JSON.stringify(path)}`)));
      return;
    }
    // The order and names of the header-map path: Content-Type, User-Agent, Accept-Encoding,
    // X-Forwarded-For, X-Forwarded-Host, host.
    const contentType = headers.getHeader('content-type');
    const forwardedHost = headers.getHeader('host');
    if (INVALID_HEADER_VALUE.test(contentType)) {
      reply.answer(spec.failed(invalid('Content-Type header value')));
      return;
    }
    if (INVALID_HEADER_VALUE.test(forwardedHost)) {
      reply.answer(spec.failed(invalid('X-Forwarded-Host header value')));
      return;
    }
    let head = `GET ${path} HTTP/1.1\r\n`;
    if (contentType !== '') head += `Content-Type: ${contentType}\r\n`;
    head += `${this.agentLines}X-Forwarded-For: ${clientIp}\r\n`;
    if (forwardedHost !== '') head += `X-Forwarded-Host: ${forwardedHost}\r\n`;
    head += this.hostLines[host];
    const call: CallOptions = {
      method: 'GET',
      path,
      headers: NO_HEADERS,
      body: null,
      timeoutMs: spec.timeoutMs,
      // The lane always asks for gzip itself (Accept-Encoding is not forwarded): undone here.
      decompress: true,
      followRedirects: true,
      head,
      passHead: true,
    };
    startBackendCall(spec.pools, spec.origins[host], call, this.deadlines, new LaneCall(this, reply));
  }

  /** The request's headers through the builder, serialized (and checked) by gw's client. */
  private startForwarding(
    forwarded: NonNullable<LaneSpec['forwarded']>,
    host: number,
    path: string,
    req: GwRequest,
    reply: LaneReply,
  ): void {
    const spec = this.spec;
    const out = forwarded.headers(req);
    const list: string[] = [];
    for (const name in out) list.push(name, out[name]);
    const call: CallOptions = {
      method: 'GET',
      path,
      headers: list,
      body: null,
      timeoutMs: spec.timeoutMs,
      decompress: !forwarded.acceptEncoding || req.headers['accept-encoding'] === undefined,
      followRedirects: true,
      passHead: true,
    };
    startBackendCall(spec.pools, spec.origins[host], call, this.deadlines, new LaneCall(this, reply));
  }
}

/** A header or path that must not reach the wire fails as gw's client fails it. */
function invalid(what: string): UpstreamError {
  return new UpstreamError(`invalid response: invalid ${what}`, 'protocol');
}

export function compileLane(spec: LaneSpec): LaneStage {
  const lane = new CompiledLane(spec);
  return (params, query, headers, clientIp, reply) => lane.start(params, query, headers, clientIp, reply);
}
