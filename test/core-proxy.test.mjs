// End to end: real mock backends, the real `gw run -c`, the behaviours of the docs'
// Endpoint, Backend, Parameter Forwarding, Data Manipulation and Aggregation pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

let users;
let offers;
let gw;
let rrA;
let rrB;
let redirector;

before(async () => {
  users = await jsonBackend({
    '/users/1': {
      id: 1,
      name: 'Ana',
      email: 'ana@example.com',
      address: { city: 'Bcn', zip: '08001', geo: { lat: 1 } },
      password: 'x',
    },
    '/users/search': { kind: 'search' },
    '/list': [
      { id: 1, user_id: 7 },
      { id: 2, user_id: 8 },
    ],
    '/echo': (req) => ({ url: req.url, headers: req.headers }),
    'POST /create': (req, body) => ({
      method: req.method,
      got: JSON.parse(body.toString()),
      ct: req.headers['content-type'],
    }),
    '/text': { __status: 200, __headers: { 'content-type': 'text/plain' }, __body: 'hello text' },
    '/scalar': { __status: 200, __body: '42' },
    '/hotel/25': { hotel_id: 25, name: 'Hotel California', destination_id: 1034, owner: { id: 'u-9' } },
    '/destinations/1034': { destination_id: 1034, destinations: ['LAX', 'SFO', 'OAK'] },
    '/owners/u-9': { owner_name: 'Eagles' },
  });
  offers = await jsonBackend({
    '/offers': { offers: [1, 2], name: 'from-offers' },
    '/raw': (_req) => ({
      __status: 201,
      __headers: { 'x-backend': 'yes', 'set-cookie': 'a=1' },
      __body: { created: true },
    }),
    '/teapot': { __status: 418, __headers: { 'x-teapot': '1' }, __body: { short: 'stout' } },
  });
  rrA = await jsonBackend({ '/who': { who: 'a' } });
  rrB = await jsonBackend({ '/who': { who: 'b' } });
  redirector = await startBackend((req, res) => {
    if (req.url === '/old') {
      res.writeHead(301, { location: '/new' });
      res.end();
    } else if (req.url === '/bad-location') {
      res.writeHead(302, { location: 'http://[bad' });
      res.end();
    } else if (req.url === '/new') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"moved":true}');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const h = [users.url];
  gw = await startGateway({
    version: 3,
    timeout: '2s',
    endpoints: [
      { endpoint: '/users/{id}', backend: [{ host: h, url_pattern: '/users/{id}' }] },
      { endpoint: '/api/items/search', backend: [{ host: h, url_pattern: '/users/search' }] },
      { endpoint: '/api/items/{id}', backend: [{ host: h, url_pattern: '/users/{id}' }] },
      {
        endpoint: '/allow/{id}',
        backend: [{ host: h, url_pattern: '/users/{id}', allow: ['name', 'address.city'] }],
      },
      {
        endpoint: '/deny/{id}',
        backend: [{ host: h, url_pattern: '/users/{id}', deny: ['password', 'address.geo'] }],
      },
      {
        endpoint: '/target/{id}',
        backend: [{ host: h, url_pattern: '/users/{id}', target: 'address', mapping: { city: 'town' } }],
      },
      {
        endpoint: '/merged/{id}',
        cache_ttl: '300s',
        backend: [
          { host: h, url_pattern: '/users/{id}', allow: ['name'], group: 'user' },
          { host: [offers.url], url_pattern: '/offers', mapping: { name: 'offer_name' } },
        ],
      },
      {
        endpoint: '/collection',
        backend: [{ host: h, url_pattern: '/list', is_collection: true, mapping: { collection: 'items' } }],
      },
      {
        endpoint: '/collection-out',
        output_encoding: 'json-collection',
        backend: [{ host: h, url_pattern: '/list', is_collection: true }],
      },
      {
        endpoint: '/forward',
        input_query_strings: ['page', 'items'],
        input_headers: ['X-Custom', 'User-Agent'],
        backend: [{ host: h, url_pattern: '/echo' }],
      },
      { endpoint: '/forward-none', backend: [{ host: h, url_pattern: '/echo' }] },
      {
        endpoint: '/forward-all',
        input_query_strings: ['*'],
        input_headers: ['*'],
        backend: [{ host: h, url_pattern: '/echo' }],
      },
      {
        endpoint: '/v3/{channel}/foo',
        input_query_strings: ['page', 'limit'],
        backend: [{ host: h, url_pattern: '/echo?channel={channel}' }],
      },
      {
        endpoint: '/create',
        method: 'POST',
        backend: [{ host: h, url_pattern: '/create' }],
      },
      {
        endpoint: '/text',
        output_encoding: 'string',
        backend: [{ host: h, url_pattern: '/text', encoding: 'string' }],
      },
      { endpoint: '/safe', backend: [{ host: h, url_pattern: '/scalar', encoding: 'safejson' }] },
      { endpoint: '/safe-list', backend: [{ host: h, url_pattern: '/list', encoding: 'safejson' }] },
      { endpoint: '/noop', output_encoding: 'no-op', backend: [{ host: [offers.url], url_pattern: '/raw' }] },
      {
        endpoint: '/noop-teapot',
        output_encoding: 'no-op',
        backend: [{ host: [offers.url], url_pattern: '/teapot' }],
      },
      {
        endpoint: '/hotel-destinations/{id}',
        backend: [
          { host: h, url_pattern: '/hotel/{id}' },
          { host: h, url_pattern: '/destinations/{resp0_destination_id}' },
          { host: h, url_pattern: '/owners/{resp0_owner.id}', group: 'owner' },
        ],
        extra_config: { proxy: { sequential: true } },
      },
      { endpoint: '/rr', backend: [{ host: [rrA.url, rrB.url], url_pattern: '/who' }] },
      { endpoint: '/redirect', backend: [{ host: [redirector.url], url_pattern: '/old' }] },
      { endpoint: '/bad-redirect', backend: [{ host: [redirector.url], url_pattern: '/bad-location' }] },
      {
        endpoint: '/flatmap',
        backend: [
          { host: h, url_pattern: '/list', is_collection: true },
          { host: [offers.url], url_pattern: '/offers', allow: ['name'] },
        ],
        extra_config: {
          proxy: {
            flatmap_filter: [
              { type: 'del', args: ['collection.*.user_id'] },
              { type: 'move', args: ['collection', 'things'] },
            ],
          },
        },
      },
      {
        endpoint: '/flatmap-backend',
        backend: [
          {
            host: h,
            url_pattern: '/list',
            is_collection: true,
            extra_config: { proxy: { flatmap_filter: [{ type: 'del', args: ['collection.*.id'] }] } },
          },
        ],
      },
      {
        endpoint: '/flatmap-single-ignored',
        backend: [{ host: h, url_pattern: '/list', is_collection: true }],
        extra_config: { proxy: { flatmap_filter: [{ type: 'del', args: ['collection'] }] } },
      },
      { endpoint: '/concurrent', concurrent_calls: 3, backend: [{ host: h, url_pattern: '/users/1' }] },
      {
        endpoint: '/no-sanitize',
        backend: [{ host: [users.url.replace('http://', '')], url_pattern: '/users/1' }],
      },
    ],
  });
});

after(async () => {
  await gw?.stop();
  await Promise.all([users, offers, rrA, rrB, redirector].map((b) => b?.close()));
});

describe('endpoints and backends', () => {
  test('params fill the url_pattern; KrakenD headers are set', async () => {
    const r = await get(`${gw.url}/users/1`);
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'Ana');
    assert.equal(r.headers.get('x-krakend-completed'), 'true');
    assert.match(r.headers.get('x-krakend'), /^Version /);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), null);
  });

  test('a static segment and a {param} at the same level coexist, the most specific wins', async () => {
    assert.deepEqual((await get(`${gw.url}/api/items/search`)).json, { kind: 'search' });
    assert.equal((await get(`${gw.url}/api/items/1`)).json.name, 'Ana');
  });

  test('allow keeps nested dot paths only', async () => {
    assert.deepEqual((await get(`${gw.url}/allow/1`)).json, { name: 'Ana', address: { city: 'Bcn' } });
  });

  test('deny removes nested dot paths', async () => {
    const { json } = await get(`${gw.url}/deny/1`);
    assert.equal(json.password, undefined);
    assert.deepEqual(json.address, { city: 'Bcn', zip: '08001' });
  });

  test('target then mapping', async () => {
    assert.deepEqual((await get(`${gw.url}/target/1`)).json, { town: 'Bcn', zip: '08001', geo: { lat: 1 } });
  });

  test('two backends merged, group and mapping, Cache-Control from cache_ttl', async () => {
    const r = await get(`${gw.url}/merged/1`);
    assert.deepEqual(r.json, { user: { name: 'Ana' }, offers: [1, 2], offer_name: 'from-offers' });
    assert.equal(r.headers.get('cache-control'), 'public, max-age=300');
    assert.equal(r.headers.get('x-krakend-completed'), 'true');
  });

  test('is_collection wraps the array under "collection", mapping renames it', async () => {
    assert.deepEqual((await get(`${gw.url}/collection`)).json, {
      items: [
        { id: 1, user_id: 7 },
        { id: 2, user_id: 8 },
      ],
    });
  });

  test('output_encoding json-collection returns the array', async () => {
    const r = await get(`${gw.url}/collection-out`);
    assert.ok(Array.isArray(r.json));
    assert.equal(r.json.length, 2);
  });

  test('flatmap_filter with wildcards at endpoint level, after the merge', async () => {
    assert.deepEqual((await get(`${gw.url}/flatmap`)).json, {
      things: [{ id: 1 }, { id: 2 }],
      name: 'from-offers',
    });
  });

  test('flatmap_filter at backend level', async () => {
    assert.deepEqual((await get(`${gw.url}/flatmap-backend`)).json, {
      collection: [{ user_id: 7 }, { user_id: 8 }],
    });
  });

  test('an endpoint-level flatmap_filter does not load with a single backend (as KrakenD)', async () => {
    assert.equal((await get(`${gw.url}/flatmap-single-ignored`)).json.collection.length, 2);
  });
});

describe('parameter forwarding', () => {
  test('only listed query strings and headers pass; X-Forwarded-* always', async () => {
    const { json } = await get(`${gw.url}/forward?page=2&evil=1&items=10`, {
      headers: { 'X-Custom': 'c', 'X-Evil': 'e', 'User-Agent': 'my-agent' },
    });
    assert.equal(json.url, '/echo?page=2&items=10');
    assert.equal(json.headers['x-custom'], 'c');
    assert.equal(json.headers['x-evil'], undefined);
    assert.equal(json.headers['user-agent'], 'my-agent');
    assert.match(json.headers['x-forwarded-via'], /KrakenD Version/);
    assert.equal(json.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(json.headers['x-forwarded-host'], `127.0.0.1:${gw.port}`);
  });

  test("nothing is forwarded by default; User-Agent and Accept-Encoding are the gateway's", async () => {
    const { json } = await get(`${gw.url}/forward-none?page=2`, {
      headers: { 'X-Custom': 'c', 'User-Agent': 'mine' },
    });
    assert.equal(json.url, '/echo');
    assert.equal(json.headers['x-custom'], undefined);
    assert.match(json.headers['user-agent'], /^KrakenD Version /);
    assert.equal(json.headers['accept-encoding'], 'gzip');
  });

  test('"*" forwards every query string and header', async () => {
    const { json } = await get(`${gw.url}/forward-all?a=1&b=2`, { headers: { 'X-Anything': 'yes' } });
    assert.equal(json.url, '/echo?a=1&b=2');
    assert.equal(json.headers['x-anything'], 'yes');
  });

  test('mandatory query in url_pattern, replaced when an optional one is passed', async () => {
    assert.equal((await get(`${gw.url}/v3/iOS/foo?limit=10&evil=here`)).json.url, '/echo?limit=10');
    assert.equal((await get(`${gw.url}/v3/iOS/foo?evil=here`)).json.url, '/echo?channel=iOS');
  });

  test('POST body and Content-Type reach the backend', async () => {
    const r = await get(`${gw.url}/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { method: 'POST', got: { a: 1 }, ct: 'application/json' });
  });
});

describe('encodings', () => {
  test('string encoding in, string out', async () => {
    const r = await get(`${gw.url}/text`);
    assert.equal(r.text, 'hello text');
    assert.match(r.headers.get('content-type'), /^text\/plain/);
  });

  test('safejson wraps scalars under content and arrays under collection', async () => {
    assert.deepEqual((await get(`${gw.url}/safe`)).json, { content: 42 });
    assert.equal((await get(`${gw.url}/safe-list`)).json.collection.length, 2);
  });

  test('no-op passes status, headers and body through', async () => {
    const r = await get(`${gw.url}/noop`);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('x-backend'), 'yes');
    assert.equal(r.headers.get('set-cookie'), 'a=1');
    assert.deepEqual(r.json, { created: true });
    assert.equal(r.headers.get('x-krakend-completed'), 'false');
    const t = await get(`${gw.url}/noop-teapot`);
    assert.equal(t.status, 418);
    assert.equal(t.headers.get('x-teapot'), '1');
    assert.deepEqual(t.json, { short: 'stout' });
  });
});

describe('proxy behaviours', () => {
  test('sequential proxy feeds {resp0_field} and nested {resp0_a.b} into later url_patterns', async () => {
    const r = await get(`${gw.url}/hotel-destinations/25`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.destinations, ['LAX', 'SFO', 'OAK']);
    assert.equal(r.json.hotel_id, 25);
    assert.deepEqual(r.json.owner, { owner_name: 'Eagles' });
  });

  test('host list balanced round-robin', async () => {
    const seen = new Set();
    for (let i = 0; i < 4; i++) seen.add((await get(`${gw.url}/rr`)).json.who);
    assert.deepEqual([...seen].sort(), ['a', 'b']);
  });

  test('backend redirects are followed', async () => {
    assert.deepEqual((await get(`${gw.url}/redirect`)).json, { moved: true });
  });

  test('a redirect whose Location is no URL fails that backend (500, not complete), gw keeps serving', async () => {
    const r = await get(`${gw.url}/bad-redirect`);
    assert.equal(r.status, 500);
    assert.equal(r.headers.get('x-krakend-completed'), 'false');
    // the cause is the Location, not the 302 taken as the backend's answer
    await gw.waitForLog(/failed to parse Location header "http:\/\/\[bad"/);
    assert.deepEqual((await get(`${gw.url}/redirect`)).json, { moved: true });
  });

  test('concurrent_calls: several calls, the first good answer wins', async () => {
    const before = users.requests.filter((r) => r.url === '/users/1').length;
    const r = await get(`${gw.url}/concurrent`);
    assert.equal(r.json.name, 'Ana');
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(users.requests.filter((x) => x.url === '/users/1').length - before, 3);
  });

  test('a host without scheme is sanitized to http://', async () => {
    assert.equal((await get(`${gw.url}/no-sanitize`)).json.name, 'Ana');
  });
});
