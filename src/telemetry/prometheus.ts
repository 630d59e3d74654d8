// Prometheus text exposition (format 0.0.4) of the aggregated series, with the names an
// OpenTelemetry Prometheus exporter gives KrakenD's layers: dots become underscores, the unit
// is appended (`_seconds`, `_bytes`), histograms have `_bucket{le}`, `_sum` and `_count`.

import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  BACKEND_DURATION,
  BACKEND_GET_CONN,
  BACKEND_READ_PAYLOAD,
  BACKEND_ROUND_TRIP,
  PROXY_DURATION,
  SERVER_DURATION,
  SERVER_SIZE,
} from './instrument.js';
import {
  type AggregatedSeries,
  cumulativeBuckets,
  type Labels,
  STATIC_LABEL_PREFIX,
} from './metrics-store.js';

/** Seconds: a gateway answers in well under a millisecond, so the low end is finer than OTel's defaults. */
export const DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
export const SIZE_BUCKETS_BYTES = [128, 512, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

/** The labels of the phases of a backend call (the backend duration's, without the outcome). */
const PHASE_LABELS = {
  method: 'http_request_method',
  route: 'http_route',
  backend_method: 'krakend_backend_method',
  backend: 'url_path',
};

interface FamilyView {
  name: string;
  help: string;
  /** Internal label → Prometheus label. */
  labels: Record<string, string>;
  /** Divisor from the series unit to the exposed unit (µs → s). */
  scale: number;
  bounds: number[];
}

const FAMILIES: Record<string, FamilyView> = {
  // The WebSocket proxy (src/websocket/metrics.ts): a message count, a byte sum and sizes.
  'websocket.message.size': {
    name: 'krakend_websocket_message_size_bytes',
    help: 'Size of each WebSocket message between clients and the gateway, per endpoint and direction (in: from clients).',
    labels: { route: 'http_route', direction: 'direction' },
    scale: 1,
    bounds: SIZE_BUCKETS_BYTES,
  },
  [SERVER_DURATION]: {
    name: 'http_server_duration_seconds',
    help: 'Time to answer a request, per endpoint; no route for requests no endpoint serves (global layer).',
    labels: { method: 'http_request_method', route: 'http_route', status: 'http_response_status_code' },
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [SERVER_SIZE]: {
    name: 'http_server_response_size_bytes',
    help: 'Size of the response body, per endpoint; no route for requests no endpoint serves (global layer).',
    labels: { method: 'http_request_method', route: 'http_route', status: 'http_response_status_code' },
    scale: 1,
    bounds: SIZE_BUCKETS_BYTES,
  },
  [PROXY_DURATION]: {
    name: 'krakend_proxy_duration_seconds',
    help: 'Time of the proxy layer (backend calls, merge and manipulation), per endpoint.',
    labels: {
      method: 'http_request_method',
      route: 'http_route',
      complete: 'krakend_response_complete',
      error: 'error',
    },
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_DURATION]: {
    name: 'krakend_backend_duration_seconds',
    help: 'Time of one backend call (backend layer), per endpoint and backend.',
    labels: {
      method: 'http_request_method',
      route: 'http_route',
      backend_method: 'krakend_backend_method',
      backend: 'url_path',
      status: 'http_response_status_code',
      complete: 'krakend_response_complete',
      error: 'error',
    },
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_GET_CONN]: {
    name: 'krakend_backend_connection_get_duration_seconds',
    help: 'Time a backend call waited for its connection: a pooled one, or a new one (DNS, connect, TLS).',
    labels: PHASE_LABELS,
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_ROUND_TRIP]: {
    name: 'krakend_backend_round_trip_duration_seconds',
    help: 'Time from sending a backend request to receiving the response head.',
    labels: PHASE_LABELS,
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
  [BACKEND_READ_PAYLOAD]: {
    name: 'krakend_backend_read_payload_duration_seconds',
    help: 'Time from the response head of a backend call to the end of its body.',
    labels: PHASE_LABELS,
    scale: 1e6,
    bounds: DURATION_BUCKETS_S,
  },
};

/** A static attribute's key as a Prometheus label name (what OpenTelemetry's exporter does). */
export function prometheusLabelName(key: string): string {
  const name = key.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/** The labels a layer's series always have (a static attribute may not take their names). */
export function layerLabelNames(family: string): string[] {
  return Object.values(FAMILIES[family]?.labels ?? {});
}

/** Prometheus label pairs of a series: the layer's own labels first, static attributes after. */
function labelPairs(view: FamilyView, labels: Labels): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const taken = new Set<string>();
  const statics: Array<[string, string]> = [];
  for (const k in labels) {
    if (k.startsWith(STATIC_LABEL_PREFIX)) {
      statics.push([prometheusLabelName(k.slice(STATIC_LABEL_PREFIX.length)), labels[k]]);
      continue;
    }
    const name = view.labels[k] ?? k;
    taken.add(name);
    pairs.push([name, labels[k]]);
  }
  for (const [name, value] of statics) {
    if (taken.has(name) || name === 'le' || name.startsWith('__')) continue;
    taken.add(name);
    pairs.push([name, value]);
  }
  return pairs;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(pairs: Array<[string, string]>): string {
  return pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  return String(v);
}

export interface PrometheusOptions {
  resource: Labels;
  processMetrics: boolean;
  runtimeMetrics: boolean;
  threads: number;
}

const startTimeSec = Math.floor(Date.now() / 1000 - process.uptime());
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

export function renderPrometheus(series: AggregatedSeries[], opts: PrometheusOptions): string {
  const out: string[] = [];
  const resource = Object.entries(opts.resource).filter(([, v]) => v !== '');
  out.push(
    '# HELP target_info Target metadata',
    '# TYPE target_info gauge',
    `target_info{${labelText(resource)}} 1`,
  );

  const byFamily = new Map<string, AggregatedSeries[]>();
  for (const s of series) {
    if (!FAMILIES[s.family]) continue;
    const list = byFamily.get(s.family);
    if (list) list.push(s);
    else byFamily.set(s.family, [s]);
  }
  for (const family of Object.keys(FAMILIES)) {
    const list = byFamily.get(family);
    if (!list) continue;
    const view = FAMILIES[family];
    out.push(`# HELP ${view.name} ${view.help}`, `# TYPE ${view.name} histogram`);
    const rows = list
      .map((s) => ({
        s,
        pairs: labelPairs(view, s.labels),
      }))
      .sort((a, b) => labelText(a.pairs).localeCompare(labelText(b.pairs)));
    const boundsInUnit = view.bounds.map((b) => b * view.scale);
    for (const { s, pairs } of rows) {
      const cumulative = s.counts
        ? cumulativeBuckets(s.counts, boundsInUnit)
        : view.bounds.map(() => s.count);
      view.bounds.forEach((b, i) => {
        out.push(`${view.name}_bucket{${labelText([...pairs, ['le', String(b)]])}} ${cumulative[i]}`);
      });
      out.push(`${view.name}_bucket{${labelText([...pairs, ['le', '+Inf']])}} ${s.count}`);
      out.push(`${view.name}_sum{${labelText(pairs)}} ${num(s.sum / view.scale)}`);
      out.push(`${view.name}_count{${labelText(pairs)}} ${s.count}`);
    }
  }

  // WebSocket connections: counters of opened and closed, and the gauge of those open.
  const connections = series.filter((s) => s.family === 'websocket.connections');
  if (connections.length > 0) {
    const open = new Map<string, number>();
    out.push(
      '# HELP krakend_websocket_connections_total WebSocket client connections opened and closed, per endpoint.',
      '# TYPE krakend_websocket_connections_total counter',
    );
    for (const s of connections) {
      const route = s.labels.route ?? '';
      open.set(route, (open.get(route) ?? 0) + (s.labels.event === 'opened' ? s.count : -s.count));
      out.push(
        `krakend_websocket_connections_total{${labelText([
          ['http_route', route],
          ['event', s.labels.event ?? ''],
        ])}} ${s.count}`,
      );
    }
    out.push(
      '# HELP krakend_websocket_connections_open WebSocket client connections open now, per endpoint.',
      '# TYPE krakend_websocket_connections_open gauge',
    );
    for (const [route, n] of open)
      out.push(`krakend_websocket_connections_open{${labelText([['http_route', route]])}} ${n}`);
  }

  if (opts.processMetrics) {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    out.push(
      '# HELP process_cpu_seconds_total Total user and system CPU time of the gateway process (all threads).',
      '# TYPE process_cpu_seconds_total counter',
      `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      '# HELP process_resident_memory_bytes Resident memory size.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${mem.rss}`,
      '# HELP process_start_time_seconds Start time of the process since the Unix epoch.',
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${startTimeSec}`,
      '# HELP gw_worker_threads Worker threads whose metrics this scrape includes.',
      '# TYPE gw_worker_threads gauge',
      `gw_worker_threads ${opts.threads}`,
      '# HELP gw_cpus Available CPUs.',
      '# TYPE gw_cpus gauge',
      `gw_cpus ${availableParallelism()}`,
    );
  }
  if (opts.runtimeMetrics) {
    if (!loopDelay) {
      loopDelay = monitorEventLoopDelay({ resolution: 20 });
      loopDelay.enable();
    }
    const mem = process.memoryUsage();
    out.push(
      '# HELP nodejs_heap_used_bytes V8 heap in use (the metrics thread).',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${mem.heapUsed}`,
      '# HELP nodejs_heap_total_bytes V8 heap size (the metrics thread).',
      '# TYPE nodejs_heap_total_bytes gauge',
      `nodejs_heap_total_bytes ${mem.heapTotal}`,
      '# HELP nodejs_external_memory_bytes Memory of C++ objects bound to JS objects (buffers), process-wide.',
      '# TYPE nodejs_external_memory_bytes gauge',
      `nodejs_external_memory_bytes ${mem.external}`,
      '# HELP nodejs_eventloop_delay_p99_seconds Event loop delay, 99th percentile (the metrics thread).',
      '# TYPE nodejs_eventloop_delay_p99_seconds gauge',
      `nodejs_eventloop_delay_p99_seconds ${loopDelay.percentile(99) / 1e9}`,
    );
  }
  return `${out.join('\n')}\n`;
}
