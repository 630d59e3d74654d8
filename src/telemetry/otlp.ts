// OTLP push for `telemetry/opentelemetry` (exporters.otlp[]): traces and metrics with the official
// @opentelemetry packages. opentelemetry.ts imports this module dynamically, and only when an otlp
// exporter is configured: without one, nothing @opentelemetry is ever loaded.
//
// Traces: every worker thread has its own tracer provider and one batch span processor per
// exporter. A span is born and ends in the thread that serves the request, and the batch processor
// encodes and sends it later from a timer, off the request path; handing spans to another thread
// would cost a structured clone per span on the hot path instead. The price is one keep-alive
// connection to the collector per thread, which collectors handle as a matter of course.
// Spans are linked without a context manager (AsyncLocalStorage costs every await): the current
// span rides on the request object itself (a symbol property) from the global layer to the proxy
// layer, and the backend layer finds it through `BackendRequest.origin`.
// The backend stage's round_trip / read_payload / detailed_connection become child spans of the
// backend span, built when the call ends from the times the HTTP client wrote into
// `BackendRequest.timings` (given only when one of them is on: otherwise the client times nothing).
//
// Metrics: the aggregating thread pushes, every `metric_reporting_period` seconds, the layer
// series that every thread records anyway (the same ones /metrics shows): a MetricProducer turns
// `hub.collect()` into OTLP cumulative histograms with the bounds and names of prometheus.ts.

import {
  type Attributes,
  type Context,
  DiagLogLevel,
  defaultTextMapGetter,
  diag,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  trace,
  ValueType,
} from '@opentelemetry/api';
import {
  CompositePropagator,
  setGlobalErrorHandler,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  MeterProvider,
  type MetricData,
  type MetricProducer,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { canonicalHeader } from '../proxy/backend-request.js';
import type {
  BackendConfig,
  BackendMiddleware,
  BackendRequest,
  BackendTimings,
  EndpointConfig,
  EndpointMiddleware,
  GwRequest,
  GwResponse,
  ProxyMiddleware,
} from '../types.js';
import { BackendError } from '../types.js';
import type { TelemetryHub } from './hub.js';
import {
  anyPhase,
  BACKEND_DURATION,
  BACKEND_GET_CONN,
  BACKEND_READ_PAYLOAD,
  BACKEND_ROUND_TRIP,
  KNOWN_METHODS,
  newTimings,
  OTHER_METHOD,
  type PhaseOptions,
  PROXY_DURATION,
  SERVER_DURATION,
  SERVER_SIZE,
} from './instrument.js';
import { type AggregatedSeries, cumulativeBuckets, STATIC_LABEL_PREFIX } from './metrics-store.js';
import {
  type OtelConfig,
  type OtlpExporter,
  type PropagatorName,
  parsePropagators,
} from './opentelemetry.js';
import { DURATION_BUCKETS_S, SIZE_BUCKETS_BYTES } from './prometheus.js';

/** KrakenD's defaults: every request traced, metrics pushed every 30 s. */
export const DEFAULT_TRACE_SAMPLE_RATE = 1;
export const DEFAULT_METRIC_REPORTING_PERIOD_S = 30;
const GRPC_PORT = 4317;
const HTTP_PORT = 4318;
const SCOPE = { name: 'gw', version: '0.1.0' };

/** Where an exporter sends `signal` (gRPC: the collector's origin; HTTP: the /v1/<signal> URL). */
export function otlpUrl(e: OtlpExporter, signal: 'traces' | 'metrics'): string {
  const http = e.use_http === true;
  const port = e.port ?? (http ? HTTP_PORT : GRPC_PORT);
  let base = e.host.replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(base))
    base = `http://${base.includes(':') && !base.startsWith('[') ? `[${base}]` : base}`;
  const u = new URL(base);
  if (u.port === '') u.port = String(port);
  const origin = `${u.protocol}//${u.host}`;
  return http ? `${origin}/v1/${signal}` : origin;
}

/** Exporter errors as warnings, at most one line per `everyMs` (a collector that is down says so once). */
function rateLimitedWarn(logger: Logger, everyMs: number): (message: string) => void {
  let last = 0;
  let suppressed = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < everyMs) {
      suppressed++;
      return;
    }
    logger.warn(
      `telemetry/opentelemetry otlp: ${message}${suppressed > 0 ? ` (${suppressed} more since the last report)` : ''}`,
    );
    last = now;
    suppressed = 0;
  };
}

function envInt(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
    p.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

const SPAN = Symbol('gw.otel.span');
/** The context a caller sent (its trace, its baggage), extracted once by the first layer. */
const CALLER = Symbol('gw.otel.caller');
type Carrier = { [SPAN]?: Span; [CALLER]?: Context };

/** The propagators `OTEL_PROPAGATORS` chose, and the request headers that carry a caller's context. */
export interface Propagation {
  propagator: TextMapPropagator;
  /** Lower-case header names: a request with none of them has no caller context to extract. */
  carriers: string[];
}

export function propagationOf(names: PropagatorName[]): Propagation {
  const propagators: TextMapPropagator[] = [];
  const carriers = new Set<string>();
  for (const name of names) {
    if (name === 'tracecontext') {
      propagators.push(new W3CTraceContextPropagator());
      carriers.add('traceparent');
    } else if (name === 'baggage') {
      propagators.push(new W3CBaggagePropagator());
      carriers.add('baggage');
    } else if (name === 'b3' || name === 'b3multi') {
      // B3 extraction reads both forms; the name decides the one backends receive.
      const injectEncoding = name === 'b3' ? B3InjectEncoding.SINGLE_HEADER : B3InjectEncoding.MULTI_HEADER;
      propagators.push(new B3Propagator({ injectEncoding }));
      carriers.add('b3');
      carriers.add('x-b3-traceid');
    }
  }
  return { propagator: new CompositePropagator({ propagators }), carriers: [...carriers] };
}

/** Backend request headers are keyed by canonical name: `traceparent` must replace a forwarded `Traceparent`. */
const canonicalSetter: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    carrier[canonicalHeader(key)] = value;
  },
};

function carriesContext(headers: Record<string, string>, carriers: string[]): boolean {
  for (let i = 0; i < carriers.length; i++) if (headers[carriers[i]] !== undefined) return true;
  return false;
}

/**
 * The compiled decisions of the global layer (config read once, here). The proxy and backend
 * layers' decisions may differ per endpoint and backend (overrides): each middleware gets its own.
 */
export interface TraceLayers {
  global: boolean;
  /** Incoming `traceparent` is honoured and backends receive one (unless disable_propagation). */
  propagate: boolean;
  globalHeaders: boolean;
}

/** `propagation`: with no propagator (`OTEL_PROPAGATORS=none`) nothing is propagated either. */
export function traceLayers(cfg: OtelConfig, propagation: Propagation): TraceLayers {
  return {
    global: cfg.layers?.global?.disable_traces !== true,
    propagate: cfg.layers?.global?.disable_propagation !== true && propagation.carriers.length > 0,
    globalHeaders: cfg.layers?.global?.report_headers === true,
  };
}

/** The proxy span of one endpoint, as its config decided. */
export interface ProxySpanOptions {
  reportHeaders: boolean;
  /** Static attributes (`traces_static_attributes`). */
  attributes: Attributes;
}

/** The backend span of one backend, as its config decided. */
export interface BackendSpanOptions {
  /** Whether the backend stage has a span (otherwise the backend only gets the trace context). */
  span: boolean;
  reportHeaders: boolean;
  /** Static attributes (`static_attributes` of the backend stage's traces). */
  attributes: Attributes;
  /** Child spans of the call's phases (`round_trip`, `read_payload`, `detailed_connection`). */
  phases: PhaseOptions;
}

/** Names of the phase spans (detailed_connection: the ones of Go's otelhttptrace, as in krakend-otel). */
export const PHASE_SPANS = {
  roundTrip: 'round_trip',
  readPayload: 'read_payload',
  connection: 'http.getconn',
  dns: 'http.dns',
  connect: 'http.connect',
} as const;

function headerAttributes(span: Span, prefix: string, headers: Record<string, string>): void {
  for (const k in headers) span.setAttribute(`${prefix}${k.toLowerCase()}`, [headers[k]]);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The middlewares of the three layers, for one thread's tracer. */
export class OtlpTracing {
  private readonly ids = new RandomIdGenerator();

  /**
   * `rootRate`: the share of new traces (no caller context) that are recorded. The decision is
   * taken here, before the SDK: a trace that is sampled out costs two ids and one small object
   * (its context still goes to the backends, flagged unsampled), not three SDK spans.
   */
  constructor(
    private readonly tracer: Tracer,
    readonly layers: TraceLayers,
    private readonly rootRate: number,
    private readonly propagation: Propagation,
  ) {}

  /**
   * The span of a layer. Under an unsampled trace there are no child spans (the parent-based
   * sampler would drop them): the enclosing span stands for the layer, and its end() is a no-op.
   */
  private start(name: string, options: SpanOptions, req: GwRequest): Span {
    const enclosing = (req as Carrier)[SPAN];
    if (enclosing !== undefined) {
      if ((enclosing.spanContext().traceFlags & 1) === 0) return enclosing;
      return this.tracer.startSpan(name, options, trace.setSpan(ROOT_CONTEXT, enclosing));
    }
    if (this.layers.propagate && carriesContext(req.headers, this.propagation.carriers)) {
      const caller = this.propagation.propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
      (req as Carrier)[CALLER] = caller;
      if (trace.getSpanContext(caller) !== undefined) return this.tracer.startSpan(name, options, caller);
    }
    if (this.rootRate < 1 && (this.rootRate <= 0 || Math.random() >= this.rootRate))
      return trace.wrapSpanContext({
        traceId: this.ids.generateTraceId(),
        spanId: this.ids.generateSpanId(),
        traceFlags: 0,
      });
    return this.tracer.startSpan(name, options, ROOT_CONTEXT);
  }

  /** Global layer: one SERVER span per request of the endpoint. */
  endpoint(endpoint: EndpointConfig): EndpointMiddleware {
    const method = (endpoint.method ?? 'GET').toUpperCase();
    const name = `${method} ${endpoint.endpoint}`;
    const options: SpanOptions = {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'http.route': endpoint.endpoint,
        'krakend.stage': 'global',
      },
    };
    const reportHeaders = this.layers.globalHeaders;
    return (next) => async (req) => {
      const span = this.start(name, options, req);
      (req as Carrier)[SPAN] = span;
      const recording = span.isRecording();
      if (recording) {
        span.setAttribute('url.path', req.path);
        if (reportHeaders) headerAttributes(span, 'http.request.header.', req.headers);
      }
      try {
        const res = await next(req);
        if (recording) {
          span.setAttribute('http.response.status_code', res.status);
          if (res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return res;
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
        throw err;
      } finally {
        span.end();
      }
    };
  }

  /**
   * Global layer of a request no endpoint serves: its SERVER span, from `startedMs` to `endedMs`
   * (performance.now()), started as the endpoints' server span is (caller context, sampling). The
   * HTTP semantic conventions name a server span without a matched route by its method alone
   * (`GET`; `HTTP` for a method they do not know) and leave `http.route` out.
   */
  unmatched(req: GwRequest, res: GwResponse, startedMs: number, endedMs: number): void {
    const known = KNOWN_METHODS.has(req.method);
    const span = this.start(
      known ? req.method : 'HTTP',
      { kind: SpanKind.SERVER, startTime: startedMs },
      req,
    );
    if (span.isRecording()) {
      span.setAttribute('http.request.method', known ? req.method : OTHER_METHOD);
      if (!known) span.setAttribute('http.request.method_original', req.method);
      span.setAttribute('krakend.stage', 'global');
      span.setAttribute('url.path', req.path);
      if (this.layers.globalHeaders) headerAttributes(span, 'http.request.header.', req.headers);
      span.setAttribute('http.response.status_code', res.status);
      if (res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(endedMs);
  }

  /** Proxy layer: the backends' calls, merge and manipulation of one request. */
  proxy(endpoint: EndpointConfig, opts: ProxySpanOptions): ProxyMiddleware {
    const name = `proxy ${endpoint.endpoint}`;
    const options: SpanOptions = {
      kind: SpanKind.INTERNAL,
      attributes: { ...opts.attributes, 'http.route': endpoint.endpoint, 'krakend.stage': 'proxy' },
    };
    const reportHeaders = opts.reportHeaders;
    return (next) => async (req) => {
      const span = this.start(name, options, req);
      (req as Carrier)[SPAN] = span;
      const recording = span.isRecording();
      if (recording && reportHeaders) headerAttributes(span, 'http.request.header.', req.headers);
      try {
        const res = await next(req);
        if (recording) {
          span.setAttribute('krakend.response.complete', res.isComplete);
          if (res.error !== undefined)
            span.setStatus({ code: SpanStatusCode.ERROR, message: res.error.message });
        }
        return res;
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
        throw err;
      } finally {
        span.end();
      }
    };
  }

  /**
   * Backend layer: a CLIENT span per call and the `traceparent` the backend receives. With the
   * backend stage's traces off, the backend still gets the enclosing span's context (propagation).
   * Returns undefined when there is nothing to do (no span and no propagation).
   */
  backend(
    endpoint: EndpointConfig,
    backend: BackendConfig,
    opts: BackendSpanOptions,
  ): BackendMiddleware | undefined {
    const { layers } = this;
    if (!opts.span && !layers.propagate) return undefined;
    const method = (backend.method ?? endpoint.method ?? 'GET').toUpperCase();
    const name = `backend ${method} ${backend.url_pattern}`;
    const options: SpanOptions = {
      kind: SpanKind.CLIENT,
      attributes: {
        ...opts.attributes,
        'http.request.method': method,
        'http.route': endpoint.endpoint,
        'url.path': backend.url_pattern,
        'krakend.stage': 'backend',
      },
    };
    const propagate = layers.propagate;
    const reportHeaders = opts.reportHeaders;
    // concurrent_calls sends one request object several times at once: each call gets its own
    // headers then, or the calls would overwrite each other's traceparent.
    const copyHeaders = Math.floor(endpoint.concurrent_calls ?? 1) > 1;
    const { propagator } = this.propagation;
    const withContext = (breq: BackendRequest, span: Span): BackendRequest => {
      const headers = copyHeaders ? { ...breq.headers } : breq.headers;
      const caller = (breq.origin as Carrier)[CALLER] ?? ROOT_CONTEXT;
      propagator.inject(trace.setSpan(caller, span), headers, canonicalSetter);
      return copyHeaders ? { ...breq, headers } : breq;
    };

    if (!opts.span) {
      return (next) => (breq) => {
        const enclosing = (breq.origin as Carrier)[SPAN];
        return next(enclosing !== undefined ? withContext(breq, enclosing) : breq);
      };
    }
    const { phases } = opts;
    if (anyPhase(phases)) return this.backendWithPhases(name, options, opts, propagate, withContext);
    return (next) => async (breq) => {
      const span = this.start(name, options, breq.origin);
      const recording = span.isRecording();
      const out = propagate ? withContext(breq, span) : breq;
      if (recording && reportHeaders) headerAttributes(span, 'http.request.header.', out.headers);
      try {
        const res = await next(out);
        if (recording) span.setAttribute('http.response.status_code', res.status);
        return res;
      } catch (err) {
        if (recording && err instanceof BackendError && err.backendStatus !== undefined)
          span.setAttribute('http.response.status_code', err.backendStatus);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
        throw err;
      } finally {
        span.end();
      }
    };
  }

  /**
   * The backend span with its phases as child spans. Their times come from the HTTP client
   * (performance.now()): the backend span gets explicit times on the same clock, so that the
   * children fall within it (the SDK would take each span's wall-clock offset apart, ±1 ms).
   */
  private backendWithPhases(
    name: string,
    options: SpanOptions,
    opts: BackendSpanOptions,
    propagate: boolean,
    withContext: (breq: BackendRequest, span: Span) => BackendRequest,
  ): BackendMiddleware {
    const { phases, reportHeaders } = opts;
    return (next) => async (breq) => {
      const started = performance.now();
      // epoch ms = wallClock + performance.now(), one offset for the span and its children
      const wallClock = Date.now() - started;
      const span = this.start(name, { ...options, startTime: wallClock + started }, breq.origin);
      if (!span.isRecording()) return next(propagate ? withContext(breq, span) : breq);
      // each call its own timings (concurrent_calls sends one request object several times)
      const timings = newTimings();
      const out: BackendRequest = { ...(propagate ? withContext(breq, span) : breq), timings };
      if (reportHeaders) headerAttributes(span, 'http.request.header.', out.headers);
      let failed = false;
      try {
        const res = await next(out);
        span.setAttribute('http.response.status_code', res.status);
        return res;
      } catch (err) {
        failed = true;
        if (err instanceof BackendError && err.backendStatus !== undefined)
          span.setAttribute('http.response.status_code', err.backendStatus);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
        throw err;
      } finally {
        const ended = performance.now();
        if (timings.dispatched > 0) this.phaseSpans(span, timings, phases, wallClock, ended, failed);
        span.end(wallClock + ended);
      }
    };
  }

  /**
   * The phases one call reached, as children of its backend span. A phase the call did not finish
   * ends with the call, in error when the call failed (a timeout waiting for the head, say).
   */
  private phaseSpans(
    parent: Span,
    t: BackendTimings,
    phases: PhaseOptions,
    wallClock: number,
    ended: number,
    failed: boolean,
  ): void {
    const context = trace.setSpan(ROOT_CONTEXT, parent);
    const child = (name: string, from: number, to: number, ctx = context, attributes?: Attributes): Span => {
      const span = this.tracer.startSpan(
        name,
        { kind: SpanKind.INTERNAL, startTime: wallClock + from, attributes },
        ctx,
      );
      if (to === 0 && failed) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(wallClock + (to > 0 ? to : ended));
      return span;
    };
    if (phases.detailedConnection) {
      const attributes: Attributes | undefined =
        t.reused !== undefined ? { 'http.conn.reused': t.reused } : undefined;
      const connection = child(PHASE_SPANS.connection, t.dispatched, t.sent, context, attributes);
      if (t.connectStart > 0) {
        const inner = trace.setSpan(ROOT_CONTEXT, connection);
        if (t.resolved > 0) child(PHASE_SPANS.dns, t.connectStart, t.resolved, inner);
        child(PHASE_SPANS.connect, t.resolved > 0 ? t.resolved : t.connectStart, t.sent, inner);
      }
    }
    if (phases.roundTrip && t.sent > 0) child(PHASE_SPANS.roundTrip, t.sent, t.head);
    if (phases.readPayload && t.head > 0) child(PHASE_SPANS.readPayload, t.head, t.done);
  }
}

interface FamilyView {
  name: string;
  description: string;
  unit: string;
  scale: number;
  bounds: number[];
}

/** The same families and bounds as /metrics (prometheus.ts), with their OpenTelemetry names. */
const FAMILIES: Record<string, FamilyView> = {
  [SERVER_DURATION]: {
    name: 'http.server.duration',
    description:
      'Time to answer a request, per endpoint; no route for requests no endpoint serves (global layer).',
    unit: 's',
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [SERVER_SIZE]: {
    name: 'http.server.response.size',
    description:
      'Size of the response body, per endpoint; no route for requests no endpoint serves (global layer).',
    unit: 'By',
    scale: 1,
    bounds: SIZE_BUCKETS_BYTES,
  },
  [PROXY_DURATION]: {
    name: 'krakend.proxy.duration',
    description: 'Time of the proxy layer (backend calls, merge and manipulation), per endpoint.',
    unit: 's',
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_DURATION]: {
    name: 'krakend.backend.duration',
    description: 'Time of one backend call (backend layer), per endpoint and backend.',
    unit: 's',
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_GET_CONN]: {
    name: 'krakend.backend.connection.get.duration',
    description:
      'Time a backend call waited for its connection: a pooled one, or a new one (DNS, connect, TLS).',
    unit: 's',
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_ROUND_TRIP]: {
    name: 'krakend.backend.round_trip.duration',
    description: 'Time from sending a backend request to receiving the response head.',
    unit: 's',
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_READ_PAYLOAD]: {
    name: 'krakend.backend.read_payload.duration',
    description: 'Time from the response head of a backend call to the end of its body.',
    unit: 's',
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
};

/** Internal label → OpenTelemetry attribute (prometheus.ts shows them with `_` for `.`). */
const ATTRIBUTES: Record<string, string> = {
  method: 'http.request.method',
  route: 'http.route',
  status: 'http.response.status_code',
  complete: 'krakend.response.complete',
  error: 'error',
  backend_method: 'krakend.backend.method',
  backend: 'url.path',
};

function attributesOf(labels: Record<string, string>): Attributes {
  const out: Attributes = {};
  const statics: Array<[string, string]> = [];
  for (const k in labels) {
    const v = labels[k];
    if (k.startsWith(STATIC_LABEL_PREFIX)) {
      statics.push([k.slice(STATIC_LABEL_PREFIX.length), v]);
      continue;
    }
    const name = ATTRIBUTES[k] ?? k;
    if (k === 'status') out[name] = Number(v);
    else if (k === 'complete' || k === 'error') out[name] = v === 'true';
    else out[name] = v;
  }
  // the layer's own attributes keep their names
  for (const [name, v] of statics) if (out[name] === undefined) out[name] = v;
  return out;
}

type HrTime = [number, number];
function hrNow(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** OTLP histograms (cumulative since `start`) of the aggregated series. */
export function seriesToMetrics(series: AggregatedSeries[], start: HrTime, end: HrTime): MetricData[] {
  const byFamily = new Map<string, AggregatedSeries[]>();
  for (const s of series) {
    if (FAMILIES[s.family] === undefined) continue;
    const list = byFamily.get(s.family);
    if (list) list.push(s);
    else byFamily.set(s.family, [s]);
  }
  const out: MetricData[] = [];
  for (const [family, list] of byFamily) {
    const view = FAMILIES[family];
    const boundsInUnit = view.bounds.map((b) => b * view.scale);
    out.push({
      descriptor: {
        name: view.name,
        description: view.description,
        unit: view.unit,
        valueType: ValueType.DOUBLE,
      },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: list.map((s) => {
        const cumulative = s.counts
          ? cumulativeBuckets(s.counts, boundsInUnit)
          : view.bounds.map(() => s.count);
        const counts = cumulative.map((c, i) => c - (i === 0 ? 0 : cumulative[i - 1]));
        counts.push(s.count - (cumulative.at(-1) ?? 0));
        return {
          startTime: start,
          endTime: end,
          attributes: attributesOf(s.labels),
          value: { buckets: { boundaries: view.bounds, counts }, sum: s.sum / view.scale, count: s.count },
        };
      }),
    });
  }
  return out;
}

/** Reads every thread's series through the hub when a reader collects. */
class HubProducer implements MetricProducer {
  private readonly start = hrNow();
  constructor(
    private readonly hub: TelemetryHub,
    private readonly resource: Resource,
  ) {}

  async collect(): Promise<CollectionResult> {
    try {
      const { series } = await this.hub.collect();
      const metrics = seriesToMetrics(series, this.start, hrNow());
      return {
        resourceMetrics: {
          resource: this.resource,
          scopeMetrics: metrics.length > 0 ? [{ scope: SCOPE, metrics }] : [],
        },
        errors: [],
      };
    } catch (err) {
      return { resourceMetrics: { resource: this.resource, scopeMetrics: [] }, errors: [err] };
    }
  }
}

export interface OtlpOptions {
  logger: Logger;
  /** Set on the aggregating thread only: it pushes the metrics of every thread. */
  hub?: TelemetryHub;
  /** Whether some layer of some endpoint records spans (the global layer, or an override). */
  spans: boolean;
}

export interface OtlpRuntime {
  /** Undefined when no exporter takes traces or every layer's traces are off. */
  tracing?: OtlpTracing;
  /** What this thread sends where, for the log. */
  describe: string[];
  close(): Promise<void>;
}

export function startOtlp(cfg: OtelConfig, opts: OtlpOptions): OtlpRuntime {
  const warn = rateLimitedWarn(opts.logger, 30_000);
  // One thread, one gateway: the OpenTelemetry globals (diag, error handler) are ours to set.
  diag.setLogger(
    {
      error: (m, ...a) => warn(`${m}${a.length ? ` ${a.map(String).join(' ')}` : ''}`),
      warn: (m, ...a) => warn(`${m}${a.length ? ` ${a.map(String).join(' ')}` : ''}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  setGlobalErrorHandler((err) => warn(`export failed: ${errorMessage(err)}`));

  const attributes: Attributes = { 'service.name': cfg.service_name ?? 'KrakenD' };
  if (cfg.service_version) attributes['service.version'] = cfg.service_version;
  if (cfg.deploy_env) attributes['deployment.environment'] = cfg.deploy_env;
  const resource = resourceFromAttributes(attributes);
  const exporters = cfg.exporters?.otlp ?? [];
  const describe: string[] = [];
  const closers: Array<() => Promise<unknown>> = [];

  const traceExporters = exporters.filter((e) => e.disable_traces !== true);
  // gw check refused an unknown name before the start
  const propagation = propagationOf(parsePropagators(process.env.OTEL_PROPAGATORS).names);
  const layers = traceLayers(cfg, propagation);
  let tracing: OtlpTracing | undefined;
  if (traceExporters.length > 0 && opts.spans) {
    const provider = new BasicTracerProvider({
      resource,
      // new traces are sampled by OtlpTracing.start (trace_sample_rate); a caller that sent a
      // traceparent gets its decision followed, sampled or not
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: traceExporters.map((e) => {
        const url = otlpUrl(e, 'traces');
        describe.push(`traces → ${e.name} (${e.use_http === true ? 'http/protobuf' : 'grpc'} ${url})`);
        const exporter =
          e.use_http === true
            ? new HttpTraceExporter({ url, timeoutMillis: 10_000 })
            : new GrpcTraceExporter({ url, timeoutMillis: 10_000 });
        return new BatchSpanProcessor(exporter, {
          scheduledDelayMillis: envInt('OTEL_BSP_SCHEDULE_DELAY') ?? 5000,
          maxQueueSize: envInt('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048,
          maxExportBatchSize: envInt('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512,
          exportTimeoutMillis: 10_000,
        });
      }),
    });
    tracing = new OtlpTracing(
      provider.getTracer(SCOPE.name, SCOPE.version),
      layers,
      cfg.trace_sample_rate ?? DEFAULT_TRACE_SAMPLE_RATE,
      propagation,
    );
    closers.push(() => provider.shutdown());
  }

  const metricExporters = exporters.filter((e) => e.disable_metrics !== true);
  if (opts.hub !== undefined && metricExporters.length > 0) {
    const periodMs = Math.max(1, cfg.metric_reporting_period ?? DEFAULT_METRIC_REPORTING_PERIOD_S) * 1000;
    const producer = new HubProducer(opts.hub, resource);
    const readers = metricExporters.map((e) => {
      const url = otlpUrl(e, 'metrics');
      describe.push(
        `metrics every ${periodMs / 1000}s → ${e.name} (${e.use_http === true ? 'http/protobuf' : 'grpc'} ${url})`,
      );
      const exporter =
        e.use_http === true
          ? new HttpMetricExporter({ url, timeoutMillis: 10_000 })
          : new GrpcMetricExporter({ url, timeoutMillis: 10_000 });
      return new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: periodMs,
        exportTimeoutMillis: Math.min(periodMs, 10_000),
        metricProducers: [producer],
      });
    });
    const provider = new MeterProvider({ resource, readers });
    closers.push(() => provider.shutdown());
  }

  return {
    tracing,
    describe,
    // a collector that is down must not hold the gateway's shutdown: last flush bounded to 2 s
    close: () => withTimeout(Promise.all(closers.map((c) => c())), 2000),
  };
}
