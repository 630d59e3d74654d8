// What `gw run` accepts, as `krakend run` does: Lura's defaults where gw used to refuse the file,
// KrakenD CE's long namespace names, endpoints with a method the router does not serve, backends
// without url_pattern, and CE namespaces gw does not implement (named in a warning at start).
// Each case cites the Lura / KrakenD CE source that decides it. Real backend, real `gw run`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get, jsonBackend, runGw, startBackend, startGateway, writeConfig } from './helpers/gateway.mjs';

let api;
let text;
before(async () => {
  api = await jsonBackend({ '/user': { id: 1, name: 'ana' }, '/': { root: true } });
  text = await startBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('plain words');
  });
});
after(async () => {
  await api.close();
  await text.close();
});

const to = (b) => ({ host: [api.url], url_pattern: '/user', ...b });

test('Lura ExtraConfig.Normalize with krakend-ce cmd/krakend-ce/main.go aliases: long namespace names work as the short ones', async () => {
  const gw = await startGateway({
    version: 3,
    extra_config: {
      // router options under Lura's gin router namespace (router/gin/engine.go, Namespace)
      'github_com/luraproject/lura/router/gin': { disable_health: true, return_error_msg: true },
    },
    endpoints: [
      {
        endpoint: '/static',
        backend: [to()],
        // proxy options under Lura's proxy namespace (proxy/proxy.go, Namespace)
        extra_config: {
          'github.com/devopsfaith/krakend/proxy': { static: { strategy: 'always', data: { extra: 'x' } } },
        },
      },
      {
        endpoint: '/both',
        backend: [to()],
        // both spellings: Normalize writes the short one's value over the long one
        extra_config: {
          'github.com/devopsfaith/krakend/proxy': { static: { strategy: 'always', data: { from: 'long' } } },
          proxy: { static: { strategy: 'always', data: { from: 'short' } } },
        },
      },
    ],
  });
  try {
    assert.deepEqual((await get(`${gw.url}/static`)).json, { id: 1, name: 'ana', extra: 'x' });
    assert.deepEqual((await get(`${gw.url}/both`)).json, { id: 1, name: 'ana', from: 'short' });
    assert.equal((await get(`${gw.url}/__health`)).status, 404, 'disable_health read from the long name');
    assert.doesNotMatch(gw.logs(), /unknown extra_config namespace/);
  } finally {
    await gw.stop();
  }
});

test('Lura proxy/static.go getStaticMiddlewareCfg: no strategy is "always", an unknown one too (warned)', async () => {
  const gw = await startGateway({
    version: 3,
    endpoints: [
      { endpoint: '/none', backend: [to()], extra_config: { proxy: { static: { data: { s: 1 } } } } },
      {
        endpoint: '/odd',
        backend: [to()],
        extra_config: { proxy: { static: { strategy: 'sometimes', data: { s: 2 } } } },
      },
    ],
  });
  try {
    assert.deepEqual((await get(`${gw.url}/none`)).json, { id: 1, name: 'ana', s: 1 });
    assert.deepEqual((await get(`${gw.url}/odd`)).json, { id: 1, name: 'ana', s: 2 });
    assert.match(
      gw.logs(),
      /WARN {3}\$\.endpoints\[1\]\.extra_config\.proxy\.static\.strategy: unknown static strategy "sometimes": KrakenD applies it as "always"/,
    );
  } finally {
    await gw.stop();
  }
});

test("Lura router/gin/render.go getRender: an unknown output_encoding is json, or the single backend's render", async () => {
  const gw = await startGateway({
    version: 3,
    output_encoding: 'jsonp',
    endpoints: [
      { endpoint: '/root-default', backend: [to()] },
      { endpoint: '/own', output_encoding: 'html', backend: [to()] },
      {
        endpoint: '/text',
        output_encoding: 'weird',
        backend: [{ host: [text.url], url_pattern: '/t', encoding: 'string' }],
      },
    ],
  });
  try {
    for (const path of ['/root-default', '/own']) {
      const r = await get(`${gw.url}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type'), /^application\/json/, path);
      assert.deepEqual(r.json, { id: 1, name: 'ana' }, path);
    }
    // the backend's "string" names a render: the content is written as text
    const t = await get(`${gw.url}/text`);
    assert.equal(t.status, 200);
    assert.equal(t.text, 'plain words');
    const logs = gw.logs();
    assert.match(
      logs,
      /WARN {3}\$\.output_encoding: unknown output encoding "jsonp": KrakenD serves its endpoints as json/,
    );
    assert.match(
      logs,
      /WARN {3}\$\.endpoints\[1\]\.output_encoding: unknown output encoding "html": KrakenD serves it as json/,
    );
    assert.match(
      logs,
      /WARN {3}\$\.endpoints\[2\]\.output_encoding: unknown output encoding "weird": KrakenD serves it as string/,
    );
  } finally {
    await gw.stop();
  }
});

test('Lura encoding/register.go DecoderRegister.Get: an unknown backend encoding decodes as json; the name is read lower-cased', async () => {
  const gw = await startGateway({
    version: 3,
    endpoints: [
      { endpoint: '/proto', backend: [to({ encoding: 'protobuf', allow: ['name'] })] },
      { endpoint: '/upper', backend: [{ host: [text.url], url_pattern: '/t', encoding: 'STRING' }] },
    ],
  });
  try {
    assert.deepEqual((await get(`${gw.url}/proto`)).json, { name: 'ana' });
    assert.deepEqual((await get(`${gw.url}/upper`)).json, { content: 'plain words' });
    assert.match(
      gw.logs(),
      /WARN {3}\$\.endpoints\[0\]\.backend\[0\]\.encoding: unknown backend encoding "protobuf": KrakenD decodes it as json/,
    );
    assert.doesNotMatch(gw.logs(), /STRING/, 'a known name in capitals is not worth a warning');
  } finally {
    await gw.stop();
  }
});

test('Lura router/gin/router.go registerKrakendEndpoint: only GET, POST, PUT, PATCH, DELETE are served; other endpoints are skipped', async () => {
  const gw = await startGateway({
    version: 3,
    endpoints: [
      { endpoint: '/head-only', method: 'HEAD', backend: [to()] },
      { endpoint: '/fetch', method: 'FETCH', backend: [to()] },
      // the same path as a skipped endpoint is no conflict: the skipped one has no route
      { endpoint: '/fetch', method: 'post', backend: [to({ url_pattern: '/user', method: 'GET' })] },
    ],
  });
  try {
    assert.equal((await get(`${gw.url}/head-only`, { method: 'HEAD' })).status, 404);
    assert.equal((await get(`${gw.url}/head-only`)).status, 404);
    const posted = await get(`${gw.url}/fetch`, { method: 'POST', body: '{}' });
    assert.equal(posted.status, 200, 'a lower-case method is upper-cased (strings.ToTitle)');
    assert.deepEqual(posted.json, { id: 1, name: 'ana' });
    assert.equal((await get(`${gw.url}/fetch`)).status, 405);
    const logs = gw.logs();
    assert.match(
      logs,
      /WARN {3}\$\.endpoints\[0\]\.method: KrakenD's router serves GET, POST, PUT, PATCH and DELETE endpoints only: HEAD \/head-only is skipped/,
    );
    assert.match(logs, /WARN {3}\$\.endpoints\[1\]\.method: .*FETCH \/fetch is skipped/);
  } finally {
    await gw.stop();
  }
});

test('Lura config.go initBackendURLMappings: a backend without url_pattern calls "/" (CleanPath("")); sd/register.go Register.Get: an unknown sd is static', async () => {
  const before = api.requests.length;
  const gw = await startGateway({
    version: 3,
    endpoints: [
      { endpoint: '/bare', backend: [{ host: [api.url] }] },
      { endpoint: '/consul', backend: [to({ sd: 'consul' })] },
      { endpoint: '/dns', backend: [to({ sd: 'dns' })] },
    ],
  });
  try {
    const r = await get(`${gw.url}/bare`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { root: true });
    assert.equal(api.requests.at(-1).url, '/');
    assert.equal(api.requests.length, before + 1);
    assert.deepEqual((await get(`${gw.url}/consul`)).json, { id: 1, name: 'ana' });
    assert.deepEqual((await get(`${gw.url}/dns`)).json, { id: 1, name: 'ana' });
    assert.match(
      gw.logs(),
      /WARN {3}\$\.endpoints\[1\]\.backend\[0\]\.sd: unknown service discovery "consul": KrakenD calls the hosts as written/,
    );
    assert.match(
      gw.logs(),
      /WARN {3}\$\.endpoints\[2\]\.backend\[0\]\.sd: DNS SRV service discovery \("sd": "dns"\) is not implemented by gw/,
    );
  } finally {
    await gw.stop();
  }
});

test('CE namespaces gw does not implement are named at start and the backend fails alone (a Lambda backend: no host, no url_pattern)', async () => {
  const gw = await startGateway({
    version: 3,
    plugin: { pattern: '.so', folder: './plugins/' },
    extra_config: {
      'telemetry/influx': { address: 'http://influx:8086', ttl: '25s' },
      'auth/revoker': { N: 10, P: 0.01, hash_name: 'optimal', TTL: 1500, port: 1234, token_keys: ['jti'] },
      'github_com/devopsfaith/krakend-gelf': { address: 'gelf:12201', enable_tcp: false },
    },
    endpoints: [
      {
        endpoint: '/queue',
        backend: [
          {
            // the Lambda page's backend: its transport is in extra_config
            extra_config: { 'backend/lambda': { function_name: 'f', region: 'us-east-1' } },
          },
        ],
      },
      { endpoint: '/user', backend: [to()] },
    ],
  });
  try {
    const q = await get(`${gw.url}/queue`);
    assert.equal(q.status, 500);
    assert.equal((await get(`${gw.url}/user`)).status, 200, 'the rest is served');
    const logs = gw.logs();
    for (const [path, ns] of [
      ['$.extra_config["telemetry/influx"]', 'telemetry/influx'],
      ['$.extra_config["auth/revoker"]', 'auth/revoker'],
      ['$.extra_config["telemetry/gelf"]', 'telemetry/gelf'],
      ['$.endpoints[0].backend[0].extra_config["backend/lambda"]', 'backend/lambda'],
    ])
      assert.ok(
        logs.includes(`WARN   ${path}: "${ns}" is a KrakenD CE namespace gw does not implement (ignored)`),
        `${ns} named at start:\n${logs}`,
      );
    assert.match(logs, /WARN {3}\$\.plugin: Go plugins cannot load in gw/);
  } finally {
    await gw.stop();
  }
});

test('gw check accepts the same file, and the Enterprise namespaces are named as such', async () => {
  const file = writeConfig({
    version: 3,
    extra_config: { 'telemetry/newrelic': { license: 'x' } },
    endpoints: [
      {
        endpoint: '/queue',
        method: 'head',
        output_encoding: 'html',
        backend: [
          {
            host: ['amqp://guest:guest@rabbitmq:5672'],
            extra_config: { 'backend/amqp/producer': { name: 'q', exchange: 'ex', routing_key: 'k' } },
          },
        ],
        extra_config: { 'github.com/devopsfaith/krakend/proxy': { static: { data: { a: 1 } } } },
      },
    ],
  });
  const r = await runGw(['check', '-c', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Syntax OK!\n');
  assert.match(
    r.stderr,
    /^WARN {3}\$\.extra_config\["telemetry\/newrelic"\]: "telemetry\/newrelic" is a KrakenD Enterprise namespace gw does not implement \(ignored\)$/m,
  );
  assert.doesNotMatch(r.stderr, /backend\/amqp\/producer" is a KrakenD CE namespace gw does not implement/);
  assert.doesNotMatch(r.stderr, /^ERROR/m);
});

test('Lura config.go initBackendDefaults: a backend with no host anywhere starts; its calls fail with 500 (warned)', async () => {
  const gw = await startGateway({
    version: 3,
    endpoints: [
      { endpoint: '/nowhere', backend: [{ url_pattern: '/x' }] },
      { endpoint: '/user', backend: [to()] },
    ],
  });
  try {
    assert.equal((await get(`${gw.url}/nowhere`)).status, 500);
    assert.equal((await get(`${gw.url}/user`)).status, 200);
    assert.match(
      gw.logs(),
      /WARN {3}\$\.endpoints\[0\]\.backend\[0\]\.host: no host: every call to this backend fails \(500\)/,
    );
  } finally {
    await gw.stop();
  }
});
