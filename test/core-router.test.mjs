// Router options (docs' "Router Options" page), built-in endpoints, workers and both fronts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

let backend;
before(async () => {
  backend = await jsonBackend({
    '/a': { a: 1 },
    '/b': { b: 2 },
    '/ip': (req) => ({ xff: req.headers['x-forwarded-for'] }),
  });
});
after(() => backend?.close());

describe('defaults', () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      version: 3,
      debug_endpoint: true,
      echo_endpoint: true,
      endpoints: [
        { endpoint: '/items', backend: [{ host: [backend.url], url_pattern: '/a' }] },
        { endpoint: '/Things/list', backend: [{ host: [backend.url], url_pattern: '/a' }] },
        { endpoint: '/items', method: 'POST', backend: [{ host: [backend.url], url_pattern: '/b' }] },
        { endpoint: '/file/{name}.{ext}', backend: [{ host: [backend.url], url_pattern: '/a' }] },
      ],
      disable_rest: true,
    });
  });
  after(() => gw?.stop());

  test('/__health answers status ok', async () => {
    const r = await get(`${gw.url}/__health`);
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.deepEqual(r.json.agents, {});
  });

  test('/__debug/ answers pong and /__echo/ echoes the request', async () => {
    assert.deepEqual((await get(`${gw.url}/__debug/anything?x=1`, { method: 'POST', body: 'hi' })).json, {
      message: 'pong',
    });
    const e = await get(`${gw.url}/__echo/some/path?q=1&q=2`, { headers: { 'X-Test': 'v' } });
    assert.equal(e.json.req_uri, '/__echo/some/path?q=1&q=2');
    assert.deepEqual(e.json.req_querystring, { q: ['1', '2'] });
    assert.deepEqual(e.json.req_headers['X-Test'], ['v']);
    assert.equal(e.json.req_method, 'GET');
  });

  test('trailing slash redirect: 301 for GET, 307 for other methods', async () => {
    const r = await get(`${gw.url}/items/?x=1`);
    assert.equal(r.status, 301);
    assert.equal(r.headers.get('location'), '/items?x=1');
    const p = await get(`${gw.url}/items/`, { method: 'POST' });
    assert.equal(p.status, 307);
  });

  test('case-insensitive fixed path redirect', async () => {
    const r = await get(`${gw.url}/things/LIST`);
    assert.equal(r.status, 301);
    assert.equal(r.headers.get('location'), '/Things/list');
  });

  test('same path, two methods', async () => {
    assert.deepEqual((await get(`${gw.url}/items`)).json, { a: 1 });
    assert.deepEqual((await get(`${gw.url}/items`, { method: 'POST' })).json, { b: 2 });
    const d = await get(`${gw.url}/items`, { method: 'DELETE' });
    assert.equal(d.status, 405);
  });

  test('disable_rest: parameters inside a segment', async () => {
    assert.deepEqual((await get(`${gw.url}/file/report.pdf`)).json, { a: 1 });
  });

  test('X-Krakend version header shown', async () => {
    assert.match((await get(`${gw.url}/items`)).headers.get('x-krakend'), /^Version \d/);
  });
});

describe('router options', () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      version: 3,
      extra_config: {
        router: {
          health_path: '/health',
          auto_options: true,
          remove_duplicate_slash: true,
          disable_redirect_trailing_slash: true,
          disable_redirect_fixed_path: true,
          hide_version_header: true,
          return_error_msg: true,
          error_body: { 404: { msg: 'Unknown endpoint', status: 404 }, 405: { oops: 'wrong method' } },
          forwarded_by_client_ip: true,
          trusted_proxies: ['127.0.0.1/32', '10.0.0.0/8'],
        },
      },
      endpoints: [
        { endpoint: '/items', backend: [{ host: [backend.url], url_pattern: '/a' }] },
        {
          endpoint: '/ip',
          input_headers: ['X-Forwarded-For'],
          backend: [{ host: [backend.url], url_pattern: '/ip' }],
        },
        { endpoint: '/broken', backend: [{ host: [backend.url], url_pattern: '/missing' }] },
      ],
    });
  });
  after(() => gw?.stop());

  test('health_path renames the health endpoint', async () => {
    assert.equal((await get(`${gw.url}/health`)).status, 200);
    assert.equal((await get(`${gw.url}/__health`)).status, 404);
  });

  test('auto_options answers OPTIONS with the allowed methods', async () => {
    const r = await get(`${gw.url}/items`, { method: 'OPTIONS' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('allow'), /GET/);
  });

  test('remove_duplicate_slash', async () => {
    assert.deepEqual((await get(`${gw.url}//items`)).json, { a: 1 });
  });

  test('redirects disabled → 404', async () => {
    assert.equal((await get(`${gw.url}/items/`)).status, 404);
    assert.equal((await get(`${gw.url}/ITEMS`)).status, 404);
  });

  test('hide_version_header', async () => {
    assert.equal((await get(`${gw.url}/items`)).headers.get('x-krakend'), 'Version undefined');
  });

  test('error_body for 404 and 405', async () => {
    assert.deepEqual((await get(`${gw.url}/nope`)).json, { msg: 'Unknown endpoint', status: 404 });
    const m = await get(`${gw.url}/items`, { method: 'PUT' });
    assert.equal(m.status, 405);
    assert.deepEqual(m.json, { oops: 'wrong method' });
  });

  // luraproject/lura transport/http/client/status.go, ErrInvalidStatus.Error
  test('return_error_msg shows the gateway error', async () => {
    const r = await get(`${gw.url}/broken`);
    assert.equal(r.status, 500);
    assert.equal(r.text, `invalid status code 404 [GET /missing]: ${backend.url}/missing`);
  });

  test('forwarded_by_client_ip with trusted_proxies picks the last untrusted IP', async () => {
    const r = await get(`${gw.url}/ip`, { headers: { 'X-Forwarded-For': '1.2.3.4, 5.6.7.8, 10.0.0.2' } });
    assert.equal(r.json.xff, '5.6.7.8');
  });
});

describe('disable_health', () => {
  test('removes /__health', async () => {
    const gw = await startGateway({
      version: 3,
      extra_config: { router: { disable_health: true } },
      endpoints: [],
    });
    try {
      assert.equal((await get(`${gw.url}/__health`)).status, 404);
    } finally {
      await gw.stop();
    }
  });
});

describe('workers', () => {
  test('two worker threads serve the same port; SIGTERM exits 0', async () => {
    const gw = await startGateway(
      {
        version: 3,
        endpoints: [{ endpoint: '/items', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
      },
      { args: ['--workers', '2', '--front', 'uws'] },
    );
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => get(`${gw.url}/items`)));
      for (const r of results) assert.deepEqual(r.json, { a: 1 });
      assert.match(await gw.waitForLog(/2 workers/), /2 workers/);
    } finally {
      const exit = await gw.stop();
      assert.equal(exit.code, 0);
    }
  });
});
