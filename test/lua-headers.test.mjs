// headers() and headerList() on every object a Lua script loads, through the real gateway:
// krakend-lua router/gin/lua.go (ctx: the client's request), proxy/request.go (the request in the
// proxy and backend layers) and proxy/response.go (the merged and the backend response). A getter
// reads one value or the list (empty when absent), headerList(name, list) sets several values,
// and header(name, nil) removes the header.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

/** Reads X-In and an absent header, sets X-List to two values, removes X-Drop, reports in X-Seen. */
const headerScript = (load) =>
  [
    `local o = ${load}`,
    "local seen = o:headers('X-In') .. '|' .. o:headerList('x-in'):len() .. '|'",
    "  .. o:headerList('X-None'):len() .. '|' .. o:headers('X-None') .. '|'",
    "local l = luaList.new(); l:set(0, 'a'); l:set(1, 'b')",
    "o:headerList('X-List', l)",
    "o:headers('X-Drop', nil)",
    "o:headers('X-Seen', seen)",
  ].join('\n');

describe('Lua headers() and headerList() on every loaded object', () => {
  let backend;
  let gw;

  before(async () => {
    backend = await jsonBackend({
      '/echo': (req) => ({ headers: req.headers }),
      '/answer': {
        __status: 200,
        __headers: { 'X-In': 'from-backend', 'X-Drop': 'gone' },
        __body: { ok: true },
      },
    });
    const host = [backend.url];
    const echo = { host, url_pattern: '/echo' };
    gw = await startGateway({
      version: 3,
      host,
      endpoints: [
        {
          endpoint: '/ctx',
          input_headers: ['*'],
          extra_config: { 'modifier/lua-endpoint': { pre: headerScript('ctx.load()') } },
          backend: [echo],
        },
        {
          endpoint: '/proxy-request',
          input_headers: ['X-In', 'X-Drop'],
          extra_config: { 'modifier/lua-proxy': { pre: headerScript('request.load()') } },
          backend: [echo],
        },
        {
          endpoint: '/backend-request',
          input_headers: ['X-In', 'X-Drop'],
          backend: [
            { ...echo, extra_config: { 'modifier/lua-backend': { pre: headerScript('request.load()') } } },
          ],
        },
        {
          endpoint: '/proxy-response',
          extra_config: { 'modifier/lua-proxy': { post: headerScript('response.load()') } },
          backend: [{ host, url_pattern: '/answer' }],
        },
        {
          endpoint: '/backend-response',
          output_encoding: 'no-op',
          backend: [
            {
              host,
              url_pattern: '/answer',
              encoding: 'no-op',
              extra_config: { 'modifier/lua-backend': { post: headerScript('response.load()') } },
            },
          ],
        },
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  const sent = { headers: { 'X-In': 'hello', 'X-Drop': 'bye' } };

  for (const path of ['/ctx', '/proxy-request', '/backend-request']) {
    test(`request headers through ${path}: read, list set, nil removes`, async () => {
      const r = await get(`${gw.url}${path}`, sent);
      assert.equal(r.status, 200, r.text);
      const h = r.json.headers;
      assert.equal(h['x-seen'], 'hello|1|0||');
      assert.equal(h['x-list'], 'a, b');
      assert.equal(h['x-drop'], undefined);
      assert.equal(h['x-in'], 'hello');
    });
  }

  test('the merged response (lua-proxy post): its headers reach the client', async () => {
    const r = await get(`${gw.url}/proxy-response`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-seen'), '|0|0||', 'the merged response starts with no headers of its own');
    assert.equal(r.headers.get('x-list'), 'a, b');
    assert.equal(r.headers.get('x-drop'), null);
  });

  test("one backend's response (lua-backend post, no-op): read, list set, nil removes", async () => {
    const r = await get(`${gw.url}/backend-response`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-seen'), 'from-backend|1|0||');
    assert.equal(r.headers.get('x-list'), 'a, b');
    assert.equal(r.headers.get('x-drop'), null);
    assert.equal(r.headers.get('x-in'), 'from-backend');
  });
});
