// `telemetry/opentelemetry`: the layers' metrics (global, proxy, backend) exposed by each
// `prometheus` exporter on its own port (/metrics), and — when an `otlp` exporter is configured —
// metrics and traces pushed over OTLP with the official @opentelemetry packages (otlp.ts, loaded
// only then). Without this namespace nothing is timed and nothing is loaded.

import type { CompileContext, ConfigIssue, FeatureModule } from '../types.js';
import {
  instrumentBackend,
  instrumentEndpoint,
  instrumentProxy,
  prepareTelemetryShared,
  telemetryState,
} from './instrument.js';
import { startTelemetryServer } from './listener.js';
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
        global: { type: 'object' },
        proxy: { type: 'object' },
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

export const opentelemetryModule: FeatureModule = {
  namespace: OTEL_NAMESPACE,
  schema,
  validate,
  prepareShared: () => prepareTelemetryShared(OTEL_NAMESPACE),
  service(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
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
    if (
      !ctx.endpoint ||
      skipped(cfg, ctx) ||
      !metricsWanted(cfg) ||
      cfg.layers?.global?.disable_metrics === true
    )
      return undefined;
    return instrumentEndpoint(telemetryState(OTEL_NAMESPACE, ctx).store, ctx.endpoint, true);
  },
  instrumentProxy(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (
      !ctx.endpoint ||
      skipped(cfg, ctx) ||
      !metricsWanted(cfg) ||
      cfg.layers?.proxy?.disable_metrics === true
    )
      return undefined;
    return instrumentProxy(telemetryState(OTEL_NAMESPACE, ctx).store, ctx.endpoint);
  },
  instrumentBackend(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (!ctx.endpoint || !ctx.backend || skipped(cfg, ctx) || !metricsWanted(cfg)) return undefined;
    if (cfg.layers?.backend?.metrics?.disable_stage === true) return undefined;
    return instrumentBackend(telemetryState(OTEL_NAMESPACE, ctx).store, ctx.endpoint, ctx.backend);
  },
};
