// Schema errors of the core objects: every issue with its exact JSON path and what was expected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig, formatIssues } from '../dist/config/index.js';
import { loadAllModules } from '../dist/extensions/registry.js';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

const backend = (extra = {}) => ({ host: ['http://api:8080'], url_pattern: '/x', ...extra });
const endpoint = (extra = {}) => ({ endpoint: '/x', backend: [backend()], ...extra });
const config = (extra = {}) => ({ version: 3, endpoints: [endpoint()], ...extra });

function errorsOf(cfg, opts) {
  return checkConfig(cfg, opts).errors;
}

function assertIssue(issues, path, re) {
  const hit = issues.find((i) => i.path === path && re.test(i.message));
  assert.ok(hit, `no issue at ${path} matching ${re}; got:\n${formatIssues(issues, [])}`);
}

test('a valid configuration has no errors and no warnings', () => {
  assert.deepEqual(checkConfig(config()), { errors: [], warnings: [] });
  assert.deepEqual(checkConfig({ version: 3 }), { errors: [], warnings: [] });
});

test('version must be 3', () => {
  assertIssue(
    errorsOf({ version: 2 }),
    '$.version',
    /^expected 3 \(the configuration format gw reads.*found the integer 2$/,
  );
  assertIssue(errorsOf({ endpoints: [] }), '$.version', /^required property "version" is missing/);
  assertIssue(errorsOf({ version: '3' }), '$.version', /found the string "3"/);
});

test('the root must be an object', () => {
  assertIssue(errorsOf([]), '$', /^expected a configuration object .*found an empty array$/);
  assertIssue(errorsOf(null), '$', /found null/);
});

test('root fields: types and ranges', () => {
  const errs = errorsOf(
    config({
      port: 70000,
      listen_ip: 1,
      host: 'http://api',
      timeout: 3000,
      output_encoding: 'jsonp',
      debug_endpoint: 'yes',
      max_header_bytes: -1,
      endpoints: {},
      extra_config: [],
    }),
  );
  assertIssue(errs, '$.port', /^expected a port number \(integer 0-65535\), found the integer 70000$/);
  assertIssue(errs, '$.listen_ip', /^expected an IP address string/);
  assertIssue(
    errs,
    '$.host',
    /^expected an array of strings \("host": \["http:\/\/api:8080"\]\), found the string "http:\/\/api"$/,
  );
  assertIssue(
    errs,
    '$.timeout',
    /^expected a duration string like "3s" \(units ns, us, ms, s, m, h\), found the integer 3000$/,
  );
  // An unknown output_encoding is not an error: `krakend run` serves it as JSON (compat-config.test.mjs).
  assert.ok(!errs.some((e) => e.path === '$.output_encoding'), 'unknown output_encoding accepted');
  assertIssue(errs, '$.debug_endpoint', /^expected a boolean \(true or false\), found the string "yes"$/);
  assertIssue(errs, '$.max_header_bytes', /^expected an integer ≥ 0, found the integer -1$/);
  assertIssue(errs, '$.endpoints', /^expected an array of endpoint objects/);
  assertIssue(errs, '$.extra_config', /^expected an object of namespaces/);
  assertIssue(errorsOf(config({ port: 80.5 })), '$.port', /found the number 80.5/);
});

test('endpoint fields: exact paths into the array', () => {
  const errs = errorsOf({
    version: 3,
    endpoints: [
      endpoint(),
      endpoint({
        endpoint: 'users',
        method: 'FETCH',
        output_encoding: 'html',
        concurrent_calls: 0,
        input_headers: 'Authorization',
        input_query_strings: ['page', 2],
        extra_config: 'x',
        cache_ttl: 60,
      }),
      { backend: [backend()] },
    ],
  });
  assertIssue(
    errs,
    '$.endpoints[1].endpoint',
    /^expected a path starting with "\/", e\.g\. "\/v1\/users\/\{id\}", found the string "users"$/,
  );
  // An unknown method skips the endpoint and an unknown output_encoding is JSON, as in
  // `krakend run` (warnings: compat-config.test.mjs); `check --lint` refuses both.
  assert.ok(
    !errs.some((e) => e.path === '$.endpoints[1].method' || e.path === '$.endpoints[1].output_encoding'),
  );
  assertIssue(errs, '$.endpoints[1].concurrent_calls', /^expected an integer ≥ 1, found the integer 0$/);
  assertIssue(
    errs,
    '$.endpoints[1].input_headers',
    /^expected an array of strings \("input_headers": \["Authorization"\]\), found the string "Authorization"$/,
  );
  assertIssue(
    errs,
    '$.endpoints[1].input_query_strings',
    /^expected an array of strings .*found an item that is the integer 2$/,
  );
  assertIssue(errs, '$.endpoints[1].extra_config', /^expected an object of namespaces/);
  assertIssue(errs, '$.endpoints[1].cache_ttl', /^expected a duration string like "300s"/);
  assertIssue(
    errs,
    '$.endpoints[2].endpoint',
    /^required property "endpoint" is missing \(expected a path starting with "\/"/,
  );
  assert.equal(errs.filter((e) => e.path.startsWith('$.endpoints[0]')).length, 0);
});

test('a lower-case method is accepted (the core upper-cases it)', () => {
  assert.deepEqual(errorsOf(config({ endpoints: [endpoint({ method: 'post' })] })), []);
});

test('backend fields: exact paths into nested arrays', () => {
  const errs = errorsOf({
    version: 3,
    endpoints: [
      endpoint(),
      endpoint(),
      endpoint({
        backend: [
          backend({
            host: ['http://api:8080', 8080],
            encoding: 'protobuf',
            is_collection: 'true',
            allow: 'id',
            deny: [1],
            mapping: { a: 'b', c: 3 },
            group: {},
            target: 1,
            sd: 'consul',
            method: 'get',
          }),
          { host: ['http://api:8080'] },
          'not an object',
        ],
      }),
    ],
  });
  assertIssue(
    errs,
    '$.endpoints[2].backend[0].host',
    /^expected an array of strings \("host": \["http:\/\/api:8080"\]\), found an item that is the integer 8080$/,
  );
  // An unknown backend encoding decodes as JSON, as in `krakend run` (compat-config.test.mjs).
  assert.ok(!errs.some((e) => e.path === '$.endpoints[2].backend[0].encoding'));
  assertIssue(
    errs,
    '$.endpoints[2].backend[0].is_collection',
    /^expected a boolean \(true or false\), found the string "true"$/,
  );
  assertIssue(
    errs,
    '$.endpoints[2].backend[0].allow',
    /^expected an array of strings \("allow": \["id", "user.name"\]\), found the string "id"$/,
  );
  assertIssue(errs, '$.endpoints[2].backend[0].deny', /found an item that is the integer 1$/);
  assertIssue(
    errs,
    '$.endpoints[2].backend[0].mapping',
    /^expected an object of strings \("mapping": \{"old_name": "new_name"\}\), found an item that is the integer 3$/,
  );
  assertIssue(
    errs,
    '$.endpoints[2].backend[0].group',
    /^expected a string: the key to wrap the response in, found an object$/,
  );
  assertIssue(errs, '$.endpoints[2].backend[0].target', /found the integer 1$/);
  // An unknown sd is the static host list, as Lura's sd Register.Get falls back (compat-config.test.mjs).
  assert.ok(!errs.some((e) => e.path === '$.endpoints[2].backend[0].sd'));
  // A backend without url_pattern calls "/", as Lura's CleanPath("") makes it (compat-config.test.mjs).
  assert.ok(!errs.some((e) => e.path === '$.endpoints[2].backend[1].url_pattern'));
  assertIssue(errs, '$.endpoints[2].backend[2]', /^expected a backend object/);
  assert.ok(
    !errs.some((e) => e.path === '$.endpoints[2].backend[0].method'),
    'lower-case backend method accepted',
  );
});

test('router options are typed', () => {
  const errs = errorsOf(
    config({
      extra_config: {
        router: {
          return_error_msg: 'true',
          logger_skip_paths: '/__health',
          health_path: 'health',
          error_body: { 404: 'not found' },
          max_multipart_memory: 'big',
        },
      },
    }),
  );
  assertIssue(errs, '$.extra_config.router.return_error_msg', /^expected a boolean/);
  assertIssue(errs, '$.extra_config.router.logger_skip_paths', /^expected an array of strings/);
  assertIssue(errs, '$.extra_config.router.health_path', /^expected a path starting with "\/"/);
  assertIssue(
    errs,
    '$.extra_config.router.error_body["404"]',
    /^expected an object: the JSON body returned for this status, found the string "not found"$/,
  );
  assertIssue(errs, '$.extra_config.router.max_multipart_memory', /^expected an integer ≥ 0/);
});

test('proxy namespace is typed (sequential, static, flatmap_filter)', () => {
  const errs = errorsOf(
    config({
      endpoints: [
        endpoint({
          extra_config: {
            proxy: {
              sequential: 'yes',
              static: { strategy: 'sometimes', data: [] },
              flatmap_filter: [{ type: 'rename', args: ['a'] }, { type: 'del' }],
            },
          },
        }),
      ],
    }),
  );
  assertIssue(errs, '$.endpoints[0].extra_config.proxy.sequential', /^expected a boolean/);
  // Lura's static proxy takes an unknown strategy as "always" and ignores a static without a data
  // object: warnings, not errors (compat-config.test.mjs).
  assert.ok(!errs.some((e) => e.path.startsWith('$.endpoints[0].extra_config.proxy.static')));
  assertIssue(errs, '$.endpoints[0].extra_config.proxy.flatmap_filter[0].type', /one of move, del, append/);
  assertIssue(
    errs,
    '$.endpoints[0].extra_config.proxy.flatmap_filter[1].args',
    /^required property "args" is missing/,
  );
});

test('every error of a file is reported at once (allErrors)', () => {
  const errs = errorsOf({
    version: 3,
    port: 'x',
    endpoints: [endpoint({ method: 1 }), endpoint({ endpoint: '/y', backend: [backend({ host: 1 })] })],
  });
  assert.deepEqual(
    errs.map((e) => e.path),
    ['$.port', '$.endpoints[0].method', '$.endpoints[1].backend[0].host'],
  );
});
