// `telemetry/opentelemetry`: the layers' metrics (global, proxy, backend) exposed by each
// `prometheus` exporter on its own port (/metrics), and — when an `otlp` exporter is configured —
// metrics and traces pushed over OTLP with the official @opentelemetry packages (otlp.ts, loaded
// only then). Without this namespace nothing is timed and nothing is loaded.
// An endpoint's or a backend's own `telemetry/opentelemetry` overrides the service's proxy and
// backend layers for it (switches, static attributes, report_headers); the hooks read those
// overrides when they build that endpoint's or backend's middlewares, at startup.

import type {
  BackendConfig,
  BackendMiddleware,
  CompileContext,
  ConfigIssue,
  EndpointConfig,
  EndpointMiddleware,
  FeatureModule,
  ProxyMiddleware,
  ServiceConfig,
  UnmatchedRecorder,
} from '../types.js';
import {
  BACKEND_DURATION,
  instrumentBackend,
  instrumentEndpoint,
  instrumentProxy,
  instrumentUnmatched,
  type PhaseOptions,
  PROXY_DURATION,
  prepareTelemetryShared,
  telemetryState,
} from './instrument.js';
import { startTelemetryServer } from './listener.js';
import { type Labels, staticLabels } from './metrics-store.js';
import type { OtlpRuntime, OtlpTracing } from './otlp.js';
import { layerLabelNames, prometheusLabelName, renderPrometheus } from './prometheus.js';

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

interface StaticAttribute {
  key: string;
  value: string;
}

interface StageOptions {
  disable_stage?: boolean;
  round_trip?: boolean;
  read_payload?: boolean;
  detailed_connection?: boolean;
  report_headers?: boolean;
  static_attributes?: StaticAttribute[];
}

/** `extra_config["telemetry/opentelemetry"]` of an endpoint (KrakenD CE: the proxy layer only). */
export interface EndpointOtelConfig {
  proxy?: {
    disable_metrics?: boolean;
    disable_traces?: boolean;
    report_headers?: boolean;
    traces_static_attributes?: StaticAttribute[];
    metrics_static_attributes?: StaticAttribute[];
  };
}

/** `extra_config["telemetry/opentelemetry"]` of a backend. */
export interface BackendOtelConfig {
  proxy?: { disable_metrics?: boolean; disable_traces?: boolean };
  backend?: { metrics?: StageOptions; traces?: StageOptions };
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

const staticAttributesSchema = {
  type: 'array',
  expected: 'an array of {"key": "...", "value": "..."} objects',
  items: {
    type: 'object',
    required: ['key', 'value'],
    properties: { key: { type: 'string', minLength: 1 }, value: { type: 'string' } },
  },
};

const stageSchema = {
  type: 'object',
  properties: {
    disable_stage: { type: 'boolean' },
    round_trip: { type: 'boolean' },
    read_payload: { type: 'boolean' },
    detailed_connection: { type: 'boolean' },
    report_headers: { type: 'boolean' },
    static_attributes: staticAttributesSchema,
  },
};

/**
 * The endpoint and backend overrides. One schema serves the three levels (gw check runs a module's
 * schema wherever its namespace appears), so it holds the union of their properties and their
 * types; validate() tells which properties belong at which level.
 */
const overrideProxySchema = {
  type: 'object',
  properties: {
    disable_metrics: { type: 'boolean' },
    disable_traces: { type: 'boolean' },
    report_headers: { type: 'boolean' },
    traces_static_attributes: staticAttributesSchema,
    metrics_static_attributes: staticAttributesSchema,
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
    // endpoint and backend levels
    proxy: overrideProxySchema,
    backend: { type: 'object', properties: { metrics: stageSchema, traces: stageSchema } },
  },
};

const SERVICE_KEYS = Object.keys(schema.properties).filter((k) => k !== 'proxy' && k !== 'backend');
const ENDPOINT_PROXY_KEYS = Object.keys(overrideProxySchema.properties);
const BACKEND_PROXY_KEYS = ['disable_metrics', 'disable_traces'];
const STAGE_KEYS = Object.keys(stageSchema.properties);
/** Endpoint-level settings of KrakenD Enterprise (not in CE, not in gw). */
const ENTERPRISE_ENDPOINT_KEYS = ['global', 'backend', 'exporters_override'];

/** Where a `telemetry/opentelemetry` value sits, from its JSON path. */
type Level =
  | { kind: 'service' }
  | { kind: 'endpoint'; endpoint: number }
  | { kind: 'backend'; endpoint: number; backend: number };

function levelOf(path: string): Level {
  const m = /^\$\.endpoints\[(\d+)\](?:\.backend\[(\d+)\])?\.extra_config\[/.exec(path);
  if (!m) return { kind: 'service' };
  if (m[2] === undefined) return { kind: 'endpoint', endpoint: Number(m[1]) };
  return { kind: 'backend', endpoint: Number(m[1]), backend: Number(m[2]) };
}

function validate(raw: unknown, path: string, service: ServiceConfig): ConfigIssue[] {
  const level = levelOf(path);
  if (level.kind !== 'service') return validateOverride(raw as Record<string, unknown>, path, level, service);
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
  const { unknown } = parsePropagators(process.env.OTEL_PROPAGATORS);
  if (unknown !== undefined && tracesWanted(cfg))
    issues.push({
      path,
      message: `the environment variable OTEL_PROPAGATORS names "${unknown}": expected a comma-separated list of ${PROPAGATOR_NAMES.join(', ')}`,
    });
  const stages = cfg.layers?.backend;
  stageIssues(stages?.metrics, `${path}.layers.backend.metrics`, 'metrics', issues);
  stageIssues(stages?.traces, `${path}.layers.backend.traces`, 'traces', issues);
  const top = cfg as Record<string, unknown>;
  for (const key of ['proxy', 'backend'])
    if (top[key] !== undefined)
      issues.push({
        path: `${path}.${key}`,
        message: `"${key}" overrides the ${key} layer in an endpoint's or a backend's extra_config; here, at the service level, it goes under "layers" (ignored)`,
        severity: 'warning',
      });
  return issues;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const quoted = (keys: string[]) => keys.map((k) => `"${k}"`).join(', ');

/** The propagators `OTEL_PROPAGATORS` may name (the docs' list, plus the OpenTelemetry spec's `none`). */
export const PROPAGATOR_NAMES = ['tracecontext', 'baggage', 'b3', 'b3multi', 'none'] as const;
export type PropagatorName = (typeof PROPAGATOR_NAMES)[number];

/**
 * `OTEL_PROPAGATORS`, an environment variable as in KrakenD (not a configuration option): the
 * propagators in their order, or the first name that is none of them. Unset or empty: W3C trace
 * context only.
 */
export function parsePropagators(value: string | undefined): { names: PropagatorName[]; unknown?: string } {
  const names: PropagatorName[] = [];
  for (const item of (value ?? '').split(',')) {
    const name = item.trim().toLowerCase();
    if (name === '') continue;
    if (!(PROPAGATOR_NAMES as readonly string[]).includes(name)) return { names: [], unknown: item.trim() };
    if (!names.includes(name as PropagatorName)) names.push(name as PropagatorName);
  }
  return { names: names.length === 0 ? ['tracecontext'] : names };
}

/** `$.a` for identifier keys, `$["a-b"]` for the rest (as gw check writes paths). */
const child = (base: string, key: string) =>
  /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;

/** Static attributes of the backend stage's metrics whose label is taken. */
function stageIssues(
  stage: StageOptions | undefined,
  at: string,
  kind: 'metrics' | 'traces',
  issues: ConfigIssue[],
): void {
  if (!isObject(stage) || kind !== 'metrics') return;
  staticLabelIssues(stage.static_attributes, `${at}.static_attributes`, BACKEND_DURATION, issues);
}

/**
 * Static attributes of metrics whose key gives a label name the layer's series already have (or
 * one Prometheus reserves): /metrics and OTLP keep the layer's own label and drop them.
 */
function staticLabelIssues(list: unknown, listPath: string, family: string, issues: ConfigIssue[]): void {
  if (!Array.isArray(list)) return;
  const own = layerLabelNames(family);
  list.forEach((a: StaticAttribute, i) => {
    const label = prometheusLabelName(a.key);
    if (own.includes(label) || label === 'le' || label.startsWith('__'))
      issues.push({
        path: `${listPath}[${i}].key`,
        message: `"${a.key}" gives the label "${label}", which the layer's series have already (${quoted(own)}) or Prometheus reserves: this static attribute is dropped, choose another key`,
        severity: 'warning',
      });
  });
}

/** The checks of an endpoint-level or backend-level override (the schema checked the types). */
function validateOverride(
  cfg: Record<string, unknown>,
  path: string,
  level: Exclude<Level, { kind: 'service' }>,
  service: ServiceConfig,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const warn = (at: string, message: string) => issues.push({ path: at, message, severity: 'warning' });
  const unknown = (at: string, key: string, allowed: string[]) =>
    issues.push({
      path: child(at, key),
      message: `unknown property "${key}": expected ${allowed.length === 1 ? quoted(allowed) : `one of ${quoted(allowed)}`}`,
    });
  const where = level.kind === 'endpoint' ? "an endpoint's" : "a backend's";
  const serviceCfg = isObject(service.extra_config) ? service.extra_config[OTEL_NAMESPACE] : undefined;
  const endpoint = Array.isArray(service.endpoints) ? service.endpoints[level.endpoint] : undefined;
  if (!isObject(serviceCfg))
    warn(
      path,
      `no effect: "${OTEL_NAMESPACE}" is not configured at the service level ($.extra_config), so nothing is reported to override`,
    );
  else if (
    endpoint !== undefined &&
    Array.isArray(serviceCfg.skip_paths) &&
    serviceCfg.skip_paths.includes(endpoint.endpoint)
  )
    warn(path, `no effect: the endpoint "${endpoint.endpoint}" is in skip_paths, nothing of it is reported`);

  const allowed = level.kind === 'endpoint' ? ['proxy'] : ['proxy', 'backend'];
  for (const key of Object.keys(cfg)) {
    if (allowed.includes(key) || key.startsWith('@')) continue;
    if (level.kind === 'endpoint' && ENTERPRISE_ENDPOINT_KEYS.includes(key))
      warn(
        child(path, key),
        `"${key}" at the endpoint level is a KrakenD Enterprise setting, not supported by gw (ignored)${key === 'backend' ? `: override a backend's stage in that backend's extra_config` : ''}`,
      );
    else if (SERVICE_KEYS.includes(key))
      warn(
        child(path, key),
        `"${key}" is a service-level setting: it belongs in $.extra_config["${OTEL_NAMESPACE}"] (ignored in ${where} extra_config)`,
      );
    else unknown(path, key, allowed);
  }

  const proxy = cfg.proxy;
  if (isObject(proxy)) {
    const at = `${path}.proxy`;
    for (const key of Object.keys(proxy)) {
      if (key.startsWith('@')) continue;
      if (level.kind === 'endpoint' ? ENDPOINT_PROXY_KEYS.includes(key) : BACKEND_PROXY_KEYS.includes(key))
        continue;
      if (level.kind === 'backend' && ENDPOINT_PROXY_KEYS.includes(key))
        warn(
          child(at, key),
          `"${key}" applies to the proxy layer of an endpoint: set it in the endpoint's extra_config (ignored here)`,
        );
      else unknown(at, key, level.kind === 'endpoint' ? ENDPOINT_PROXY_KEYS : BACKEND_PROXY_KEYS);
    }
    if (level.kind === 'endpoint')
      staticLabelIssues(
        proxy.metrics_static_attributes,
        `${at}.metrics_static_attributes`,
        PROXY_DURATION,
        issues,
      );
    else if (endpoint !== undefined) {
      // gw's proxy layer is the endpoint's: a backend can switch it only with its siblings' agreement
      const endpointProxy = endpointOverride(endpoint)?.proxy;
      for (const key of ['disable_metrics', 'disable_traces'] as const) {
        if (typeof proxy[key] !== 'boolean' || typeof endpointProxy?.[key] === 'boolean') continue;
        if (unanimous(endpoint, key) === undefined)
          warn(
            `${at}.${key}`,
            `gw's proxy layer covers the whole endpoint: a backend's proxy.${key} applies only when every backend of the endpoint sets the same value (ignored here; set it in the endpoint's extra_config)`,
          );
      }
    }
  }

  const stages = cfg.backend;
  if (level.kind === 'backend' && isObject(stages)) {
    const at = `${path}.backend`;
    for (const key of Object.keys(stages))
      if (key !== 'metrics' && key !== 'traces' && !key.startsWith('@'))
        unknown(at, key, ['metrics', 'traces']);
    for (const kind of ['metrics', 'traces'] as const) {
      const stage = stages[kind];
      if (!isObject(stage)) continue;
      for (const key of Object.keys(stage))
        if (!STAGE_KEYS.includes(key) && !key.startsWith('@')) unknown(`${at}.${kind}`, key, STAGE_KEYS);
      stageIssues(stage as StageOptions, `${at}.${kind}`, kind, issues);
    }
  }
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

function endpointOverride(endpoint: EndpointConfig): EndpointOtelConfig | undefined {
  const v = isObject(endpoint.extra_config) ? endpoint.extra_config[OTEL_NAMESPACE] : undefined;
  return isObject(v) ? (v as EndpointOtelConfig) : undefined;
}

function backendOverride(backend: BackendConfig): BackendOtelConfig | undefined {
  const v = isObject(backend.extra_config) ? backend.extra_config[OTEL_NAMESPACE] : undefined;
  return isObject(v) ? (v as BackendOtelConfig) : undefined;
}

/** A boolean setting, undefined when absent (or not a boolean: gw check said so). */
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** The value every backend of `endpoint` gives its `proxy.<key>` override, when they all give one and agree. */
function unanimous(endpoint: EndpointConfig, key: 'disable_metrics' | 'disable_traces'): boolean | undefined {
  const backends = Array.isArray(endpoint.backend) ? endpoint.backend : [];
  let value: boolean | undefined;
  for (const b of backends) {
    const v = isObject(b) ? bool(backendOverride(b)?.proxy?.[key]) : undefined;
    if (v === undefined || (value !== undefined && v !== value)) return undefined;
    value = v;
  }
  return value;
}

function attributeList(v: unknown): StaticAttribute[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.filter(
    (a): a is StaticAttribute =>
      isObject(a) && typeof a.key === 'string' && a.key !== '' && typeof a.value === 'string',
  );
}

function attributeMap(list: StaticAttribute[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list ?? []) out[a.key] = a.value;
  return out;
}

/** What the proxy layer of one endpoint reports: the service's `layers.proxy` and the overrides. */
export interface LayerPlan {
  metrics: boolean;
  traces: boolean;
  reportHeaders: boolean;
  /** Static attributes of the layer's series (internal label keys). */
  metricLabels: Labels;
  /** Static attributes of the layer's spans. */
  traceAttributes: Record<string, string>;
}

/**
 * The proxy layer of `endpoint`. Each setting comes from the endpoint's override, else from its
 * backends' overrides when they all set it alike (gw's proxy layer is the endpoint's, not one per
 * backend), else from the service's `layers.proxy`.
 */
export function proxyPlan(cfg: OtelConfig, endpoint: EndpointConfig): LayerPlan {
  const own = endpointOverride(endpoint)?.proxy;
  const service = cfg.layers?.proxy;
  const disabled = (key: 'disable_metrics' | 'disable_traces') =>
    bool(own?.[key]) ?? unanimous(endpoint, key) ?? service?.[key] === true;
  return {
    metrics: !disabled('disable_metrics'),
    traces: !disabled('disable_traces'),
    reportHeaders: bool(own?.report_headers) ?? service?.report_headers === true,
    metricLabels: staticLabels(attributeList(own?.metrics_static_attributes) ?? []),
    traceAttributes: attributeMap(attributeList(own?.traces_static_attributes)),
  };
}

/** The backend stage of one backend: its layer plan and the phases of its calls it reports. */
export interface BackendPlan extends LayerPlan {
  tracePhases: PhaseOptions;
  metricPhases: PhaseOptions;
}

function phaseOptions(own: StageOptions | undefined, service: StageOptions | undefined): PhaseOptions {
  const on = (key: 'round_trip' | 'read_payload' | 'detailed_connection') =>
    bool(own?.[key]) ?? service?.[key] === true;
  return {
    roundTrip: on('round_trip'),
    readPayload: on('read_payload'),
    detailedConnection: on('detailed_connection'),
  };
}

/**
 * The backend stage of `backend`: each setting of the backend's `backend.metrics` / `.traces`
 * override replaces the service's `layers.backend` one (static_attributes as a whole list).
 */
export function backendPlan(cfg: OtelConfig, backend: BackendConfig): BackendPlan {
  const own = backendOverride(backend)?.backend;
  const ownStage = (kind: 'metrics' | 'traces') => {
    const v = isObject(own) ? own[kind] : undefined;
    return isObject(v) ? (v as StageOptions) : undefined;
  };
  const [metrics, traces] = [ownStage('metrics'), ownStage('traces')];
  const service = cfg.layers?.backend;
  return {
    metrics: !(bool(metrics?.disable_stage) ?? service?.metrics?.disable_stage === true),
    traces: !(bool(traces?.disable_stage) ?? service?.traces?.disable_stage === true),
    reportHeaders: bool(traces?.report_headers) ?? service?.traces?.report_headers === true,
    metricLabels: staticLabels(
      attributeList(metrics?.static_attributes) ?? attributeList(service?.metrics?.static_attributes) ?? [],
    ),
    traceAttributes: attributeMap(
      attributeList(traces?.static_attributes) ?? attributeList(service?.traces?.static_attributes),
    ),
    tracePhases: phaseOptions(traces, service?.traces),
    metricPhases: phaseOptions(metrics, service?.metrics),
  };
}

/** Whether any layer of any endpoint records spans, the overrides considered. */
function spansSomewhere(cfg: OtelConfig, service: ServiceConfig): boolean {
  if (cfg.layers?.global?.disable_traces !== true) return true;
  const skip = cfg.skip_paths ?? [];
  for (const endpoint of Array.isArray(service.endpoints) ? service.endpoints : []) {
    if (!isObject(endpoint) || skip.includes(endpoint.endpoint)) continue;
    if (proxyPlan(cfg, endpoint).traces) return true;
    for (const b of Array.isArray(endpoint.backend) ? endpoint.backend : [])
      if (isObject(b) && backendPlan(cfg, b).traces) return true;
  }
  return false;
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
          spans: spansSomewhere(cfg, ctx.service),
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

/**
 * The SERVER spans of the requests no endpoint serves. Until the tracing runtime is loaded (the
 * first requests after startup) a span waits for it, with the times it already has.
 */
function unmatchedSpans(holder: OtlpHolder): UnmatchedRecorder {
  let tracing = holder.runtime?.tracing;
  let loaded = holder.runtime !== undefined;
  if (!loaded)
    holder.ready.then((runtime) => {
      tracing = runtime?.tracing;
      loaded = true;
    });
  return (req, res, startedMs) => {
    if (tracing !== undefined) tracing.unmatched(req, res, startedMs, performance.now());
    else if (!loaded) {
      const endedMs = performance.now();
      holder.ready.then(() => tracing?.unmatched(req, res, startedMs, endedMs));
    }
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
  instrumentUnmatched(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    const global = cfg.layers?.global;
    const traces =
      tracesWanted(cfg) && global?.disable_traces !== true ? unmatchedSpans(otlpHolder(cfg, ctx)) : undefined;
    const metrics =
      metricsWanted(cfg) && global?.disable_metrics !== true
        ? instrumentUnmatched(telemetryState(OTEL_NAMESPACE, ctx).store)
        : undefined;
    const record: UnmatchedRecorder | undefined =
      traces === undefined || metrics === undefined
        ? (traces ?? metrics)
        : (req, res, startedMs) => {
            metrics(req, res, startedMs);
            traces(req, res, startedMs);
          };
    const skip = new Set(cfg.skip_paths ?? []);
    if (record === undefined || skip.size === 0) return record;
    // skip_paths lists exact paths: here, compared with the path as the request gave it
    return (req, res, startedMs) => {
      if (!skip.has(req.path)) record(req, res, startedMs);
    };
  },
  instrumentProxy(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (!ctx.endpoint || skipped(cfg, ctx)) return undefined;
    const endpoint = ctx.endpoint;
    const plan = proxyPlan(cfg, endpoint);
    const traces =
      tracesWanted(cfg) && plan.traces
        ? whenTracing<Parameters<ProxyMiddleware>[0]>(otlpHolder(cfg, ctx), (t) =>
            t.proxy(endpoint, { reportHeaders: plan.reportHeaders, attributes: plan.traceAttributes }),
          )
        : undefined;
    const metrics =
      metricsWanted(cfg) && plan.metrics
        ? instrumentProxy(telemetryState(OTEL_NAMESPACE, ctx).store, endpoint, plan.metricLabels)
        : undefined;
    return around(traces, metrics);
  },
  instrumentBackend(raw, ctx) {
    const cfg = (raw ?? {}) as OtelConfig;
    if (!ctx.endpoint || !ctx.backend || skipped(cfg, ctx)) return undefined;
    const { endpoint, backend } = ctx;
    const plan = backendPlan(cfg, backend);
    // with the backend stage's traces off, backends still get the trace context (propagation)
    const traces =
      tracesWanted(cfg) && (plan.traces || cfg.layers?.global?.disable_propagation !== true)
        ? whenTracing<Parameters<BackendMiddleware>[0]>(otlpHolder(cfg, ctx), (t) =>
            t.backend(endpoint, backend, {
              span: plan.traces,
              reportHeaders: plan.reportHeaders,
              attributes: plan.traceAttributes,
              phases: plan.tracePhases,
            }),
          )
        : undefined;
    const metrics =
      metricsWanted(cfg) && plan.metrics
        ? instrumentBackend(
            telemetryState(OTEL_NAMESPACE, ctx).store,
            endpoint,
            backend,
            plan.metricLabels,
            plan.metricPhases,
          )
        : undefined;
    return around(traces, metrics);
  },
};
