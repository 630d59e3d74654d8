// The pass-through lane: a plain no-op endpoint (one backend on http: origins, no middleware)
// served without header maps. The backend's head is written from a template with the few values
// a request changes, and the backend's answer goes back as the bytes of its header lines
// (ResponseParser's pass mode), in one uWS call. An endpoint that forwards client headers
// (`input_headers`) reads them into a map and has the request builder pick them, as the
// header-map path does: only the answer's side is saved then. What BackendCall does for any
// no-op call still holds: redirects, gzip undone, the retry of a reused connection, the deadline,
// and a failure rendered as the endpoint's 500 with X-Krakend-Completed: false.
// Rate limits and JWT validation guard the lane (LaneGuard), and telemetry's metrics middlewares leave their
// recording to it (LaneMeter): two clock reads per request for all layers and exporters.
// Measured against the header-map path (README, Performance): bench/experiments/cpu-ab.mjs and
// saturation-floor.mjs.

import {
  BackendError,
  type GwRequest,
  type GwResponse,
  HEADER_KEYS,
  type HeaderMap,
  type HeaderView,
  type LaneGuard,
  type LaneMeter,
  type LaneOutcome,
  type LaneReach,
  type LaneReply,
  type LaneStage,
} from '../types.js';
import { BackendHeadTemplate } from './backend-head.js';
import { DeadlineList } from './deadlines.js';
import { HeadMode } from './h1-parser.js';
import {
  type CallOptions,
  type CallSink,
  type HttpResult,
  type PoolRegistry,
  startBackendCall,
} from './http-client.js';
import { headerMapOf, LaneGuards, NO_HEADER_MAP, NOT_READY, requestOf } from './lane-guards.js';
import { bodyBytes } from './util.js';

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
  /** The telemetry middlewares' recordings (endpoint, proxy and backend layers). */
  meters: LaneMeter[];
}

// One outcome object, filled and read synchronously when a metered lane request is answered.
const outcome: LaneOutcome = {
  status: 0,
  bytes: 0,
  reach: 'refused',
  backendOk: false,
  backendStatus: 0,
  elapsedUs: 0,
  proxyComplete: false,
  proxyError: false,
};

const NO_HEADERS: string[] = [];

/** Hears one lane call's outcome and writes it to the client (no closure per request). */
class LaneCall implements CallSink {
  constructor(
    private readonly lane: CompiledLane,
    private readonly reply: LaneReply,
    /** `performance.now()` when the lane took the request, for a metered lane (else 0). */
    private readonly started: number,
  ) {}

  resolved(res: HttpResult): void {
    const lane = this.lane;
    if (res.head !== undefined) {
      if (lane.metered) lane.measure(this.started, res.status, res.body.length, 'called', true, res.status);
      this.reply.pass(res.status, res.head, lane.krakendLines, res.body);
      return;
    }
    const answer = lane.spec.rendered(res);
    if (lane.metered)
      lane.measure(this.started, answer.status, bodyBytes(answer.body), 'called', true, res.status);
    this.reply.answer(answer);
  }

  rejected(err: Error): void {
    const lane = this.lane;
    const answer = lane.spec.failed(err);
    if (lane.metered) {
      const status = err instanceof BackendError ? (err.backendStatus ?? 0) : 0;
      lane.measure(this.started, answer.status, bodyBytes(answer.body), 'called', false, status);
    }
    this.reply.answer(answer);
  }
}

class CompiledLane {
  readonly krakendLines: Buffer;
  private readonly template: BackendHeadTemplate;
  readonly deadlines = new DeadlineList();
  private readonly guards: LaneGuards | undefined;
  readonly metered: boolean;

  constructor(readonly spec: LaneSpec) {
    this.guards = spec.guards.length > 0 ? new LaneGuards(spec.guards) : undefined;
    this.metered = spec.meters.length > 0;
    this.krakendLines = Buffer.from(`\r\nX-Krakend: ${spec.versionHeader}\r\nX-Krakend-Completed: false`);
    this.template = new BackendHeadTemplate(spec.userAgent, spec.origins);
  }

  /** Tells every meter how a request ended. */
  measure(
    started: number,
    status: number,
    bytes: number,
    reach: LaneReach,
    backendOk: boolean,
    backendStatus: number,
  ): void {
    outcome.status = status;
    outcome.bytes = bytes;
    outcome.reach = reach;
    outcome.backendOk = backendOk;
    outcome.backendStatus = backendStatus;
    outcome.elapsedUs = (performance.now() - started) * 1000;
    // A passed answer is an incomplete merge without error (no-op answers are never complete).
    outcome.proxyError = !(reach === 'called' && backendOk);
    for (const meter of this.spec.meters) meter.record(outcome);
  }

  /** An answer given without a backend answer: refused by a guard, not built, or not written by gw's client. */
  private answerEarly(reply: LaneReply, answer: GwResponse, reach: LaneReach, started: number): void {
    if (this.metered) this.measure(started, answer.status, bodyBytes(answer.body), reach, false, 0);
    reply.answer(answer);
  }

  start(
    params: Record<string, string>,
    query: string,
    headers: HeaderView,
    clientIp: string,
    reply: LaneReply,
  ): boolean {
    const spec = this.spec;
    const started = this.metered ? performance.now() : 0;
    let map: HeaderMap | undefined;
    const guards = this.guards;
    if (guards !== undefined) {
      if (guards.readsHeaders) map = headerMapOf(headers);
      const verdict = guards.verdict(requestOf(params, query, map ?? NO_HEADER_MAP, clientIp));
      if (verdict === NOT_READY) return false;
      if (verdict !== undefined) {
        this.answerEarly(reply, verdict, 'refused', started);
        return true;
      }
    }
    let path: string;
    try {
      path = spec.path(params, query);
    } catch (err) {
      this.answerEarly(reply, spec.failed(err), 'unbuilt', started);
      return true;
    }
    const host = spec.nextOrigin();
    if (spec.forwarded !== undefined) {
      map ??= headerMapOf(headers);
      const req = requestOf(params, query, map, clientIp);
      this.startForwarding(spec.forwarded, host, path, req, reply, started);
      return true;
    }
    let head: string;
    try {
      head = this.template.head(
        path,
        headers.getHeader(HEADER_KEYS.contentType),
        headers.getHeader(HEADER_KEYS.host),
        clientIp,
        host,
      );
    } catch (err) {
      // What gw's client refuses to write fails as its call does: at the backend layer.
      this.answerEarly(reply, spec.failed(err), 'called', started);
      return true;
    }
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
      headMode: HeadMode.Pass,
    };
    this.call(host, call, reply, started);
    return true;
  }

  /** The request's headers through the builder, serialized (and checked) by gw's client. */
  private startForwarding(
    forwarded: NonNullable<LaneSpec['forwarded']>,
    host: number,
    path: string,
    req: GwRequest,
    reply: LaneReply,
    started: number,
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
      headMode: HeadMode.Pass,
    };
    this.call(host, call, reply, started);
  }

  private call(host: number, call: CallOptions, reply: LaneReply, started: number): void {
    const spec = this.spec;
    startBackendCall(
      spec.pools,
      spec.origins[host],
      call,
      this.deadlines,
      new LaneCall(this, reply, started),
    );
  }
}

export function compileLane(spec: LaneSpec): LaneStage {
  const lane = new CompiledLane(spec);
  return (params, query, headers, clientIp, reply) => lane.start(params, query, headers, clientIp, reply);
}
