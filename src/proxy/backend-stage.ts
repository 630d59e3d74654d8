// One backend of an endpoint, as Lura's proxy/http.go and its factory build it: the request
// (forwarding rules and url_pattern: backend-request.ts), the HTTP call, its status check and
// decoding, and the backend layer's middlewares around the call (its own extra_config, then
// telemetry). Compiled once; per request `call` runs it and tells a BackendSink how it ended.
//
// The choices made here, each logged with `-d` (`describe`):
// - the request head: written from a template (backend-head.ts) when the backend forwards no
//   client header and its url_pattern reads only params and the query, else from the request
//   builder's header map;
// - how the answer's head is read (HeadMode): passed on as bytes for a no-op endpoint that
//   nothing else reads, only what the call needs for a byte-path merge, a full map otherwise;
// - the middlewares: none (the call itself), meters only (the call, timed), or promise
//   middlewares around a promise form of the call.

import { createHostBalancer } from '../qos/balancer.js';
import {
  compileBackendManipulation,
  type DataTransform,
  manipulationFromBackend,
} from '../transform/index.js';
import {
  type BackendConfig,
  BackendError,
  type BackendMiddleware,
  type BackendRequest,
  type BackendResponse,
  type BackendStage,
  type EndpointConfig,
  type GwRequest,
  type Meter,
  type ServiceConfig,
} from '../types.js';
import { BackendHeadTemplate } from './backend-head.js';
import {
  type CompiledRequestBuilder,
  compileRequestBuilder,
  type SequentialValues,
} from './backend-request.js';
import { applyFeatures, compileContext, nsConfig, type PipelineRuntime } from './compile.js';
import { DeadlineList } from './deadlines.js';
import { BackendCallOptions } from './dispatch.js';
import { getDecoder, getDecoderKeepingNumbers } from './encodings.js';
import { DecodeError } from './errors.js';
import { HeadMode } from './h1-parser.js';
import { type CallSink, type HttpResult, startBackendCall } from './http-client.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './interceptors.js';
import { metersOf, outcome } from './layers.js';
import { parseDurationMs, sanitizeHost } from './util.js';

/** Hears how one backend call ended: exactly one of the two, once. */
export interface BackendSink {
  resolved(res: BackendResponse): void;
  rejected(err: unknown): void;
}

/** What the endpoint asks of its backends' answers. */
export enum AnswerUse {
  /** Decoded into data (`encoding`), for a merge of objects, a sequence, any proxy middleware. */
  Data,
  /** Checked and kept as bytes, for the WASM merge (the call reads no backend header). */
  Bytes,
  /** Passed on as it came (no-op), header lines as bytes when nothing reads them. */
  Passed,
  /** Passed on as it came (no-op), with a header map (a proxy middleware reads it). */
  PassedMap,
}

export interface CompiledBackend {
  index: number;
  /** `GET /users/{id}`, for log lines. */
  label: string;
  noop: boolean;
  /** The backend's own manipulation (allow, deny, mapping, target, group, flatmap). */
  transform: DataTransform | undefined;
  /** `return_error_details`' alias. */
  detailsAlias: string | undefined;
  builder: CompiledRequestBuilder;
  /** Data of an answer: decoded by the call, or here when a middleware kept only bytes. */
  dataOf(res: BackendResponse): Record<string, unknown>;
  /** Calls the backend for `req` (`seq`: a sequence's previous answers). */
  call(req: GwRequest, seq: SequentialValues | undefined, sink: BackendSink): void;
  /** The answer's header lines come back as bytes (HeadMode.Pass), for a no-op render to pass on. */
  passesHead: boolean;
  /** The request headers the call reads (lower-case); null: any (a middleware may read them all). */
  reads: readonly string[] | null;
  /** The call's choices, for the `-d` log. */
  describe: string;
}

const NO_HEADER_LIST: string[] = [];
/** Where a no-op call goes: written, never read (its status is not checked). */
const UNREAD_TARGET: CallTarget = { origin: '', target: '' };
/** A no-op body larger than this (or of unknown size) is piped to the client as it arrives. */
const STREAM_ABOVE_BYTES = 64 * 1024;
/** The request headers a head written from the template reads (backend-head.ts). */
const TEMPLATE_READS: readonly string[] = Object.freeze(['content-type', 'host']);

/** Where a call went, for the text of its error (read only when the answer is refused). */
export interface CallTarget {
  origin: string;
  target: string;
}

/**
 * Lura's text for a refused status: `invalid status code 404 [GET /users/{{.Id}}]: <URL>`, the
 * prefix being the backend's method and url_pattern as Lura's config holds them
 * (luraproject/lura transport/http/client/status.go, ErrInvalidStatus and GetHTTPStatusHandler).
 */
function invalidStatus(
  res: HttpResult,
  exposeCode: boolean,
  errPrefix: string,
  at: CallTarget,
): BackendError {
  return new BackendError(
    `invalid status code ${res.status} ${errPrefix} ${at.origin}${at.target}`,
    exposeCode ? res.status : 500,
    res.body,
    res.headers,
    res.status,
    exposeCode,
  );
}

/**
 * A url_pattern as Lura's config rewrites it (config/config.go, initBackendURLMappings and
 * uri.go CleanPath): a leading `/`, and each `{name}` as the template key `{{.Name}}`.
 */
function luraUrlPattern(pattern: string): string {
  const clean = `/${pattern.replace(/^\//, '')}`;
  return clean.replace(
    /\{([\w\-.:/]+)\}/g,
    (_m, name: string) => `{{.${name[0].toUpperCase()}${name.slice(1)}}}`,
  );
}

/**
 * The most a backend's answer may inflate to when gw undoes its Content-Encoding: the router's
 * `max_payload_size` when set (the same bound a client's body has), else 64 MiB.
 */
function maxDecompressedBytes(service: ServiceConfig): number {
  const max = (service.extra_config?.router as { max_payload_size?: unknown } | undefined)?.max_payload_size;
  return typeof max === 'number' && max > 0 ? max : DEFAULT_MAX_DECOMPRESSED_BYTES;
}

export function compileBackend(
  endpoint: EndpointConfig,
  backend: BackendConfig,
  index: number,
  endpointPath: string,
  service: ServiceConfig,
  rt: PipelineRuntime,
  endpointTimeoutMs: number,
  use: AnswerUse,
  keepNumberLiterals = false,
): CompiledBackend {
  const path = `${endpointPath}.backend[${index}]`;
  const method = (backend.method ?? endpoint.method ?? 'GET').toUpperCase();
  const builder = compileRequestBuilder(endpoint, backend, { method, versionHeader: rt.userAgent });
  const hosts = (backend.host && backend.host.length > 0 ? backend.host : (service.host ?? [])).map((h) =>
    backend.disable_host_sanitize ? h : sanitizeHost(h),
  );
  // Only a backend whose transport lives in its extra_config (AMQP, Pub/Sub, Lambda: the check
  // refuses any other without a host) has none; gw does not implement those, so each call fails.
  const noTransport =
    hosts.length === 0
      ? new Error(`${path}: no host, and gw does not implement this backend's transport`)
      : undefined;
  // A no-op endpoint's backend, or a backend whose own `encoding` is no-op (a sequence reads its body).
  const noop = use === AnswerUse.Passed || use === AnswerUse.PassedMap || backend.encoding === 'no-op';
  const encoding = noop ? 'no-op' : (backend.encoding ?? 'json');
  const decoderOf = keepNumberLiterals ? getDecoderKeepingNumbers : getDecoder;
  const decoder = noop ? undefined : (decoderOf(encoding) ?? decoderOf('json')!);
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
  // Round-robin; a circuit breaker may pin the host (skipping open ones): src/qos/balancer.ts.
  const balancer = createHostBalancer(backend, hosts);
  const single = hosts.length === 1;
  const deadlines = new DeadlineList();
  const maxBodyBytes = maxDecompressedBytes(service);

  /** Lura's http stage after the call: 200 and 201 only, then the body decoded (or kept as bytes). */
  const errPrefix = `[${backend.method ?? endpoint.method ?? 'GET'} ${luraUrlPattern(backend.url_pattern ?? '/')}]:`;
  const accept = (res: HttpResult, at: CallTarget): BackendResponse => {
    if (noop) return res;
    if (res.status !== 200 && res.status !== 201) throw invalidStatus(res, returnErrorCode, errPrefix, at);
    if (use === AnswerUse.Bytes) {
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

  /** The HTTP call of a built request (a middleware may have changed it). */
  /** Starts the call, noting in `at` where it goes. */
  const httpCall = (
    breq: BackendRequest,
    sink: CallSink,
    headMode: HeadMode,
    at: CallTarget,
    streamAbove = -1,
  ): void => {
    if (noTransport !== undefined) {
      sink.rejected(noTransport);
      return;
    }
    let origin = single ? hosts[0] : balancer.origin(breq);
    let target = breq.path;
    // An absolute URL (martian url.Modifier/port.Modifier, lua-backend url()) replaces the host.
    if (target.charCodeAt(0) !== 47 && URL.canParse(target)) {
      const u = new URL(target);
      origin = u.origin;
      target = `${u.pathname}${u.search}`;
    }
    at.origin = origin;
    at.target = target;
    const headers: string[] = [];
    const h = breq.headers;
    for (const k in h) headers.push(k, h[k]);
    const remaining = breq.deadline > 0 ? breq.deadline - Date.now() : timeoutMs;
    startBackendCall(
      rt.pools,
      new BackendCallOptions(
        origin,
        breq.method,
        target,
        headers,
        breq.body,
        undefined,
        headMode,
        breq.timings,
        remaining > 0 ? remaining : 1,
        deadlines,
        true,
        // Undone unless a no-op endpoint passes on the encoding its client asked for.
        !noop || !builder.forwardsAcceptEncoding || breq.origin.headers['accept-encoding'] === undefined,
        maxBodyBytes,
      ),
      sink,
      streamAbove,
    );
  };

  const build = (req: GwRequest, seq: SequentialValues | undefined): BackendRequest => ({
    method: builder.method,
    path: builder.path(req, seq),
    headers: builder.headers(req),
    body: req.body,
    params: req.params,
    origin: req,
    deadline: Date.now() + timeoutMs,
  });

  // The promise form of the call, for the middlewares around it (Lura's backend proxy stack).
  const httpStage: BackendStage = (breq) =>
    new Promise<BackendResponse>((resolved, rejected) => {
      const at: CallTarget = { origin: '', target: '' };
      httpCall(
        breq,
        {
          resolved: (res) => {
            try {
              resolved(accept(res, at));
            } catch (err) {
              rejected(err);
            }
          },
          rejected,
        },
        HeadMode.Map,
        at,
      );
    });
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
  const concurrent = noop ? 1 : Math.max(1, Math.floor(endpoint.concurrent_calls ?? 1));
  // Without middlewares (meters aside) and made once, the call runs in continuation style.
  const meters = featured === httpStage && concurrent === 1 ? metersOf(instruments) : undefined;
  const direct = meters !== undefined;
  // A lean head has no Content-Type: return_error_code with return_error_msg answers with the
  // backend's (router/gin/endpoint.go, ErrorResponseWriter), so such a backend reads a map.
  const readsErrorType = returnErrorCode && rt.returnErrorMsg;
  const headMode = !direct
    ? HeadMode.Map
    : use === AnswerUse.Passed
      ? HeadMode.Pass
      : use === AnswerUse.Bytes && !readsErrorType
        ? HeadMode.Lean
        : HeadMode.Map;
  // A no-op answer passed on as bytes streams to its client when its body is large or of
  // unknown size: a slow client then holds a window of it, not all of it.
  const streamAbove = headMode === HeadMode.Pass ? STREAM_ABOVE_BYTES : -1;
  const template =
    direct &&
    !builder.forwardsClientHeaders &&
    method === 'GET' &&
    (backend.url_pattern ?? '/').startsWith('/') &&
    hosts.every((origin) => rt.pools.servesWithGwClient(origin))
      ? new BackendHeadTemplate(rt.userAgent, hosts)
      : undefined;
  const metered = meters !== undefined && meters.length > 0 ? meters : undefined;

  const compiled: CompiledBackend = {
    index,
    label: `${method} ${backend.url_pattern}`,
    noop,
    transform: noop ? undefined : compileBackendManipulation(manipulationFromBackend(backend)),
    detailsAlias,
    builder,
    dataOf: (res) => res.data ?? (decoder ? decoder(res.body, isCollection) : {}),
    call: direct
      ? (req, seq, sink) => {
          // A no-op answer needs no check and no decoding: unmetered, the sink hears the call itself.
          const checked =
            noop && metered === undefined
              ? undefined
              : new BackendAnswer(sink, accept, metered, metered !== undefined ? performance.now() : 0);
          const answer: CallSink = checked ?? sink;
          // Where the call goes, read by the status check (a no-op answer is not checked).
          const at: CallTarget = checked ?? UNREAD_TARGET;
          // The head from the template: a request without body, to which no feature added headers
          // (propagate_claims).
          if (template !== undefined && req.body === null && req.extraBackendHeaders === undefined) {
            let target: string;
            try {
              target = builder.path(req, seq);
            } catch (err) {
              sink.rejected(err); // not built: no call for the meters to record
              return;
            }
            const host = single ? 0 : balancer.next();
            const h = req.headers;
            let head: string;
            try {
              head = template.head(target, h['content-type'] ?? '', h.host ?? '', req.clientIp, host);
            } catch (err) {
              answer.rejected(err as Error);
              return;
            }
            at.origin = hosts[host];
            at.target = target;
            startBackendCall(
              rt.pools,
              new BackendCallOptions(
                hosts[host],
                'GET',
                target,
                NO_HEADER_LIST,
                null,
                head,
                headMode,
                undefined,
                timeoutMs,
                deadlines,
                true,
                // The template asks for gzip itself (Accept-Encoding is not forwarded): undone here.
                true,
                maxBodyBytes,
              ),
              answer,
              streamAbove,
            );
            return;
          }
          let breq: BackendRequest;
          try {
            breq = build(req, seq);
          } catch (err) {
            sink.rejected(err);
            return;
          }
          httpCall(breq, answer, headMode, at, streamAbove);
        }
      : (req, seq, sink) => {
          let breq: BackendRequest;
          try {
            breq = build(req, seq);
          } catch (err) {
            sink.rejected(err);
            return;
          }
          callStage(stage, breq, concurrent).then(
            (res) => sink.resolved(res),
            (err) => sink.rejected(err),
          );
        },
    passesHead: headMode === HeadMode.Pass,
    // A head from the template reads two headers (a request that falls back to the header map has
    // a body or feature-added headers: a front reads all its headers then).
    reads: !direct
      ? null
      : template !== undefined
        ? builder.pathReads.length === 0
          ? TEMPLATE_READS
          : [...TEMPLATE_READS, ...builder.pathReads]
        : builder.reads,
    describe: [
      `${method} ${backend.url_pattern}`,
      !direct
        ? concurrent > 1
          ? `${concurrent} concurrent calls through the backend middlewares`
          : 'through the backend middlewares'
        : metered !== undefined
          ? 'the call, metered'
          : 'the call',
      template !== undefined ? 'head from a template' : 'head from the header map',
      headMode === HeadMode.Pass
        ? 'answer head passed as bytes'
        : headMode === HeadMode.Lean
          ? 'answer head read lean'
          : 'answer head read into a map',
    ].join(', '),
  };
  return compiled;
}

/** Calls one backend's stage (concurrent_calls times when configured: the first good answer wins). */
function callStage(stage: BackendStage, breq: BackendRequest, concurrent: number): Promise<BackendResponse> {
  if (concurrent === 1) return stage(breq);
  return new Promise((resolve, reject) => {
    let failures = 0;
    let firstError: unknown;
    for (let i = 0; i < concurrent; i++) {
      stage(breq).then(resolve, (err) => {
        firstError ??= err;
        if (++failures === concurrent) reject(firstError);
      });
    }
  });
}

/**
 * One direct call's answer: the stage's check and decoding applied, the backend layer's meters
 * told (with what the check made of it), then the sink.
 */
class BackendAnswer implements CallSink, CallTarget {
  origin = '';
  target = '';

  constructor(
    private readonly sink: BackendSink,
    private readonly accept: (res: HttpResult, at: CallTarget) => BackendResponse,
    private readonly meters: readonly Meter[] | undefined,
    private readonly started: number,
  ) {}

  resolved(res: HttpResult): void {
    let accepted: BackendResponse;
    try {
      accepted = this.accept(res, this);
    } catch (err) {
      this.rejected(err as Error);
      return;
    }
    if (this.meters !== undefined) this.record(true, res.status);
    this.sink.resolved(accepted);
  }

  rejected(err: Error): void {
    if (this.meters !== undefined)
      this.record(false, err instanceof BackendError ? (err.backendStatus ?? 0) : 0);
    this.sink.rejected(err);
  }

  private record(ok: boolean, status: number): void {
    const o = outcome;
    o.reach = 'called';
    o.backendOk = ok;
    o.backendStatus = status;
    o.elapsedUs = (performance.now() - this.started) * 1000;
    for (const meter of this.meters!) meter.record(o);
  }
}
