// The schema `gw check --lint` holds a configuration to: every field KrakenD CE 2.13 knows in the
// core objects and in each CE namespace (plus the Enterprise ones gw implements), with its type,
// its allowed values and the fields it requires. Written from the facts of krakend-schema v2.13
// (`krakend/krakend-schema`, folder `v2.13/`), in gw's own compact notation; where gw reads more
// than KrakenD's schema lists, the extra fields are added. Compiled only by `check --lint`
// (src/config/lint.ts): `gw run` never loads this file.
//
// Where gw declares a namespace's settings itself (the core's src/config/schema.ts, a module's
// schema or field table), the lint entry is built on that declaration (`closedFrom`) and only
// adds what krakend-schema says beyond it: the object closed to other keys, enumerations, the
// fields gw does not read. gw's own check runs first, and a lint finding at a path it already
// reported is left out (lint.ts), so gw's bounds need not be repeated here.

import { AMQP_CONSUMER_SCHEMA, AMQP_PRODUCER_SCHEMA } from '../backends/amqp-settings.js';
import { BACKOFF_STRATEGIES } from '../backends/backoff.js';
import { GRAPHQL_SCHEMA } from '../backends/graphql.js';
import { PUBSUB_PUBLISHER_SCHEMA, PUBSUB_SUBSCRIBER_SCHEMA } from '../backends/transports.js';
import { LUA_SCHEMA } from '../modifiers/lua/settings.js';
import {
  type FieldKind,
  JWS_ALGORITHMS,
  KEY_IDENTIFY_STRATEGIES,
  SCOPES_MATCHERS,
  VALIDATOR_TYPED_FIELDS,
} from '../security/jose-settings.js';
import { CEL_SCHEMA } from '../validation/cel-settings.js';
import {
  backendHttpSchema,
  backendSchema,
  ENDPOINT_DURATIONS,
  endpointSchema,
  proxySchema,
  ROOT_DURATIONS,
  rootSchema,
  routerSchema,
} from './schema.js';

type Schema = Record<string, unknown>;
type Fields = Record<string, Schema>;
export type Level = 'service' | 'endpoint' | 'backend';
export type ByLevel = Partial<Record<Level, Schema>>;

/** Keys starting with these characters are comments in every KrakenD object. */
const COMMENT_KEYS = { '^[@$_#]': true };

const S: Schema = { type: 'string', expected: 'a string' };
const B: Schema = { type: 'boolean', expected: 'a boolean (true or false)' };
const I: Schema = { type: 'integer', expected: 'an integer' };
const N: Schema = { type: 'number', expected: 'a number' };
const ANY: Schema = {};
const OBJ: Schema = { type: 'object', expected: 'an object' };
/** A Go duration, as gw parses it (krakend-schema's own pattern refuses "1m30s" and "1.5s"). */
const D: Schema = {
  type: 'string',
  pattern: '^[-+]?((\\d+(\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h))+$|^0$',
  expected: 'a duration like "2s", "500ms" or "1m30s"',
};

function en(...values: Array<string | number>): Schema {
  return { enum: values, expected: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}` };
}
function bounds(minimum?: number, maximum?: number): Schema {
  return { ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }) };
}
function int(minimum?: number, maximum?: number): Schema {
  const words =
    maximum === undefined ? `an integer ≥ ${minimum}` : `an integer from ${minimum ?? '-∞'} to ${maximum}`;
  return { type: 'integer', ...bounds(minimum, maximum), expected: words };
}
function num(minimum?: number, maximum?: number): Schema {
  const words =
    maximum === undefined ? `a number ≥ ${minimum}` : `a number from ${minimum ?? '-∞'} to ${maximum}`;
  return { type: 'number', ...bounds(minimum, maximum), expected: words };
}
function arr(items: Schema): Schema {
  const what = typeof items.expected === 'string' ? ` of ${items.expected.replace(/^an? /, '')}s` : '';
  return { type: 'array', items, expected: `an array${what}` };
}
function map(values: Schema): Schema {
  return { type: 'object', additionalProperties: values, expected: 'an object' };
}
/** An object whose fields are all known: any other key (but a comment) is an error. */
function obj(properties: Fields, required: string[] = []): Schema {
  return {
    type: 'object',
    properties,
    required,
    patternProperties: COMMENT_KEYS,
    additionalProperties: false,
    expected: 'an object',
  };
}
/** An object KrakenD's schema leaves open to other keys. */
function open(properties: Fields, required: string[] = []): Schema {
  return { type: 'object', properties, required, expected: 'an object' };
}
function on(levels: Level[], schema: Schema): ByLevel {
  return Object.fromEntries(levels.map((l) => [l, schema]));
}

// ---------------------------------------------------------------------------------------------
// Building on gw's own declarations.

/**
 * The lint view of a field gw declares in JSON schema: the same type (and enumeration) in this
 * file's notation. gw's bounds and patterns stay with gw's check, which reports them first.
 */
function lintField(s: Schema): Schema {
  if (Array.isArray(s.enum)) return en(...(s.enum as Array<string | number>));
  switch (s.type) {
    case 'string':
      return S;
    case 'boolean':
      return B;
    case 'integer':
      return I;
    case 'number':
      return N;
    case 'array':
      return arr(lintField((s.items ?? {}) as Schema));
    case 'object':
      if (s.properties !== undefined)
        return obj(lintFields(s.properties as Fields), (s.required ?? []) as string[]);
      if (s.additionalProperties !== undefined) return map(lintField(s.additionalProperties as Schema));
      return OBJ;
  }
  throw new Error(`lint-schema: no lint view of ${JSON.stringify(s)}`);
}

function lintFields(properties: Fields): Fields {
  return Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, lintField(s)]));
}

/** Fields in alphabetical order, as krakend-schema lists them (the order of lint-only findings). */
function alphabetical(fields: Fields): Fields {
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Refinement {
  /** What krakend-schema says beyond gw's declaration (a field of gw's replaced, or one added). */
  fields?: Fields;
  /** gw's fields krakend-schema does not know (the lint calls them unknown). */
  omit?: string[];
  /** gw's fields to keep, when they are a few of many. */
  only?: string[];
  /** Required beyond gw's own required fields. */
  required?: string[];
  /** Fields gw reads that neither krakend-schema nor gw's declaration lists, after the others. */
  appended?: Fields;
}

function refinedFields(declared: Schema, r: Refinement): Fields {
  const own = Object.entries(declared.properties as Fields).filter(
    ([k]) => !r.omit?.includes(k) && (r.only === undefined || r.only.includes(k)) && !(k in (r.fields ?? {})),
  );
  return { ...alphabetical({ ...lintFields(Object.fromEntries(own)), ...r.fields }), ...r.appended };
}

function refinedRequired(declared: Schema, r: Refinement): string[] {
  const own = ((declared.required ?? []) as string[]).filter((k) => !r.omit?.includes(k));
  return [...new Set([...own, ...(r.required ?? [])])];
}

/** An object gw declares (`declared`: its JSON schema), closed and refined by krakend-schema. */
function closedFrom(declared: Schema, r: Refinement = {}): Schema {
  return obj(refinedFields(declared, r), refinedRequired(declared, r));
}

/** The same, left open to other keys as krakend-schema leaves it. */
function openFrom(declared: Schema, r: Refinement = {}): Schema {
  return open(refinedFields(declared, r), refinedRequired(declared, r));
}

const KINDS: Record<FieldKind, Schema> = { string: S, 'string[]': arr(S), boolean: B };
function typedFields(table: Readonly<Record<string, FieldKind>>): Fields {
  return Object.fromEntries(Object.entries(table).map(([k, kind]) => [k, KINDS[kind]]));
}

function durations(keys: string[]): Fields {
  return Object.fromEntries(keys.map((k) => [k, D]));
}

// ---------------------------------------------------------------------------------------------
// The core objects (krakend-schema `_root.json`, `endpoint.json`, `backend.json`, `tls.json`,
// `client_tls.json`), on src/config/schema.ts. extra_config is checked namespace by namespace
// (NAMESPACE_SCHEMAS below); async_agent is left to its own check.

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const TLS_VERSIONS = en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13');
const CURVES = arr(en(23, 24, 25));
const CLIENT_CERTS = arr(obj({ certificate: S, private_key: S }, ['certificate', 'private_key']));

/** A client's TLS settings (`client_tls.json`); `caCerts` and `cipherSuites` as each use types them. */
function clientTls(caCerts: Schema, cipherSuites: Schema): Schema {
  return obj({
    allow_insecure_connections: B,
    ca_certs: caCerts,
    cipher_suites: cipherSuites,
    client_certs: CLIENT_CERTS,
    curve_preferences: CURVES,
    disable_system_ca_pool: B,
    max_version: TLS_VERSIONS,
    min_version: TLS_VERSIONS,
  });
}

export const BACKEND_LINT: Schema = closedFrom(backendSchema, {
  fields: {
    encoding: en('json', 'safejson', 'fast-json', 'xml', 'rss', 'string', 'no-op', 'yaml'),
    method: en(...METHODS, 'OPTIONS', 'HEAD', 'CONNECT', 'TRACE'),
    sd: en('static', 'dns', 'dns-shared'),
  },
  // the backend timeout is gw's and Lura's, not krakend-schema's; whitelist and blacklist are
  // version 2's (gw's check names their version 3 spelling)
  omit: ['timeout', 'whitelist', 'blacklist'],
  // url_pattern is required by krakend-schema; lint.ts lets a backend whose transport lives in
  // its extra_config (AMQP, Pub/Sub, Lambda…) go without it, as those pages show.
});

export const ENDPOINT_LINT: Schema = closedFrom(endpointSchema, {
  fields: {
    ...durations(ENDPOINT_DURATIONS),
    backend: arr(BACKEND_LINT),
    concurrent_calls: int(1, 5),
    method: en(...METHODS),
    output_encoding: en(
      'json',
      'json-collection',
      'yaml',
      'fast-json',
      'xml',
      'negotiate',
      'string',
      'no-op',
    ),
  },
  omit: ['headers_to_pass', 'querystring_params'],
  required: ['backend'],
});

export const ROOT_LINT: Schema = closedFrom(rootSchema, {
  fields: {
    ...durations(ROOT_DURATIONS),
    async_agent: ANY,
    client_tls: clientTls(arr(S), arr(I)),
    endpoints: arr(ENDPOINT_LINT),
    max_shutdown_wait_time: D,
    output_encoding: en('json', 'fast-json', 'json-collection', 'xml', 'negotiate', 'string', 'no-op'),
    plugin: open({ pattern: S, folder: S }, ['pattern', 'folder']),
    port: int(0, 65535),
    tls: obj({
      ca_certs: arr(S),
      cipher_suites: arr(I),
      curve_preferences: CURVES,
      disable_system_ca_pool: B,
      disabled: B,
      enable_mtls: B,
      keys: arr(open({ private_key: S, public_key: S })),
      max_version: TLS_VERSIONS,
      min_version: TLS_VERSIONS,
      // the single-pair form the TLS page still documents
      public_key: S,
      private_key: S,
      prefer_server_cipher_suites: B,
    }),
    version: en(3),
  },
  // $schema is a comment key; allow_insecure_connections is version 2's (client_tls has it)
  omit: ['$schema', 'allow_insecure_connections'],
});

// ---------------------------------------------------------------------------------------------
// Pieces several namespaces share.

/** krakend-jose's algorithms and the TLS suites of its key client (`auth/validator`, `auth/signer`). */
const JOSE_KEY_FIELDS: Fields = {
  alg: en(...JWS_ALGORITHMS),
  cipher_suites: arr(
    en(
      5,
      10,
      47,
      53,
      60,
      156,
      157,
      49159,
      49161,
      49162,
      49169,
      49170,
      49171,
      49172,
      49187,
      49191,
      49199,
      49195,
      49200,
      49196,
      52392,
      52393,
    ),
  ),
  cypher_key: S,
  disable_jwk_security: B,
  jwk_fingerprints: arr(S),
  jwk_local_ca: S,
  jwk_local_path: S,
  jwk_url: S,
  leeway: D,
  secret_url: S,
};

const LUA = closedFrom(LUA_SCHEMA);

/** The rate-limit strategies: krakend-schema's, and the `jwt` one of the Enterprise pages gw reads. */
const RATE_LIMIT_STRATEGY = en('ip', 'header', 'param', 'jwt');

const RATE_LIMIT = obj({
  capacity: I,
  cleanup_period: D,
  cleanup_threads: I,
  client_capacity: I,
  client_max_rate: N,
  every: D,
  key: S,
  max_rate: N,
  num_shards: I,
  strategy: RATE_LIMIT_STRATEGY,
});

const REDIS_RATE_LIMIT = open({
  capacity: I,
  client_capacity: I,
  client_max_rate: N,
  connection_name: S,
  connection_pool: S,
  every: D,
  key: S,
  max_rate: N,
  on_failure_allow: B,
  strategy: RATE_LIMIT_STRATEGY,
  // the other pool spelling the Redis pages use
  redis_instance: S,
});

const IP_FILTER = obj(
  {
    CIDR: arr(S),
    allow: B,
    client_ip_headers: arr(S),
    trusted_proxies: arr(S),
  },
  ['CIDR', 'allow'],
);

const LOG_LEVEL = en('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL');
const BACKEND_LOGGING = obj({
  custom_format: S,
  log_with_level: LOG_LEVEL,
  no_value: S,
  prefix: S,
});

/** OpenTelemetry's attributes: a key and a value each (both required in the backend layer's). */
const ATTRIBUTES = arr(obj({ key: S, value: S }));
const REQUIRED_ATTRIBUTES = arr(obj({ key: S, value: S }, ['key', 'value']));

const OTEL_BACKEND_LAYER = obj({
  metrics: obj({
    detailed_connection: B,
    disable_stage: B,
    read_payload: B,
    round_trip: B,
    static_attributes: REQUIRED_ATTRIBUTES,
  }),
  traces: obj({
    detailed_connection: B,
    disable_stage: B,
    read_payload: B,
    report_headers: B,
    round_trip: B,
    skip_headers: arr(S),
    static_attributes: REQUIRED_ATTRIBUTES,
  }),
});

const OTEL_PROXY_LAYER = obj({
  disable_metrics: B,
  disable_traces: B,
  metrics_static_attributes: ATTRIBUTES,
  report_headers: B,
  skip_headers: arr(S),
  traces_static_attributes: ATTRIBUTES,
});

/** A Redis connection (`redis.json`): a cluster's or a single pool's, with its own fields added. */
function redisConnection(own: Fields, required: string[]): Schema {
  return obj(
    alphabetical({
      ...own,
      client_name: S,
      conn_max_idle_time: D,
      conn_max_life_time: D,
      dial_timeout: D,
      max_active_conns: I,
      max_idle_conns: I,
      max_retries: I,
      max_retry_backoff: D,
      min_idle_conns: I,
      min_retry_backoff: D,
      name: S,
      opentelemetry: obj({
        disable_metrics: B,
        disable_traces: B,
        traces_static_attributes: ATTRIBUTES,
      }),
      password: S,
      pool_size: I,
      pool_timeout: D,
      tls: clientTls(arr(ANY), arr(ANY)),
      user_name: S,
    }),
    required,
  );
}

// ---------------------------------------------------------------------------------------------
// The namespaces, by the level(s) KrakenD reads them at (krakend-schema's
// `service_extra_config.json`, `endpoint_extra_config.json`, `backend_extra_config.json`).
// modifier/martian is left open here: its modifiers are checked by gw's martian compiler.

export const NAMESPACE_SCHEMAS: Record<string, ByLevel> = {
  router: on(
    ['service'],
    closedFrom(routerSchema, {
      fields: {
        decompress_gzip: I,
        error_body: obj({
          '404': OBJ,
          '405': OBJ,
        }),
        max_payload: I,
        remove_extra_slash: B,
      },
      // gw's request body limit, which neither krakend-schema nor gw's router schema lists
      appended: { max_payload_size: I },
    }),
  ),
  proxy: {
    ...on(
      ['endpoint'],
      closedFrom(proxySchema, {
        fields: {
          decompress_gzip: B,
          max_payload: I,
          static: obj(
            {
              data: OBJ,
              strategy: en('always', 'success', 'complete', 'errored', 'incomplete'),
            },
            ['data', 'strategy'],
          ),
        },
        // a backend's, in krakend-schema; shadow_timeout is gw's alone
        omit: ['shadow', 'shadow_timeout'],
      }),
    ),
    ...on(['backend'], closedFrom(proxySchema, { only: ['flatmap_filter', 'shadow'] })),
  },
  'backend/http': on(['backend'], openFrom(backendHttpSchema)),
  // the service-level entry of krakend-schema is an open copy of this one: the cors.json fields
  // apply at both levels, closed, so a misspelt key is found
  'security/cors': on(
    ['service', 'endpoint'],
    obj({
      allow_credentials: B,
      allow_headers: arr(S),
      allow_methods: arr(en('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS')),
      allow_origins: arr(S),
      allow_private_network: B,
      debug: B,
      expose_headers: arr(S),
      max_age: D,
      options_passthrough: B,
      options_success_status: I,
    }),
  ),
  'security/http': on(
    ['service', 'endpoint'],
    obj({
      allowed_hosts: arr(S),
      allowed_hosts_are_regex: B,
      browser_xss_filter: B,
      content_security_policy: S,
      content_type_nosniff: B,
      custom_frame_options_value: S,
      force_sts_header: B,
      frame_deny: B,
      host_proxy_headers: arr(S),
      hpkp_public_key: S,
      is_development: B,
      referrer_policy: S,
      ssl_host: S,
      ssl_proxy_headers: OBJ,
      ssl_redirect: B,
      sts_include_subdomains: B,
      sts_seconds: I,
    }),
  ),
  'security/bot-detector': on(
    ['service', 'endpoint'],
    obj({
      allow: arr(S),
      cache_size: I,
      deny: arr(S),
      empty_user_agent_is_bot: B,
      patterns: arr(S),
    }),
  ),
  'auth/validator': {
    ...on(
      ['service'],
      obj(
        {
          shared_cache_duration: I,
        },
        ['shared_cache_duration'],
      ),
    ),
    ...on(
      ['endpoint'],
      obj(
        alphabetical({
          ...JOSE_KEY_FIELDS,
          ...typedFields(VALIDATOR_TYPED_FIELDS),
          auth_header_name: S,
          cache_duration: I,
          failed_jwk_key_cooldown: D,
          // krakend-schema also lists x5t#S256, which gw's check refuses
          key_identify_strategy: en(...KEY_IDENTIFY_STRATEGIES, 'x5t#S256'),
          propagate_claims: arr(arr(S)),
          propagate_claims_preserve_array: B,
          scopes_matcher: en(...SCOPES_MATCHERS),
        }),
      ),
    ),
  },
  'auth/signer': on(
    ['endpoint'],
    obj(
      alphabetical({
        ...JOSE_KEY_FIELDS,
        full: B,
        keys_to_sign: arr(S),
        kid: S,
      }),
      ['alg', 'kid', 'keys_to_sign'],
    ),
  ),
  'auth/revoker': on(
    ['service'],
    obj(
      {
        N: I,
        P: N,
        TTL: I,
        hash_name: en('optimal', 'default'),
        port: I,
        revoke_server_api_key: S,
        revoke_server_max_retries: I,
        revoke_server_max_workers: I,
        revoke_server_ping_interval: D,
        revoke_server_ping_url: S,
        token_keys: arr(S),
      },
      ['N', 'P', 'hash_name', 'TTL', 'port', 'token_keys'],
    ),
  ),
  'auth/client-credentials': on(
    ['backend'],
    obj(
      {
        client_id: S,
        client_secret: S,
        endpoint_params: OBJ,
        scopes: S,
        token_url: S,
      },
      ['client_id', 'client_secret', 'token_url'],
    ),
  ),
  'qos/ratelimit/router': on(['endpoint'], RATE_LIMIT),
  'qos/ratelimit/proxy': on(
    ['backend'],
    obj(
      {
        capacity: I,
        every: D,
        max_rate: N,
      },
      ['max_rate', 'capacity'],
    ),
  ),
  'qos/circuit-breaker': on(
    ['backend'],
    obj(
      {
        interval: I,
        log_status_change: B,
        max_errors: I,
        name: S,
        timeout: I,
      },
      ['interval', 'timeout', 'max_errors'],
    ),
  ),
  'qos/http-cache': on(
    ['backend'],
    obj({
      max_items: int(1),
      max_size: int(1024),
      shared: B,
    }),
  ),
  'validation/cel': on(['endpoint', 'backend'], lintField(CEL_SCHEMA)),
  'validation/json-schema': on(['endpoint'], OBJ),
  'modifier/lua-endpoint': on(['service', 'endpoint'], LUA),
  'modifier/lua-proxy': on(['endpoint'], LUA),
  'modifier/lua-backend': on(['backend'], LUA),
  'modifier/martian': on(['backend'], ANY),
  // krakend-schema lists no prefetch_size (RabbitMQ ignores it), and no prefetch for a producer
  'backend/amqp/consumer': on(
    ['backend'],
    closedFrom(AMQP_CONSUMER_SCHEMA, {
      fields: { backoff_strategy: en(...BACKOFF_STRATEGIES, 'fallback') },
      omit: ['prefetch_size'],
      required: ['routing_key'],
    }),
  ),
  'backend/amqp/producer': on(
    ['backend'],
    closedFrom(AMQP_PRODUCER_SCHEMA, {
      fields: { backoff_strategy: en(...BACKOFF_STRATEGIES, 'fallback') },
      omit: ['prefetch_count', 'prefetch_size'],
      required: ['routing_key'],
    }),
  ),
  'backend/lambda': on(
    ['backend'],
    obj({
      endpoint: S,
      function_name: S,
      function_param_name: S,
      max_retries: I,
      region: S,
    }),
  ),
  'backend/pubsub/publisher': on(['backend'], closedFrom(PUBSUB_PUBLISHER_SCHEMA)),
  'backend/pubsub/subscriber': on(['backend'], closedFrom(PUBSUB_SUBSCRIBER_SCHEMA)),
  // gw also reads `method`, which krakend-schema does not list
  'backend/graphql': on(['backend'], closedFrom(GRAPHQL_SCHEMA, { omit: ['method'] })),
  'telemetry/logging': {
    ...on(
      ['service'],
      obj(
        {
          format: S,
          access_log_custom_format: S,
          access_log_format: en('', 'default', 'httpdCommon', 'httpdCombine', 'json', 'custom'),
          access_log_missing_key_marker: S,
          backend: BACKEND_LOGGING,
          custom_format: S,
          level: LOG_LEVEL,
          prefix: S,
          stdout: B,
          syslog: B,
          syslog_facility: en('local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'),
        },
        ['level'],
      ),
    ),
    ...on(['backend'], obj({ backend: BACKEND_LOGGING })),
  },
  'telemetry/gelf': on(
    ['service'],
    obj(
      {
        address: S,
        enable_tcp: B,
      },
      ['address', 'enable_tcp'],
    ),
  ),
  'telemetry/logstash': on(
    ['service'],
    obj(
      {
        enabled: B,
      },
      ['enabled'],
    ),
  ),
  'telemetry/metrics': on(
    ['service'],
    obj({
      backend_disabled: B,
      collection_time: D,
      endpoint_disabled: B,
      listen_address: S,
      proxy_disabled: B,
      router_disabled: B,
    }),
  ),
  'telemetry/influx': on(
    ['service'],
    obj(
      {
        address: S,
        buffer_size: int(0),
        db: S,
        password: S,
        ttl: D,
        username: S,
      },
      ['address', 'ttl'],
    ),
  ),
  'telemetry/opencensus': on(
    ['service'],
    obj(
      {
        enabled_layers: obj({
          backend: B,
          pipe: B,
          router: B,
        }),
        exporters: obj({
          datadog: obj(
            {
              disable_count_per_buckets: B,
              global_tags: OBJ,
              namespace: S,
              service: S,
              stats_address: S,
              tags: arr(S),
              trace_address: S,
            },
            [
              'namespace',
              'service',
              'trace_address',
              'stats_address',
              'tags',
              'global_tags',
              'disable_count_per_buckets',
            ],
          ),
          influxdb: obj(
            {
              address: S,
              db: S,
              password: S,
              timeout: D,
              username: S,
            },
            ['address', 'db'],
          ),
          jaeger: obj({
            agent_endpoint: S,
            buffer_max_count: I,
            endpoint: S,
            service_name: S,
          }),
          logger: obj({
            spans: B,
            stats: B,
          }),
          ocagent: obj(
            {
              address: S,
              enable_compression: B,
              headers: OBJ,
              insecure: B,
              reconnection: D,
              service_name: S,
            },
            ['address', 'service_name'],
          ),
          prometheus: obj(
            {
              namespace: S,
              port: I,
              tag_host: B,
              tag_method: B,
              tag_path: B,
              tag_statuscode: B,
            },
            ['port'],
          ),
          stackdriver: obj(
            {
              default_labels: OBJ,
              metric_prefix: S,
              project_id: S,
            },
            ['project_id', 'default_labels'],
          ),
          xray: obj(
            {
              access_key_id: S,
              region: S,
              secret_access_key: S,
              use_env: B,
              version: S,
            },
            ['region', 'version'],
          ),
          zipkin: obj(
            {
              collector_url: S,
              service_name: S,
            },
            ['collector_url', 'service_name'],
          ),
        }),
        reporting_period: I,
        sample_rate: int(0, 100),
      },
      ['exporters'],
    ),
  ),
  'telemetry/opentelemetry': {
    ...on(
      ['service'],
      obj(
        {
          deploy_env: S,
          exporters: obj({
            otlp: arr(
              obj(
                {
                  custom_metric_reporting_period: I,
                  disable_metrics: B,
                  disable_traces: B,
                  host: S,
                  name: S,
                  port: int(0, 65535),
                  use_http: B,
                },
                ['name', 'host'],
              ),
            ),
            prometheus: arr(
              obj(
                {
                  custom_metric_reporting_period: I,
                  disable_metrics: B,
                  go_metrics: B,
                  listen_ip: S,
                  name: S,
                  port: int(0, 65535),
                  process_metrics: B,
                },
                ['name'],
              ),
            ),
          }),
          histograms: obj({
            size_buckets: arr(N),
            time_buckets: arr(N),
          }),
          layers: obj({
            backend: OTEL_BACKEND_LAYER,
            global: obj({
              disable_metrics: B,
              disable_propagation: B,
              disable_traces: B,
              metrics_static_attributes: ATTRIBUTES,
              report_headers: B,
              skip_headers: arr(S),
              semantic_convention: en('', '1.27'),
              traces_static_attributes: ATTRIBUTES,
            }),
            proxy: OTEL_PROXY_LAYER,
          }),
          metric_reporting_period: I,
          service_name: S,
          service_version: S,
          skip_paths: arr(S),
          trace_sample_rate: num(0, 1),
        },
        ['exporters'],
      ),
    ),
    ...on(
      ['endpoint'],
      obj({
        backend: OTEL_BACKEND_LAYER,
        exporters_override: obj({
          metric_exporters: arr(S),
          metric_reporting_period: I,
          trace_exporters: arr(S),
          trace_sample_rate: num(0, 1),
        }),
        global: obj({
          metrics_static_attributes: ATTRIBUTES,
          traces_static_attributes: ATTRIBUTES,
        }),
        proxy: OTEL_PROXY_LAYER,
      }),
    ),
    ...on(['backend'], obj({ backend: OTEL_BACKEND_LAYER })),
  },
  'plugin/http-server': on(
    ['service'],
    open(
      {
        geoip: obj(
          {
            citydb_path: S,
          },
          ['citydb_path'],
        ),
        'ip-filter': IP_FILTER,
        'jwk-aggregator': obj(
          {
            cache: B,
            origins: arr(S),
            port: I,
          },
          ['port', 'origins'],
        ),
        name: arr(S),
        'redis-ratelimit': obj(
          {
            burst: I,
            host: S,
            period: D,
            rate: I,
            tokenizer: en('jwt', 'ip', 'url', 'path', 'header', 'param', 'cookie'),
            tokenizer_field: S,
          },
          ['host', 'tokenizer', 'burst', 'rate', 'period'],
        ),
        'static-filesystem': obj(
          {
            path: S,
            prefix: S,
            skip: arr(S),
          },
          ['prefix', 'path'],
        ),
        'url-rewrite': obj({
          literal: OBJ,
          regexp: arr(arr(S)),
        }),
        virtualhost: obj(
          {
            hosts: arr(S),
          },
          ['hosts'],
        ),
        wildcard: obj(
          {
            endpoints: OBJ,
          },
          ['endpoints'],
        ),
      },
      ['name'],
    ),
  ),
  'plugin/http-client': on(
    ['backend'],
    open({
      name: S,
    }),
  ),
  'plugin/req-resp-modifier': on(
    ['endpoint', 'backend'],
    open({
      'content-replacer': map(
        obj(
          {
            find: S,
            regexp: B,
            replace: S,
          },
          ['find', 'replace'],
        ),
      ),
      'ip-filter': IP_FILTER,
      name: arr(S),
      'response-schema-validator': obj(
        {
          error: obj({
            body: S,
            status: I,
          }),
          schema: OBJ,
        },
        ['schema'],
      ),
    }),
  ),
  'auth/api-keys': {
    ...on(
      ['service'],
      obj(
        {
          hash: en('plain', 'fnv128', 'sha256', 'sha1'),
          identifier: S,
          keys: arr(
            obj({
              key: S,
              roles: arr(S),
            }),
          ),
          propagate_role: S,
          salt: S,
          strategy: en('header', 'query_string'),
        },
        ['keys'],
      ),
    ),
    ...on(
      ['endpoint'],
      obj(
        {
          client_max_rate: N,
          identifier: S,
          roles: arr(S),
          strategy: en('header', 'query_string'),
        },
        ['roles'],
      ),
    ),
  },
  'auth/basic': on(
    ['service', 'endpoint'],
    obj({
      htpasswd_path: S,
      users: OBJ,
    }),
  ),
  'qos/ratelimit/service': on(['service'], RATE_LIMIT),
  'qos/ratelimit/router/redis': on(['endpoint'], REDIS_RATE_LIMIT),
  'qos/ratelimit/service/redis': on(['service'], REDIS_RATE_LIMIT),
  redis: on(
    ['service'],
    obj({
      clusters: arr(redisConnection({ addresses: arr(S), max_redirects: I }, ['name', 'addresses'])),
      connection_pools: arr(redisConnection({ address: S, db: I }, ['name', 'address'])),
    }),
  ),
  'backend/http/client': on(
    ['backend'],
    obj({
      client_tls: clientTls(arr(ANY), arr(ANY)),
      no_redirect: B,
      proxy_address: ANY,
      send_body_on_redirect: B,
    }),
  ),
};
