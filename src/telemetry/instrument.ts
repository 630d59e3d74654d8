// The timing middlewares shared by `telemetry/metrics` and `telemetry/opentelemetry`: one per
// endpoint (router layer), per endpoint proxy (merge of the backends) and per backend. Their
// series are created here, at compile time; per request they read the clock twice and record.
// Each also carries its `meter`: the same recording from a layer's outcome, which the pipeline
// makes in place of the promise middleware (src/proxy/layers.ts).

import { bodyBytes } from '../proxy/util.js';
import type {
  BackendConfig,
  BackendMiddleware,
  BackendTimings,
  CompileContext,
  EndpointConfig,
  EndpointMiddleware,
  GwResponse,
  Outcome,
  ProxyMiddleware,
  UnmatchedRecorder,
} from '../types.js';
import { BackendError } from '../types.js';
import { TelemetryHub } from './hub.js';
import { type Labels, MetricsStore, type Series } from './metrics-store.js';

/** Series families (internal names; prometheus.ts and stats.ts give them their public names). */
export const SERVER_DURATION = 'server.duration';
export const SERVER_SIZE = 'server.response.size';
export const PROXY_DURATION = 'proxy.duration';
export const BACKEND_DURATION = 'backend.duration';
/** The phases of a backend call (the backend stage's round_trip, read_payload, detailed_connection). */
export const BACKEND_GET_CONN = 'backend.get_conn';
export const BACKEND_ROUND_TRIP = 'backend.round_trip';
export const BACKEND_READ_PAYLOAD = 'backend.read_payload';

/** Which phases of a backend call are reported (the backend stage's options of that name). */
export interface PhaseOptions {
  roundTrip: boolean;
  readPayload: boolean;
  detailedConnection: boolean;
}

export const NO_PHASES: PhaseOptions = { roundTrip: false, readPayload: false, detailedConnection: false };

export function anyPhase(p: PhaseOptions): boolean {
  return p.roundTrip || p.readPayload || p.detailedConnection;
}

export function newTimings(): BackendTimings {
  return { dispatched: 0, connectStart: 0, resolved: 0, sent: 0, head: 0, done: 0, reused: undefined };
}

export interface TelemetryState {
  store: MetricsStore;
  hub: TelemetryHub;
}

const states = new Map<string, TelemetryState>();

/** What the main thread hands every worker for a telemetry namespace. */
export interface TelemetryShared {
  channel: string;
}

export function prepareTelemetryShared(namespace: string): TelemetryShared {
  return { channel: `gw-telemetry:${namespace}:${process.pid}:${Math.random().toString(36).slice(2)}` };
}

/** This thread's store and hub for `namespace` (created by the first hook that asks). */
export function telemetryState(namespace: string, ctx: CompileContext): TelemetryState {
  const shared = ctx.shared[namespace] as TelemetryShared | undefined;
  const channel = shared?.channel ?? `gw-telemetry:${namespace}:${process.pid}:local`;
  let state = states.get(channel);
  if (state === undefined) {
    const store = new MetricsStore();
    const created: TelemetryState = { store, hub: new TelemetryHub(channel, store, ctx.workerId) };
    states.set(channel, created);
    ctx.onClose(() => {
      created.hub.close();
      states.delete(channel);
    });
    state = created;
  }
  return state;
}

export function routeLabels(endpoint: EndpointConfig): Labels {
  return { method: (endpoint.method ?? 'GET').toUpperCase(), route: endpoint.endpoint };
}

/** Router layer: duration and response size per endpoint and status code. */
export function instrumentEndpoint(
  store: MetricsStore,
  endpoint: EndpointConfig,
  withSize: boolean,
): EndpointMiddleware {
  const labels = routeLabels(endpoint);
  const byStatus: Array<[Series, Series | undefined] | undefined> = [];
  const seriesFor = (status: number) => {
    let s = byStatus[status];
    if (s === undefined) {
      const l = { ...labels, status: String(status) };
      s = [
        store.series(SERVER_DURATION, l, 'us'),
        withSize ? store.series(SERVER_SIZE, l, 'bytes') : undefined,
      ];
      byStatus[status] = s;
    }
    return s;
  };
  const middleware: EndpointMiddleware = (next) => async (req) => {
    const started = performance.now();
    let res: GwResponse;
    try {
      res = await next(req);
    } catch (err) {
      seriesFor(500)[0].record((performance.now() - started) * 1000);
      throw err;
    }
    const [time, size] = seriesFor(res.status >= 100 && res.status < 600 ? res.status : 500);
    time.record((performance.now() - started) * 1000);
    size?.record(bodyBytes(res.body));
    return res;
  };
  middleware.meter = {
    record(o: Outcome): void {
      const [time, size] = seriesFor(o.status >= 100 && o.status < 600 ? o.status : 500);
      time.record(o.elapsedUs);
      size?.record(o.bytes);
    },
  };
  return middleware;
}

/**
 * The request methods the HTTP semantic conventions know. Any other is reported as `_OTHER`, as
 * they ask: a method is whatever token a client sends, and each one would be a series of its own.
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);
export const OTHER_METHOD = '_OTHER';

/**
 * Global layer of the requests no endpoint serves: duration and response size per method and
 * status code. Their series have no route label: the OpenTelemetry HTTP semantic conventions leave
 * `http.route` out when no route matched, and the path itself, a label value any client could
 * choose, would grow /metrics without bound. The method is bounded the same way (`_OTHER`).
 */
export function instrumentUnmatched(store: MetricsStore): UnmatchedRecorder {
  const byMethod = new Map<string, Array<[Series, Series] | undefined>>();
  for (const method of KNOWN_METHODS) byMethod.set(method, []);
  const other: Array<[Series, Series] | undefined> = [];
  const seriesFor = (method: string, status: number) => {
    const known = byMethod.get(method);
    const slots = known ?? other;
    let s = slots[status];
    if (s === undefined) {
      const labels = { method: known !== undefined ? method : OTHER_METHOD, status: String(status) };
      s = [store.series(SERVER_DURATION, labels, 'us'), store.series(SERVER_SIZE, labels, 'bytes')];
      slots[status] = s;
    }
    return s;
  };
  return (req, res, startedMs) => {
    const [time, size] = seriesFor(req.method, res.status >= 100 && res.status < 600 ? res.status : 500);
    time.record((performance.now() - startedMs) * 1000);
    size.record(bodyBytes(res.body));
  };
}

/**
 * Proxy layer: the merge of the backends, by completeness and error. `extra`: labels every series
 * of this endpoint carries (static attributes).
 */
export function instrumentProxy(
  store: MetricsStore,
  endpoint: EndpointConfig,
  extra: Labels = {},
): ProxyMiddleware {
  const labels = { ...routeLabels(endpoint), ...extra };
  const series = (complete: boolean, error: boolean) =>
    store.series(PROXY_DURATION, { ...labels, complete: String(complete), error: String(error) }, 'us');
  const ok = series(true, false);
  const incomplete = series(false, false);
  const failedPartly = series(true, true);
  const failed = series(false, true);
  const middleware: ProxyMiddleware = (next) => async (req) => {
    const started = performance.now();
    try {
      const res = await next(req);
      // an incomplete merge means a backend failed, whether or not the merge reports its error
      // (KrakenD's merger returns the error with the partial response)
      const error = res.error !== undefined || (!res.isComplete && res.raw === undefined);
      const s = error ? (res.isComplete ? failedPartly : failed) : res.isComplete ? ok : incomplete;
      s.record((performance.now() - started) * 1000);
      return res;
    } catch (err) {
      failed.record((performance.now() - started) * 1000);
      throw err;
    }
  };
  middleware.meter = {
    record(o: Outcome): void {
      if (o.reach === 'refused') return;
      const s = o.proxyError ? (o.proxyComplete ? failedPartly : failed) : o.proxyComplete ? ok : incomplete;
      s.record(o.elapsedUs);
    },
  };
  return middleware;
}

/**
 * Backend layer: one backend call (after its own features: cache, circuit breaker…). `extra`:
 * labels every series of this backend carries (static attributes).
 */
export function instrumentBackend(
  store: MetricsStore,
  endpoint: EndpointConfig,
  backend: BackendConfig,
  extra: Labels = {},
  phases: PhaseOptions = NO_PHASES,
): BackendMiddleware {
  const labels: Labels = {
    ...extra,
    ...routeLabels(endpoint),
    backend_method: (backend.method ?? endpoint.method ?? 'GET').toUpperCase(),
    backend: backend.url_pattern,
  };
  const byStatus: Array<Series | undefined> = [];
  const seriesFor = (status: number, ok: boolean) => {
    const slot = ok ? status : 1000 + status;
    let s = byStatus[slot];
    if (s === undefined) {
      s = store.series(
        BACKEND_DURATION,
        { ...labels, status: String(status), complete: String(ok), error: String(!ok) },
        'us',
      );
      byStatus[slot] = s;
    }
    return s;
  };
  if (anyPhase(phases)) return instrumentPhases(store, labels, phases, seriesFor);
  const middleware: BackendMiddleware = (next) => async (breq) => {
    const started = performance.now();
    try {
      const res = await next(breq);
      seriesFor(res.status >= 0 && res.status < 1000 ? res.status : 0, true).record(
        (performance.now() - started) * 1000,
      );
      return res;
    } catch (err) {
      const status = err instanceof BackendError ? (err.backendStatus ?? 0) : 0;
      seriesFor(status >= 0 && status < 1000 ? status : 0, false).record(
        (performance.now() - started) * 1000,
      );
      throw err;
    }
  };
  middleware.meter = {
    record(o: Outcome): void {
      if (o.reach !== 'called') return;
      const status = o.backendStatus;
      seriesFor(status >= 0 && status < 1000 ? status : 0, o.backendOk).record(o.elapsedUs);
    },
  };
  return middleware;
}

/**
 * The backend call's duration (as instrumentBackend) and the phases the HTTP client timed, one
 * series each, without status: the time to get a connection (detailed_connection), from sending
 * the request to the response head (round_trip), and reading the body (read_payload). Only the
 * phases a call completed are recorded (a failed call counts in the duration, with its error).
 */
function instrumentPhases(
  store: MetricsStore,
  labels: Labels,
  phases: PhaseOptions,
  seriesFor: (status: number, ok: boolean) => Series,
): BackendMiddleware {
  const getConn = phases.detailedConnection ? store.series(BACKEND_GET_CONN, labels, 'us') : undefined;
  const roundTrip = phases.roundTrip ? store.series(BACKEND_ROUND_TRIP, labels, 'us') : undefined;
  const readPayload = phases.readPayload ? store.series(BACKEND_READ_PAYLOAD, labels, 'us') : undefined;
  const record = (t: BackendTimings) => {
    if (t.sent === 0) return;
    if (getConn !== undefined && t.dispatched > 0) getConn.record((t.sent - t.dispatched) * 1000);
    if (t.head === 0) return;
    roundTrip?.record((t.head - t.sent) * 1000);
    if (readPayload !== undefined && t.done > 0) readPayload.record((t.done - t.head) * 1000);
  };
  return (next) => async (breq) => {
    const started = performance.now();
    // the traces' middleware (outside this one) may have given the call its timings already
    const timings = breq.timings ?? newTimings();
    const out = breq.timings === undefined ? { ...breq, timings } : breq;
    try {
      const res = await next(out);
      seriesFor(res.status >= 0 && res.status < 1000 ? res.status : 0, true).record(
        (performance.now() - started) * 1000,
      );
      record(timings);
      return res;
    } catch (err) {
      const status = err instanceof BackendError ? (err.backendStatus ?? 0) : 0;
      seriesFor(status >= 0 && status < 1000 ? status : 0, false).record(
        (performance.now() - started) * 1000,
      );
      record(timings);
      throw err;
    }
  };
}
