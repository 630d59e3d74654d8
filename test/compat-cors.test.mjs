// security/cors as KrakenD CE answers it, through the real `gw run`: krakend-cors v2.2.1
// (mux/cors.go NewWithLogger, which krakend-ce's executor.go wraps around the router) over
// rs/cors v1.11.1 (cors.go New, handlePreflight, handleActualRequest, isMethodAllowed;
// internal/sortedset.go SortedSet.Accepts). Cases from krakend-cors mux/cors_test.go, rewritten
// against HTTP, then rs/cors's rules for the lists.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jsonBackend, startGateway } from './helpers/gateway.mjs';

const CORS_HEADERS = [
  'vary',
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-expose-headers',
  'access-control-allow-private-network',
];

/** As mux/cors_test.go assertHeaders: every CORS header equals `want` (absent = ''). */
function assertCors(res, want) {
  for (const name of CORS_HEADERS) assert.equal(res.headers.get(name) ?? '', want[name] ?? '', name);
}

function options(url, headers) {
  return fetch(url, { method: 'OPTIONS', headers });
}

describe('KrakenD CE CORS over HTTP', () => {
  let backend;
  const gateways = [];
  const gw = {};

  before(async () => {
    backend = await jsonBackend({ '/foo': { ok: true } });
    const start = async (name, cors) => {
      const g = await startGateway({
        version: 3,
        extra_config: { 'security/cors': cors },
        endpoints: [{ endpoint: '/foo', backend: [{ host: [backend.url], url_pattern: '/foo' }] }],
      });
      gateways.push(g);
      gw[name] = g.url;
    };
    await start('new', {
      allow_origins: ['http://foobar.com'],
      allow_headers: ['Origin'],
      allow_methods: ['GET'],
      max_age: '2h',
    });
    await start('noHeaders', { allow_origins: ['http://foobar.com'], allow_methods: ['GET'], max_age: '2h' });
    await start('empty', {});
    await start('negativeMaxAge', { max_age: '-1s' });
    await start('status200', { options_success_status: 200 });
    await start('private', { allow_private_network: true });
    await start('passthrough', { options_passthrough: true });
    await start('lists', {
      allow_origins: ['https://*.example.com'],
      allow_methods: ['GET', 'post'],
      allow_headers: ['X-Custom', 'Content-Type', 'Authorization'],
      expose_headers: ['x-request-id', 'content-length'],
      allow_credentials: true,
    });
  });

  after(async () => {
    for (const g of gateways) await g.stop();
    await backend?.close();
  });

  test('mux/cors_test.go TestNew: a preflight echoes method and headers; max_age in seconds', async () => {
    const r = await options(`${gw.new}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'origin',
    });
    assert.equal(r.status, 204);
    assertCors(r, {
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': 'http://foobar.com',
      'access-control-allow-methods': 'GET',
      'access-control-allow-headers': 'origin',
      'access-control-max-age': '7200',
    });
  });

  test('mux/cors_test.go TestNewWithLogger: OPTIONS without Access-Control-Request-Method is an actual request', async () => {
    const r = await options(`${gw.noHeaders}/foo`, { origin: 'http://foobar.com' });
    assertCors(r, { vary: 'Origin', 'access-control-allow-origin': 'http://foobar.com' });
  });

  test('mux/cors_test.go TestAllowOriginEmpty: no config allows any origin and any header, 204', async () => {
    const r = await options(`${gw.empty}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'origin',
    });
    assert.equal(r.status, 204);
    assertCors(r, {
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET',
      'access-control-allow-headers': 'origin',
    });
  });

  test('mux/cors.go NewWithLogger: no allow_headers means ["*"], so any requested header is allowed and echoed', async () => {
    const r = await options(`${gw.empty}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'x-anything,authorization',
    });
    assert.equal(r.headers.get('access-control-allow-headers'), 'x-anything,authorization');
  });

  test('rs/cors New: a negative max_age is written as 0', async () => {
    const r = await options(`${gw.negativeMaxAge}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
    });
    assert.equal(r.headers.get('access-control-max-age'), '0');
  });

  test('mux/cors_test.go TestOptionsSuccess: options_success_status answers the preflight', async () => {
    const r = await options(`${gw.status200}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'origin',
    });
    assert.equal(r.status, 200);
    assertCors(r, {
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET',
      'access-control-allow-headers': 'origin',
    });
  });

  test('mux/cors_test.go TestAllowPrivateNetwork: the private-network Vary and answer', async () => {
    const r = await options(`${gw.private}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
      'access-control-request-private-network': 'true',
    });
    assert.equal(r.status, 204);
    assertCors(r, {
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET',
      'access-control-allow-private-network': 'true',
    });
  });

  test('mux/cors_test.go TestOptionPasstrough: the router answers the preflight, with the CORS headers', async () => {
    const r = await options(`${gw.passthrough}/foo`, {
      origin: 'http://foobar.com',
      'access-control-request-method': 'GET',
    });
    assert.notEqual(r.status, 204);
    assertCors(r, {
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET',
    });
  });

  test('rs/cors SortedSet.Accepts: requested headers must be lower-case, sorted and known', async () => {
    const ask = (list) =>
      options(`${gw.lists}/foo`, {
        origin: 'https://api.example.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': list,
      });
    const ok = await ask('authorization, content-type,x-custom');
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://api.example.com');
    assert.equal(ok.headers.get('access-control-allow-headers'), 'authorization, content-type,x-custom');
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
    for (const refused of ['Authorization', 'x-custom,authorization', 'authorization,x-other']) {
      const r = await ask(refused);
      assert.equal(r.headers.get('access-control-allow-origin'), null, refused);
      assert.equal(r.headers.get('access-control-allow-headers'), null, refused);
    }
  });

  test('rs/cors isMethodAllowed: methods compare as written', async () => {
    const pre = (method) =>
      options(`${gw.lists}/foo`, {
        origin: 'https://api.example.com',
        'access-control-request-method': method,
      });
    assert.equal((await pre('post')).headers.get('access-control-allow-methods'), 'post');
    assert.equal((await pre('POST')).headers.get('access-control-allow-methods'), null);
  });

  test('rs/cors New: expose_headers canonicalised and joined with ", " on actual requests; wildcard origins', async () => {
    const r = await fetch(`${gw.lists}/foo`, { headers: { origin: 'https://api.example.com' } });
    assert.equal(r.status, 200);
    assertCors(r, {
      vary: 'Origin',
      'access-control-allow-origin': 'https://api.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'X-Request-Id, Content-Length',
    });
    const other = await fetch(`${gw.lists}/foo`, { headers: { origin: 'https://example.org' } });
    assertCors(other, { vary: 'Origin' });
  });
});
