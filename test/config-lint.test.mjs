// `gw check --lint` holds a configuration to KrakenD CE 2.13's schema, as `krakend check --lint`
// holds it to krakend-schema (krakend-cobra check.go, checkFunc: a schema violation is
// "ERROR linting the configuration file", exit 1). gw's schema is written from the facts of
// krakend-schema v2.13 (src/config/lint-schema.ts): unknown keys, required fields, types and
// enums, in the core objects and in every CE namespace. Real `gw check`, real files.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

const backend = (extra = {}) => ({ host: ['http://127.0.0.1:9'], url_pattern: '/x', ...extra });
const endpoint = (extra = {}) => ({ endpoint: '/x', backend: [backend()], ...extra });
/** A file with no risky settings, so that --lint prints only what the case is about. */
const config = (extra = {}) => ({
  version: 3,
  timeout: '3s',
  extra_config: { router: { hide_version_header: true } },
  endpoints: [endpoint()],
  ...extra,
});

async function lint(cfg) {
  const file = writeConfig(cfg);
  const plain = await runGw(['check', '-c', file]);
  const linted = await runGw(['check', '--lint', '-c', file]);
  return { plain, linted, errors: linted.stderr.split('\n').filter((l) => l.startsWith('ERROR')) };
}

test("a clean file passes --lint, and so do the repository's example and fixtures", async () => {
  const r = await lint(config());
  assert.equal(r.linted.code, 0, r.linted.stderr);
  assert.equal(r.linted.stderr, '');
  for (const f of [
    'examples/krakend.json',
    'test/fixtures/config/valid.json',
    'test/compat/krakend-router.json',
  ]) {
    const out = await runGw(['check', '-l', '-c', join(ROOT, f)]);
    assert.equal(out.code, 0, `${f}:\n${out.stderr}`);
  }
});

test('misspelt keys inside namespaces pass `gw check` (krakend run ignores them) and fail --lint, with the key meant', async () => {
  const r = await lint(
    config({
      extra_config: {
        router: { hide_version_header: true },
        'security/cors': { allow_origin: ['*'] },
      },
      endpoints: [
        endpoint({
          extra_config: {
            'qos/ratelimit/router': { max_rat: 10 },
            'auth/validator': { alg: 'RS256', jwk_url: 'https://idp.example/jwk', rolse: ['admin'] },
          },
        }),
      ],
    }),
  );
  assert.equal(r.plain.code, 0, r.plain.stderr);
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.extra_config["security/cors"].allow_origin: unknown property "allow_origin" (did you mean "allow_origins"?)',
    'ERROR  $.endpoints[0].extra_config["qos/ratelimit/router"].max_rat: unknown property "max_rat" (did you mean "max_rate"?)',
    'ERROR  $.endpoints[0].extra_config["auth/validator"].rolse: unknown property "rolse" (did you mean "roles"?)',
  ]);
});

test('required fields, types, ranges and durations of namespaces (krakend-schema qos/ratelimit/proxy.json, auth/validator.json, telemetry/influx.json, backend/lambda.json)', async () => {
  const r = await lint(
    config({
      extra_config: {
        router: { hide_version_header: true },
        'telemetry/influx': { address: 'http://influx:8086', ttl: '25s', buffer_size: -1 },
      },
      endpoints: [
        endpoint({
          extra_config: {
            'auth/validator': {
              alg: 'RS256',
              jwk_url: 'https://idp.example/jwk',
              propagate_claims_preserve_array: 'yes',
              failed_jwk_key_cooldown: 'soon',
            },
          },
          backend: [
            backend({
              extra_config: {
                'qos/ratelimit/proxy': { max_rate: 1 },
                'backend/lambda': { max_retries: '3' },
              },
            }),
          ],
        }),
      ],
    }),
  );
  assert.equal(r.plain.code, 0, r.plain.stderr);
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.extra_config["telemetry/influx"].buffer_size: expected an integer ≥ 0, found the integer -1',
    'ERROR  $.endpoints[0].extra_config["auth/validator"].failed_jwk_key_cooldown: expected a duration like "2s", "500ms" or "1m30s", found the string "soon"',
    'ERROR  $.endpoints[0].extra_config["auth/validator"].propagate_claims_preserve_array: expected a boolean (true or false), found the string "yes"',
    'ERROR  $.endpoints[0].backend[0].extra_config["qos/ratelimit/proxy"].capacity: required property "capacity" is missing (expected an integer)',
    'ERROR  $.endpoints[0].backend[0].extra_config["backend/lambda"].max_retries: expected an integer, found the string "3"',
  ]);
});

test("what gw's own checks already refuse is said once (an enum of auth/validator, checked by its module)", async () => {
  const r = await lint(
    config({
      endpoints: [
        endpoint({
          extra_config: { 'auth/validator': { alg: 'RS999', jwk_url: 'https://idp.example/jwk' } },
        }),
      ],
    }),
  );
  assert.equal(r.plain.code, 1);
  assert.equal(r.errors.filter((e) => e.includes('.alg:')).length, 1, r.linted.stderr);
});

test('a namespace at a level KrakenD does not read it at (krakend-schema service/endpoint/backend_extra_config.json)', async () => {
  const r = await lint(
    config({
      endpoints: [endpoint({ extra_config: { 'qos/ratelimit/proxy': { max_rate: 1, capacity: 1 } } })],
    }),
  );
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.endpoints[0].extra_config["qos/ratelimit/proxy"]: "qos/ratelimit/proxy" does not belong in an endpoint: it is read in a backend',
  ]);
});

test('CE namespaces gw does not implement are still linted field by field (telemetry/gelf, auth/revoker, backend/amqp/consumer)', async () => {
  const r = await lint(
    config({
      extra_config: {
        router: { hide_version_header: true },
        'telemetry/gelf': { address: 'gelf:12201', enable_tcp: 'no' },
        'auth/revoker': { N: 10, P: 0.01, hash_name: 'optimal', TTL: 1500, port: 1234 },
      },
      endpoints: [
        endpoint({
          backend: [
            {
              host: ['amqp://guest:guest@rabbitmq:5672'],
              extra_config: {
                'backend/amqp/consumer': { name: 'q', exchange: 'ex', routing_key: ['#'], prefech_count: 1 },
              },
            },
          ],
        }),
      ],
    }),
  );
  assert.equal(r.plain.code, 0, r.plain.stderr);
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.extra_config["telemetry/gelf"].enable_tcp: expected a boolean (true or false), found the string "no"',
    'ERROR  $.extra_config["auth/revoker"].token_keys: required property "token_keys" is missing (expected an array of strings)',
    'ERROR  $.endpoints[0].backend[0].extra_config["backend/amqp/consumer"].prefech_count: unknown property "prefech_count" (did you mean "prefetch_count"?)',
  ]);
  // the AMQP backend has no url_pattern: accepted, as the AMQP pages show it
  assert.doesNotMatch(r.linted.stderr, /url_pattern|\.host:/);
});

test('what `krakend run` defaults, --lint refuses: unknown method, output_encoding, encoding, static strategy, url_pattern', async () => {
  const r = await lint(
    config({
      endpoints: [
        endpoint({
          method: 'HEAD',
          output_encoding: 'html',
          backend: [{ host: ['http://127.0.0.1:9'], encoding: 'protobuf' }],
          extra_config: { proxy: { static: { data: { a: 1 } } } },
        }),
      ],
    }),
  );
  assert.equal(r.plain.code, 0, r.plain.stderr);
  assert.match(r.plain.stderr, /^WARN {3}\$\.endpoints\[0\]\.method: /m);
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.endpoints[0].backend[0].encoding: expected one of "json", "safejson", "fast-json", "xml", "rss", "string", "no-op", "yaml", found the string "protobuf"',
    'ERROR  $.endpoints[0].method: expected one of "GET", "POST", "PUT", "PATCH", "DELETE", found the string "HEAD"',
    'ERROR  $.endpoints[0].output_encoding: expected one of "json", "json-collection", "yaml", "fast-json", "xml", "negotiate", "string", "no-op", found the string "html"',
    'ERROR  $.endpoints[0].extra_config.proxy.static.strategy: required property "strategy" is missing (expected one of "always", "success", "complete", "errored", "incomplete")',
    'ERROR  $.endpoints[0].backend[0].url_pattern: required property "url_pattern" is missing (expected the path on the backend, e.g. "/users/{id}")',
  ]);
  // the warning run gives for the same value gives way to the error
  assert.doesNotMatch(r.linted.stderr, /^WARN {3}\$\.endpoints\[0\]\.method: /m);
});

test('unknown keys of the core objects and unknown namespaces (additionalProperties false in krakend-schema); comments pass', async () => {
  const r = await lint(
    config({
      colour: 'blue',
      '@comment': 'fine',
      extra_config: { router: { hide_version_header: true }, 'acme/thing': {} },
      endpoints: [endpoint({ timout: '1s', backend: [backend({ hosts: ['http://a'], $note: 'fine' })] })],
    }),
  );
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.colour: unknown property "colour"',
    'ERROR  $.endpoints[0].timout: unknown property "timout" (did you mean "timeout"?)',
    'ERROR  $.endpoints[0].backend[0].hosts: unknown property "hosts" (did you mean "host"?)',
    'ERROR  $.extra_config["acme/thing"]: unknown namespace "acme/thing": KrakenD\'s schema has no such namespace',
  ]);
});

test('long namespace names are linted as their short ones (krakend-ce cmd/krakend-ce/main.go aliases)', async () => {
  const r = await lint(
    config({
      extra_config: {
        'github_com/luraproject/lura/router/gin': { hide_version_header: true, return_error_mgs: true },
      },
    }),
  );
  assert.equal(r.linted.code, 1);
  assert.deepEqual(r.errors, [
    'ERROR  $.extra_config.router.return_error_mgs: unknown property "return_error_mgs" (did you mean "return_error_msg"?)',
  ]);
});

/** The import specifiers a gw process resolved (test/helpers/import-watch.mjs), read by `readLog()`. */
function importWatch() {
  const log = join(tmpdir(), `gw-imports-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  return {
    env: {
      GW_IMPORT_LOG: log,
      NODE_OPTIONS: `--import=${join(ROOT, 'test', 'helpers', 'import-watch.mjs')}`,
    },
    readLog: () => readFileSync(log, 'utf8').split('\n'),
  };
}

test('`gw run` never loads the lint schema, though the modules it builds on load (only `check --lint` does)', async () => {
  // The namespaces whose settings the lint schema builds on (AMQP, JOSE, Lua, CEL, GraphQL, Pub/Sub).
  const cfg = config({
    endpoints: [
      endpoint({
        endpoint: '/secured',
        extra_config: {
          'auth/validator': { alg: 'RS256', jwk_url: 'https://127.0.0.1:9/jwk' },
          'modifier/lua-endpoint': { pre: 'local x = 1' },
          'validation/cel': [{ check_expr: 'true' }],
        },
        backend: [
          backend({
            extra_config: { 'backend/graphql': { type: 'query', query: '{ a }' } },
          }),
        ],
      }),
      endpoint({
        endpoint: '/queue',
        backend: [
          {
            host: ['amqp://guest:guest@127.0.0.1:9'],
            disable_host_sanitize: true,
            extra_config: { 'backend/amqp/consumer': { name: 'q', exchange: 'ex', routing_key: ['#'] } },
          },
          {
            host: ['nats://127.0.0.1:9'],
            disable_host_sanitize: true,
            extra_config: { 'backend/pubsub/publisher': { topic_url: 't' } },
          },
        ],
      }),
    ],
  });
  const running = importWatch();
  const gw = await startGateway(cfg, { env: running.env, startTimeoutMs: 30000 });
  await gw.stop();
  const loaded = running.readLog();
  for (const shared of [
    'amqp-settings.js',
    'jose-settings.js',
    'settings.js',
    'cel-settings.js',
    'transports.js',
  ])
    assert.ok(
      loaded.some((l) => l.endsWith(`/${shared}`)),
      `gw run loads ${shared}:\n${loaded.join('\n')}`,
    );
  assert.deepEqual(
    loaded.filter((l) => /(^|\/)lint(-schema)?\.js$/.test(l)),
    [],
    'gw run resolved the lint modules',
  );

  const checking = importWatch();
  const checked = await runGw(['check', '--lint', '-c', writeConfig(cfg)], { env: checking.env });
  assert.equal(checked.code, 0, checked.stderr);
  assert.ok(
    checking.readLog().some((l) => l.endsWith('/lint-schema.js')),
    'check --lint loads the lint schema',
  );
});
