// `telemetry/opentelemetry`: the layers' metrics (global, proxy, backend) exposed by each
// `prometheus` exporter on its own port (/metrics), and — when an `otlp` exporter is configured —
// metrics and traces pushed over OTLP with the official @opentelemetry packages (otlp.ts, loaded
// only then). Without this namespace nothing is timed and nothing is loaded.

import type {
  BackendMiddleware,
  CompileContext,
  ConfigIssue,
  EndpointMiddleware,
  FeatureModule,
  ProxyMiddleware,
} from '../types.js';
import {
  instrumentBackend,
  instrumentEndpoint,
  instrumentProxy,
  prepareTelemetryShared,
  telemetryState,
} from './instrument.js';
import { startTelemetryServer } from './listener.js';
import type { OtlpRuntime, OtlpTracing } from './otlp.js';
import { renderPrometheus } from './prometheus.js';

export const OTEL_NAMESPACE = 'telemetry/opentelemetry';

export interface PrometheusExporter {
  name: string;
  port?: number;
  listen_ip?: string;
  process_metrics?: boolean;
  go_metrics?: boolean;
  disable_metrics?: boolean;
}

export interface OtlpExporter {
  name: string;
  host: string;
  port?: number;
  use_http?: boolean;
  disable_metrics?: boolean;
  disable_traces?: boolean;
}

interface StageOptions {
  disable_stage?: boolean;
  round_trip?: boolean;
  read_payload?: boolean;
  detailed_connection?: boolean;
  report_headers?: boolean;
  static_attributes?: Array<{ key: string; value: string }>;
}

export interface OtelConfig {
  service_name?: string;
  service_version?: string;
  deploy_env?: string;
  metric_reporting_period?: number;
  trace_sample_rate?: number;
  exporters?: { prometheus?: PrometheusExporter[]; otlp?: OtlpExporter[] };
  layers?: {
    global?: {
      disable_metrics?: boolean;
      disable_traces?: boolean;
      disable_propagation?: boolean;
      report_headers?: boolean;
    };
    proxy?: { disable_metrics?: boolean; disable_traces?: boolean; report_headers?: boolean };
    backend?: { metrics?: StageOptions; traces?: StageOptions };
  };
  skip_paths?: string[];
}

const stageSchema = {
  type: 'object',
  properties: {
    disable_stage: { type: 'boolean' },
    round_trip: { type: 'boolean' },
    read_payload: { type: 'boolean' },
    detailed_connection: { type: 'boolean' },
    report_headers: { type: 'boolean' },
    static_attributes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'value'],
        properties: { key: { type: 'string' }, value: { type: 'string' } },
      },
    },
  },
};

const schema = {
  type: 'object',
  properties: {
    service_name: { type: 'string' },
    service_version: { type: 'string' },
    deploy_env: { type: 'string' },
    metric_reporting_period: { type: 'integer', minimum: 1 },
    trace_sample_rate: { type: 'number', minimum: 0, maximum: 1 },
    exporters: {
      type: 'object',
      properties: {
        prometheus: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string' },
              port: { type: 'integer', minimum: 0, maximum: 65535 },
              listen_ip: { type: 'string' },
              process_metrics: { type: 'boolean' },
              go_metrics: { type: 'boolean' },
              disable_metrics: { type: 'boolean' },
            },
          },
        },
        otlp: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'host'],
            properties: {
              name: { type: 'string' },
              host: { type: 'string' },
              port: { type: 'integer', minimum: 0, maximum: 65535 },
              use_http: { type: 'boolean' },
              disable_metrics: { type: 'boolean' },
              disable_traces: { type: 'boolean' },
            },
          },
        },
      },
    },
    layers: {
      type: 'object',
      properties: {
        global: {
          type: 'object',
          properties: {
            disable_metrics: { type: 'boolean' },
            disable_traces: { type: 'boolean' },
            disable_propagation: { type: 'boolean' },
            report_headers: { type: 'boolean' },
          },
        },
        proxy: {
          type: 'object',
          properties: {
            disable_metrics: { type: 'boolean' },
            disable_traces: { type: 'boolean' },
            report_headers: { type: 'boolean' },
          },
        },
        backend: { type: 'object', properties: { metrics: stageSchema, traces: stageSchema } },
      },
    },
    skip_paths: { type: 'array', items: { type: 'string' } },
  },
};

function validate(raw: unknown, path: string): ConfigIssue[] {
  const cfg = raw as OtelConfig;
  const issues: ConfigIssue[] = [];
  const names = new Map<string, string>();
  const ports = new Map<number, string>();
  const all = [
    ...(cfg.exporters?.prometheus ?? []).map((e, i) => ({ e, at: `${path}.exporters.prometheus[${i}]` })),
    ...(cfg.exporters?.otlp ?? []).map((e, i) => ({ e, at: `${path}.exporters.otlp[${i}]` })),
  ];
  for (const { e, at } of all) {
    const first = names.get(e.name);
    if (first)
      issues.push({ path: `${at}.name`, message: `exporter name "${e.name}" is already used by ${first}` });
    else names.set(e.name, at);
  }
  (cfg.exporters?.prometheus ?? []).forEach((e, i) => {
    const port = e.port ?? 9090;
    const first = ports.get(port);
    if (first)
      issues.push({
        path: `${path}.exporters.prometheus[${i}].port`,
        message: `port ${port} is already used by ${first}`,
      });
    else ports.set(port, `${path}.exporters.prometheus[${i}]`);
  });
  (cfg.exporters?.otlp ?? []).forEach((e, i) => {
    const at = `${path}.exporters.otlp[${i}]`;
    const problem = typeof e.host === 'string' ? otlpHostProblem(e.host) : undefined;
    if (problem) issues.push({ path: `${at}.host`, message: problem });
    if (e.port === 0) issues.push({ path: `${at}.port`, message: 'the collector port must be 1-65535' });
    if (e.disable_metrics === true && e.disable_traces === true)
      issues.push({
        path: at,
        message: 'disable_metrics and disable_traces are both set: this exporter sends nothing',
        severity: 'warning',
      });
  });
  if (all.length === 0)
    issues.push({
      path: `${path}.exporters`,
      message: 'no exporter: nothing is reported (add a prometheus or otlp exporter)',
      severity: 'warning',
    });
  const backend = cfg.layers?.backend?.metrics;
  if (backend?.detailed_connection || backend?.read_payload)
    issues.push({
      path: `${path}.layers.backend.metrics`,
      message:
        'detailed_connection and read_payload metrics are not produced by gw (the backend stage duration is)',
      severity: 'warning',
    });
  return issues;
}

/** Why `host` cannot name an OTLP collector, or undefined when it can. */
export function otlpHostProblem(host: string): string | undefined {
  const expected =
    'expected a host name or IP address (e.g. "otel-collector"), or an http(s):// origin; the port goes in `port`';
  if (host.trim() === '') return `empty host: ${expected}`;
  if (/^https?:\/\//i.test(host)) {
    if (!URL.canParse(host)) return `"${host}" is not a valid URL: ${expected}`;
    const u = new URL(host);
    if (u.pathname.replace(/\/+$/, '') !== '' || u.search !== '' || u.username !== '')
      return `"${host}" has a path, query or credentials: ${expected}`;
    return undefined;
  }
  if (/^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(host)) return undefined;
  if (/^\[?[0-9A-Fa-f:.]+\]?$/.test(host) && host.includes(':') && !/^[^:[]+:\d+$/.test(host))
    return undefined;
  return `"${host}" is not a host name: ${expected}`;
}

function metricsWanted(cfg: OtelConfig): boolean {
  return (
    (cfg.exporters?.prometheus ?? []).some((e) => e.disable_metrics !== true) ||
    (cfg.exporters?.otlp ?? []).some((e) => e.disable_metrics !== true)
  );
}

function skipped(cfg: OtelConfig, ctx: CompileContext): boolean {
  return ctx.endpoint !== undefined && (cfg.skip_paths ?? []).includes(ctx.endpoint.endpoint);
}

export function resourceLabels(cfg: OtelConfig): Record<string, string> {
  return {
    service_name: cfg.service_name ?? 'KrakenD',
    service_version: cfg.service_version ?? '',
    deployment_environment: cfg.deploy_env ?? '',
  };
}

/** This thread's OTLP runtime, loading: otlp.ts and @opentelemetry come in only from here. */
interface OtlpHolder {
  runtime?: OtlpRuntime;
  ready: Promise<OtlpRuntime | undefined>;
}

const otlpHolders = new Map<string, OtlpHolder>();

/** Whether `import('./otlp.js')` ran in this thread (tests read it; nothing else should). */
export function otlpLoaded(): boolean {
  return otlpHolders.size > 0;
}

function hasOtlp(cfg: OtelConfig): boolean {
  return (cfg.exporters?.otlp ?? []).some((e) => e.disable_metrics !== true || e.disable_traces !== true);
}

function tracesWanted(cfg: OtelConfig): boolean {
  return (cfg.exporters?.otlp ?? []).some((e) => e.disable_traces !== true);
}

/**
 * Starts loading the OTLP runtime of this thread (once per gateway instance). The hooks are
 * synchronous and the import is not: the tracing middlewares wait for it on the first requests
 * (a few tens of ms at startup) and call the traced stage directly once it is there.
 */
function otlpHolder(cfg: OtelConfig, ctx: CompileContext): OtlpHolder {
  const key = (ctx.shared[OTEL_NAMESPACE] as { channel?: string } | undefined)?.channel ?? 'local';
  const holder = otlpHolders.get(key);
  if (holder !== undefined) return holder;
  // Registered before the hub's own closer (the hooks ask for the holder before the metrics
  // state): the last metrics push at shutdown still reads every thread.
  ctx.onClose(async () => {
    otlpHolders.delete(key);
    await (await created.ready)?.close();
  });
  const state = telemetryState(OTEL_NAMESPACE, ctx);
  const created: OtlpHolder = {
    ready: import('./otlp.js')
      .then((m) => {
        const runtime = m.startOtlp(cfg, {
          logger: ctx.logger,
          hub: state.hub.isAggregator ? state.hub : undefined,
        });
        created.runtime = runtime;
        if (state.hub.isAggregator && runtime.describe.length > 0)
          ctx.logger.info(`telemetry/opentelemetry otlp: ${runtime.describe.join('; ')}`);
        return runtime;
      })
      .catch((err: unknown) => {
        // the gateway serves on without traces rather than failing requests
        ctx.logger.error(
          `telemetry/opentelemetry otlp: cannot start the OpenTelemetry exporters (${err instanceof Error ? err.message : String(err)}): no traces or OTLP metrics`,
        );
        return undefined;
      }),
  };
  otlpHolders.set(key, created);
  return created;
}

/**
 * A middleware built from the tracing runtime once it is loaded. Until then (the first requests
 * after startup) each call waits for the import; after, it goes straight to the traced stage.
 */
function whenTracing<S extends (arg: never) => Promise<unknown>>(
  holder: OtlpHolder,
  make: (tracing: OtlpTracing) => ((next: S) => S) | undefined,
): (next: S) => S {
  return (next) => {
    let stage: S | undefined;
    const build = (runtime: OtlpRuntime | undefined): S => {
      const mw = runtime?.tracing ? make(runtime.tracing) : undefined;
      stage = mw ? mw(next) : next;
      return stage;
    };
    if (holder.runtime !== undefined) return build(holder.runtime);
    holder.ready.then(build);
    return ((arg: never) => (stage !== undefined ? stage(arg) : holder.ready.then(() => stage!(arg)))) as S;
  };
}

/** `outer` around `inner`, either of them possibly absent. */
function around<S>(
  outer: ((next: S) => S) | undefined,
  inner: ((next: S) => S) | undefined,
): ((next: S) => S) | undefined {
  if (!outer) return inner;
  if (!inner) return outer;
  return (next) => outer(inner(next));
}

export const opentelemetryModule: FeatureModule = {
  namespace: OTEL_NAMESPACE,
  schema,
  validate,
  prepareShared: () => prepareTelemetryShared(OTEL_NAMESPACE),
  service(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    // every thread traces its own requests; the aggregator also pushes everyone's metrics
    if (hasOtlp(cfg)) otlpHolder(cfg, ctx);
    const state = telemetryState(OTEL_NAMESPACE, ctx);
    if (!state.hub.isAggregator) return undefined;
    for (const exporter of cfg.exporters?.prometheus ?? []) {
      if (exporter.disable_metrics === true) continue;
      const server = startTelemetryServer(
        `telemetry/opentelemetry prometheus "${exporter.name}"`,
        { host: exporter.listen_ip ?? '0.0.0.0', port: exporter.port ?? 9090 },
        async (path) => {
          if (path !== '/metrics') return undefined;
          const { series, threads } = await state.hub.collect();
          const body = renderPrometheus(series, {
            resource: resourceLabels(cfg),
            processMetrics: exporter.process_metrics === true,
            runtimeMetrics: exporter.go_metrics === true,
            threads,
          });
          return { status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body };
        },
        ctx.logger,
      );
      ctx.onClose(() => server.close());
    }
    return undefined;
  },
  instrumentEndpoint(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (!ctx.endpoint || skipped(cfg, ctx)) return undefined;
    const endpoint = ctx.endpoint;
    const traces =
      tracesWanted(cfg) && cfg.layers?.global?.disable_traces !== true
        ? whenTracing<Parameters<EndpointMiddleware>[0]>(otlpHolder(cfg, ctx), (t) => t.endpoint(endpoint))
        : undefined;
    // the server span is outermost: it covers everything the gateway does for the request
    const metrics =
      metricsWanted(cfg) && cfg.layers?.global?.disable_metrics !== true
        ? instrumentEndpoint(telemetryState(OTEL_NAMESPACE, ctx).store, endpoint, true)
        : undefined;
    return around(traces, metrics);
  },
  instrumentProxy(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (!ctx.endpoint || skipped(cfg, ctx)) return undefined;
    const endpoint = ctx.endpoint;
    const traces =
      tracesWanted(cfg) && cfg.layers?.proxy?.disable_traces !== true
        ? whenTracing<Parameters<ProxyMiddleware>[0]>(otlpHolder(cfg, ctx), (t) => t.proxy(endpoint))
        : undefined;
    const metrics =
      metricsWanted(cfg) && cfg.layers?.proxy?.disable_metrics !== true
        ? instrumentProxy(telemetryState(OTEL_NAMESPACE, ctx).store, endpoint)
        : undefined;
    return around(traces, metrics);
  },
  instrumentBackend(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (!ctx.endpoint || !ctx.backend || skipped(cfg, ctx)) return undefined;
    const { endpoint, backend } = ctx;
    // with the backend stage's traces off, backends still get the trace context (propagation)
    const traces =
      tracesWanted(cfg) &&
      (cfg.layers?.backend?.traces?.disable_stage !== true ||
        cfg.layers?.global?.disable_propagation !== true)
        ? whenTracing<Parameters<BackendMiddleware>[0]>(otlpHolder(cfg, ctx), (t) =>
            t.backend(endpoint, backend),
          )
        : undefined;
    const metrics =
      metricsWanted(cfg) && cfg.layers?.backend?.metrics?.disable_stage !== true
        ? instrumentBackend(telemetryState(OTEL_NAMESPACE, ctx).store, endpoint, backend)
        : undefined;
    return around(traces, metrics);
  },
};
