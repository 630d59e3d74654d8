// JSON schema of the KrakenD v3 core objects (root, endpoint, backend) and of the namespaces the
// core handles itself (router, proxy, backend/http). Each node may carry `expected`, the human
// description of a valid value that `gw check` prints when the node fails; `gwAtParent` on an
// array's item schema reports item errors on the array itself ("expected an array of strings").

type Schema = Record<string, unknown>;

export const OUTPUT_ENCODINGS = [
  'json',
  'fast-json',
  'json-collection',
  'string',
  'negotiate',
  'no-op',
  'xml',
  'yaml',
];
export const BACKEND_ENCODINGS = ['json', 'safejson', 'fast-json', 'string', 'no-op', 'xml', 'rss', 'yaml'];
// A method, an encoding or a static strategy gw does not know is not refused here: `krakend run`
// accepts it and applies a default (src/config/krakend-defaults.ts warns); `check --lint` holds
// them to the lists (src/config/lint-schema.ts).
const method = (): Schema => str('an HTTP method, e.g. "GET"');

const str = (expected = 'a string'): Schema => ({ type: 'string', expected });
const bool = (): Schema => ({ type: 'boolean', expected: 'a boolean (true or false)' });
const int = (minimum = 0, expected = `an integer ≥ ${minimum}`): Schema => ({
  type: 'integer',
  minimum,
  expected,
});
const duration = (example = '3s'): Schema => ({
  type: 'string',
  expected: `a duration string like "${example}" (units ns, us, ms, s, m, h)`,
});
const strings = (example: string): Schema => ({
  type: 'array',
  items: { type: 'string', gwAtParent: true },
  expected: `an array of strings (${example})`,
});
const object = (expected = 'an object'): Schema => ({ type: 'object', expected });
// Namespace values are checked by their module (validation/cel takes an array, most an object).
const extraConfig = (): Schema => ({
  type: 'object',
  expected: 'an object of namespaces ("extra_config": {"security/cors": {...}})',
});
const enumOf = (values: string[], what: string): Schema => ({
  type: 'string',
  enum: values,
  expected: `${what}: one of ${values.filter((v) => v === v.toUpperCase() || !values.includes(v.toUpperCase())).join(', ')}`,
});

/** Fields of the root that hold durations (checked by parseDuration in validate.ts). */
export const ROOT_DURATIONS = [
  'timeout',
  'cache_ttl',
  'read_timeout',
  'write_timeout',
  'idle_timeout',
  'read_header_timeout',
  'dialer_timeout',
  'dialer_fallback_delay',
  'dialer_keep_alive',
  'idle_connection_timeout',
  'response_header_timeout',
  'expect_continue_timeout',
  'dns_cache_ttl',
];
export const ENDPOINT_DURATIONS = ['timeout', 'cache_ttl'];
export const BACKEND_DURATIONS = ['timeout'];

export const backendSchema: Schema = {
  type: 'object',
  expected: 'a backend object ({"host": [...], "url_pattern": "/path"})',
  properties: {
    url_pattern: str('a string: the path on the backend, e.g. "/users/{id}"'),
    host: strings('"host": ["http://api:8080"]'),
    method: method(),
    encoding: str('a backend encoding, e.g. "json"'),
    sd: str('a service discovery type, e.g. "static"'),
    sd_scheme: str('a scheme such as "http" or "https"'),
    disable_host_sanitize: bool(),
    is_collection: bool(),
    target: str('a string: the key to extract, e.g. "data"'),
    allow: strings('"allow": ["id", "user.name"]'),
    deny: strings('"deny": ["password"]'),
    mapping: {
      type: 'object',
      additionalProperties: { type: 'string', gwAtParent: true },
      expected: 'an object of strings ("mapping": {"old_name": "new_name"})',
    },
    group: str('a string: the key to wrap the response in'),
    input_headers: strings('"input_headers": ["Content-Type"]'),
    input_query_strings: strings('"input_query_strings": ["page"]'),
    timeout: duration(),
    extra_config: extraConfig(),
    whitelist: strings('use "allow" in version 3'),
    blacklist: strings('use "deny" in version 3'),
  },
};

export const endpointSchema: Schema = {
  type: 'object',
  expected: 'an endpoint object ({"endpoint": "/path", "backend": [...]})',
  required: ['endpoint'],
  properties: {
    endpoint: {
      type: 'string',
      pattern: '^/',
      expected: 'a path starting with "/", e.g. "/v1/users/{id}"',
    },
    method: method(),
    backend: {
      type: 'array',
      items: backendSchema,
      expected: 'an array of backend objects ("backend": [{"host": [...], "url_pattern": "/path"}])',
    },
    output_encoding: str('an output encoding, e.g. "json"'),
    timeout: duration(),
    cache_ttl: duration('300s'),
    concurrent_calls: int(1),
    input_headers: strings('"input_headers": ["Authorization"]'),
    input_query_strings: strings('"input_query_strings": ["page", "limit"]'),
    extra_config: extraConfig(),
    headers_to_pass: strings('use "input_headers" in version 3'),
    querystring_params: strings('use "input_query_strings" in version 3'),
  },
};

export const rootSchema: Schema = {
  type: 'object',
  expected: 'a configuration object ({"version": 3, "endpoints": [...]})',
  required: ['version'],
  properties: {
    $schema: str(),
    version: {
      const: 3,
      expected:
        '3 (the configuration format gw reads; older formats must be migrated, see "Upgrading KrakenD")',
    },
    name: str(),
    port: { type: 'integer', minimum: 0, maximum: 65535, expected: 'a port number (integer 0-65535)' },
    listen_ip: str('an IP address string, e.g. "0.0.0.0"'),
    host: strings('"host": ["http://api:8080"]'),
    timeout: duration(),
    cache_ttl: duration('300s'),
    output_encoding: str('an output encoding, e.g. "json"'),
    endpoints: {
      type: 'array',
      items: endpointSchema,
      expected: 'an array of endpoint objects ("endpoints": [{"endpoint": "/path", "backend": [...]}])',
    },
    extra_config: extraConfig(),
    debug_endpoint: bool(),
    echo_endpoint: bool(),
    sequential_start: bool(),
    read_timeout: duration(),
    write_timeout: duration(),
    idle_timeout: duration(),
    read_header_timeout: duration(),
    use_h2c: bool(),
    max_header_bytes: int(0),
    disable_rest: bool(),
    dialer_timeout: duration(),
    dialer_fallback_delay: duration('300ms'),
    dialer_keep_alive: duration('15s'),
    disable_keep_alives: bool(),
    disable_compression: bool(),
    max_idle_connections: int(0),
    max_idle_connections_per_host: int(0),
    idle_connection_timeout: duration(),
    response_header_timeout: duration(),
    expect_continue_timeout: duration('1s'),
    dns_cache_ttl: duration('30s'),
    allow_insecure_connections: bool(),
    tls: object('an object ("tls": {"keys": [{"public_key": "...", "private_key": "..."}]})'),
    client_tls: object('an object ("client_tls": {"allow_insecure_connections": false})'),
    plugin: {
      type: 'object',
      properties: { pattern: str(), folder: str() },
      expected: 'an object ("plugin": {"pattern": ".so", "folder": "./plugins/"})',
    },
    async_agent: {
      type: 'array',
      items: object('an async agent object'),
      expected: 'an array of async agent objects',
    },
  },
};

export const routerSchema: Schema = {
  type: 'object',
  expected: 'an object of router options',
  properties: {
    return_error_msg: bool(),
    auto_options: bool(),
    remove_duplicate_slash: bool(),
    redirect_trailing_slash: bool(),
    redirect_fixed_path: bool(),
    disable_redirect_trailing_slash: bool(),
    disable_redirect_fixed_path: bool(),
    disable_handle_method_not_allowed: bool(),
    hide_version_header: bool(),
    logger_skip_paths: strings('"logger_skip_paths": ["/__health"]'),
    disable_access_log: bool(),
    health_path: { type: 'string', pattern: '^/', expected: 'a path starting with "/", e.g. "/__health"' },
    disable_health: bool(),
    forwarded_by_client_ip: bool(),
    remote_ip_headers: strings('"remote_ip_headers": ["X-Forwarded-For"]'),
    trusted_proxies: strings('"trusted_proxies": ["10.0.0.0/8"]'),
    error_body: {
      type: 'object',
      additionalProperties: { type: 'object', expected: 'an object: the JSON body returned for this status' },
      expected: 'an object by status code ("error_body": {"404": {"msg": "not found"}})',
    },
    disable_path_decoding: bool(),
    max_multipart_memory: int(0),
    app_engine: bool(),
    use_h2c: bool(),
    disable_gzip: bool(),
  },
};

const flatmapFilter: Schema = {
  type: 'array',
  expected: 'an array of operations ("flatmap_filter": [{"type": "move", "args": ["a", "b"]}])',
  items: {
    type: 'object',
    required: ['type', 'args'],
    expected: 'an operation object ({"type": "move", "args": ["a", "b"]})',
    properties: {
      type: enumOf(['move', 'del', 'append'], 'a flatmap operation'),
      args: strings('"args": ["a.*.b", "c"]'),
    },
  },
};

export const proxySchema: Schema = {
  type: 'object',
  expected: 'an object ("proxy": {"sequential": true})',
  properties: {
    sequential: bool(),
    static: {
      type: 'object',
      expected: 'an object ("static": {"strategy": "always", "data": {...}})',
      properties: {
        strategy: str('a static strategy, e.g. "always"'),
        data: {}, // not an object: Lura ignores the static (krakend-defaults.ts warns)
      },
    },
    flatmap_filter: flatmapFilter,
    shadow: bool(),
    shadow_timeout: str('a duration ("1s")'),
    sequential_propagated_params: strings('["resp0_id"]'),
    combiner: str(),
  },
};

export const backendHttpSchema: Schema = {
  type: 'object',
  expected: 'an object ("backend/http": {"return_error_code": true})',
  properties: {
    return_error_code: bool(),
    return_error_details: str('a string: the key under which backend errors are returned'),
    // gw's second spelling of Lura's "proxy": {"shadow": true}
    shadow: bool(),
  },
};

export const backendHttpClientSchema: Schema = {
  type: 'object',
  expected: 'an object of HTTP client options',
};

/** Schemas of the namespaces the core handles (listed with layer `core` in src/extensions/registry.ts). */
export const coreNamespaceSchemas: Record<string, Schema> = {
  router: routerSchema,
  proxy: proxySchema,
  'backend/http': backendHttpSchema,
  'backend/http/client': backendHttpClientSchema,
};
