// The README's commands: `gw run` with no -c serves the bundled example; version/help/usage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, get, jsonBackend, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

test('gw run without -c serves the bundled example against its own /__debug/ and /__echo/', async () => {
  const port = await freePort();
  const gw = await startGateway(null, {
    file: 'unused',
    port,
    args: ['--workers', '1'],
    env: { KRAKEND_LISTEN_IP: '127.0.0.1' },
    rawArgs: ['run', '-p', String(port), '--workers', '1'],
  });
  try {
    assert.deepEqual((await get(`${gw.url}/hello`)).json, { message: 'pong' });
    const echo = await get(`${gw.url}/echo/ana?page=2&evil=1`, { headers: { 'User-Agent': 'readme' } });
    assert.equal(echo.json.uri, '/__echo/ana?page=2');
    assert.deepEqual(echo.json.req_querystring, { page: ['2'] });
    const combined = await get(`${gw.url}/combined/7`);
    assert.deepEqual(combined.json, { debug: { message: 'pong' }, echo: { req_uri: '/__echo/b/7' } });
    assert.equal(combined.headers.get('x-krakend-completed'), 'true');
  } finally {
    await gw.stop();
  }
});

test('a YAML config runs like its JSON twin', async () => {
  const be = await jsonBackend({ '/a': { a: 1 } });
  const file = writeConfig(
    `version: 3\nlisten_ip: 127.0.0.1\nendpoints:\n  - endpoint: /y\n    backend:\n      - host: ["${be.url}"]\n        url_pattern: /a\n`,
    'yaml',
  );
  const gw = await startGateway(null, { file });
  try {
    assert.deepEqual((await get(`${gw.url}/y`)).json, { a: 1 });
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('modules load only for what the config uses (src/extensions/registry.ts), with -d saying which', async () => {
  const be = await jsonBackend({ '/a': { a: 1 } });
  const backend = [{ host: [be.url], url_pattern: '/a' }];
  const plain = await startGateway(
    { version: 3, endpoints: [{ endpoint: '/p', backend }] },
    { args: ['--workers', '1', '-d'] },
  );
  const rich = await startGateway(
    {
      version: 3,
      extra_config: { 'security/cors': { allow_origins: ['https://a.example'] } },
      endpoints: [
        { endpoint: '/x', output_encoding: 'xml', backend },
        { endpoint: '/y', output_encoding: 'yaml', backend },
      ],
    },
    { args: ['--workers', '1', '-d'] },
  );
  try {
    assert.match(await plain.waitForLog(/modules loaded/), /modules loaded for this configuration: none/);
    assert.deepEqual((await get(`${plain.url}/p`)).json, { a: 1 });
    assert.match(
      await rich.waitForLog(/modules loaded/),
      /modules loaded for this configuration: security\/cors \(service\), encoding:xml, encoding:yaml/,
    );
    // What loaded is what serves: the CORS answer, the XML and YAML encoders.
    const preflight = await get(`${rich.url}/x`, { headers: { Origin: 'https://a.example' } });
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://a.example');
    // krakend-xml's render takes a lone key as the root; goccy/go-yaml quotes a json.Number
    assert.equal(preflight.text, '<a>1</a>');
    assert.equal((await get(`${rich.url}/y`)).text, 'a: "1"\n');
  } finally {
    await plain.stop();
    await rich.stop();
    await be.close();
  }
});

test('gw run refuses an invalid config with exit 1 and the JSON path', async () => {
  // Lura's initBackendURLMappings refuses it too (UndefinedOutputParamError).
  const file = writeConfig({
    version: 3,
    endpoints: [{ endpoint: '/x', backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/{id}' }] }],
  });
  const r = await runGw(['run', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\$\.endpoints\[0\]\.backend\[0\]\.url_pattern: "\{id\}" is not a parameter/);
});

test('version, help and usage errors', async () => {
  const v = await runGw(['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^gw version \d+\.\d+\.\d+/);
  const h = await runGw(['help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /gw run/);
  for (const args of [
    ['run', '--bogus'],
    ['frobnicate'],
    ['run', '-p', 'notaport'],
    ['check'],
    ['run', '--workers', '0'],
  ]) {
    const r = await runGw(args);
    assert.equal(r.code, 2, args.join(' '));
  }
});
