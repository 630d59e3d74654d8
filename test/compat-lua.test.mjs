// Lua as krakend-lua v2.9 runs it, through the real `gw run` and a real backend.
// Sources: decorator/luatable.go (tableGet, tableSet, tableKeys), decorator/lualist.go (listGet,
// listSet), decorator/custom_error.go, types.go (ParseToTable, tryConvertToSlice), errors.go,
// router/gin/lua.go, and lura router/gin/endpoint.go for how an error is written. Cases from
// krakend-lua's proxy/proxy_test.go (TestProxyFactory, Test_keyValConverter,
// Test_listGrowsWhenUpperIndexOutOfBound, the custom_error tests), rewritten against HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

// TestProxyFactory's post script, with fact() inlined instead of a sources file
const PROXY_FACTORY_POST = `
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
local resp = response.load()
local responseData = resp:data()
responseData:set("foo", "some_new_value")

data = {}
data["bar"] = fact(5)
data["foobar"] = true
data["supu"] = {}
data["supu"]["tupu"] = "some"
data["supu"]["original"] = responseData:get("ok")

local original_collection = responseData:get("collection")
original_collection:del(2)
responseData:set("collection", original_collection)
local col = responseData:get("collection")
data["collection_size"] = col:len()

local id_list = {}
for i=0,data["collection_size"]-1 do
  local element = col:get(i)
  local id = element:get("id")
  table.insert(id_list, id)
end
data["ids"] = id_list

responseData:set("more", data)
local bar = string.find('banana', 'an')
responseData:set("bar", bar)
responseData:set("keys", responseData:keys())
responseData:del("to_be_removed")
if responseData:keyExists("to_be_removed") then custom_error("unexpected key") end
if not responseData:keyExists("bar") then custom_error("missing required key") end
`;

const KEY_VAL_POST = `
local responseData = response.load():data()
local items = responseData:get("data")
for i=0,items:len()-1 do
  local element = items:get(i)
  responseData:set(element:get("key"), element:get("value"))
end
responseData:del("data")
`;

const GROW_POST = `
local responseData = response.load():data()
local growingList = luaList.new()
growingList:set(0, "foo")
growingList:set(2, "bar")
responseData:set("grow_list", growingList)
`;

const CONVERSIONS_POST = `
local d = response.load():data()
d:set("top_list", {"a", "b"})
d:set("nested", { list = {"x", "y"}, holes = { [1] = "p", [5] = "q" }, empty = {}, mixed = { 1, 2, k = "v" },
  num = 2, frac = 1.5, yes = true, fn = function() end })
d:set("ok", nil)
d:set("fn", function() end)
d:set("null", luaNil.new())
local l = luaList.new()
l:set(0, { k = "v" })
l:set(1, { "z" })
l:set(-1, "ignored")
d:set("list_of", l)
d:set("v_is_nil", d:get("v") == nil)
d:set("absent_is_nil", d:get("absent") == nil)
`;

describe('krakend-lua over HTTP', () => {
  let backend;
  let gw;

  before(async () => {
    backend = await jsonBackend({
      '/proxy-factory': {
        ok: true,
        collection: [
          { id: 1, comment: 'none' },
          { id: 42, comment: 'some' },
          { id: 99, comment: 'to be removed' },
          { id: 0, comment: 'last' },
        ],
        to_be_removed: 123456,
      },
      '/kv': {
        data: [
          { key: 'name', value: 'Impala' },
          { key: 'IBU', value: null },
          { key: 'type', value: 'IPA' },
        ],
      },
      '/empty': {},
      '/conversions': { ok: true, v: null },
    });
    const b = (path) => [{ host: [backend.url], url_pattern: path }];
    const luaProxy = (cfg) => ({ 'modifier/lua-proxy': cfg });
    gw = await startGateway({
      version: 3,
      timeout: '3s',
      extra_config: { router: { return_error_msg: true } },
      endpoints: [
        {
          endpoint: '/proxy-factory',
          backend: b('/proxy-factory'),
          extra_config: luaProxy({ allow_open_libs: true, post: PROXY_FACTORY_POST }),
        },
        { endpoint: '/kv', backend: b('/kv'), extra_config: luaProxy({ post: KEY_VAL_POST }) },
        { endpoint: '/grow', backend: b('/empty'), extra_config: luaProxy({ post: GROW_POST }) },
        {
          endpoint: '/conversions',
          backend: b('/conversions'),
          extra_config: luaProxy({ post: CONVERSIONS_POST }),
        },
        ...[
          ['/error', "custom_error('expect me')"],
          ['/error-http', "custom_error('expect me', 404)"],
          ['/error-http-json', `custom_error('{"msg":"expect me"}', 404)`],
          ['/error-http-content-type', `custom_error('{"msg":"expect me"}', 404, 'application/json')`],
        ].flatMap(([path, code]) => [
          { endpoint: `${path}/pre`, backend: b('/empty'), extra_config: luaProxy({ pre: code }) },
          { endpoint: `${path}/post`, backend: b('/empty'), extra_config: luaProxy({ post: code }) },
        ]),
        {
          endpoint: '/query',
          input_query_strings: ['b', 'a', 'q'],
          backend: b('/empty'),
          extra_config: luaProxy({ pre: 'local r = request.load()\nr:headers("X-Query", r:query())' }),
        },
        {
          endpoint: '/router-params/{id_user}',
          input_headers: ['X-Params'],
          backend: b('/empty'),
          extra_config: {
            'modifier/lua-endpoint': {
              pre: `local c = ctx.load()
local p = c:params()
c:headers("X-Params", p:keys():get(0) .. "=" .. p:get("id_user"))`,
            },
          },
        },
        {
          endpoint: '/router-error',
          backend: b('/empty'),
          extra_config: {
            'modifier/lua-endpoint': { pre: `custom_error('{"msg":"expect me"}', 403, 'application/json')` },
          },
        },
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  test('proxy_test.go TestProxyFactory: the post script builds the documented response', async () => {
    const r = await get(`${gw.url}/proxy-factory`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      bar: 2,
      collection: [
        { comment: 'none', id: 1 },
        { comment: 'some', id: 42 },
        { comment: 'last', id: 0 },
      ],
      foo: 'some_new_value',
      keys: ['bar', 'collection', 'foo', 'more', 'ok', 'to_be_removed'],
      more: {
        bar: 120,
        collection_size: 3,
        foobar: true,
        ids: [1, 42, 0],
        supu: { original: true, tupu: 'some' },
      },
      ok: true,
    });
  });

  test('proxy_test.go Test_keyValConverter: a JSON null read with get is luaNil, and set writes null back', async () => {
    const r = await get(`${gw.url}/kv`);
    assert.deepEqual(r.json, { name: 'Impala', IBU: null, type: 'IPA' });
  });

  test('proxy_test.go Test_listGrowsWhenUpperIndexOutOfBound: set past the end pads with null', async () => {
    assert.deepEqual((await get(`${gw.url}/grow`)).json, { grow_list: ['foo', null, 'bar'] });
  });

  test('luatable.go tableSet + types.go ParseToTable: top-level tables are maps, nested integer keys are lists', async () => {
    const r = await get(`${gw.url}/conversions`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      ok: true,
      v: null,
      top_list: { 1: 'a', 2: 'b' },
      nested: {
        list: ['x', 'y'],
        holes: ['p', 'q'],
        empty: null,
        mixed: { 1: 1, 2: 2, k: 'v' },
        num: 2,
        frac: 1.5,
        yes: true,
      },
      null: null,
      list_of: [{ k: 'v' }, { 1: 'z' }],
      v_is_nil: false,
      absent_is_nil: true,
    });
  });

  test('proxy_test.go TestProxyFactory_error: custom_error without a status is a 500 with its message', async () => {
    for (const phase of ['pre', 'post']) {
      const r = await get(`${gw.url}/error/${phase}`);
      assert.equal(r.status, 500, phase);
      assert.equal(r.text, 'expect me', phase);
    }
  });

  test('proxy_test.go TestProxyFactory_errorHTTP and _errorHTTPJson: the status, the message as text', async () => {
    for (const phase of ['pre', 'post']) {
      const plain = await get(`${gw.url}/error-http/${phase}`);
      assert.equal(plain.status, 404);
      assert.equal(plain.text, 'expect me');
      assert.equal(plain.headers.get('content-type'), 'text/plain; charset=utf-8');
      const json = await get(`${gw.url}/error-http-json/${phase}`);
      assert.equal(json.status, 404);
      assert.equal(json.text, '{"msg":"expect me"}');
    }
  });

  test('proxy_test.go TestProxyFactory_errorHTTPWithContentType: lura ErrorResponseWriter sets the content type', async () => {
    for (const phase of ['pre', 'post']) {
      const r = await get(`${gw.url}/error-http-content-type/${phase}`);
      assert.equal(r.status, 404);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(r.text, '{"msg":"expect me"}');
    }
  });

  test('proxy/request.go query(): the forwarded query as url.Values.Encode writes it (sorted, escaped)', async () => {
    const before = backend.requests.length;
    const r = await get(`${gw.url}/query?b=x%20y&c=3&a=1&q=a*b`);
    assert.equal(r.status, 200);
    assert.equal(backend.requests[before].headers['x-query'], 'a=1&b=x+y&q=a%2Ab');
  });

  test("router/gin/lua.go params(): the router's table holds gin's params under their own names", async () => {
    const before = backend.requests.length;
    assert.equal((await get(`${gw.url}/router-params/alice`)).status, 200);
    assert.equal(backend.requests[before].headers['x-params'], 'id_user=alice');
  });

  test('router/gin/lua.go: a router-level custom_error is the status and content type with an empty body', async () => {
    const r = await get(`${gw.url}/router-error`);
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.text, '');
  });
});
