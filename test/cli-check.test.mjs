// End-to-end: `gw check -c FILE` as users run it (exit codes, stdout/stderr), and `gw run`
// refusing an invalid configuration.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runGw, writeConfig } from './helpers/gateway.mjs';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'config');
const backend = (extra = {}) => ({ host: ['http://127.0.0.1:9'], url_pattern: '/x', ...extra });
const endpoint = (extra = {}) => ({ endpoint: '/x', backend: [backend()], ...extra });
const config = (extra = {}) => ({ version: 3, endpoints: [endpoint()], ...extra });

async function checkFails(cfg, path, re, ext = 'json') {
  const r = await runGw(['check', '-c', writeConfig(cfg, ext)]);
  assert.equal(r.code, 1, `exit code; stderr:\n${r.stderr}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith(`ERROR  ${path}: `));
  assert.ok(line, `no "ERROR  ${path}:" line in:\n${r.stderr}`);
  assert.match(line, re);
  assert.doesNotMatch(r.stdout, /Syntax OK!/);
  return r;
}

test('valid configurations in JSON, YAML and TOML: exit 0 and "Syntax OK!"', async () => {
  for (const f of ['valid.json', 'valid.yaml', 'valid.toml']) {
    const r = await runGw(['check', '-c', join(FIXTURES, f)]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    assert.equal(r.stdout, 'Syntax OK!\n');
    assert.equal(r.stderr, '');
  }
});

test('-d prints how the configuration was understood', async () => {
  const r = await runGw(['check', '-d', '-c', join(FIXTURES, 'valid.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Parsing configuration file: .*valid\.json/);
  assert.match(r.stdout, /Name: config fixture/);
  assert.match(r.stdout, /4 API endpoints:/);
  assert.match(r.stdout, /- GET \/users\/\{id\}\n {4}Timeout: 3s/);
  assert.match(r.stdout, /- POST \/users\/\{id\}/);
  assert.match(
    r.stdout,
    /Connecting to 2 backend\(s\):\n {8}\[\+\] GET \/users\/\{id\}\n {8}Timeout: 3s\n {8}Hosts: \[http:\/\/127\.0\.0\.1:9000\]/,
  );
  assert.match(r.stdout, /Syntax OK!\n$/);
});

test('-t builds the route table as gw run would', async () => {
  const r = await runGw(['check', '-t', '-c', join(FIXTURES, 'valid.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Syntax OK!\n');
});

test('file problems: missing file and syntax errors with their location', async () => {
  let r = await runGw(['check', '-c', '/nonexistent/krakend.json']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^ERROR {2}\$: cannot read configuration file \/nonexistent\/krakend\.json: no such file\n/,
  );
  r = await runGw(['check', '-c', join(FIXTURES, 'broken.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ERROR {2}\$: .*broken\.json:4:23: invalid JSON: trailing comma before "\}"/);
  r = await runGw(['check', '-c', join(FIXTURES, 'broken.yaml')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /broken\.yaml:4:1: invalid YAML/);
  r = await runGw(['check', '-c', join(FIXTURES, 'broken.toml')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /broken\.toml:2:8: invalid TOML/);
});

test('schema errors: exit 1 with the JSON path', async () => {
  const r = await runGw(['check', '-c', join(FIXTURES, 'invalid.json')]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'ERROR  $.endpoints[0].backend[0].host: expected an array of strings ("host": ["http://api:8080"]), found the string "http://api:8080"\n' +
      'ERROR  $.endpoints[0].backend[1].url_pattern: "{item}" is not a parameter of the endpoint "/items/{id}" (its parameters are {id})\n' +
      `2 errors in ${join(FIXTURES, 'invalid.json')}\n`,
  );
  await checkFails({ version: 2 }, '$.version', /expected 3/);
  await checkFails(config({ port: 'http' }), '$.port', /expected a port number/);
});

test('each semantic error class: exit 1 with the path', async () => {
  await checkFails(
    config({ endpoints: [endpoint(), endpoint()] }),
    '$.endpoints[1]',
    /duplicate endpoint GET \/x: already declared at \$\.endpoints\[0\]/,
  );
  await checkFails(
    config({ endpoints: [endpoint({ endpoint: '/a/{id}' }), endpoint({ endpoint: '/a/{key}' })] }),
    '$.endpoints[1].endpoint',
    /conflicts with GET \/a\/\{id\}/,
  );
  await checkFails(
    config({ endpoints: [endpoint({ backend: [backend({ url_pattern: '/{nope}' })] })] }),
    '$.endpoints[0].backend[0].url_pattern',
    /"\{nope\}" is not a parameter/,
  );
  await checkFails(
    config({ endpoints: [endpoint({ backend: [backend(), backend({ url_pattern: '/{resp0_id}' })] })] }),
    '$.endpoints[0].backend[1].url_pattern',
    /needs "proxy": \{"sequential": true\}/,
  );
  await checkFails(config({ timeout: '2 seconds' }), '$.timeout', /invalid duration "2 seconds"/);
  await checkFails(
    config({ endpoints: [endpoint({ output_encoding: 'no-op', backend: [backend(), backend()] })] }),
    '$.endpoints[0].backend',
    /no-op endpoint proxies to exactly one backend/,
  );
  await checkFails(
    config({ endpoints: [endpoint({ endpoint: '/a/{b c}' })] }),
    '$.endpoints[0].endpoint',
    /is not valid/,
  );
  await checkFails(
    config({ extra_config: { router: { trusted_proxies: ['nope'] } } }),
    '$.extra_config.router.trusted_proxies[0]',
    /expected an IP address or CIDR/,
  );
  // YAML files get the same paths.
  await checkFails(
    'version: 3\nendpoints:\n  - endpoint: /x\n    backend:\n      - url_pattern: /x\n        host: h\n',
    '$.endpoints[0].backend[0].host',
    /expected an array of strings/,
    'yaml',
  );
});

test('warnings do not fail the check; --lint adds more', async () => {
  const file = writeConfig(config({ echo_endpoint: true, extra_config: { 'acme/unknown': {} } }));
  let r = await runGw(['check', '-c', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    'WARN   $.extra_config["acme/unknown"]: unknown extra_config namespace "acme/unknown" (ignored)\n',
  );
  assert.equal(r.stdout, 'Syntax OK!\n');
  r = await runGw(['check', '--lint', '-c', file]);
  // krakend-schema knows no "acme/unknown": under --lint that fails, as `krakend check --lint` does.
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^ERROR {2}\$\.extra_config\["acme\/unknown"\]: unknown namespace "acme\/unknown"/m);
  assert.match(r.stderr, /^WARN {3}\$\.echo_endpoint: /m);
  assert.match(r.stderr, /^WARN {3}\$\.timeout: no timeout/m);
});

test('KRAKEND_* overrides are applied before checking', async () => {
  const file = writeConfig(config({ timeout: '3s' }));
  const r = await runGw(['check', '-c', file], { env: { KRAKEND_TIMEOUT: 'soon' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ERROR {2}\$\.timeout: invalid duration "soon"/m);
  const bad = await runGw(['check', '-c', file], { env: { KRAKEND_TIMEOUT: '1s' } });
  assert.equal(bad.code, 0, bad.stderr);
});

test('usage errors: exit 2', async () => {
  let r = await runGw(['check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /check needs -c FILE/);
  r = await runGw(['check', '-c']);
  assert.equal(r.code, 2);
  r = await runGw(['check', '-c', join(FIXTURES, 'valid.json'), '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown flag: --bogus/);
});

test('gw run refuses an invalid configuration, printing the same errors', async () => {
  const r = await runGw(['run', '-c', join(FIXTURES, 'invalid.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^ERROR {2}\$\.endpoints\[0\]\.backend\[0\]\.host: expected an array of strings/m);
  assert.match(r.stderr, /^ERROR {2}\$\.endpoints\[0\]\.backend\[1\]\.url_pattern: /m);
});

test('telemetry/opentelemetry overrides in an endpoint or a backend: their own shape, no service-level warnings', async () => {
  const OTEL = 'telemetry/opentelemetry';
  const at = `$.endpoints[0].extra_config["${OTEL}"]`;
  const withOverrides = (root, proxy) =>
    config({
      ...(root && { extra_config: { [OTEL]: root } }),
      endpoints: [
        endpoint({
          extra_config: { [OTEL]: { proxy } },
          backend: [backend({ extra_config: { [OTEL]: { backend: { metrics: { disable_stage: true } } } } })],
        }),
      ],
    });
  const service = { exporters: { prometheus: [{ name: 'p' }] } };
  let r = await runGw([
    'check',
    '-c',
    writeConfig(
      withOverrides(service, {
        disable_metrics: true,
        metrics_static_attributes: [{ key: 'o', value: 'v' }],
      }),
    ),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'no "no exporter" warning for the overrides');
  await checkFails(
    withOverrides(service, { disable_traces: 'no' }),
    `${at}.proxy.disable_traces`,
    /expected a boolean \(true or false\), found the string "no"/,
  );
  await checkFails(
    withOverrides(service, { disable_metric: true }),
    `${at}.proxy.disable_metric`,
    /unknown property "disable_metric": expected one of "disable_metrics", "disable_traces"/,
  );
  r = await runGw(['check', '-c', writeConfig(withOverrides(undefined, { disable_metrics: true }))]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    `WARN   ${at}: no effect: "${OTEL}" is not configured at the service level ($.extra_config), so nothing is reported to override\n` +
      `WARN   $.endpoints[0].backend[0].extra_config["${OTEL}"]: no effect: "${OTEL}" is not configured at the service level ($.extra_config), so nothing is reported to override\n`,
  );
});

test('telemetry/opentelemetry backend phases (round_trip, read_payload, detailed_connection): checked, no warning', async () => {
  const OTEL = 'telemetry/opentelemetry';
  const phases = { round_trip: true, read_payload: true, detailed_connection: true };
  const cfg = config({
    extra_config: {
      [OTEL]: {
        exporters: { prometheus: [{ name: 'p' }] },
        layers: { backend: { metrics: phases, traces: phases } },
      },
    },
    endpoints: [
      endpoint({
        backend: [backend({ extra_config: { [OTEL]: { backend: { metrics: phases, traces: phases } } } })],
      }),
    ],
  });
  const r = await runGw(['check', '-c', writeConfig(cfg)]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'the phases are produced: no "not produced" warning');
  await checkFails(
    config({
      extra_config: {
        [OTEL]: {
          exporters: { prometheus: [{ name: 'p' }] },
          layers: { backend: { traces: { round_trip: 'yes' } } },
        },
      },
    }),
    `$.extra_config["${OTEL}"].layers.backend.traces.round_trip`,
    /expected a boolean/,
  );
});
