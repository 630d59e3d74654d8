// What a no-op endpoint and a byte-path merge answer, successes and failures alike: the pipeline's
// answers written straight to the client (src/proxy/pipeline.ts), with nothing around them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

let api;
let late;
let slow;
let direct;

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
});

after(async () => {
  await direct?.stop();
  await api?.close();
  await slow?.close();
  await late?.close();
});

const READ_HEADERS = ['content-type', 'x-krakend', 'x-krakend-completed', 'x-backend', 'x-teapot'];

async function answer(gw, path, headers = {}) {
  const res = await get(`${gw.url}${path}`, { headers });
  const picked = {};
  for (const name of READ_HEADERS) {
    const v = res.headers.get(name);
    if (v !== null) picked[name] = v;
  }
  return { status: res.status, headers: picked, body: res.text };
}

describe('no-op and byte-merge answers', () => {
  test('statuses, headers and bodies as the backends answered', async () => {
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
