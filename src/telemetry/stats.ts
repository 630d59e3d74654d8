// `telemetry/metrics` (the "Extended Metrics API" page): KrakenD CE's /__stats JSON on
// `listen_address` (default ":8090"), with krakend-metrics' names for the router, proxy
// (endpoint) and backend layers, histograms flattened go-metrics style
// (`.count`, `.min`, `.max`, `.mean`, `.std-dev`, `.50-percentile` … `.999-percentile`, in
// nanoseconds for latencies and bytes for sizes). Aggregated over every worker thread.
// `collection_time` is accepted: gw computes /__stats on each read. Influx push is not supported.

import type { ConfigIssue, FeatureModule } from '../types.js';
import {
  BACKEND_DURATION,
  instrumentBackend,
  instrumentEndpoint,
  instrumentProxy,
  PROXY_DURATION,
  prepareTelemetryShared,
  SERVER_DURATION,
  SERVER_SIZE,
  telemetryState,
} from './instrument.js';
import { parseListenAddress, startTelemetryServer } from './listener.js';
import { type AggregatedSeries, BUCKET_COUNT, histogramStats } from './metrics-store.js';

export const METRICS_NAMESPACE = 'telemetry/metrics';

interface MetricsConfig {
  collection_time?: string;
  proxy_disabled?: boolean;
  router_disabled?: boolean;
  backend_disabled?: boolean;
  endpoint_disabled?: boolean;
  listen_address?: string;
}

const schema = {
  type: 'object',
  properties: {
    collection_time: { type: 'string', pattern: '^[0-9.]+(ns|ms|us|µs|s|m|h)$' },
    proxy_disabled: { type: 'boolean' },
    router_disabled: { type: 'boolean' },
    backend_disabled: { type: 'boolean' },
    endpoint_disabled: { type: 'boolean' },
    listen_address: { type: 'string' },
  },
};

function validate(raw: unknown, path: string): ConfigIssue[] {
  const cfg = raw as MetricsConfig;
  const issues: ConfigIssue[] = [];
  if (cfg.listen_address !== undefined && !parseListenAddress(cfg.listen_address))
    issues.push({
      path: `${path}.listen_address`,
      message: 'expected "[host]:port", e.g. ":8090" or "127.0.0.1:8090"',
    });
  return issues;
}

/** One histogram, flattened as go-metrics' JSON does. `scale` converts the series unit (µs → ns). */
function putHistogram(
  out: Record<string, unknown>,
  name: string,
  list: AggregatedSeries[],
  scale: number,
): void {
  const merged = new Float64Array(BUCKET_COUNT);
  let count = 0;
  for (const s of list) {
    count += s.count;
    if (s.counts) for (let i = 0; i < BUCKET_COUNT; i++) merged[i] += s.counts[i];
  }
  const st = histogramStats(merged);
  out[`${name}.count`] = count;
  out[`${name}.min`] = Math.round(st.min * scale);
  out[`${name}.max`] = Math.round(st.max * scale);
  out[`${name}.mean`] = st.mean * scale;
  out[`${name}.std-dev`] = st.stddev * scale;
  out[`${name}.50-percentile`] = st.p50 * scale;
  out[`${name}.75-percentile`] = st.p75 * scale;
  out[`${name}.95-percentile`] = st.p95 * scale;
  out[`${name}.99-percentile`] = st.p99 * scale;
  out[`${name}.999-percentile`] = st.p999 * scale;
}

function groupBy(
  series: AggregatedSeries[],
  family: string,
  key: (s: AggregatedSeries) => string,
): Map<string, AggregatedSeries[]> {
  const out = new Map<string, AggregatedSeries[]>();
  for (const s of series) {
    if (s.family !== family) continue;
    const k = key(s);
    const list = out.get(k);
    if (list) list.push(s);
    else out.set(k, [s]);
  }
  return out;
}

export function renderStats(series: AggregatedSeries[], threads: number): Record<string, unknown> {
  const out: Record<string, unknown> = { cmdline: process.argv };
  // router layer
  for (const s of series) {
    if (s.family === SERVER_DURATION) {
      const name = `krakend.router.response.${s.labels.route}.status.${s.labels.status}`;
      out[name] = ((out[name] as number | undefined) ?? 0) + s.count;
    }
  }
  for (const [route, list] of groupBy(series, SERVER_DURATION, (s) => s.labels.route))
    putHistogram(out, `krakend.router.response.${route}.time`, list, 1000);
  for (const [route, list] of groupBy(series, SERVER_SIZE, (s) => s.labels.route))
    putHistogram(out, `krakend.router.response.${route}.size`, list, 1);
  // proxy (endpoint) and backend layers
  const layer = (family: string, layerName: string, nameOf: (s: AggregatedSeries) => string) => {
    for (const [key, list] of groupBy(
      series,
      family,
      (s) => `${nameOf(s)}.complete.${s.labels.complete}.error.${s.labels.error}`,
    )) {
      out[`krakend.proxy.requests.layer.${layerName}.name.${key}`] = list.reduce((n, s) => n + s.count, 0);
      putHistogram(out, `krakend.proxy.latency.layer.${layerName}.name.${key}`, list, 1000);
    }
  };
  layer(PROXY_DURATION, 'endpoint', (s) => s.labels.route);
  layer(BACKEND_DURATION, 'backend', (s) => s.labels.backend);
  // WebSockets (src/websocket/metrics.ts)
  for (const s of series) {
    if (s.family === 'websocket.connections') {
      const base = `krakend.websocket.${s.labels.route}.connections`;
      out[`${base}.${s.labels.event}`] =
        ((out[`${base}.${s.labels.event}`] as number | undefined) ?? 0) + s.count;
      out[`${base}.open`] =
        ((out[`${base}.open`] as number | undefined) ?? 0) +
        (s.labels.event === 'opened' ? s.count : -s.count);
    } else if (s.family === 'websocket.message.size') {
      const base = `krakend.websocket.${s.labels.route}`;
      const dir = s.labels.direction;
      out[`${base}.messages.${dir}`] =
        ((out[`${base}.messages.${dir}`] as number | undefined) ?? 0) + s.count;
      out[`${base}.bytes.${dir}`] = ((out[`${base}.bytes.${dir}`] as number | undefined) ?? 0) + s.sum;
    }
  }
  // process
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  out['gw.process.uptime-seconds'] = process.uptime();
  out['gw.process.cpu.user-seconds'] = cpu.user / 1e6;
  out['gw.process.cpu.system-seconds'] = cpu.system / 1e6;
  out['gw.process.memory.rss'] = mem.rss;
  out['gw.process.memory.heap-used'] = mem.heapUsed;
  out['gw.process.memory.external'] = mem.external;
  out['gw.worker-threads'] = threads;
  return out;
}

export const metricsModule: FeatureModule = {
  namespace: METRICS_NAMESPACE,
  schema,
  validate,
  prepareShared: () => prepareTelemetryShared(METRICS_NAMESPACE),
  service(raw, ctx) {
    const cfg = (raw ?? {}) as MetricsConfig;
    const state = telemetryState(METRICS_NAMESPACE, ctx);
    if (state.hub.isAggregator && cfg.endpoint_disabled !== true) {
      const address = parseListenAddress(cfg.listen_address ?? ':8090') ?? { host: '', port: 8090 };
      const server = startTelemetryServer(
        'telemetry/metrics /__stats',
        address,
        async (path) => {
          if (path !== '/__stats' && path !== '/__stats/') return undefined;
          const { series, threads } = await state.hub.collect();
          return {
            status: 200,
            type: 'application/json',
            body: JSON.stringify(renderStats(series, threads)),
          };
        },
        ctx.logger,
      );
      ctx.onClose(() => server.close());
    }
    return undefined;
  },
  instrumentEndpoint(raw, ctx) {
    const cfg = (raw ?? {}) as MetricsConfig;
    if (cfg.router_disabled === true || !ctx.endpoint) return undefined;
    return instrumentEndpoint(telemetryState(METRICS_NAMESPACE, ctx).store, ctx.endpoint, true);
  },
  instrumentProxy(raw, ctx) {
    const cfg = (raw ?? {}) as MetricsConfig;
    if (cfg.proxy_disabled === true || !ctx.endpoint) return undefined;
    return instrumentProxy(telemetryState(METRICS_NAMESPACE, ctx).store, ctx.endpoint);
  },
  instrumentBackend(raw, ctx) {
    const cfg = (raw ?? {}) as MetricsConfig;
    if (cfg.backend_disabled === true || !ctx.endpoint || !ctx.backend) return undefined;
    return instrumentBackend(telemetryState(METRICS_NAMESPACE, ctx).store, ctx.endpoint, ctx.backend);
  },
};
