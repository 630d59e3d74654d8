// Lua scripting through the real gateway (`gw run`): the docs' examples of the "Lua Scripting"
// page, custom errors, http_response, and runaway scripts that must not take the worker down.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, ROOT, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

const FIX = join(ROOT, 'test', 'fixtures', 'lua');
const src = (name) => join(FIX, name);

/** Logs are written asynchronously: wait until `re` shows up (or fail after 5 s). */
async function waitForLog(gw, re) {
  const deadline = Date.now() + 5000;
  while (!re.test(gw.logs())) {
    if (Date.now() > deadline) assert.match(gw.logs(), re);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Lua end to end', () => {
  let backend;
  let gw;

  before(async () => {
    backend = await jsonBackend({
      '/source': { source_result: { message: 'Successfully done' }, other: 1 },
      '/source-fail': { source_result: { message: 'nothing' } },
      '/keys': { KeepThisField: 'kept', drop1: 1, drop2: { a: 1 } },
      '/items': [{ path: '/a' }, { path: '/b' }, { path: '/c' }],
      '/extra': { extra: 'from http_response' },
      '/echo': (req, body) => ({
        url: req.url,
        method: req.method,
        headers: req.headers,
        body: body.toString('utf8'),
      }),
      '/users/bob': { user: 'bob' },
      '/users/alice': { user: 'alice' },
      '/plain': { n: 1 },
    });
    const host = [backend.url];
    const ep = (endpoint, backendCfg, extra = {}) => ({
      endpoint,
      backend: [{ host, url_pattern: '/source', ...backendCfg }],
      ...extra,
    });
    gw = await startGateway({
      version: 3,
      host,
      extra_config: {
        'modifier/lua-endpoint': { pre: "local c = ctx.load(); c:headers('X-from-lua', '1234');" },
      },
      endpoints: [
        ep(
          '/decorator',
          { url_pattern: '/source' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                sources: [src('decorator.lua')],
                md5: { [src('decorator.lua')]: 'e93c64b29edfd61ed2582b55ca5a7f78' },
                post: 'post_proxy_decorator(response.load())',
              },
            },
          },
        ),
        ep(
          '/decorator-fail',
          { url_pattern: '/source-fail' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                sources: [src('decorator.lua')],
                post: 'post_proxy_decorator(response.load())',
              },
            },
          },
        ),
        ep('/filter', {
          url_pattern: '/keys',
          extra_config: {
            'modifier/lua-backend': {
              allow_open_libs: true,
              sources: [src('filter.lua')],
              post: 'filter(request.load(), response.load())',
            },
          },
        }),
        ep(
          '/collection',
          { url_pattern: '/items', is_collection: true },
          {
            extra_config: {
              'modifier/lua-proxy': { sources: [src('collection.lua')], post: 'post_proxy(response.load())' },
            },
          },
        ),
        ep(
          '/set-a-header',
          { url_pattern: '/echo' },
          {
            input_headers: ['X-From-Lua-Endpoint', 'X-From-Lua'],
            extra_config: {
              'modifier/lua-endpoint': {
                pre: "print('Modifies the HTTP request'); local c = ctx.load(); c:headers('X-from-lua-endpoint', '1234');",
              },
              'modifier/lua-proxy': {
                pre: "print('Lua proxy pre modifier'); local r = request.load(); r:headers('X-from-lua-proxy', '1234');",
                post: "print('Lua proxy post modifier'); local r = response.load(); r:headers('X-from-lua-proxy', '1234');",
              },
            },
          },
        ),
        ep(
          '/teapot',
          { url_pattern: '/plain' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                pre: 'custom_error("I refuse to make any coffee, I\'m a teapot!", 418)',
              },
            },
          },
        ),
        ep(
          '/teapot-json',
          { url_pattern: '/plain' },
          {
            extra_config: {
              'modifier/lua-proxy': { post: 'custom_error(\'{"error":"nope"}\', 403, "application/json")' },
            },
          },
        ),
        ep('/teapot-backend', {
          url_pattern: '/plain',
          extra_config: { 'modifier/lua-backend': { post: 'custom_error("backend says no", 409)' } },
        }),
        ep(
          '/teapot-endpoint',
          { url_pattern: '/plain' },
          {
            extra_config: { 'modifier/lua-endpoint': { pre: 'custom_error("no", 401)' } },
          },
        ),
        ep(
          '/generic-error',
          { url_pattern: '/plain' },
          {
            extra_config: { 'modifier/lua-proxy': { pre: 'custom_error("Something weird happened")' } },
          },
        ),
        ep(
          '/spin',
          { url_pattern: '/plain' },
          {
            extra_config: { 'modifier/lua-proxy': { sources: [src('runaway.lua')], pre: 'spin()' } },
          },
        ),
        ep('/hog', {
          url_pattern: '/plain',
          extra_config: { 'modifier/lua-backend': { sources: [src('runaway.lua')], post: 'hog()' } },
        }),
        ep(
          '/spin-endpoint',
          { url_pattern: '/plain' },
          {
            extra_config: { 'modifier/lua-endpoint': { sources: [src('runaway.lua')], pre: 'spin()' } },
          },
        ),
        ep(
          '/broken',
          { url_pattern: '/plain' },
          {
            extra_config: { 'modifier/lua-proxy': { sources: [src('bad-code.lua')], post: 'broken()' } },
          },
        ),
        ep(
          '/users/{user}',
          { url_pattern: '/users/{user}' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                pre: "local r = request.load(); if r:params('User') == 'alice' then r:params('User', 'bob') end",
                post: "local r = response.load(); r:data():set('seen_param', request.load():params('User'))",
              },
            },
          },
        ),
        ep('/backend-request', {
          url_pattern: '/echo?x=1',
          method: 'POST',
          extra_config: {
            'modifier/lua-backend': {
              pre: [
                'local r = request.load()',
                "r:headers('X-Backend', 'yes')",
                'r:body(\'{"from":"lua"}\')',
                "r:url(r:url() .. '&y=2')",
                "r:method('PUT')",
              ].join('\n'),
              post: ['local d = response.load():data()', "d:set('saw_url', request.load():url())"].join('\n'),
            },
          },
        }),
        ep(
          '/http',
          { url_pattern: '/plain' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                post: [
                  `local h = http_response.new('${backend.url}/extra')`,
                  'local d = response.load():data()',
                  "d:set('status', h:statusCode())",
                  "d:set('ctype', h:headers('Content-Type'))",
                  "d:set('extra', json.unmarshal(h:body()):get('extra'))",
                  'h:close()',
                ].join('\n'),
              },
            },
          },
        ),
        ep(
          '/skip',
          { url_pattern: '/plain' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                skip_next: true,
                post: "local r = response.load(); r:data():set('skipped', true); r:isComplete(true)",
              },
            },
          },
        ),
        ep(
          '/helpers',
          { url_pattern: '/plain' },
          {
            extra_config: {
              'modifier/lua-proxy': {
                post: [
                  'local d = response.load():data()',
                  'local t = luaTable.new()',
                  "t:set('a', 1)",
                  "t:set('gone', luaNil.new())",
                  'local l = luaList.new()',
                  "l:set(0, 'first')",
                  "l:set(1, 'second')",
                  "t:set('list', l)",
                  "d:set('table', t)",
                  "d:set('keys', d:keys())",
                  "d:set('has_n', d:keyExists('n'))",
                  "d:set('json', json.marshal({ x = 1 }))",
                  "d:set('len', l:len())",
                ].join('\n'),
              },
            },
          },
        ),
        {
          endpoint: '/noop',
          output_encoding: 'no-op',
          backend: [
            {
              host,
              url_pattern: '/plain',
              encoding: 'no-op',
              extra_config: {
                'modifier/lua-backend': {
                  post: [
                    'local r = response.load()',
                    "r:headers('X-Lua', 'yes')",
                    "r:headers('X-Status-Seen', tostring(r:statusCode()))",
                    "r:body('replaced ' .. r:body())",
                    'r:statusCode(202)',
                  ].join('\n'),
                },
              },
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

  test('decorator example (lua-proxy post, sources + md5)', async () => {
    const ok = await get(`${gw.url}/decorator`);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.result, 'success');
    assert.deepEqual(ok.json.source_result, { message: 'Successfully done' });
    const failed = await get(`${gw.url}/decorator-fail`);
    assert.equal(failed.json.result, 'failed');
  });

  test('filter example (lua-backend post with allow_open_libs)', async () => {
    const r = await get(`${gw.url}/filter`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { KeepThisField: 'kept' });
    await waitForLog(gw, /Found key:\tdrop1/);
  });

  // krakend-lua decorator/luatable.go tableSet: a Lua table set into a luaTable is always a map
  // (types.go ParseToTable turns integer keys into a list only one level down)
  test('collection example (luaList iteration; a Lua table set at the top is a map with string keys)', async () => {
    const r = await get(`${gw.url}/collection`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { total: 3, paths: { 1: '/a', 2: '/b', 3: '/c' } });
  });

  test('headers set at the router, proxy pre and proxy post (docs "Lua in the endpoint")', async () => {
    const r = await get(`${gw.url}/set-a-header`);
    assert.equal(r.status, 200);
    assert.equal(r.json.headers['x-from-lua-endpoint'], '1234');
    assert.equal(r.json.headers['x-from-lua-proxy'], '1234');
    assert.equal(r.json.headers['x-from-lua'], '1234', 'service-level lua-endpoint runs for every endpoint');
    assert.equal(r.headers.get('x-from-lua-proxy'), '1234');
    await waitForLog(gw, /Lua proxy post modifier/);
  });

  test('custom_error sets the status (and body with a content type)', async () => {
    const teapot = await get(`${gw.url}/teapot`);
    assert.equal(teapot.status, 418);
    // lura router/gin/endpoint.go: the message and its content type are written only with the
    // router's return_error_msg (test/compat-lua.test.mjs has that side)
    const json = await get(`${gw.url}/teapot-json`);
    assert.equal(json.status, 403);
    assert.equal(json.headers.get('content-type'), null);
    assert.equal(json.text, '');
    assert.equal((await get(`${gw.url}/teapot-backend`)).status, 409);
    assert.equal((await get(`${gw.url}/teapot-endpoint`)).status, 401);
    assert.equal((await get(`${gw.url}/generic-error`)).status, 500);
  });

  test('a runaway script is stopped: 500, a log line naming it, and the worker keeps serving', async () => {
    const t0 = Date.now();
    const spin = await get(`${gw.url}/spin`);
    assert.equal(spin.status, 500);
    const hog = await get(`${gw.url}/hog`);
    assert.equal(hog.status, 500);
    const spinEndpoint = await get(`${gw.url}/spin-endpoint`);
    assert.equal(spinEndpoint.status, 500);
    assert.ok(Date.now() - t0 < 20000);
    await waitForLog(
      gw,
      /modifier\/lua-proxy at \$\.endpoints\[10\][^\n]*runaway\.lua[^\n]*pre: script stopped/,
    );
    await waitForLog(gw, /modifier\/lua-backend[^\n]*runaway\.lua[^\n]*not enough memory/);
    // same worker, same scripts: still serving, runaway endpoints included
    const again = await get(`${gw.url}/decorator`);
    assert.equal(again.status, 200);
    assert.equal(again.json.result, 'success');
    assert.equal((await get(`${gw.url}/spin`)).status, 500);
    assert.equal((await get(`${gw.url}/collection`)).json.total, 3);
  });

  test('a script error is logged with file and line', async () => {
    const r = await get(`${gw.url}/broken`);
    assert.equal(r.status, 500);
    await waitForLog(gw, /bad-code\.lua:5/);
  });

  test('params are read and set with a capitalised name', async () => {
    const r = await get(`${gw.url}/users/alice`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { user: 'bob', seen_param: 'bob' });
  });

  test('lua-backend pre changes headers, body, url and method of the backend request', async () => {
    const r = await get(`${gw.url}/backend-request`);
    assert.equal(r.status, 200);
    assert.equal(r.json.headers['x-backend'], 'yes');
    assert.equal(r.json.body, '{"from":"lua"}');
    assert.equal(r.json.url, '/echo?x=1&y=2');
    assert.equal(r.json.method, 'PUT');
    assert.equal(r.json.saw_url, `${backend.url}/echo?x=1&y=2`);
  });

  test('http_response makes an extra request', async () => {
    const r = await get(`${gw.url}/http`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { n: 1, status: 200, ctype: 'application/json', extra: 'from http_response' });
  });

  test('skip_next answers without calling the backends', async () => {
    const before = backend.requests.length;
    const r = await get(`${gw.url}/skip`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { skipped: true });
    assert.equal(r.headers.get('x-krakend-completed'), 'true');
    assert.equal(backend.requests.length, before);
  });

  test('luaTable, luaList, luaNil and json helpers', async () => {
    const r = await get(`${gw.url}/helpers`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      n: 1,
      table: { a: 1, gone: null, list: ['first', 'second'] },
      has_n: true,
      keys: ['n', 'table'],
      json: '{"x":1}',
      len: 2,
    });
  });

  test('no-op: response headers, status and body are scriptable', async () => {
    const r = await get(`${gw.url}/noop`);
    assert.equal(r.status, 202);
    assert.equal(r.headers.get('x-lua'), 'yes');
    assert.equal(r.headers.get('x-status-seen'), '200');
    assert.equal(r.text, 'replaced {"n":1}');
  });
});

describe('Lua config checks', () => {
  test('gw check reports an md5 mismatch and a missing source with their paths', async () => {
    const file = writeConfig({
      version: 3,
      host: ['http://127.0.0.1:1'],
      endpoints: [
        {
          endpoint: '/x',
          backend: [{ url_pattern: '/x' }],
          extra_config: {
            'modifier/lua-proxy': {
              sources: [src('decorator.lua'), src('missing.lua')],
              md5: { [src('decorator.lua')]: '00000000000000000000000000000000' },
              post: 'x()',
            },
          },
        },
      ],
    });
    const r = await runGw(['check', '-c', file]);
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /endpoints\[0\]\.extra_config\["modifier\/lua-proxy"\]\.md5/);
    assert.match(out, /md5 of .*decorator\.lua is e93c64b29edfd61ed2582b55ca5a7f78/);
    assert.match(out, /sources\[1\][^\n]*missing\.lua/);
  });
});
