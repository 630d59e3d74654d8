// Wildcard endpoints, as the docs' "Wildcard Endpoints (EE)" page describes them (KrakenD
// Enterprise; its source is not public, so the page is the spec): `/v1/*` forwards the rest of the
// path after the backend's url_pattern; the page's invalid forms are refused by `gw check`.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { get, runGw, startBackend, startGateway, writeConfig } from './helpers/gateway.mjs';

/** GET with the target written as is (fetch would resolve `..` and `.` before sending). */
function rawGet(port, target, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let backend;
before(async () => {
  backend = await startBackend((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: req.url }));
  });
});
after(() => backend?.close());

describe('wildcard endpoints through gw run', () => {
  let gw;
  before(async () => {
    const b = (url_pattern, extra = {}) => [{ host: [backend.url], url_pattern, ...extra }];
    gw = await startGateway({
      version: 3,
      endpoints: [
        // The page's first example: the rest of the path after url_pattern "/".
        { endpoint: '/v1/*', input_query_strings: ['page'], backend: b('/') },
        { endpoint: '/v1/*', method: 'DELETE', backend: b('/deleted/') },
        // The page's placeholder example.
        { endpoint: '/svc/{service}/*', backend: b('/v1/{service}/') },
        { endpoint: '/{owmamma}/*', backend: b('/{owmamma}/') },
        // A url_pattern without the trailing slash: one "/" joins the rest.
        { endpoint: '/api/*', backend: b('/base') },
        // Exact and {param} routes beside a wildcard: the most specific wins.
        { endpoint: '/v2/items', backend: b('/exact') },
        { endpoint: '/v2/items/{id}', backend: b('/param/{id}') },
        { endpoint: '/v2/*', backend: b('/wild/') },
      ],
    });
  });
  after(() => gw?.stop());

  const backendUrl = async (path) => {
    const r = await get(`${gw.url}${path}`);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.json.url;
  };

  test('the docs example: /v1/hello reaches the backend as /hello, nested levels too', async () => {
    assert.equal(await backendUrl('/v1/hello'), '/hello');
    assert.equal(await backendUrl('/v1/hello/vaz'), '/hello/vaz');
    assert.equal(await backendUrl('/v1/a/b/c/d'), '/a/b/c/d');
  });

  test('query strings follow input_query_strings, as on any endpoint', async () => {
    assert.equal(await backendUrl('/v1/hello?page=2&secret=1'), '/hello?page=2');
  });

  test('a placeholder before the wildcard fills the url_pattern; the rest follows it', async () => {
    assert.equal(await backendUrl('/svc/users/42/orders'), '/v1/users/42/orders');
    assert.equal(await backendUrl('/anything/x/y'), '/anything/x/y');
  });

  test('a url_pattern without a trailing slash is joined to the rest by one "/"', async () => {
    assert.equal(await backendUrl('/api/x/y'), '/base/x/y');
    assert.equal(await backendUrl('/api/'), '/base');
  });

  test('exact, then {param}, then the wildcard: the most specific route serves', async () => {
    assert.equal(await backendUrl('/v2/items'), '/exact');
    assert.equal(await backendUrl('/v2/items/7'), '/param/7');
    assert.equal(await backendUrl('/v2/items/7/parts'), '/wild/items/7/parts');
    assert.equal(await backendUrl('/v2/other'), '/wild/other');
    assert.equal(await backendUrl('/v2/'), '/wild/');
  });

  test('the directory itself redirects to its trailing slash, as gin does for a catch-all', async () => {
    const r = await get(`${gw.url}/v2`);
    assert.equal(r.status, 301);
    assert.equal(r.headers.get('location'), '/v2/');
  });

  test('the wildcard covers the path only: each method is its own endpoint (405 otherwise)', async () => {
    const del = await get(`${gw.url}/v1/x/y`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(del.json.url, '/deleted/x/y');
    const post = await get(`${gw.url}/v1/x`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.match(post.headers.get('allow'), /GET/);
  });

  test('escapes in the rest reach the backend as received', async () => {
    assert.equal(await backendUrl('/v1/a%20b/caf%C3%A9'), '/a%20b/caf%C3%A9');
  });

  test('a rest that could climb out of the url_pattern is refused with 400, the backend never called', async () => {
    const before = backend.requests.length;
    for (const target of [
      '/v1/../admin',
      '/v1/a/../../admin',
      '/v1/a/..',
      '/v1/./x',
      '/v1/%2e%2e/admin',
      '/v1/%2E./admin',
      '/v1/a%2F..%2Fadmin',
      '/v1/a%5c..',
      '/svc/users/..%2f..%2fadmin',
      '/v1/bad%zzescape',
    ]) {
      const r = await rawGet(gw.port, target);
      assert.equal(r.status, 400, `${target} → ${r.status} ${r.body}`);
    }
    assert.equal(backend.requests.length, before);
  });
});

describe("gw check: the page's valid and invalid wildcard forms", () => {
  const config = (endpoint) => ({
    version: 3,
    endpoints: [{ endpoint, backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/' }] }],
  });

  for (const valid of ['/a/b/c/*', '/a/*', '/{var}/*', '/v1/{service}/foo/*']) {
    test(`valid: ${valid}`, async () => {
      const r = await runGw(['check', '-t', '-c', writeConfig(config(valid))]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Syntax OK!/);
    });
  }

  const invalid = {
    '/abc*': /ends in "\/\*"/,
    '/*': /all traffic/,
    '/*/a/*': /one "\*"/,
    '/v1/*/foo': /ends in "\/\*"/,
    '/{foo}/bar/*': /starts with a \{variable\}/,
    '/{foo}/{bar}/*': /starts with a \{variable\}/,
  };
  for (const [pattern, reason] of Object.entries(invalid)) {
    test(`invalid: ${pattern} is refused with its JSON path and the reason`, async () => {
      const r = await runGw(['check', '-c', writeConfig(config(pattern))]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const out = r.stdout + r.stderr;
      assert.match(out, /\$\.endpoints\[0\]\.endpoint/);
      assert.match(out, reason);
    });
  }

  test('gw run refuses an invalid wildcard the same way, exit 1', async () => {
    const r = await runGw(['run', '-c', writeConfig(config('/*')), '-p', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\$\.endpoints\[0\]\.endpoint.*all traffic/);
  });
});
