// The direct stage (no-op endpoints and byte-path merges answered through a Reply, without
// promise hops) must answer exactly as the layered pipeline does. A service-wide rule
// (router.forwarded_by_client_ip) turns the direct path off: the same config is served both
// ways and every answer compared, successes and failures alike.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

let api;
let late;
let slow;
let direct;
let layered;

function config(deadPort, extraRouter) {
  const host = [api.url];
  return {
    version: 3,
    timeout: '300ms',
    extra_config: { router: { disable_access_log: true, ...extraRouter } },
    endpoints: [
      {
        endpoint: '/noop',
        output_encoding: 'no-op',
        input_headers: ['X-Trace'],
        input_query_strings: ['q'],
        backend: [{ host, url_pattern: '/created', encoding: 'no-op' }],
      },
      {
        endpoint: '/noop-status',
        output_encoding: 'no-op',
        backend: [{ host, url_pattern: '/teapot', encoding: 'no-op' }],
      },
      {
        endpoint: '/noop-dead',
        output_encoding: 'no-op',
        backend: [{ host: [`http://127.0.0.1:${deadPort}`], url_pattern: '/x', encoding: 'no-op' }],
      },
      {
        endpoint: '/noop-slow',
        output_encoding: 'no-op',
        backend: [{ host: [slow.url], url_pattern: '/slow', encoding: 'no-op' }],
      },
      {
        endpoint: '/merged',
        backend: [
          { host, url_pattern: '/user', allow: ['name', 'city'], mapping: { city: 'town' } },
          // A merge is in order of arrival: the group answers 30 ms later, so every run (and both
          // gateways) merge in the same order.
          { host: [late.url], url_pattern: '/extra', group: 'extra' },
        ],
      },
      {
        endpoint: '/merged-partial',
        backend: [
          { host, url_pattern: '/user', allow: ['name'] },
          { host, url_pattern: '/not-json' },
          { host, url_pattern: '/fails', group: 'failed' },
        ],
      },
      {
        endpoint: '/merged-none',
        backend: [
          { host, url_pattern: '/fails' },
          { host: [`http://127.0.0.1:${deadPort}`], url_pattern: '/x' },
        ],
      },
    ],
  };
}

before(async () => {
  api = await jsonBackend({
    '/created': (req) => ({
      __status: 201,
      __headers: { 'x-backend': 'yes', 'content-type': 'application/json' },
      __body: { url: req.url, trace: req.headers['x-trace'] ?? null, ua: req.headers['user-agent'] },
    }),
    '/teapot': { __status: 418, __headers: { 'x-teapot': '1' }, __body: { short: 'stout' } },
    '/user': { name: 'Ana', city: 'Bcn', password: 'x' },
    '/not-json': { __status: 200, __headers: { 'content-type': 'application/json' }, __body: '{nope' },
    '/fails': { __status: 500, __body: { error: true } },
  });
  late = await startBackend((_req, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end('{"a":1}');
    }, 30).unref();
  });
  slow = await startBackend((_req, res) => {
    setTimeout(() => res.end('{"late":true}'), 1000).unref();
  });
  const deadPort = await freePort();
  direct = await startGateway(config(deadPort, {}));
  layered = await startGateway(config(deadPort, { forwarded_by_client_ip: true }));
});

after(async () => {
  await direct?.stop();
  await layered?.stop();
  await api?.close();
  await slow?.close();
  await late?.close();
});

const COMPARED_HEADERS = ['content-type', 'x-krakend', 'x-krakend-completed', 'x-backend', 'x-teapot'];

async function answer(gw, path, headers = {}) {
  const res = await get(`${gw.url}${path}`, { headers });
  const picked = {};
  for (const name of COMPARED_HEADERS) {
    const v = res.headers.get(name);
    if (v !== null) picked[name] = v;
  }
  return { status: res.status, headers: picked, body: res.text };
}

describe('direct stage: the same answers as the layered pipeline', () => {
  const cases = [
    ['a no-op answer: status, headers and bytes passed through', '/noop?q=1&drop=2', { 'X-Trace': 't-1' }],
    ["a no-op backend's error status passed through", '/noop-status'],
    ['a no-op backend that refuses connections', '/noop-dead'],
    ['a no-op backend slower than the timeout', '/noop-slow'],
    ['a merge with allow, mapping and group', '/merged'],
    ['a partial merge: invalid JSON and a 500 among good answers', '/merged-partial'],
    ['a merge where every backend fails', '/merged-none'],
  ];
  for (const [name, path, headers] of cases) {
    test(name, async () => {
      const a = await answer(direct, path, headers);
      const b = await answer(layered, path, headers);
      assert.deepEqual(a, b);
    });
  }

  test('what the direct answers are', async () => {
    const noop = await answer(direct, '/noop?q=1&drop=2', { 'X-Trace': 't-1' });
    assert.equal(noop.status, 201);
    assert.equal(noop.headers['x-backend'], 'yes');
    assert.equal(noop.headers['x-krakend-completed'], 'false');
    assert.deepEqual(JSON.parse(noop.body), {
      url: '/created?q=1',
      trace: 't-1',
      ua: 'KrakenD Version 0.1.0',
    });
    assert.equal((await answer(direct, '/noop-status')).status, 418);
    const dead = await answer(direct, '/noop-dead');
    assert.equal(dead.status, 500);
    assert.equal(dead.headers['x-krakend-completed'], 'false');
    const late = await answer(direct, '/noop-slow');
    assert.equal(late.status, 500);
    const merged = await answer(direct, '/merged');
    assert.equal(merged.status, 200);
    assert.equal(merged.headers['x-krakend-completed'], 'true');
    assert.deepEqual(JSON.parse(merged.body), { name: 'Ana', town: 'Bcn', extra: { a: 1 } });
    const partial = await answer(direct, '/merged-partial');
    assert.equal(partial.status, 200);
    assert.equal(partial.headers['x-krakend-completed'], 'false');
    assert.deepEqual(JSON.parse(partial.body), { name: 'Ana' });
    const none = await answer(direct, '/merged-none');
    assert.equal(none.status, 500);
    assert.equal(none.headers['x-krakend-completed'], 'false');
  });

  test('the gateway keeps serving after the failures', async () => {
    const again = await answer(direct, '/merged');
    assert.equal(again.status, 200);
  });
});
