// Semantic checks beyond the schema, one test per check, and the extra_config namespaces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig, formatIssues } from '../dist/config/index.js';
import { lintConfig } from '../dist/config/lint.js';
import { featureByNamespace, loadAllModules } from '../dist/extensions/registry.js';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

const backend = (extra = {}) => ({ host: ['http://api:8080'], url_pattern: '/x', ...extra });
const endpoint = (extra = {}) => ({ endpoint: '/x', backend: [backend()], ...extra });
const config = (extra = {}) => ({ version: 3, endpoints: [endpoint()], ...extra });

function only(issues, path, message) {
  assert.deepEqual(issues, [{ path, message }], formatIssues(issues, []));
}

test('duplicate endpoint + method: the second is named, with where the first is', () => {
  const { errors } = checkConfig(
    config({
      endpoints: [
        endpoint({ endpoint: '/a' }),
        endpoint({ endpoint: '/b' }),
        endpoint({ endpoint: '/a', method: 'get' }),
      ],
    }),
  );
  only(errors, '$.endpoints[2]', 'duplicate endpoint GET /a: already declared at $.endpoints[0]');
  // Same path, other method: fine.
  assert.deepEqual(checkConfig(config({ endpoints: [endpoint(), endpoint({ method: 'POST' })] })).errors, []);
});

test('same route with other parameter names is a conflict that cannot be resolved', () => {
  const { errors } = checkConfig(
    config({ endpoints: [endpoint({ endpoint: '/user/{id}' }), endpoint({ endpoint: '/user/{uid}' })] }),
  );
  only(
    errors,
    '$.endpoints[1].endpoint',
    'route GET /user/{uid} conflicts with GET /user/{id} at $.endpoints[0]: the same path with other parameter names, no request can tell them apart',
  );
});

test('routes gw resolves are not flagged (most specific wins, KrakenD CE would refuse)', () => {
  const { errors, warnings } = checkConfig(
    config({
      endpoints: [
        endpoint({ endpoint: '/api/items/{id}' }),
        endpoint({ endpoint: '/api/items/search' }),
        endpoint({ endpoint: '/user/{userid}' }),
        endpoint({ endpoint: '/user/{iduser}/some' }),
        endpoint({ endpoint: '/user/{id}', method: 'DELETE' }),
      ],
    }),
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
});

test('a url_pattern {param} missing from the endpoint', () => {
  const { errors } = checkConfig(
    config({
      endpoints: [
        endpoint({ endpoint: '/items/{id}', backend: [backend({ url_pattern: '/stock/{item}?id={id}' })] }),
      ],
    }),
  );
  only(
    errors,
    '$.endpoints[0].backend[0].url_pattern',
    '"{item}" is not a parameter of the endpoint "/items/{id}" (its parameters are {id})',
  );
  only(
    checkConfig(config({ endpoints: [endpoint({ backend: [backend({ url_pattern: '/{x}' })] })] })).errors,
    '$.endpoints[0].backend[0].url_pattern',
    '"{x}" is not a parameter of the endpoint "/x" (it has no parameters)',
  );
});

test('parameters are case-sensitive, as the core fills them', () => {
  const { errors } = checkConfig(
    config({
      endpoints: [endpoint({ endpoint: '/items/{id}', backend: [backend({ url_pattern: '/items/{ID}' })] })],
    }),
  );
  only(
    errors,
    '$.endpoints[0].backend[0].url_pattern',
    '"{ID}" is not a parameter of the endpoint "/items/{id}" (its parameters are {id})',
  );
});

test('{resp0_...} needs proxy.sequential and an earlier backend; {JWT.x} and input_* are allowed', () => {
  const seq = { proxy: { sequential: true } };
  const ok = checkConfig(
    config({
      endpoints: [
        endpoint({
          endpoint: '/chain/{id}',
          extra_config: seq,
          backend: [
            backend({ url_pattern: '/a/{id}' }),
            backend({ url_pattern: '/b/{resp0_user.hash}' }),
            backend({
              url_pattern:
                '/c/{resp1_id}?x={resp0_a}&s={JWT.sub}&h={input_headers.X-Tenant}&q={input_query_strings.q}',
            }),
          ],
        }),
      ],
    }),
  );
  assert.deepEqual(ok.errors, []);

  only(
    checkConfig(
      config({ endpoints: [endpoint({ backend: [backend(), backend({ url_pattern: '/b/{resp0_id}' })] })] }),
    ).errors,
    '$.endpoints[0].backend[1].url_pattern',
    '"{resp0_id}" reads a previous backend\'s response: it needs "proxy": {"sequential": true} in the endpoint\'s extra_config',
  );
  only(
    checkConfig(
      config({
        endpoints: [
          endpoint({ extra_config: seq, backend: [backend(), backend({ url_pattern: '/b/{resp1_id}' })] }),
        ],
      }),
    ).errors,
    '$.endpoints[0].backend[1].url_pattern',
    '"{resp1_id}" reads the response of backend 1, which does not run before backend 1',
  );
});

test('bad durations in every core duration field', () => {
  const { errors } = checkConfig(
    config({
      timeout: '3 s',
      cache_ttl: '-1s',
      read_timeout: '10',
      idle_connection_timeout: 'forever',
      endpoints: [endpoint({ timeout: '1d', cache_ttl: '5min', backend: [backend({ timeout: 'x' })] })],
    }),
  );
  const hint = 'expected a Go duration like "300ms", "1.5s", "1m30s" (units ns, us, ms, s, m, h)';
  assert.deepEqual(errors, [
    { path: '$.timeout', message: `invalid duration "3 s": ${hint}` },
    { path: '$.cache_ttl', message: `invalid duration "-1s" (negative): ${hint}` },
    { path: '$.read_timeout', message: `invalid duration "10": ${hint}` },
    { path: '$.idle_connection_timeout', message: `invalid duration "forever": ${hint}` },
    { path: '$.endpoints[0].timeout', message: `invalid duration "1d": ${hint}` },
    { path: '$.endpoints[0].cache_ttl', message: `invalid duration "5min": ${hint}` },
    { path: '$.endpoints[0].backend[0].timeout', message: `invalid duration "x": ${hint}` },
  ]);
  // A duration-like key gw does not know is a warning only.
  const unknown = checkConfig(config({ health_interval: '5 s', '@timeout': 'n/a' }));
  assert.deepEqual(unknown.errors, []);
  assert.deepEqual(unknown.warnings, [
    { path: '$.health_interval', message: `invalid duration "5 s": ${hint}` },
  ]);
});

test('a backend with no host, neither its own nor a root default: a warning (Lura config.go initBackendDefaults accepts it)', () => {
  const noHost = { url_pattern: '/x' };
  const said =
    'no host: every call to this backend fails (500); set "host": ["http://api:8080"] in the backend, or a default "host" at the root';
  for (const b of [noHost, { ...noHost, host: [] }]) {
    const r = checkConfig(config({ endpoints: [endpoint({ backend: [b] })] }));
    assert.deepEqual(r.errors, []);
    only(r.warnings, '$.endpoints[0].backend[0].host', said);
  }
  // The root host is the default.
  assert.deepEqual(
    checkConfig(config({ host: ['http://api'], endpoints: [endpoint({ backend: [noHost] })] })).errors,
    [],
  );
  // An empty host string is an error too.
  only(
    checkConfig(config({ endpoints: [endpoint({ backend: [backend({ host: ['http://a', ' '] })] })] }))
      .errors,
    '$.endpoints[0].backend[0].host[1]',
    'empty host',
  );
});

test('a no-op endpoint with more than one backend', () => {
  only(
    checkConfig(
      config({ endpoints: [endpoint({ output_encoding: 'no-op', backend: [backend(), backend()] })] }),
    ).errors,
    '$.endpoints[0].backend',
    'a no-op endpoint proxies to exactly one backend, found 2 (use one endpoint per backend, or another output_encoding to merge)',
  );
  // The root output_encoding applies to every endpoint.
  assert.equal(
    checkConfig(
      config({ output_encoding: 'no-op', endpoints: [endpoint({ backend: [backend(), backend()] })] }),
    ).errors.length,
    1,
  );
});

test('an endpoint without backends', () => {
  only(
    checkConfig(config({ endpoints: [{ endpoint: '/x' }] })).errors,
    '$.endpoints[0].backend',
    'an endpoint needs at least one backend ("backend": [{"host": [...], "url_pattern": "/path"}])',
  );
});

test('endpoint parameter names must be valid', () => {
  const bad = (pattern) => checkConfig(config({ endpoints: [endpoint({ endpoint: pattern })] })).errors;
  only(
    bad('/a/{user.id}'),
    '$.endpoints[0].endpoint',
    'parameter name "{user.id}" is not valid (letters, digits, "_" and "-" only) in "/a/{user.id}"',
  );
  only(bad('/a/{}'), '$.endpoints[0].endpoint', 'empty parameter name "{}" in "/a/{}"');
  only(bad('/a/{id'), '$.endpoints[0].endpoint', 'unbalanced braces in segment "{id" in "/a/{id"');
  only(
    bad('/a/{id}/b/{id}'),
    '$.endpoints[0].endpoint',
    'parameter "{id}" appears twice in "/a/{id}/b/{id}"',
  );
  // Lura's syntax allows hyphens.
  assert.deepEqual(bad('/a/{user-id}'), []);
});

test('an endpoint path with a query string', () => {
  only(
    checkConfig(config({ endpoints: [endpoint({ endpoint: '/a?b=1' })] })).errors,
    '$.endpoints[0].endpoint',
    '"/a?b=1" contains "?" or "#": the endpoint is a path only (query strings go in input_query_strings)',
  );
});

test('non-RESTful segments need disable_rest', () => {
  const ep = endpoint({
    endpoint: '/foo/{var}/file.{ext}',
    backend: [backend({ url_pattern: '/{var}.{ext}' })],
  });
  only(
    checkConfig(config({ endpoints: [ep] })).errors,
    '$.endpoints[0].endpoint',
    'segment "file.{ext}" mixes text and a parameter: such non-RESTful patterns need "disable_rest": true at the root',
  );
  assert.deepEqual(checkConfig(config({ disable_rest: true, endpoints: [ep] })).errors, []);
});

test('router: trusted_proxies must be IPs or CIDRs; forwarded_by_client_ip alone warns', () => {
  const { errors } = checkConfig(
    config({
      extra_config: {
        router: {
          forwarded_by_client_ip: true,
          trusted_proxies: ['10.0.0.0/8', '::1', 'proxy.local', '10.0.0.0/33'],
        },
      },
    }),
  );
  assert.deepEqual(
    errors.map((e) => e.path),
    ['$.extra_config.router.trusted_proxies[2]', '$.extra_config.router.trusted_proxies[3]'],
  );
  assert.match(
    errors[0].message,
    /^expected an IP address or CIDR range like "10.0.0.0\/8", found the string "proxy.local"$/,
  );
  const { warnings } = checkConfig(config({ extra_config: { router: { forwarded_by_client_ip: true } } }));
  assert.deepEqual(
    warnings.map((w) => w.path),
    ['$.extra_config.router.trusted_proxies'],
  );
});

test('an endpoint on the health path replaces it: warning', () => {
  const r = checkConfig(config({ endpoints: [endpoint({ endpoint: '/__health' })] }));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    { path: '$.endpoints[0].endpoint', message: 'GET /__health replaces the built-in health endpoint' },
  ]);
});

test('version 2 keys are warnings', () => {
  const r = checkConfig(
    config({ endpoints: [endpoint({ headers_to_pass: ['A'], backend: [backend({ whitelist: ['a'] })] })] }),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    {
      path: '$.endpoints[0].headers_to_pass',
      message: '"headers_to_pass" is a version 2 setting, ignored in version 3: use "input_headers"',
    },
    {
      path: '$.endpoints[0].backend[0].whitelist',
      message: '"whitelist" is a version 2 setting, ignored in version 3: use "allow"',
    },
  ]);
});

test('an unknown extra_config namespace is a warning, never an error (all three levels)', () => {
  const r = checkConfig(
    config({
      extra_config: { 'acme/widget': { a: 1 }, '@comment': 'ignored' },
      endpoints: [
        endpoint({
          extra_config: { 'acme/endpoint': [] },
          backend: [backend({ extra_config: { 'acme/backend': 1 } })],
        }),
      ],
    }),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    {
      path: '$.endpoints[0].extra_config["acme/endpoint"]',
      message: 'unknown extra_config namespace "acme/endpoint" (ignored)',
    },
    {
      path: '$.endpoints[0].backend[0].extra_config["acme/backend"]',
      message: 'unknown extra_config namespace "acme/backend" (ignored)',
    },
    {
      path: '$.extra_config["acme/widget"]',
      message: 'unknown extra_config namespace "acme/widget" (ignored)',
    },
  ]);
});

test('a core namespace in the wrong place is a warning', () => {
  const r = checkConfig(
    config({ endpoints: [endpoint({ extra_config: { router: { return_error_msg: true } } })] }),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    {
      path: '$.endpoints[0].extra_config.router',
      message: '"router" does not apply at the endpoint level (ignored)',
    },
  ]);
});

test('registered modules: schema (compiled once) then validate(cfg, path, service)', () => {
  const calls = [];
  const mod = {
    namespace: 'test/fake',
    schema: { type: 'object', properties: { level: { type: 'integer' } }, required: ['level'] },
    validate(cfg, path, service) {
      calls.push({ cfg, path, version: service.version });
      return cfg.level > 3 ? [{ path: `${path}.level`, message: 'too high' }] : [];
    },
  };
  featureByNamespace.set('test/fake', mod);
  try {
    const cfg = config({
      extra_config: { 'test/fake': { level: 1 } },
      endpoints: [
        endpoint({
          extra_config: { 'test/fake': { level: 'one' } },
          backend: [backend({ extra_config: { 'test/fake': { level: 9 } } })],
        }),
      ],
    });
    const r = checkConfig(cfg);
    assert.deepEqual(r.errors, [
      {
        path: '$.endpoints[0].extra_config["test/fake"].level',
        message: 'expected an integer, found the string "one"',
      },
      { path: '$.endpoints[0].backend[0].extra_config["test/fake"].level', message: 'too high' },
    ]);
    assert.deepEqual(r.warnings, []);
    // validate() runs only when the schema passed.
    assert.deepEqual(
      calls.map((c) => c.path),
      ['$.endpoints[0].backend[0].extra_config["test/fake"]', '$.extra_config["test/fake"]'],
    );
    assert.equal(calls[0].version, 3);
    assertMissing(checkConfig(config({ extra_config: { 'test/fake': {} } })).errors);
  } finally {
    featureByNamespace.delete('test/fake');
  }
  function assertMissing(errors) {
    assert.deepEqual(errors, [
      { path: '$.extra_config["test/fake"].level', message: 'required property "level" is missing' },
    ]);
  }
});

test('a module whose validate throws is reported, not a crash', () => {
  featureByNamespace.set('test/throws', {
    namespace: 'test/throws',
    validate() {
      throw new Error('boom');
    },
  });
  try {
    const r = checkConfig(config({ extra_config: { 'test/throws': {} } }));
    assert.deepEqual(r.errors, [
      { path: '$.extra_config["test/throws"]', message: 'could not validate "test/throws": boom' },
    ]);
  } finally {
    featureByNamespace.delete('test/throws');
  }
});

test('a real module (security/cors) is validated at its path', () => {
  const r = checkConfig(config({ extra_config: { 'security/cors': { allow_origins: '*' } } }));
  assert.ok(r.errors.length > 0);
  for (const e of r.errors) assert.ok(e.path.startsWith('$.extra_config["security/cors"]'), e.path);
});

test('--lint warnings: wildcards, timeouts, debug/echo; unknown properties are lint errors', () => {
  const cfg = {
    version: 3,
    debug_endpoint: true,
    echo_endpoint: true,
    colour: 'blue',
    extra_config: { router: { hide_version_header: true, typo_option: true } },
    endpoints: [
      endpoint({
        input_headers: ['*'],
        input_query_strings: ['*'],
        timeout: '5m',
        bogus: 1,
        '@comment': 'fine',
        backend: [backend({ input_headers: ['*'], extra_key: true })],
      }),
    ],
  };
  assert.deepEqual(checkConfig(cfg).warnings, [], 'no lint warnings without lint');
  const r = checkConfig(cfg, { lint: true });
  assert.deepEqual(r.errors, []);
  const paths = r.warnings.map((w) => w.path);
  assert.deepEqual(paths, [
    '$.endpoints[0].backend[0].input_headers',
    '$.endpoints[0].input_headers',
    '$.endpoints[0].input_query_strings',
    '$.endpoints[0].timeout',
    '$.timeout',
    '$.debug_endpoint',
    '$.echo_endpoint',
  ]);
  assert.match(r.warnings[1].message, /^"\*" forwards every client header/);
  assert.match(r.warnings[4].message, /^no timeout/);
  // Unknown keys are what krakend-schema refuses: `check --lint` errors (src/config/lint.ts).
  const lint = lintConfig(cfg, []);
  assert.deepEqual(lint.map((i) => `${i.path}: ${i.message}`).sort(), [
    '$.colour: unknown property "colour"',
    '$.endpoints[0].backend[0].extra_key: unknown property "extra_key"',
    '$.endpoints[0].bogus: unknown property "bogus"',
    '$.extra_config.router.typo_option: unknown property "typo_option"',
  ]);
});

test('module schema errors read as what is expected (formats, limits, alternatives, unknown keys)', () => {
  featureByNamespace.set('test/shapes', {
    namespace: 'test/shapes',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', format: 'uri' },
        rate: { type: 'number', minimum: 1 },
        id: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
        mode: { enum: ['a', 'b'] },
      },
    },
  });
  try {
    const r = checkConfig(
      config({
        extra_config: { 'test/shapes': { url: 'not a uri', rate: 0, id: true, mode: 'c', extra: 1 } },
      }),
    );
    const at = '$.extra_config["test/shapes"]';
    assert.deepEqual(r.errors, [
      { path: `${at}.extra`, message: 'unknown property "extra"' },
      { path: `${at}.url`, message: 'expected a valid uri, found the string "not a uri"' },
      { path: `${at}.rate`, message: 'expected a number ≥ 1, found the integer 0' },
      { path: `${at}.id`, message: 'expected a string or an integer, found true' },
      { path: `${at}.mode`, message: 'expected one of "a", "b", found the string "c"' },
    ]);
  } finally {
    featureByNamespace.delete('test/shapes');
  }
});

test('a host that is no URL once sanitized is named with its path (root and backend)', () => {
  const { errors } = checkConfig(
    config({
      host: ['http://api:port'],
      endpoints: [endpoint({ backend: [backend({ host: ['api:8080', 'http://127.0.0.1:BPORT'] })] })],
    }),
  );
  assert.deepEqual(
    errors.map((e) => e.path).sort(),
    ['$.endpoints[0].backend[0].host[1]', '$.host[0]'],
    formatIssues(errors, []),
  );
  assert.match(
    errors[0].message,
    /expected a host URL like "http:\/\/api:8080", found the string .* \(not a valid URL\)/,
  );
  // Bare host:port is fine: the proxy adds http:// as KrakenD's sanitizer does.
  assert.deepEqual(checkConfig(config({ host: ['api:8080', 'https://x.example/'] })).errors, []);
});
