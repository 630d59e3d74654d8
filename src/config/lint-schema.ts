// The schema `gw check --lint` holds a configuration to: every field KrakenD CE 2.13 knows in the
// core objects and in each CE namespace (plus the Enterprise ones gw implements), with its type,
// its allowed values and the fields it requires. Written from the facts of krakend-schema v2.13
// (`krakend/krakend-schema`, folder `v2.13/`), in gw's own compact notation; where gw reads more
// than KrakenD's schema lists, the extra fields are added at the end. Compiled only by
// `check --lint` (src/config/lint.ts): `gw run` never loads this file.

type Schema = Record<string, unknown>;
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
function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
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
function open(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: 'object', properties, required, expected: 'an object' };
}
function on(levels: Level[], schema: Schema): ByLevel {
  return Object.fromEntries(levels.map((l) => [l, schema]));
}

// ---------------------------------------------------------------------------------------------
// The core objects (krakend-schema `_root.json`, `endpoint.json`, `backend.json`, `tls.json`,
// `client_tls.json`). extra_config is checked namespace by namespace (NAMESPACE_SCHEMAS below);
// async_agent is left to its own check.

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const TLS_VERSIONS = en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13');
const CURVES = arr(en(23, 24, 25));

export const BACKEND_LINT: Schema = obj(
  {
    allow: arr(S),
    deny: arr(S),
    disable_host_sanitize: B,
    encoding: en('json', 'safejson', 'fast-json', 'xml', 'rss', 'string', 'no-op', 'yaml'),
    extra_config: OBJ,
    group: S,
    host: arr(S),
    input_headers: arr(S),
    input_query_strings: arr(S),
    is_collection: B,
    mapping: map(S),
    method: en(...METHODS, 'OPTIONS', 'HEAD', 'CONNECT', 'TRACE'),
    sd: en('static', 'dns', 'dns-shared'),
    sd_scheme: S,
    target: S,
    url_pattern: S,
  },
  // url_pattern is required by krakend-schema; lint.ts lets a backend whose transport lives in
  // its extra_config (AMQP, Pub/Sub, Lambda…) go without it, as those pages show.
);

export const ENDPOINT_LINT: Schema = obj(
  {
    backend: arr(BACKEND_LINT),
    cache_ttl: D,
    concurrent_calls: int(1, 5),
    endpoint: S,
    extra_config: OBJ,
    input_headers: arr(S),
    input_query_strings: arr(S),
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
    timeout: D,
  },
  ['endpoint', 'backend'],
);

export const ROOT_LINT: Schema = obj(
  {
    async_agent: ANY,
    cache_ttl: D,
    client_tls: obj({
      allow_insecure_connections: B,
      ca_certs: arr(S),
      cipher_suites: arr(I),
      client_certs: arr(obj({ certificate: S, private_key: S }, ['certificate', 'private_key'])),
      curve_preferences: CURVES,
      disable_system_ca_pool: B,
      max_version: TLS_VERSIONS,
      min_version: TLS_VERSIONS,
    }),
    debug_endpoint: B,
    dialer_fallback_delay: D,
    dialer_keep_alive: D,
    dialer_timeout: D,
    disable_compression: B,
    disable_keep_alives: B,
    disable_rest: B,
    dns_cache_ttl: D,
    echo_endpoint: B,
    endpoints: arr(ENDPOINT_LINT),
    expect_continue_timeout: D,
    extra_config: OBJ,
    host: arr(S),
    idle_connection_timeout: D,
    idle_timeout: D,
    listen_ip: S,
    max_header_bytes: I,
    max_idle_connections: I,
    max_idle_connections_per_host: I,
    max_shutdown_wait_time: D,
    name: S,
    output_encoding: en('json', 'fast-json', 'json-collection', 'xml', 'negotiate', 'string', 'no-op'),
    plugin: open({ pattern: S, folder: S }, ['pattern', 'folder']),
    port: int(0, 65535),
    read_header_timeout: D,
    read_timeout: D,
    response_header_timeout: D,
    sequential_start: B,
    timeout: D,
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
    use_h2c: B,
    version: en(3),
    write_timeout: D,
  },
  ['version'],
);

// ---------------------------------------------------------------------------------------------
// The namespaces, by the level(s) KrakenD reads them at (krakend-schema's
// `service_extra_config.json`, `endpoint_extra_config.json`, `backend_extra_config.json`).
// modifier/martian is left open here: its modifiers are checked by gw's martian compiler.

export const NAMESPACE_SCHEMAS: Record<string, ByLevel> = {
  router: on(
    ['service'],
    obj({
      app_engine: B,
      auto_options: B,
      decompress_gzip: I,
      disable_access_log: B,
      disable_gzip: B,
      disable_handle_method_not_allowed: B,
      disable_health: B,
      disable_path_decoding: B,
      disable_redirect_fixed_path: B,
      disable_redirect_trailing_slash: B,
      error_body: obj({
        '404': OBJ,
        '405': OBJ,
      }),
      forwarded_by_client_ip: B,
      health_path: S,
      hide_version_header: B,
      logger_skip_paths: arr(S),
      max_multipart_memory: I,
      max_payload: I,
      remote_ip_headers: arr(S),
      remove_extra_slash: B,
      return_error_msg: B,
      trusted_proxies: arr(S),
    }),
  ),
  proxy: {
    ...on(
      ['endpoint'],
      obj({
        combiner: S,
        decompress_gzip: B,
        flatmap_filter: arr(
          obj(
            {
              type: en('move', 'del', 'append'),
              args: arr(S),
            },
            ['type', 'args'],
          ),
        ),
        max_payload: I,
        sequential: B,
        sequential_propagated_params: arr(S),
        static: obj(
          {
            data: OBJ,
            strategy: en('always', 'success', 'complete', 'errored', 'incomplete'),
          },
          ['data', 'strategy'],
        ),
      }),
    ),
    ...on(
      ['backend'],
      obj({
        flatmap_filter: arr(
          obj(
            {
              type: en('move', 'del', 'append'),
              args: arr(S),
            },
            ['type', 'args'],
          ),
        ),
        shadow: B,
      }),
    ),
  },
  'backend/http': on(
    ['backend'],
    open({
      return_error_code: B,
      return_error_details: S,
      shadow: B,
    }),
  ),
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
      obj({
        alg: en(
          'EdDSA',
          'HS256',
          'HS384',
          'HS512',
          'RS256',
          'RS384',
          'RS512',
          'ES256',
          'ES384',
          'ES512',
          'PS256',
          'PS384',
          'PS512',
        ),
        audience: arr(S),
        auth_header_name: S,
        cache: B,
        cache_duration: I,
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
        cookie_key: S,
        cypher_key: S,
        disable_jwk_security: B,
        failed_jwk_key_cooldown: D,
        issuer: S,
        jwk_fingerprints: arr(S),
        jwk_local_ca: S,
        jwk_local_path: S,
        jwk_url: S,
        key_identify_strategy: en('kid', 'x5t', 'x5t#S256', 'kid_x5t'),
        leeway: D,
        operation_debug: B,
        propagate_claims: arr(arr(S)),
        propagate_claims_preserve_array: B,
        roles: arr(S),
        roles_key: S,
        roles_key_is_nested: B,
        scopes: arr(S),
        scopes_key: S,
        scopes_matcher: en('any', 'all'),
        secret_url: S,
      }),
    ),
  },
  'auth/signer': on(
    ['endpoint'],
    obj(
      {
        alg: en(
          'EdDSA',
          'HS256',
          'HS384',
          'HS512',
          'RS256',
          'RS384',
          'RS512',
          'ES256',
          'ES384',
          'ES512',
          'PS256',
          'PS384',
          'PS512',
        ),
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
        full: B,
        jwk_fingerprints: arr(S),
        jwk_local_ca: S,
        jwk_local_path: S,
        jwk_url: S,
        keys_to_sign: arr(S),
        kid: S,
        leeway: D,
        secret_url: S,
      },
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
  'qos/ratelimit/router': on(
    ['endpoint'],
    obj({
      capacity: I,
      cleanup_period: D,
      cleanup_threads: I,
      client_capacity: I,
      client_max_rate: N,
      every: D,
      key: S,
      max_rate: N,
      num_shards: I,
      strategy: en('ip', 'header', 'param'),
    }),
  ),
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
  'validation/cel': on(
    ['endpoint', 'backend'],
    arr(
      obj(
        {
          check_expr: S,
        },
        ['check_expr'],
      ),
    ),
  ),
  'validation/json-schema': on(['endpoint'], OBJ),
  'modifier/lua-endpoint': on(
    ['service', 'endpoint'],
    obj({
      allow_open_libs: B,
      live: B,
      md5: OBJ,
      post: S,
      pre: S,
      skip_next: B,
      sources: arr(S),
    }),
  ),
  'modifier/lua-proxy': on(
    ['endpoint'],
    obj({
      allow_open_libs: B,
      live: B,
      md5: OBJ,
      post: S,
      pre: S,
      skip_next: B,
      sources: arr(S),
    }),
  ),
  'modifier/lua-backend': on(
    ['backend'],
    obj({
      allow_open_libs: B,
      live: B,
      md5: OBJ,
      post: S,
      pre: S,
      skip_next: B,
      sources: arr(S),
    }),
  ),
  'modifier/martian': on(['backend'], ANY),
  'backend/amqp/consumer': on(
    ['backend'],
    obj(
      {
        auto_ack: B,
        backoff_strategy: en('linear', 'linear-jitter', 'exponential', 'exponential-jitter', 'fallback'),
        delete: B,
        durable: B,
        exchange: S,
        exclusive: B,
        max_retries: I,
        nack_discard: B,
        name: S,
        no_local: B,
        no_wait: B,
        prefetch_count: I,
        routing_key: arr(S),
      },
      ['name', 'exchange', 'routing_key'],
    ),
  ),
  'backend/amqp/producer': on(
    ['backend'],
    obj(
      {
        backoff_strategy: en('linear', 'linear-jitter', 'exponential', 'exponential-jitter', 'fallback'),
        delete: B,
        durable: B,
        exchange: S,
        exclusive: B,
        exp_key: S,
        immediate: B,
        mandatory: B,
        max_retries: I,
        msg_id_key: S,
        name: S,
        no_local: B,
        no_wait: B,
        priority_key: S,
        reply_to_key: S,
        routing_key: S,
        static_routing_key: B,
      },
      ['name', 'exchange', 'routing_key'],
    ),
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
  'backend/pubsub/publisher': on(
    ['backend'],
    obj(
      {
        topic_url: S,
      },
      ['topic_url'],
    ),
  ),
  'backend/pubsub/subscriber': on(
    ['backend'],
    obj(
      {
        subscription_url: S,
      },
      ['subscription_url'],
    ),
  ),
  'backend/graphql': on(
    ['backend'],
    obj({
      type: en('query', 'mutation'),
      operationName: S,
      query: S,
      query_path: S,
      variables: OBJ,
    }),
  ),
  'telemetry/logging': {
    ...on(
      ['service'],
      obj(
        {
          format: S,
          access_log_custom_format: S,
          access_log_format: en('', 'default', 'httpdCommon', 'httpdCombine', 'json', 'custom'),
          access_log_missing_key_marker: S,
          backend: obj({
            custom_format: S,
            log_with_level: en('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'),
            no_value: S,
            prefix: S,
          }),
          custom_format: S,
          level: en('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'),
          prefix: S,
          stdout: B,
          syslog: B,
          syslog_facility: en('local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'),
        },
        ['level'],
      ),
    ),
    ...on(
      ['backend'],
      obj({
        backend: obj({
          custom_format: S,
          log_with_level: en('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'),
          no_value: S,
          prefix: S,
        }),
      }),
    ),
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
            backend: obj({
              metrics: obj({
                detailed_connection: B,
                disable_stage: B,
                read_payload: B,
                round_trip: B,
                static_attributes: arr(
                  obj(
                    {
                      key: S,
                      value: S,
                    },
                    ['key', 'value'],
                  ),
                ),
              }),
              traces: obj({
                detailed_connection: B,
                disable_stage: B,
                read_payload: B,
                report_headers: B,
                round_trip: B,
                skip_headers: arr(S),
                static_attributes: arr(
                  obj(
                    {
                      key: S,
                      value: S,
                    },
                    ['key', 'value'],
                  ),
                ),
              }),
            }),
            global: obj({
              disable_metrics: B,
              disable_propagation: B,
              disable_traces: B,
              metrics_static_attributes: arr(
                obj({
                  key: S,
                  value: S,
                }),
              ),
              report_headers: B,
              skip_headers: arr(S),
              semantic_convention: en('', '1.27'),
              traces_static_attributes: arr(
                obj({
                  key: S,
                  value: S,
                }),
              ),
            }),
            proxy: obj({
              disable_metrics: B,
              disable_traces: B,
              metrics_static_attributes: arr(
                obj({
                  key: S,
                  value: S,
                }),
              ),
              report_headers: B,
              skip_headers: arr(S),
              traces_static_attributes: arr(
                obj({
                  key: S,
                  value: S,
                }),
              ),
            }),
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
        backend: obj({
          metrics: obj({
            detailed_connection: B,
            disable_stage: B,
            read_payload: B,
            round_trip: B,
            static_attributes: arr(
              obj(
                {
                  key: S,
                  value: S,
                },
                ['key', 'value'],
              ),
            ),
          }),
          traces: obj({
            detailed_connection: B,
            disable_stage: B,
            read_payload: B,
            report_headers: B,
            round_trip: B,
            skip_headers: arr(S),
            static_attributes: arr(
              obj(
                {
                  key: S,
                  value: S,
                },
                ['key', 'value'],
              ),
            ),
          }),
        }),
        exporters_override: obj({
          metric_exporters: arr(S),
          metric_reporting_period: I,
          trace_exporters: arr(S),
          trace_sample_rate: num(0, 1),
        }),
        global: obj({
          metrics_static_attributes: arr(
            obj({
              key: S,
              value: S,
            }),
          ),
          traces_static_attributes: arr(
            obj({
              key: S,
              value: S,
            }),
          ),
        }),
        proxy: obj({
          disable_metrics: B,
          disable_traces: B,
          metrics_static_attributes: arr(
            obj({
              key: S,
              value: S,
            }),
          ),
          report_headers: B,
          skip_headers: arr(S),
          traces_static_attributes: arr(
            obj({
              key: S,
              value: S,
            }),
          ),
        }),
      }),
    ),
    ...on(
      ['backend'],
      obj({
        backend: obj({
          metrics: obj({
            detailed_connection: B,
            disable_stage: B,
            read_payload: B,
            round_trip: B,
            static_attributes: arr(
              obj(
                {
                  key: S,
                  value: S,
                },
                ['key', 'value'],
              ),
            ),
          }),
          traces: obj({
            detailed_connection: B,
            disable_stage: B,
            read_payload: B,
            report_headers: B,
            round_trip: B,
            skip_headers: arr(S),
            static_attributes: arr(
              obj(
                {
                  key: S,
                  value: S,
                },
                ['key', 'value'],
              ),
            ),
          }),
        }),
      }),
    ),
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
        'ip-filter': obj(
          {
            CIDR: arr(S),
            allow: B,
            client_ip_headers: arr(S),
            trusted_proxies: arr(S),
          },
          ['CIDR', 'allow'],
        ),
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
      'ip-filter': obj(
        {
          CIDR: arr(S),
          allow: B,
          client_ip_headers: arr(S),
          trusted_proxies: arr(S),
        },
        ['CIDR', 'allow'],
      ),
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
  'qos/ratelimit/service': on(
    ['service'],
    obj({
      capacity: I,
      cleanup_period: D,
      cleanup_threads: I,
      client_capacity: I,
      client_max_rate: N,
      every: D,
      key: S,
      max_rate: N,
      num_shards: I,
      strategy: en('ip', 'header', 'param'),
    }),
  ),
  'qos/ratelimit/router/redis': on(
    ['endpoint'],
    open({
      capacity: I,
      client_capacity: I,
      client_max_rate: N,
      connection_name: S,
      connection_pool: S,
      every: D,
      key: S,
      max_rate: N,
      on_failure_allow: B,
      strategy: en('ip', 'header', 'param'),
    }),
  ),
  'qos/ratelimit/service/redis': on(
    ['service'],
    open({
      capacity: I,
      client_capacity: I,
      client_max_rate: N,
      connection_name: S,
      connection_pool: S,
      every: D,
      key: S,
      max_rate: N,
      on_failure_allow: B,
      strategy: en('ip', 'header', 'param'),
    }),
  ),
  redis: on(
    ['service'],
    obj({
      clusters: arr(
        obj(
          {
            addresses: arr(S),
            client_name: S,
            conn_max_idle_time: D,
            conn_max_life_time: D,
            dial_timeout: D,
            max_active_conns: I,
            max_idle_conns: I,
            max_redirects: I,
            max_retries: I,
            max_retry_backoff: D,
            min_idle_conns: I,
            min_retry_backoff: D,
            name: S,
            opentelemetry: obj({
              disable_metrics: B,
              disable_traces: B,
              traces_static_attributes: arr(
                obj({
                  key: S,
                  value: S,
                }),
              ),
            }),
            password: S,
            pool_size: I,
            pool_timeout: D,
            tls: obj({
              allow_insecure_connections: B,
              ca_certs: arr(ANY),
              cipher_suites: arr(ANY),
              client_certs: arr(
                obj(
                  {
                    certificate: S,
                    private_key: S,
                  },
                  ['certificate', 'private_key'],
                ),
              ),
              curve_preferences: arr(en(23, 24, 25)),
              disable_system_ca_pool: B,
              max_version: en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13'),
              min_version: en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13'),
            }),
            user_name: S,
          },
          ['name', 'addresses'],
        ),
      ),
      connection_pools: arr(
        obj(
          {
            address: S,
            client_name: S,
            conn_max_idle_time: D,
            conn_max_life_time: D,
            db: I,
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
              traces_static_attributes: arr(
                obj({
                  key: S,
                  value: S,
                }),
              ),
            }),
            password: S,
            pool_size: I,
            pool_timeout: D,
            tls: obj({
              allow_insecure_connections: B,
              ca_certs: arr(ANY),
              cipher_suites: arr(ANY),
              client_certs: arr(
                obj(
                  {
                    certificate: S,
                    private_key: S,
                  },
                  ['certificate', 'private_key'],
                ),
              ),
              curve_preferences: arr(en(23, 24, 25)),
              disable_system_ca_pool: B,
              max_version: en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13'),
              min_version: en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13'),
            }),
            user_name: S,
          },
          ['name', 'address'],
        ),
      ),
    }),
  ),
  'backend/http/client': on(
    ['backend'],
    obj({
      client_tls: obj({
        allow_insecure_connections: B,
        ca_certs: arr(ANY),
        cipher_suites: arr(ANY),
        client_certs: arr(
          obj(
            {
              certificate: S,
              private_key: S,
            },
            ['certificate', 'private_key'],
          ),
        ),
        curve_preferences: arr(en(23, 24, 25)),
        disable_system_ca_pool: B,
        max_version: en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13'),
        min_version: en('SSL3.0', 'TLS10', 'TLS11', 'TLS12', 'TLS13'),
      }),
      no_redirect: B,
      proxy_address: ANY,
      send_body_on_redirect: B,
    }),
  ),
};

// ---------------------------------------------------------------------------------------------
// Fields gw reads beyond krakend-schema v2.13: its own router options, the `jwt` client strategy
// of the Enterprise rate-limit pages, and the other pool spellings the Redis pages use.

const RATE_LIMIT_STRATEGY = en('ip', 'header', 'param', 'jwt');
const GW_EXTRA_FIELDS: Array<[string, Level, Record<string, Schema>]> = [
  [
    'router',
    'service',
    {
      remove_duplicate_slash: B,
      redirect_trailing_slash: B,
      redirect_fixed_path: B,
      use_h2c: B,
      max_payload_size: I,
    },
  ],
  ['qos/ratelimit/router', 'endpoint', { strategy: RATE_LIMIT_STRATEGY }],
  ['qos/ratelimit/service', 'service', { strategy: RATE_LIMIT_STRATEGY }],
  ['qos/ratelimit/router/redis', 'endpoint', { strategy: RATE_LIMIT_STRATEGY, redis_instance: S }],
  ['qos/ratelimit/service/redis', 'service', { strategy: RATE_LIMIT_STRATEGY, redis_instance: S }],
];
for (const [ns, level, fields] of GW_EXTRA_FIELDS) {
  const schema = NAMESPACE_SCHEMAS[ns][level] as { properties: Record<string, Schema> };
  schema.properties = { ...schema.properties, ...fields };
}
