// The one place where extra_config namespaces and encodings are registered. Each entry declares
// its namespace, the layer it acts at, its order, and how to load the module that implements it
// (FeatureModule, src/types.ts). Modules load only when a configuration uses them: OpenTelemetry,
// Lua, CEL, Redis, JOSE and XML cost tens of MB and hundreds of ms per thread
// (docs/benchmarks.md, start and idle memory). Adding a feature = one module, one entry here,
// and its tests.
//
// `order` is the order middlewares run in at each layer (lower = outer), as KrakenD chains them:
// bot detector → auth (API keys, basic, JWT) → rate limits → the rest.

import type { EndpointConfig, FeatureModule, ServiceConfig } from '../types.js';

/** Where a namespace acts (one module may act at several; this is where it is listed). */
export type Layer = 'core' | 'service' | 'router' | 'qos' | 'telemetry' | 'proxy' | 'backend' | 'agent';

interface FeatureEntry {
  namespace: string;
  layer: Layer;
  order: number;
  /** Loads the module; absent for the namespaces the core itself handles. */
  load?: () => Promise<FeatureModule>;
}

const entries: FeatureEntry[] = [
  // the core: routing, proxy options, the HTTP backend
  { namespace: 'router', layer: 'core', order: 0 },
  { namespace: 'proxy', layer: 'core', order: 0 },
  { namespace: 'backend/http', layer: 'core', order: 0 },
  { namespace: 'backend/http/client', layer: 'core', order: 0 },
  // service level, around the router
  {
    namespace: 'security/cors',
    layer: 'service',
    order: 10,
    load: async () => (await import('../security/cors.js')).corsModule,
  },
  {
    namespace: 'security/http',
    layer: 'service',
    order: 20,
    load: async () => (await import('../security/http-security.js')).httpSecurityModule,
  },
  // router layer: who may call, then how often
  {
    namespace: 'security/bot-detector',
    layer: 'router',
    order: 30,
    load: async () => (await import('../security/bot-detector.js')).botDetectorModule,
  },
  {
    namespace: 'auth/api-keys',
    layer: 'router',
    order: 40,
    load: async () => (await import('../security/api-keys.js')).apiKeysModule,
  },
  {
    namespace: 'auth/basic',
    layer: 'router',
    order: 50,
    load: async () => (await import('../security/basic-auth.js')).basicAuthModule,
  },
  {
    namespace: 'auth/validator',
    layer: 'router',
    order: 60,
    load: async () => (await import('../security/jwt-validator.js')).jwtValidatorModule,
  },
  {
    namespace: 'auth/jwk-client',
    layer: 'router',
    order: 70,
    load: async () => (await import('../security/jwt-validator.js')).jwkClientModule,
  },
  // after auth, before rate limits (router layer); outside CEL and schema (proxy layer)
  {
    namespace: 'modifier/lua-endpoint',
    layer: 'router',
    order: 80,
    load: async () => (await import('../modifiers/lua/index.js')).luaEndpointModule,
  },
  {
    namespace: 'modifier/lua-proxy',
    layer: 'proxy',
    order: 90,
    load: async () => (await import('../modifiers/lua/index.js')).luaProxyModule,
  },
  // traffic management
  {
    namespace: 'qos/ratelimit/router',
    layer: 'qos',
    order: 100,
    load: async () => (await import('../qos/ratelimit-router.js')).routerRateLimitModule,
  },
  {
    namespace: 'qos/ratelimit/service',
    layer: 'qos',
    order: 110,
    load: async () => (await import('../qos/ratelimit-router.js')).serviceRateLimitModule,
  },
  {
    namespace: 'qos/ratelimit/proxy',
    layer: 'qos',
    order: 120,
    load: async () => (await import('../qos/ratelimit-proxy.js')).proxyRateLimitModule,
  },
  {
    namespace: 'qos/circuit-breaker',
    layer: 'qos',
    order: 130,
    load: async () => (await import('../qos/circuit-breaker.js')).circuitBreakerModule,
  },
  {
    namespace: 'qos/http-cache',
    layer: 'qos',
    order: 140,
    load: async () => (await import('../qos/http-cache.js')).httpCacheModule,
  },
  {
    namespace: 'redis',
    layer: 'qos',
    order: 150,
    load: async () => (await import('../qos/redis.js')).redisModule,
  },
  {
    namespace: 'qos/ratelimit/router/redis',
    layer: 'qos',
    order: 160,
    load: async () => (await import('../qos/redis.js')).routerRedisRateLimitModule,
  },
  {
    namespace: 'qos/ratelimit/service/redis',
    layer: 'qos',
    order: 170,
    load: async () => (await import('../qos/redis.js')).serviceRedisRateLimitModule,
  },
  // telemetry
  {
    namespace: 'telemetry/logging',
    layer: 'telemetry',
    order: 200,
    load: async () => (await import('../telemetry/logging.js')).loggingModule,
  },
  {
    namespace: 'telemetry/metrics',
    layer: 'telemetry',
    order: 210,
    load: async () => (await import('../telemetry/stats.js')).metricsModule,
  },
  {
    namespace: 'telemetry/opentelemetry',
    layer: 'telemetry',
    order: 220,
    load: async () => (await import('../telemetry/opentelemetry.js')).opentelemetryModule,
  },
  // an endpoint that is a protocol of its own, under the endpoint layer
  {
    namespace: 'websocket',
    layer: 'core',
    order: 250,
    load: async () => (await import('../websocket/index.js')).websocketModule,
  },
  // proxy layer: request/response validation and signing
  {
    namespace: 'validation/json-schema',
    layer: 'proxy',
    order: 300,
    load: async () => (await import('../validation/json-schema.js')).jsonSchemaModule,
  },
  {
    namespace: 'validation/cel',
    layer: 'proxy',
    order: 310,
    load: async () => (await import('../validation/cel.js')).celModule,
  },
  {
    namespace: 'auth/signer',
    layer: 'proxy',
    order: 320,
    load: async () => (await import('../security/jwt-signer.js')).jwtSignerModule,
  },
  // backend layer, innermost last: lua-backend inside circuit breaker and rate limits
  {
    namespace: 'backend/graphql', // rewrites the request before lua-backend and martian see it
    layer: 'backend',
    order: 400,
    load: async () => (await import('../backends/graphql.js')).graphqlModule,
  },
  {
    namespace: 'modifier/lua-backend',
    layer: 'backend',
    order: 410,
    load: async () => (await import('../modifiers/lua/index.js')).luaBackendModule,
  },
  {
    namespace: 'modifier/martian', // innermost: martian edits the HTTP request/response itself
    layer: 'backend',
    order: 420,
    load: async () => (await import('../modifiers/martian.js')).martianModule,
  },
  // Backends that are a queue or a topic: each replaces the HTTP call (innermost of all).
  {
    namespace: 'backend/amqp/consumer',
    layer: 'backend',
    order: 430,
    load: async () => (await import('../backends/amqp.js')).amqpConsumerModule,
  },
  {
    namespace: 'backend/amqp/producer',
    layer: 'backend',
    order: 431,
    load: async () => (await import('../backends/amqp.js')).amqpProducerModule,
  },
  {
    namespace: 'backend/pubsub/subscriber',
    layer: 'backend',
    order: 432,
    load: async () => (await import('../backends/pubsub.js')).pubsubSubscriberModule,
  },
  {
    namespace: 'backend/pubsub/publisher',
    layer: 'backend',
    order: 433,
    load: async () => (await import('../backends/pubsub.js')).pubsubPublisherModule,
  },
  // async_agent drivers: what an agent consumes from (src/async/agents.ts runs the agents).
  {
    namespace: 'async/amqp',
    layer: 'agent',
    order: 500,
    load: async () => (await import('../async/amqp.js')).asyncAmqpModule,
  },
];

/**
 * KrakenD CE namespaces gw does not implement: accepted (as `krakend run` accepts them) and named
 * in a warning at `gw check` and at start, never dropped silently. The reason says what happens.
 */
export const UNIMPLEMENTED_NAMESPACES: Readonly<Record<string, string>> = {
  'backend/lambda': 'AWS Lambda backends are not implemented: the backend fails with 500',
  'auth/revoker': 'token revocation (bloom filter) is not implemented: revoked tokens stay valid',
  'auth/client-credentials':
    'OAuth2 client credentials are not implemented: the backend is called without a token',
  'telemetry/gelf': 'GELF logging is not implemented: logs go to stdout',
  'telemetry/influx': 'the InfluxDB push is not implemented (the /__stats API is, with telemetry/metrics)',
  'telemetry/logstash': 'use "format": "logstash" in telemetry/logging',
  'telemetry/opencensus': 'OpenCensus is not implemented: use telemetry/opentelemetry',
  'plugin/http-server': 'Go plugins cannot load in gw',
  'plugin/http-client': 'Go plugins cannot load in gw',
  'plugin/req-resp-modifier': 'Go plugins cannot load in gw',
};

/** KrakenD Enterprise namespaces gw does not implement (krakend-schema v2.13): named, then ignored. */
export const ENTERPRISE_NAMESPACES: ReadonlySet<string> = new Set([
  'ai/llm',
  'ai/mcp',
  'auth/aws-sigv4',
  'auth/gcp',
  'auth/ntlm',
  'backend/conditional',
  'backend/grpc',
  'backend/pubsub/publisher/kafka',
  'backend/pubsub/subscriber/kafka',
  'backend/soap',
  'backend/static-filesystem',
  'documentation/openapi',
  'documentation/postman',
  'governance/processors',
  'governance/quota',
  'grpc',
  'modifier/body-generator',
  'modifier/jmespath',
  'modifier/request-body-extractor',
  'modifier/request-body-extractor/early',
  'modifier/request-body-generator',
  'modifier/response-body',
  'modifier/response-body-generator',
  'modifier/response-headers',
  'plugin/middleware',
  'qos/circuit-breaker/http',
  'qos/ratelimit/tiered',
  'security/policies',
  'server/static-filesystem',
  'server/virtualhost',
  'telemetry/moesif',
  'telemetry/newrelic',
  'telemetry/opentelemetry-security',
  'validation/response-json-schema',
  'websocket',
  'workflow',
]);

/** The reason gw gives for a KrakenD CE namespace it does not implement, if `ns` is one. */
export function unimplementedNamespace(ns: string): string | undefined {
  return Object.hasOwn(UNIMPLEMENTED_NAMESPACES, ns) ? UNIMPLEMENTED_NAMESPACES[ns] : undefined;
}

/**
 * The long namespace names KrakenD CE still reads (its `cmd/krakend-ce/main.go` alias table, applied
 * by Lura's `ExtraConfig.Normalize`), by the short name they stand for.
 */
export const NAMESPACE_ALIASES: Readonly<Record<string, string>> = {
  'github_com/devopsfaith/krakend/transport/http/server/handler': 'plugin/http-server',
  'github.com/devopsfaith/krakend/transport/http/client/executor': 'plugin/http-client',
  'github.com/devopsfaith/krakend/proxy/plugin': 'plugin/req-resp-modifier',
  'github.com/devopsfaith/krakend/proxy': 'proxy',
  'github_com/luraproject/lura/router/gin': 'router',
  'github.com/devopsfaith/krakend-httpcache': 'qos/http-cache',
  'github.com/devopsfaith/krakend-circuitbreaker/gobreaker': 'qos/circuit-breaker',
  'github.com/devopsfaith/krakend-oauth2-clientcredentials': 'auth/client-credentials',
  'github.com/devopsfaith/krakend-jose/validator': 'auth/validator',
  'github.com/devopsfaith/krakend-jose/signer': 'auth/signer',
  'github_com/devopsfaith/bloomfilter': 'auth/revoker',
  'github_com/devopsfaith/krakend-botdetector': 'security/bot-detector',
  'github_com/devopsfaith/krakend-httpsecure': 'security/http',
  'github_com/devopsfaith/krakend-cors': 'security/cors',
  'github.com/devopsfaith/krakend-cel': 'validation/cel',
  'github.com/devopsfaith/krakend-jsonschema': 'validation/json-schema',
  'github.com/devopsfaith/krakend-amqp/agent': 'async/amqp',
  'github.com/devopsfaith/krakend-amqp/consume': 'backend/amqp/consumer',
  'github.com/devopsfaith/krakend-amqp/produce': 'backend/amqp/producer',
  'github.com/devopsfaith/krakend-lambda': 'backend/lambda',
  'github.com/devopsfaith/krakend-pubsub/publisher': 'backend/pubsub/publisher',
  'github.com/devopsfaith/krakend-pubsub/subscriber': 'backend/pubsub/subscriber',
  'github.com/devopsfaith/krakend/transport/http/client/graphql': 'backend/graphql',
  'github.com/devopsfaith/krakend/http': 'backend/http',
  'github_com/devopsfaith/krakend-gelf': 'telemetry/gelf',
  'github_com/devopsfaith/krakend-gologging': 'telemetry/logging',
  'github_com/devopsfaith/krakend-logstash': 'telemetry/logstash',
  'github_com/devopsfaith/krakend-metrics': 'telemetry/metrics',
  'github_com/letgoapp/krakend-influx': 'telemetry/influx',
  'github_com/devopsfaith/krakend-opencensus': 'telemetry/opencensus',
  'github.com/devopsfaith/krakend-lua/router': 'modifier/lua-endpoint',
  'github.com/devopsfaith/krakend-lua/proxy': 'modifier/lua-proxy',
  'github.com/devopsfaith/krakend-lua/proxy/backend': 'modifier/lua-backend',
  'github.com/devopsfaith/krakend-martian': 'modifier/martian',
};

/** Backend `encoding` and endpoint `output_encoding` names served by a module of their own. */
const encodingEntries: Array<{ module: string; names: string[]; load: () => Promise<unknown> }> = [
  // negotiate answers XML or YAML when asked
  { module: 'xml', names: ['xml', 'rss', 'negotiate'], load: () => import('../encodings/xml.js') },
  { module: 'yaml', names: ['yaml', 'negotiate'], load: () => import('../encodings/yaml.js') },
];

const byNamespace = new Map(entries.map((e) => [e.namespace, e]));
const runOrder = entries
  .filter((e) => e.load !== undefined)
  .sort((a, b) => a.order - b.order)
  .map((e) => e.namespace);

/** The modules loaded so far, by namespace (tests may add their own). */
export const featureByNamespace = new Map<string, FeatureModule>();

export function isKnownNamespace(ns: string): boolean {
  return byNamespace.has(ns) || featureByNamespace.has(ns);
}

/**
 * The module of `ns`: undefined for a namespace gw does not know or handles in its core. A module
 * that a configuration uses is loaded before anything reads it (loadModulesFor): asking for one
 * that was not is a bug, and says so.
 */
export function moduleFor(ns: string): FeatureModule | undefined {
  const mod = featureByNamespace.get(ns);
  if (mod === undefined && byNamespace.get(ns)?.load !== undefined)
    throw new Error(`${ns}: used, but its module was not loaded`);
  return mod;
}

/** The registered namespaces present in `extra`, in run order (outermost first). */
export function namespacesInRunOrder(extra: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const ns of runOrder) {
    if (extra[ns] === undefined) continue;
    if (!featureByNamespace.has(ns)) throw new Error(`${ns}: used, but its module was not loaded`);
    out.push(ns);
  }
  return out;
}

/** Every namespace used anywhere in the config (root, endpoints, async agents, their backends). */
export function usedNamespaces(service: ServiceConfig): Set<string> {
  const out = new Set<string>(Object.keys(service.extra_config ?? {}));
  const agents = Array.isArray(service.async_agent) ? (service.async_agent as EndpointConfig[]) : [];
  for (const ep of [...(service.endpoints ?? []), ...agents]) {
    if (ep === null || typeof ep !== 'object') continue;
    for (const ns of Object.keys(ep.extra_config ?? {})) out.add(ns);
    for (const b of Array.isArray(ep.backend) ? ep.backend : [])
      for (const ns of Object.keys(b?.extra_config ?? {})) out.add(ns);
  }
  return out;
}

function usedEncodings(service: ServiceConfig): Set<string> {
  const out = new Set<string>();
  const agents = Array.isArray(service.async_agent) ? (service.async_agent as EndpointConfig[]) : [];
  for (const ep of [...(service.endpoints ?? []), ...agents]) {
    if (ep === null || typeof ep !== 'object') continue;
    if (typeof ep.output_encoding === 'string') out.add(ep.output_encoding);
    if (typeof ep.encoding === 'string') out.add(ep.encoding);
    for (const b of Array.isArray(ep.backend) ? ep.backend : [])
      if (typeof b?.encoding === 'string') out.add(b.encoding);
  }
  return out;
}

async function loadNamespaces(namespaces: Iterable<string>): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const ns of namespaces) {
    const entry = byNamespace.get(ns);
    if (entry?.load === undefined || featureByNamespace.has(ns)) continue;
    pending.push(entry.load().then((mod) => void featureByNamespace.set(ns, mod)));
  }
  await Promise.all(pending);
}

const loadedEncodings = new Set<string>();

async function loadEncodings(entries: typeof encodingEntries): Promise<void> {
  await Promise.all(
    entries.map(async (e) => {
      await e.load();
      loadedEncodings.add(e.module);
    }),
  );
}

/** Loads the modules of every namespace and encoding `service` uses, and nothing else. */
export async function loadModulesFor(service: ServiceConfig): Promise<void> {
  const encodings = usedEncodings(service);
  await Promise.all([
    loadNamespaces(usedNamespaces(service)),
    loadEncodings(encodingEntries.filter((e) => e.names.some((n) => encodings.has(n)))),
  ]);
}

/** Loads every module (tests, and tools that list what gw supports). */
export async function loadAllModules(): Promise<void> {
  await Promise.all([loadNamespaces(byNamespace.keys()), loadEncodings(encodingEntries)]);
}

/** What this thread loaded, for the `-d` log: namespaces in run order with their layer, then encodings. */
export function loadedModules(): string[] {
  return [
    ...runOrder
      .filter((ns) => featureByNamespace.has(ns))
      .map((ns) => `${ns} (${byNamespace.get(ns)!.layer})`),
    ...[...loadedEncodings].sort().map((n) => `encoding:${n}`),
  ];
}
