// Compiles one endpoint into its pipeline, Lura-style:
//   router middlewares → render(proxy middlewares → static → merge(backend stages))
// Every decision the config makes (encodings, transforms, forwarding, timeouts) is taken here.

import type { Logger } from 'pino';
import { featureByNamespace, namespacesInRunOrder } from '../extensions/registry.js';
import { createHostBalancer } from '../qos/balancer.js';
import {
  compileBackendManipulation,
  compileFlatmap,
  type DataTransform,
  flatmapFromExtraConfig,
  manipulationFromBackend,
  mergeInto,
} from '../transform/index.js';
import {
  createWasmEndpointTransform,
  TransformInputError,
  type TransformPart,
  type WasmEndpointTransform,
} from '../transform/wasm/index.js';
import {
  type BackendConfig,
  BackendError,
  type BackendMiddleware,
  type BackendRequest,
  type BackendResponse,
  type BackendStage,
  type CompileContext,
  type DirectStage,
  type EndpointConfig,
  type EndpointMiddleware,
  type EndpointStage,
  type GwRequest,
  type GwResponse,
  HEADER_KEYS,
  type LaneGuard,
  type LaneMeter,
  type LaneOutcome,
  type LaneReply,
  type LaneStage,
  type ProxyMiddleware,
  type ProxyResponse,
  type ProxyStage,
  type Reply,
  type ResponseHeaders,
  type ServiceConfig,
} from '../types.js';
import { BackendHeadTemplate } from './backend-head.js';
import {
  type CompiledRequestBuilder,
  compileRequestBuilder,
  MissingVariableError,
  type SequentialValues,
} from './backend-request.js';
import { DeadlineList } from './deadlines.js';
import { DecodeError, getDecoder, getEncoder } from './encodings.js';
import { HeadMode, NOT_PASSED } from './h1-parser.js';
import {
  type CallSink,
  type HttpResult,
  type PoolRegistry,
  startBackendCall,
  UpstreamError,
} from './http-client.js';
import { headerMapOf, LaneGuards, NO_HEADER_MAP, NOT_READY, requestOf } from './lane-guards.js';
import { compileLane, type LaneSpec } from './passthrough-lane.js';
import { compileStaticProxy } from './static.js';
import { bodyBytes, parseDurationMs, sanitizeHost } from './util.js';

export interface EndpointRuntime {
  pools: PoolRegistry;
  logger: Logger;
  returnErrorMsg: boolean;
  /** Value of the X-Krakend header ("Version 0.1.0", or "Version undefined" when hidden). */
  versionHeader: string;
  /** User-Agent sent to backends. */
  userAgent: string;
  shared: Record<string, unknown>;
  workerId: number;
  /** Response manipulation path (issue 3): WASM by default, the TS reference with --transform js. */
  transform: 'wasm' | 'js';
  onClose(fn: () => void | Promise<void>): void;
}

const DEFAULT_TIMEOUT_MS = 2000;

interface CompiledBackend {
  index: number;
  builder: CompiledRequestBuilder;
  stage: BackendStage;
  transform: DataTransform | undefined;
  detailsAlias: string | undefined;
  returnErrorCode: boolean;
  noop: boolean;
  /** The HTTP call itself, when no middleware wraps it and it is made once (not concurrent_calls). */
  direct: ((breq: BackendRequest, sink: CallSink) => void) | undefined;
  /**
   * The meters of the telemetry middlewares around the HTTP call, when they are all it has and it
   * is made once (an empty list without telemetry); undefined otherwise (no pass-through lane).
   */
  laneMeters: LaneMeter[] | undefined;
  /**
   * The merge lane's form of `direct`: a GET whose head is written from a template, for a byte-path
   * backend whose url_pattern reads only params and the query and that forwards no client header.
   */
  laneCall: LaneBackendCall | undefined;
  /** What the stage does to the call's answer (status check, decoding); undefined for no-op. */
  accept: ((res: HttpResult) => BackendResponse) | undefined;
  concurrent: number;
  timeoutMs: number;
  /** The backend's hosts, and the index of the next one in its round-robin (shared with the HTTP stage). */
  hosts: readonly string[];
  nextHost: () => number;
  label: string;
  /** Data of a response: decoded by the backend stage, or here when a middleware kept only bytes. */
  dataOf(res: BackendResponse): Record<string, unknown>;
}

/** A merge lane's call to one backend; its outcome goes to `sink`. */
type LaneBackendCall = (
  params: Record<string, string>,
  query: string,
  contentType: string,
  forwardedHost: string,
  clientIp: string,
  sink: CallSink,
) => void;

const NO_HEADER_LIST: string[] = [];

function nsConfig(
  extra: Record<string, unknown> | undefined,
  ns: string,
): Record<string, unknown> | undefined {
  const v = extra?.[ns];
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function compileContext(
  rt: EndpointRuntime,
  service: ServiceConfig,
  path: string,
  endpoint?: EndpointConfig,
  backend?: BackendConfig,
): CompileContext {
  return {
    service,
    endpoint,
    backend,
    path,
    logger: rt.logger,
    shared: rt.shared,
    workerId: rt.workerId,
    onClose: rt.onClose,
  };
}

/** Wraps `inner` with the middlewares that a hook of each configured namespace returns. */
function applyFeatures<T>(
  extra: Record<string, unknown> | undefined,
  pick: (
    m: import('../types.js').FeatureModule,
  ) => ((cfg: unknown, ctx: CompileContext) => ((next: T) => T) | undefined) | undefined,
  inner: T,
  ctxFor: (ns: string) => CompileContext,
  applied?: Array<(next: T) => T>,
): T {
  if (!extra) return inner;
  let stage = inner;
  // The registry's order is the run order (bot detector before JWT before rate limits, as
  // KrakenD chains them), whatever order the config lists the namespaces in.
  for (const ns of namespacesInRunOrder(extra).reverse()) {
    const mod = featureByNamespace.get(ns)!;
    const hook = pick(mod);
    if (!hook) continue;
    const mw = hook.call(mod, extra[ns], ctxFor(ns));
    if (mw) {
      stage = mw(stage);
      applied?.unshift(mw);
    }
  }
  return stage;
}

/** The lane meters of telemetry middlewares; undefined when one of them has none. */
function metersOf(instruments: ReadonlyArray<{ laneMeter?: LaneMeter }>): LaneMeter[] | undefined {
  const meters: LaneMeter[] = [];
  for (const mw of instruments) {
    if (mw.laneMeter === undefined) return undefined;
    meters.push(mw.laneMeter);
  }
  return meters;
}

function invalidStatusError(
  status: number,
  body: Buffer,
  headers: ResponseHeaders,
  exposeCode: boolean,
): BackendError {
  return new BackendError('invalid status code', exposeCode ? status : 500, body, headers, status);
}

function compileBackend(
  endpoint: EndpointConfig,
  backend: BackendConfig,
  index: number,
  endpointPath: string,
  service: ServiceConfig,
  rt: EndpointRuntime,
  endpointTimeoutMs: number,
  forceNoop: boolean,
  keepBytes: boolean,
): CompiledBackend {
  const path = `${endpointPath}.backend[${index}]`;
  const method = (backend.method ?? endpoint.method ?? 'GET').toUpperCase();
  const builder = compileRequestBuilder(endpoint, backend, { method, versionHeader: rt.userAgent });
  const hosts = (backend.host && backend.host.length > 0 ? backend.host : (service.host ?? [])).map((h) =>
    backend.disable_host_sanitize ? h : sanitizeHost(h),
  );
  if (hosts.length === 0) throw new Error(`${path}: no host`);
  const encoding = forceNoop ? 'no-op' : (backend.encoding ?? 'json');
  const noop = encoding === 'no-op';
  const decoder = noop ? undefined : (getDecoder(encoding) ?? getDecoder('json')!);
  const isCollection = backend.is_collection === true;
  const httpCfg = nsConfig(backend.extra_config, 'backend/http');
  const detailsAlias =
    typeof httpCfg?.return_error_details === 'string' && httpCfg.return_error_details !== ''
      ? httpCfg.return_error_details
      : undefined;
  const returnErrorCode = !detailsAlias && httpCfg?.return_error_code === true;
  const backendTimeout = parseDurationMs(backend.timeout);
  const timeoutMs =
    backendTimeout !== undefined ? Math.min(backendTimeout, endpointTimeoutMs) : endpointTimeoutMs;
  const hostCount = hosts.length;
  // Round-robin; a circuit breaker may pin the host (skipping open ones): src/qos/balancer.ts.
  const balancer = createHostBalancer(backend, hosts);

  const deadlines = new DeadlineList();
  const checked = (res: HttpResult): BackendResponse => {
    if (res.status !== 200 && res.status !== 201)
      throw invalidStatusError(res.status, res.body, res.headers, returnErrorCode);
    if (keepBytes) {
      // The byte path is JSON only; lura's JSON decoder fails on an empty body (io.EOF), so do we.
      if (res.body.length === 0) throw new DecodeError('invalid JSON from backend: empty body (EOF)');
      return res;
    }
    return {
      status: res.status,
      headers: res.headers,
      body: res.body,
      data: decoder!(res.body, isCollection),
    };
  };

  /** `lean`: the caller reads no header of the answer (a byte-path merge's direct call). */
  const httpCall = (breq: BackendRequest, sink: CallSink, lean = false): void => {
    let origin = hostCount === 1 ? hosts[0] : balancer.origin(breq);
    let target = breq.path;
    // An absolute URL (martian url.Modifier/port.Modifier, lua-backend url()) replaces the host.
    if (target.charCodeAt(0) !== 47 && URL.canParse(target)) {
      const u = new URL(target);
      origin = u.origin;
      target = `${u.pathname}${u.search}`;
    }
    const headers: string[] = [];
    const h = breq.headers;
    for (const k in h) headers.push(k, h[k]);
    const remaining = breq.deadline > 0 ? breq.deadline - Date.now() : timeoutMs;
    startBackendCall(
      rt.pools,
      origin,
      {
        method: breq.method,
        path: target,
        headers,
        body: breq.body,
        timeoutMs: remaining > 0 ? remaining : 1,
        decompress:
          !noop || !builder.forwardsAcceptEncoding || breq.origin.headers['accept-encoding'] === undefined,
        followRedirects: true,
        timings: breq.timings,
        headMode: lean ? HeadMode.Lean : HeadMode.Map,
      },
      deadlines,
      sink,
    );
  };
  // Not async: a no-op call is the call's promise as it is, one `then` otherwise (each async
  // layer costs microtasks on every request).
  const httpStage: BackendStage = (breq: BackendRequest): Promise<BackendResponse> => {
    const call = new Promise<HttpResult>((resolved, rejected) => httpCall(breq, { resolved, rejected }));
    return noop ? call : call.then(checked);
  };

  const featured = applyFeatures<BackendStage>(
    backend.extra_config,
    (m) => m.backend as never,
    httpStage,
    (ns) => compileContext(rt, service, `${path}.extra_config["${ns}"]`, endpoint, backend),
  );
  const instruments: BackendMiddleware[] = [];
  const stage = applyFeatures<BackendStage>(
    service.extra_config,
    (m) => m.instrumentBackend as never,
    featured,
    (ns) => compileContext(rt, service, `$.extra_config["${ns}"]`, endpoint, backend),
    instruments,
  );
  const transform = noop ? undefined : compileBackendManipulation(manipulationFromBackend(backend));
  const concurrent = noop ? 1 : Math.max(1, Math.floor(endpoint.concurrent_calls ?? 1));
  // With no middleware around it, the HTTP call may be started directly (single calls only). The
  // byte path reads no backend header: its direct calls parse only what the call needs.
  const direct =
    stage === httpStage && concurrent === 1
      ? keepBytes
        ? (breq: BackendRequest, sink: CallSink) => httpCall(breq, sink, true)
        : httpCall
      : undefined;
  // The lane calls also serve backends whose only middlewares are telemetry's (they record for them).
  const laneMeters = featured === httpStage && concurrent === 1 ? metersOf(instruments) : undefined;
  const lanePath = builder.lanePath;
  let laneCall: LaneBackendCall | undefined;
  if (
    keepBytes &&
    laneMeters !== undefined &&
    method === 'GET' &&
    lanePath !== undefined &&
    !builder.laneForwards &&
    (backend.url_pattern ?? '/').startsWith('/') &&
    hosts.every((origin) => rt.pools.servesWithGwClient(origin))
  ) {
    const template = new BackendHeadTemplate(rt.userAgent, hosts);
    const meters = laneMeters.length > 0 ? laneMeters : undefined;
    laneCall = (params, query, contentType, forwardedHost, clientIp, partSink) => {
      let path: string;
      try {
        path = lanePath(params, query);
      } catch (err) {
        // Not built: no backend call for its middlewares to record, as on the header-map path.
        partSink.rejected(err as Error);
        return;
      }
      const sink =
        meters === undefined ? partSink : new MeteredLaneCall(partSink, meters, checked, performance.now());
      const host = hostCount === 1 ? 0 : balancer.next();
      let head: string;
      try {
        head = template.head(path, contentType, forwardedHost, clientIp, host);
      } catch (err) {
        sink.rejected(err as Error);
        return;
      }
      startBackendCall(
        rt.pools,
        hosts[host],
        {
          method: 'GET',
          path,
          headers: NO_HEADER_LIST,
          body: null,
          timeoutMs,
          decompress: true,
          followRedirects: true,
          head,
          headMode: HeadMode.Lean,
        },
        deadlines,
        sink,
      );
    };
  }
  return {
    index,
    builder,
    stage,
    transform,
    detailsAlias,
    returnErrorCode,
    noop,
    direct,
    laneCall,
    laneMeters,
    accept: noop ? undefined : checked,
    concurrent,
    timeoutMs,
    hosts,
    nextHost: hostCount === 1 ? () => 0 : () => balancer.next(),
    label: `${method} ${backend.url_pattern}`,
    // A shared cache entry stored by a byte-path backend carries no data.
    dataOf: (res) => res.data ?? (decoder ? decoder(res.body, isCollection) : {}),
  };
}

/** Calls one backend (concurrent_calls times when configured: first good answer wins). */
function callCompiled(b: CompiledBackend, breq: BackendRequest): Promise<BackendResponse> {
  if (b.concurrent === 1) return b.stage(breq);
  return new Promise((resolve, reject) => {
    let failures = 0;
    let firstError: unknown;
    for (let i = 0; i < b.concurrent; i++) {
      b.stage(breq).then(resolve, (err) => {
        firstError ??= err;
        if (++failures === b.concurrent) reject(firstError);
      });
    }
  });
}

function buildBackendRequest(
  b: CompiledBackend,
  req: GwRequest,
  seq: SequentialValues | undefined,
): BackendRequest {
  return {
    method: b.builder.method,
    path: b.builder.path(req, seq),
    headers: b.builder.headers(req),
    body: req.body,
    params: req.params,
    origin: req,
    deadline: Date.now() + b.timeoutMs,
  };
}

function errorDetails(err: unknown): Record<string, unknown> {
  if (err instanceof BackendError) {
    return {
      http_status_code: err.backendStatus ?? err.status,
      http_body: err.body ? err.body.toString('utf8') : err.message,
    };
  }
  return { http_status_code: 0, http_body: err instanceof Error ? err.message : String(err) };
}

/** Normalises anything thrown below into a BackendError with the status the client may see. */
export function toBackendError(err: unknown): BackendError {
  if (err instanceof BackendError) return err;
  if (err instanceof MissingVariableError) return new BackendError(err.message, 400);
  if (err instanceof UpstreamError || err instanceof DecodeError) return new BackendError(err.message, 500);
  return new BackendError(err instanceof Error ? err.message : String(err), 500);
}

function logBackendFailure(logger: Logger, endpointLabel: string, b: CompiledBackend, err: unknown): void {
  const e = toBackendError(err);
  logger.warn(
    `[BACKEND: ${endpointLabel} -> ${b.label}] ${e.message}${e.backendStatus ? ` (status ${e.backendStatus})` : ''}`,
  );
}

function runOne(
  b: CompiledBackend,
  req: GwRequest,
  seq: SequentialValues | undefined,
): Promise<BackendResponse> {
  return callCompiled(b, buildBackendRequest(b, req, seq));
}

function compileMerge(
  backends: CompiledBackend[],
  endpointFlatmap: DataTransform | undefined,
  sequential: boolean,
  logger: Logger,
  endpointLabel: string,
): ProxyStage {
  const logFailure = (b: CompiledBackend, err: unknown) => logBackendFailure(logger, endpointLabel, b, err);
  const finish = (acc: Record<string, unknown> | null, failed: BackendError | undefined): ProxyResponse => {
    if (acc !== null && endpointFlatmap) acc = endpointFlatmap(acc);
    return { data: acc, isComplete: failed === undefined, error: failed };
  };

  if (backends.length === 1 && !backends[0].noop) {
    const b = backends[0];
    return async (req) => {
      try {
        const res = await runOne(b, req, undefined);
        const data = b.transform ? b.transform(b.dataOf(res)) : b.dataOf(res);
        return finish(data, undefined);
      } catch (err) {
        logFailure(b, err);
        const e = toBackendError(err);
        if (b.detailsAlias) return finish({ [`error_${b.detailsAlias}`]: errorDetails(err) }, e);
        return { data: null, isComplete: false, error: e };
      }
    };
  }

  if (sequential) {
    return async (req) => {
      let acc: Record<string, unknown> | null = null;
      const seq: SequentialValues = [];
      for (const b of backends) {
        try {
          const res = await runOne(b, req, seq);
          if (b.noop) {
            seq[b.index] = res.body.toString('utf8');
            continue;
          }
          const data = b.transform ? b.transform(b.dataOf(res)) : b.dataOf(res);
          seq[b.index] = data;
          acc ??= {};
          mergeInto(acc, data);
        } catch (err) {
          logFailure(b, err);
          const e = toBackendError(err);
          if (b.detailsAlias) {
            acc ??= {};
            mergeInto(acc, { [`error_${b.detailsAlias}`]: errorDetails(err) });
          }
          return finish(acc, e);
        }
      }
      return finish(acc, undefined);
    };
  }

  return (req) =>
    new Promise<ProxyResponse>((resolve) => {
      let pending = backends.length;
      let acc: Record<string, unknown> | null = null;
      let failed: BackendError | undefined;
      const done = () => {
        if (--pending === 0) resolve(finish(acc, failed));
      };
      for (const b of backends) {
        let call: Promise<BackendResponse>;
        try {
          call = runOne(b, req, undefined);
        } catch (err) {
          call = Promise.reject(err);
        }
        call
          .then((res) => {
            const data = b.transform ? b.transform(b.dataOf(res)) : b.dataOf(res);
            acc ??= {};
            mergeInto(acc, data);
            done();
          })
          .catch((err) => {
            logFailure(b, err);
            failed ??= toBackendError(err);
            if (b.detailsAlias) {
              acc ??= {};
              mergeInto(acc, { [`error_${b.detailsAlias}`]: errorDetails(err) });
            }
            done();
          });
      }
    });
}

/** no-op: one backend, status/headers/body passed through (redirects followed). */
/** A no-op backend that did not answer: the error the endpoint renders. */
function noopFailure(b: CompiledBackend, logger: Logger, endpointLabel: string, err: unknown): ProxyResponse {
  const e = toBackendError(err);
  logger.warn(`[BACKEND: ${endpointLabel} -> ${b.label}] ${e.message}`);
  return { data: null, isComplete: false, error: e };
}

/** A no-op answer: the backend's status, headers (but framing and its own Date/Server) and bytes. */
function renderNoop(res: BackendResponse, versionHeader: string): GwResponse {
  const headers: ResponseHeaders = {};
  const src = res.headers;
  for (const k in src) if (!NOT_PASSED.has(k)) headers[k] = src[k];
  headers['x-krakend'] = versionHeader;
  headers['x-krakend-completed'] = 'false';
  return { status: res.status, headers, body: res.body };
}

function compileNoop(b: CompiledBackend, logger: Logger, endpointLabel: string): ProxyStage {
  const passed = (res: BackendResponse): ProxyResponse => ({
    data: null,
    raw: res.body,
    status: res.status,
    headers: res.headers,
    isComplete: false,
  });
  const failed = (err: unknown): ProxyResponse => noopFailure(b, logger, endpointLabel, err);
  return (req) => callNoop(b, req, passed, failed);
}

/** Calls a no-op endpoint's backend; a request that cannot be built fails as a call does. */
function callNoop<T>(
  b: CompiledBackend,
  req: GwRequest,
  passed: (res: BackendResponse) => T,
  failed: (err: unknown) => T,
): Promise<T> {
  let call: Promise<BackendResponse>;
  try {
    call = runOne(b, req, undefined);
  } catch (err) {
    return Promise.resolve(failed(err));
  }
  return call.then(passed, failed);
}

const JSON_TYPE = 'application/json; charset=utf-8';

function hasKeys(data: Record<string, unknown> | null): boolean {
  if (data === null) return false;
  for (const _ in data) return true;
  return false;
}

/**
 * Whether the endpoint can keep backend bodies as bytes and hand them to the WASM transform:
 * JSON in and out, a plain parallel merge, and no feature that reads or writes the data.
 */
function bytePathEligible(
  endpoint: EndpointConfig,
  outputEncoding: string,
  sequential: boolean,
  proxyCfg: Record<string, unknown> | undefined,
): boolean {
  if (outputEncoding !== 'json' || sequential || proxyCfg?.static !== undefined) return false;
  const backends = endpoint.backend ?? [];
  if (backends.length === 0) return false;
  for (const ns of Object.keys(endpoint.extra_config ?? {})) {
    if (featureByNamespace.get(ns)?.proxy) return false;
  }
  for (const b of backends) {
    if (b.encoding !== undefined && b.encoding !== 'json') return false;
    const http = nsConfig(b.extra_config, 'backend/http');
    if (http?.return_error_details !== undefined) return false;
    for (const ns of Object.keys(b.extra_config ?? {})) {
      const mod = featureByNamespace.get(ns);
      if (mod?.backend && !mod.bytesOnly) return false;
    }
  }
  return true;
}

/** Hears the proxy layer's answer of a direct call. */
interface ProxyDone {
  done(pr: ProxyResponse): void;
}

/** The byte merge of one request: the backends' sinks count down, the last one finishes it. */
class ByteMergeCall {
  pending: number;
  readonly parts: TransformPart[] = [];
  failed: BackendError | undefined = undefined;
  constructor(
    readonly merge: ByteMerge,
    readonly then: ProxyDone,
  ) {
    this.pending = merge.backends.length;
  }

  settled(): void {
    if (--this.pending === 0) this.then.done(this.merge.finish(this.parts, this.failed));
  }
}

// One outcome object, filled and read synchronously when a merge lane's call or answer is metered.
const mergeLaneOutcome: LaneOutcome = {
  status: 0,
  bytes: 0,
  reach: 'called',
  backendOk: false,
  backendStatus: 0,
  elapsedUs: 0,
  proxyComplete: false,
  proxyError: false,
};

/**
 * A merge lane's backend call, told to its backend's lane meters: what the telemetry middleware
 * around the backend stage records, the stage's own check (status, empty body) included.
 */
class MeteredLaneCall implements CallSink {
  constructor(
    private readonly sink: CallSink,
    private readonly meters: LaneMeter[],
    private readonly check: (res: HttpResult) => unknown,
    private readonly started: number,
  ) {}

  resolved(res: HttpResult): void {
    try {
      this.check(res);
    } catch (err) {
      // What the part's own check would fail it with: told as a failure, not checked again.
      this.rejected(err as Error);
      return;
    }
    this.record(true, res.status);
    this.sink.resolved(res);
  }

  rejected(err: Error): void {
    this.record(false, err instanceof BackendError ? (err.backendStatus ?? 0) : 0);
    this.sink.rejected(err);
  }

  private record(ok: boolean, status: number): void {
    const o = mergeLaneOutcome;
    o.reach = 'called';
    o.backendOk = ok;
    o.backendStatus = status;
    o.elapsedUs = (performance.now() - this.started) * 1000;
    for (const meter of this.meters) meter.record(o);
  }
}

/** One backend's share of a byte merge: its body, or its failure. */
class BytePartSink implements CallSink {
  constructor(
    private readonly call: ByteMergeCall,
    private readonly b: CompiledBackend,
  ) {}

  /** A direct call's answer: the backend stage's own check (status, empty body) still applies. */
  resolved(res: HttpResult): void {
    let body: Buffer;
    try {
      body = this.b.accept === undefined ? res.body : this.b.accept(res).body;
    } catch (err) {
      this.rejected(err as Error);
      return;
    }
    this.part(body);
  }

  part(body: Buffer): void {
    this.call.parts.push({ index: this.b.index, body });
    this.call.settled();
  }

  rejected(err: unknown): void {
    const call = this.call;
    call.merge.logFailure(this.b, err);
    call.failed ??= toBackendError(err);
    call.settled();
  }
}

interface ByteMerge {
  backends: CompiledBackend[];
  stage: ProxyStage;
  /** The same merge told to a ProxyDone; undefined when a backend's call is wrapped. */
  direct: ((req: GwRequest, then: ProxyDone) => void) | undefined;
  /** The same again from a lane's request (no header map); undefined unless every backend has a laneCall. */
  lane:
    | ((
        params: Record<string, string>,
        query: string,
        contentType: string,
        forwardedHost: string,
        clientIp: string,
        then: ProxyDone,
      ) => void)
    | undefined;
  finish(parts: TransformPart[], failed: BackendError | undefined): ProxyResponse;
  logFailure(b: CompiledBackend, err: unknown): void;
}

/**
 * The byte path: bodies stay bytes from the backend socket to the client; the WASM module
 * decodes, manipulates, merges and encodes them in one pass. A body the transform refuses
 * (invalid JSON, wrong shape) counts as that backend failing, as on the JS path. The promise
 * stage calls each backend's stage (its middlewares included); the direct form, when no
 * backend has any, starts the HTTP calls themselves.
 */
function compileByteMerge(
  backends: CompiledBackend[],
  wasm: WasmEndpointTransform,
  logger: Logger,
  endpointLabel: string,
): ByteMerge {
  const start = (req: GwRequest, then: ProxyDone, direct: boolean): void => {
    const call = new ByteMergeCall(merge, then);
    for (const b of backends) {
      const sink = new BytePartSink(call, b);
      if (direct) {
        let breq: BackendRequest;
        try {
          breq = buildBackendRequest(b, req, undefined);
        } catch (err) {
          sink.rejected(err);
          continue;
        }
        b.direct!(breq, sink);
        continue;
      }
      let pending: Promise<BackendResponse>;
      try {
        pending = runOne(b, req, undefined);
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (res) => sink.part(res.body),
        (err) => sink.rejected(err),
      );
    }
  };
  const merge: ByteMerge = {
    backends,
    stage: (req) => new Promise<ProxyResponse>((done) => start(req, { done }, false)),
    direct: backends.every((b) => b.direct !== undefined) ? (req, then) => start(req, then, true) : undefined,
    lane: backends.every((b) => b.laneCall !== undefined)
      ? (params, query, contentType, forwardedHost, clientIp, then) => {
          const call = new ByteMergeCall(merge, then);
          for (const b of backends)
            b.laneCall!(params, query, contentType, forwardedHost, clientIp, new BytePartSink(call, b));
        }
      : undefined,
    finish: (parts, failed) => finishByteMerge(parts, failed, backends, wasm, logger, endpointLabel),
    logFailure: (b, err) => logBackendFailure(logger, endpointLabel, b, err),
  };
  return merge;
}

function finishByteMerge(
  parts: TransformPart[],
  failed: BackendError | undefined,
  backends: CompiledBackend[],
  wasm: WasmEndpointTransform,
  logger: Logger,
  endpointLabel: string,
): ProxyResponse {
  for (;;) {
    if (parts.length === 0)
      return { data: null, isComplete: false, error: failed ?? new BackendError('no data', 500) };
    try {
      return { data: null, json: wasm.run(parts), isComplete: failed === undefined };
    } catch (err) {
      if (!(err instanceof TransformInputError)) {
        logger.error(`[ENDPOINT: ${endpointLabel}] transform failed: ${(err as Error).message}`);
        return { data: null, isComplete: false, error: toBackendError(err) };
      }
      const b = backends[err.backendIndex];
      logBackendFailure(logger, endpointLabel, b, new DecodeError(err.message));
      failed ??= new BackendError(err.message, 500);
      parts = parts.filter((p) => p.index !== err.backendIndex);
    }
  }
}

export interface CompiledEndpoint {
  method: string;
  path: string;
  stage: EndpointStage;
  /** The same endpoint answering through a Reply, when nothing sits between backend and client. */
  direct: DirectStage | undefined;
  /** The same again without header maps, for a plain no-op GET (src/proxy/passthrough-lane.ts). */
  lane: LaneStage | undefined;
}

/** Renders the proxy layer's answer of a direct call into the client's reply. */
class RenderedReply implements ProxyDone {
  constructor(
    private readonly render: (pr: ProxyResponse, req: GwRequest) => GwResponse,
    private readonly req: GwRequest,
    private readonly reply: Reply,
  ) {}

  done(pr: ProxyResponse): void {
    this.reply.answer(this.render(pr, this.req));
  }
}

/** The request `render` is given on the merge lane: only an encoder other than JSON reads it, never here. */
const MERGE_LANE_REQUEST: GwRequest = requestOf({}, '', NO_HEADER_MAP, '');

/**
 * The merge lane's answers: the byte path's JSON written with its header lines as bytes
 * after the status line (the lines `render` gives it, in its order); anything else (a failure)
 * rendered as on the header-map path.
 */
class MergeLaneAnswers {
  private readonly completeLines: Buffer;
  private readonly incompleteLines: Buffer;
  private readonly metered: boolean;

  constructor(
    private readonly render: (pr: ProxyResponse, req: GwRequest) => GwResponse,
    versionHeader: string,
    cacheControl: string | undefined,
    /** The endpoint and proxy layers' meters (the backends' hear their own calls). */
    private readonly meters: LaneMeter[],
  ) {
    this.metered = meters.length > 0;
    const lines = `\r\ncontent-type: ${JSON_TYPE}\r\nx-krakend: ${versionHeader}\r\nx-krakend-completed: `;
    this.completeLines = Buffer.from(
      `${lines}true${cacheControl ? `\r\ncache-control: ${cacheControl}` : ''}`,
    );
    this.incompleteLines = Buffer.from(`${lines}false`);
  }

  /** `started`: performance.now() when the lane took the request (0 when nothing meters it). */
  write(pr: ProxyResponse, reply: LaneReply, started: number): void {
    const json = pr.json;
    if (json === undefined) {
      const answer = this.render(pr, MERGE_LANE_REQUEST);
      if (this.metered) this.measure(pr, answer.status, bodyBytes(answer.body), started);
      reply.answer(answer);
      return;
    }
    // As render: complete only with non-empty data (the byte path writes `{}` for none).
    const complete = pr.isComplete && json.length > 2;
    const status = pr.status ?? 200;
    if (this.metered) this.measure(pr, status, json.length, started);
    reply.pass(status, null, complete ? this.completeLines : this.incompleteLines, json);
  }

  /** A guard's refusal: the endpoint layer records it, the proxy layer never saw it. */
  refuse(answer: GwResponse, reply: LaneReply, started: number): void {
    if (this.metered) this.measure(undefined, answer.status, bodyBytes(answer.body), started);
    reply.answer(answer);
  }

  /**
   * `pr`: the merge, undefined for a refusal. As the proxy middleware reads a merge: an
   * incomplete one means a backend failed.
   */
  private measure(pr: ProxyResponse | undefined, status: number, bytes: number, started: number): void {
    const o = mergeLaneOutcome;
    o.status = status;
    o.bytes = bytes;
    o.reach = pr === undefined ? 'refused' : 'called';
    if (pr !== undefined) {
      o.proxyComplete = pr.isComplete;
      o.proxyError = pr.error !== undefined || !pr.isComplete;
    }
    o.elapsedUs = (performance.now() - started) * 1000;
    for (const meter of this.meters) meter.record(o);
  }
}

class MergeLaneReply implements ProxyDone {
  constructor(
    private readonly answers: MergeLaneAnswers,
    private readonly reply: LaneReply,
    private readonly started: number,
  ) {}

  done(pr: ProxyResponse): void {
    this.answers.write(pr, this.reply, this.started);
  }
}

/** A direct no-op call in flight: renders the backend's answer (or failure) into the reply. */
class DirectNoopCall implements CallSink {
  constructor(
    private readonly reply: Reply,
    private readonly passed: (res: BackendResponse) => GwResponse,
    private readonly failed: (err: unknown) => GwResponse,
  ) {}

  resolved(res: HttpResult): void {
    this.reply.answer(this.passed(res));
  }

  rejected(err: Error): void {
    this.reply.answer(this.failed(err));
  }
}

export function compileEndpoint(
  endpoint: EndpointConfig,
  index: number,
  service: ServiceConfig,
  rt: EndpointRuntime,
): CompiledEndpoint {
  const path = `$.endpoints[${index}]`;
  const method = (endpoint.method ?? 'GET').toUpperCase();
  const outputEncoding = endpoint.output_encoding ?? service.output_encoding ?? 'json';
  const noop = outputEncoding === 'no-op';
  const timeoutMs =
    parseDurationMs(endpoint.timeout) ?? parseDurationMs(service.timeout) ?? DEFAULT_TIMEOUT_MS;
  const cacheTtlMs = parseDurationMs(endpoint.cache_ttl) ?? parseDurationMs(service.cache_ttl) ?? 0;
  const cacheControl = cacheTtlMs > 0 ? `public, max-age=${Math.floor(cacheTtlMs / 1000)}` : undefined;
  const proxyCfg = nsConfig(endpoint.extra_config, 'proxy');
  const sequential = proxyCfg?.sequential === true;
  const label = `${method} ${endpoint.endpoint}`;
  const backendConfigs = endpoint.backend ?? [];
  // As KrakenD: the endpoint-level flatmap only loads when there is a merge (several backends).
  const flatmapOps = backendConfigs.length > 1 ? flatmapFromExtraConfig(endpoint.extra_config) : undefined;
  const endpointFlatmap = flatmapOps && flatmapOps.length > 0 ? compileFlatmap(flatmapOps) : undefined;
  const wasm =
    rt.transform === 'wasm' && bytePathEligible(endpoint, outputEncoding, sequential, proxyCfg)
      ? createWasmEndpointTransform({
          backends: backendConfigs.map((b) => ({
            ...manipulationFromBackend(b),
            isCollection: b.is_collection === true,
          })),
          endpointFlatmap: flatmapOps,
        })
      : undefined;
  const backends = backendConfigs.map((b, i) =>
    compileBackend(endpoint, b, i, path, service, rt, timeoutMs, noop, wasm !== undefined),
  );

  const noopStage = noop && backends.length > 0 ? compileNoop(backends[0], rt.logger, label) : undefined;
  const byteMerge =
    noopStage === undefined && wasm ? compileByteMerge(backends, wasm, rt.logger, label) : undefined;
  let proxy: ProxyStage =
    noopStage !== undefined
      ? noopStage
      : byteMerge
        ? byteMerge.stage
        : compileMerge(backends, endpointFlatmap, sequential, rt.logger, label);
  const staticMw = compileStaticProxy(proxyCfg?.static);
  if (staticMw) proxy = staticMw(proxy);
  proxy = applyFeatures<ProxyStage>(
    endpoint.extra_config,
    (m) => m.proxy as never,
    proxy,
    (ns) => compileContext(rt, service, `${path}.extra_config["${ns}"]`, endpoint),
  );
  const uninstrumentedProxy = proxy;
  const proxyInstruments: ProxyMiddleware[] = [];
  proxy = applyFeatures<ProxyStage>(
    service.extra_config,
    (m) => m.instrumentProxy as never,
    proxy,
    (ns) => compileContext(rt, service, `$.extra_config["${ns}"]`, endpoint),
    proxyInstruments,
  );

  const encoder = getEncoder(outputEncoding) ?? getEncoder('json')!;
  const versionHeader = rt.versionHeader;
  const returnErrorMsg = rt.returnErrorMsg;

  const renderError = (pr: ProxyResponse): GwResponse => {
    const err = pr.error;
    const status = err ? err.status : 500;
    let body: Buffer | string = '';
    if (returnErrorMsg && err) {
      // return_error_code + return_error_msg: the backend's own error body; otherwise the gateway's reading.
      const backendBody = err.backendStatus !== undefined && err.status === err.backendStatus && err.body;
      body = backendBody && backendBody.length > 0 ? backendBody : err.message;
    }
    const headers: ResponseHeaders = { 'x-krakend': versionHeader, 'x-krakend-completed': 'false' };
    if (body !== '') headers['content-type'] = 'text/plain; charset=utf-8';
    if (pr.headers) for (const k in pr.headers) headers[k] = pr.headers[k];
    return { status, headers, body };
  };
  const render = (pr: ProxyResponse, req: GwRequest): GwResponse => {
    if (pr.raw !== undefined)
      return renderNoop({ status: pr.status ?? 200, headers: pr.headers ?? {}, body: pr.raw }, versionHeader);
    if (pr.data === null && pr.json === undefined) return renderError(pr);
    // As lura's router (router/gin/endpoint.go): complete, and cacheable, only with non-empty data.
    if (pr.json !== undefined) {
      const complete = pr.isComplete && pr.json.length > 2; // the byte path writes `{}` for no data
      const headers: ResponseHeaders = {
        'content-type': JSON_TYPE,
        'x-krakend': versionHeader,
        'x-krakend-completed': complete ? 'true' : 'false',
      };
      if (complete && cacheControl) headers['cache-control'] = cacheControl;
      return { status: pr.status ?? 200, headers, body: pr.json };
    }
    const complete = pr.isComplete && hasKeys(pr.data);
    const encoded = encoder(pr.data, req);
    const headers: ResponseHeaders = {
      'content-type': encoded.contentType,
      'x-krakend': versionHeader,
      'x-krakend-completed': complete ? 'true' : 'false',
    };
    if (complete && cacheControl) headers['cache-control'] = cacheControl;
    if (pr.headers) for (const k in pr.headers) headers[k] = pr.headers[k];
    return { status: pr.status ?? 200, headers, body: encoded.body };
  };

  let stage: EndpointStage = async (req) => {
    let pr: ProxyResponse;
    try {
      pr = await proxy(req);
    } catch (err) {
      pr = { data: null, isComplete: false, error: toBackendError(err) };
    }
    return render(pr, req);
  };
  let direct: DirectStage | undefined;
  let laneSpec: LaneSpec | undefined;
  if (noopStage !== undefined) {
    const b = backends[0];
    const passed = (res: BackendResponse): GwResponse => renderNoop(res, versionHeader);
    const failed = (err: unknown): GwResponse => renderError(noopFailure(b, rt.logger, label, err));
    const call = b.direct;
    if (proxy === noopStage) {
      // Nothing between the backend and the client: one `then` from the backend's answer to the
      // response, instead of three promise hops (no-op proxy stage, async stage, render).
      stage = (req) => callNoop(b, req, passed, failed);
      if (call !== undefined)
        direct = (req, reply) => {
          let breq: BackendRequest;
          try {
            breq = buildBackendRequest(b, req, undefined);
          } catch (err) {
            reply.answer(failed(err));
            return;
          }
          call(breq, new DirectNoopCall(reply, passed, failed));
        };
    }
    // The lane also serves endpoints whose only middlewares are telemetry's (it records for them).
    const proxyMeters = uninstrumentedProxy === noopStage ? metersOf(proxyInstruments) : undefined;
    const lanePath = b.builder.lanePath;
    if (
      proxyMeters !== undefined &&
      b.laneMeters !== undefined &&
      lanePath !== undefined &&
      method === 'GET' &&
      b.builder.method === 'GET' &&
      (backendConfigs[0].url_pattern ?? '/').startsWith('/') &&
      b.hosts.every((origin) => rt.pools.servesWithGwClient(origin))
    )
      laneSpec = {
        pools: rt.pools,
        origins: b.hosts,
        nextOrigin: b.nextHost,
        path: lanePath,
        timeoutMs: b.timeoutMs,
        userAgent: rt.userAgent,
        versionHeader,
        rendered: passed,
        failed,
        forwarded: b.builder.laneForwards
          ? { headers: b.builder.headers, acceptEncoding: b.builder.forwardsAcceptEncoding }
          : undefined,
        guards: [],
        meters: [...proxyMeters, ...b.laneMeters],
      };
  }
  const mergeDirect = byteMerge?.direct;
  if (mergeDirect !== undefined && proxy === byteMerge?.stage)
    direct = (req, reply) => mergeDirect(req, new RenderedReply(render, req, reply));
  const fused = stage;
  const middlewares: EndpointMiddleware[] = [];
  stage = applyFeatures<EndpointStage>(
    endpoint.extra_config,
    (m) => m.endpoint as never,
    stage,
    (ns) => compileContext(rt, service, `${path}.extra_config["${ns}"]`, endpoint),
    middlewares,
  );
  const endpointInstruments: EndpointMiddleware[] = [];
  stage = applyFeatures<EndpointStage>(
    service.extra_config,
    (m) => m.instrumentEndpoint as never,
    stage,
    (ns) => compileContext(rt, service, `$.extra_config["${ns}"]`, endpoint),
    endpointInstruments,
  );
  // Any endpoint middleware (or instrumentation) must see every request: no direct path then.
  // The lane stays when each middleware is a guard (it admits or refuses, as a rate limit does)
  // and each instrumentation has a lane meter.
  if (stage !== fused) direct = undefined;
  let lane: LaneStage | undefined;
  const endpointMeters = laneSpec !== undefined ? metersOf(endpointInstruments) : undefined;
  if (laneSpec !== undefined && endpointMeters !== undefined) {
    const guards: LaneGuard[] = [];
    for (const mw of middlewares) if (mw.laneGuard !== undefined) guards.push(mw.laneGuard);
    if (guards.length === middlewares.length)
      lane = compileLane({ ...laneSpec, guards, meters: [...endpointMeters, ...laneSpec.meters] });
  }
  // A byte merge whose endpoint middlewares are all guards (rate limits, JWT validation) and whose
  // instrumentations all have lane meters: its GETs may take the merge lane too.
  const mergeLane = byteMerge?.lane;
  const mergeMeters =
    mergeLane !== undefined && uninstrumentedProxy === byteMerge?.stage
      ? metersOf([...endpointInstruments, ...proxyInstruments])
      : undefined;
  if (
    mergeLane !== undefined &&
    mergeMeters !== undefined &&
    method === 'GET' &&
    middlewares.every((mw) => mw.laneGuard !== undefined)
  ) {
    const guards =
      middlewares.length > 0 ? new LaneGuards(middlewares.map((mw) => mw.laneGuard!)) : undefined;
    const answers = new MergeLaneAnswers(render, versionHeader, cacheControl, mergeMeters);
    const metered = mergeMeters.length > 0;
    lane = (params, query, headers, clientIp, reply) => {
      const started = metered ? performance.now() : 0;
      if (guards !== undefined) {
        const map = guards.readsHeaders ? headerMapOf(headers) : NO_HEADER_MAP;
        const verdict = guards.verdict(requestOf(params, query, map, clientIp));
        if (verdict === NOT_READY) return false;
        if (verdict !== undefined) {
          answers.refuse(verdict, reply, started);
          return true;
        }
      }
      mergeLane(
        params,
        query,
        headers.getHeader(HEADER_KEYS.contentType),
        headers.getHeader(HEADER_KEYS.host),
        clientIp,
        new MergeLaneReply(answers, reply, started),
      );
      return true;
    };
  }
  const responsePath =
    lane && noop
      ? 'no-op pass-through lane'
      : noop
        ? 'no-op'
        : lane
          ? 'wasm bytes, merge lane'
          : wasm
            ? 'wasm bytes'
            : 'js objects';
  rt.logger.debug(`[ENDPOINT: ${label}] response path: ${responsePath}`);
  return { method, path: endpoint.endpoint, stage, direct, lane };
}

export type { BackendMiddleware, EndpointMiddleware, ProxyMiddleware };
