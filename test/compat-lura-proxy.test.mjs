// The proxy layer's answers, checked against what KrakenD CE's proxy does: Lura's backend errors
// (luraproject/lura transport/http/client/status.go, proxy/http.go, router/gin/endpoint.go), the
// sequential merger (proxy/merging.go), shadow backends (proxy/shadow.go) and its decoders
// (encoding/encoding.go). Cases rewritten from Lura's own tests where they exist (merging_test.go,
// shadow_test.go, status handlers), replayed over HTTP through `gw run` with a real backend; the
// summary prints how many pass. Lura's unit tests build responses in Go, so a float there is a
// float64 ("3.14E+00"); over HTTP Lura decodes with UseNumber, so it prints the literal ("3.14").
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, startBackend, startGateway } from './helpers/gateway.mjs';

/** Keeping number literals on decoded data needs JSON.rawJSON (Node ≥ 21). */
const RAW_JSON = typeof JSON.rawJSON === 'function' ? false : 'needs JSON.rawJSON (Node ≥ 21)';

const FIRST = `{"int":42,"string":"some","bool":true,"float":3.14,"price":4.20,"big":12345678901234567890,
"array":["1","2"],"nums":[1,2.50,3],"nil":null,"foo":"top","propagated":"everywhere",
"obj":{"b":1,"a":"x y"},"struct":{"foo":"bar","struct":{"foo":"bar","struct":{"foo":"bar"}}}}`;

const results = [];
function check(name, opts, fn) {
  if (typeof opts === 'function') [opts, fn] = [{}, opts];
  test(name, opts, async () => {
    let ok = false;
    try {
      await fn();
      ok = true;
    } finally {
      results.push({ name, ok });
    }
  });
}

let backend;
/** Resolves once `n` requests reached the backend under `prefix` (a shadow is not waited for). */
async function arrived(prefix, n = 1) {
  for (let i = 0; i < 400; i++) {
    const hits = backend.requests.filter((r) => r.url.startsWith(prefix));
    if (hits.length >= n) return hits;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`no request under ${prefix} reached the backend`);
}

before(async () => {
  backend = await startBackend((req, res) => {
    const url = req.url;
    const json = (status, body, type = 'application/json') => {
      res.writeHead(status, type ? { 'content-type': type } : {});
      res.end(body);
    };
    if (url === '/first') return json(200, FIRST);
    if (url.startsWith('/echo/'))
      return json(
        200,
        JSON.stringify({ path: decodeURIComponent(url), lua: req.headers['x-params'] ?? null }),
      );
    if (url.startsWith('/main')) return json(200, '{"main":true,"n":4.20}');
    if (url.startsWith('/shadow/slow')) {
      setTimeout(() => json(200, '{"shadow":true}'), 2000);
      return;
    }
    if (url.startsWith('/shadow/fail')) return json(500, '{"shadow":"failed"}');
    if (url.startsWith('/shadow')) return json(200, '{"shadow":true,"main":false}');
    if (url.startsWith('/fail')) return json(500, 'nope', 'text/plain');
    if (url.startsWith('/teapot')) return json(418, '{"title":"teapot"}', 'application/problem+json');
    if (url.startsWith('/empty503')) return json(503, '', null);
    if (url.startsWith('/created')) return json(201, '{"created":true}');
    if (url.startsWith('/scalar')) return json(200, '4.20');
    return json(404, '404 page not found\n', 'text/plain; charset=utf-8');
  });
});
after(async () => {
  await backend?.close();
  const pass = results.filter((r) => r.ok).length;
  console.log(`Lura proxy cases: ${pass} of ${results.length} pass`);
});

describe('backend errors as Lura formats them', () => {
  let gw;
  let quiet;
  before(async () => {
    const endpoints = (host) => [
      { endpoint: '/users/{id}', backend: [{ host, url_pattern: '/users/{id}?x=1' }] },
      { endpoint: '/posted', backend: [{ host, method: 'POST', url_pattern: '/missing' }] },
      {
        endpoint: '/code',
        backend: [
          { host, url_pattern: '/teapot', extra_config: { 'backend/http': { return_error_code: true } } },
        ],
      },
      {
        endpoint: '/details',
        backend: [
          { host, url_pattern: '/teapot', extra_config: { 'backend/http': { return_error_details: 'tea' } } },
        ],
      },
      {
        endpoint: '/details/empty',
        backend: [
          { host, url_pattern: '/empty503', extra_config: { 'backend/http': { return_error_details: 'e' } } },
        ],
      },
      {
        endpoint: '/details/unreachable',
        backend: [
          {
            host: ['http://127.0.0.1:1'],
            url_pattern: '/x',
            extra_config: { 'backend/http': { return_error_details: 'gone' } },
          },
        ],
      },
      {
        endpoint: '/details/merged',
        backend: [
          { host, url_pattern: '/main' },
          { host, url_pattern: '/teapot', extra_config: { 'backend/http': { return_error_details: 'tea' } } },
        ],
      },
      { endpoint: '/created', backend: [{ host, url_pattern: '/created' }] },
      {
        endpoint: '/merged/failed',
        backend: [
          { host, url_pattern: '/fail' },
          { host, url_pattern: '/teapot', extra_config: { 'backend/http': { return_error_code: true } } },
        ],
      },
      { endpoint: '/single/failed', backend: [{ host, url_pattern: '/fail' }] },
      {
        endpoint: '/partial',
        cache_ttl: '60s',
        backend: [
          { host, url_pattern: '/main' },
          { host, url_pattern: '/fail' },
        ],
      },
      { endpoint: '/cached', cache_ttl: '60s', backend: [{ host, url_pattern: '/main' }] },
    ];
    gw = await startGateway({
      version: 3,
      extra_config: { router: { return_error_msg: true } },
      endpoints: endpoints([backend.url]),
    });
    quiet = await startGateway({ version: 3, endpoints: endpoints([backend.url]) });
  });
  after(async () => {
    await gw?.stop();
    await quiet?.stop();
  });

  check(
    "return_error_msg: status, method, Lura's url_pattern and the URL (status.go ErrInvalidStatus.Error)",
    async () => {
      const r = await get(`${gw.url}/users/7`);
      assert.equal(r.status, 500);
      assert.equal(r.text, `invalid status code 404 [GET /users/{{.Id}}?x=1]: ${backend.url}/users/7?x=1`);
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
    },
  );

  check(
    "return_error_msg: the backend's own method in the prefix (status.go GetHTTPStatusHandler)",
    async () => {
      const r = await get(`${gw.url}/posted`);
      assert.equal(r.status, 500);
      assert.equal(r.text, `invalid status code 404 [POST /missing]: ${backend.url}/missing`);
    },
  );

  check(
    'no return_error_msg: a refused status is a bare 500 (endpoint.go CustomErrorEndpointHandler)',
    async () => {
      const r = await get(`${quiet.url}/users/7`);
      assert.equal(r.status, 500);
      assert.equal(r.text, '');
      assert.equal(r.headers.get('content-type'), null);
    },
  );

  check(
    "several backends all failed: every error's text, one a line, and a 500 (merging.go mergeError)",
    async () => {
      const r = await get(`${gw.url}/merged/failed`);
      assert.equal(r.status, 500);
      assert.deepEqual(r.text.split('\n').sort(), [
        `invalid status code 500 [GET /fail]: ${backend.url}/fail`,
        '{"title":"teapot"}',
      ]);
    },
  );

  check(
    "one backend failing with a 500: the message, not the backend's body (endpoint.go ErrorResponseWriter)",
    async () => {
      const r = await get(`${gw.url}/single/failed`);
      assert.equal(r.status, 500);
      assert.equal(r.text, `invalid status code 500 [GET /fail]: ${backend.url}/fail`);
    },
  );

  check(
    'a partial answer: 200, its data, incomplete, no Cache-Control (endpoint_test.go TestEndpointHandler_incompleteAndErrored)',
    async () => {
      const r = await get(`${quiet.url}/partial`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { main: true, n: 4.2 });
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
      assert.equal(r.headers.get('cache-control'), null);
    },
  );

  check(
    'no answer: 500, no body, no Content-Type, incomplete (endpoint_test.go TestEndpointHandler_errored)',
    async () => {
      const r = await get(`${quiet.url}/single/failed`);
      assert.equal(r.status, 500);
      assert.equal(r.text, '');
      assert.equal(r.headers.get('content-type'), null);
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
    },
  );

  check(
    'a complete answer with cache_ttl: Cache-Control public, max-age (endpoint.go CustomErrorEndpointHandler)',
    async () => {
      const r = await get(`${quiet.url}/cached`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=60');
      assert.equal(r.headers.get('x-krakend-completed'), 'true');
    },
  );

  check('201 is a success (status.go DefaultHTTPStatusHandler)', async () => {
    const r = await get(`${quiet.url}/created`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { created: true });
  });

  check(
    "return_error_code + return_error_msg: the backend's status, body and Content-Type (endpoint.go ErrorResponseWriter)",
    async () => {
      const r = await get(`${gw.url}/code`);
      assert.equal(r.status, 418);
      assert.equal(r.text, '{"title":"teapot"}');
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
    },
  );

  check(
    "return_error_code alone: the backend's status, no body (endpoint.go CustomErrorEndpointHandler)",
    async () => {
      const r = await get(`${quiet.url}/code`);
      assert.equal(r.status, 418);
      assert.equal(r.text, '');
      assert.equal(r.headers.get('content-type'), null);
    },
  );

  check(
    'return_error_details: 200, incomplete, http_body_encoding (status.go HTTPResponseError; http.go)',
    async () => {
      const r = await get(`${quiet.url}/details`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, {
        error_tea: {
          http_status_code: 418,
          http_body: '{"title":"teapot"}',
          http_body_encoding: 'application/problem+json',
        },
      });
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
    },
  );

  check(
    'return_error_details: empty body and no Content-Type are left out (status.go omitempty)',
    async () => {
      const r = await get(`${quiet.url}/details/empty`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { error_e: { http_status_code: 503 } });
    },
  );

  check(
    'return_error_details: no answer at all is an error, not details (http.go NewHTTPProxyDetailed)',
    async () => {
      const r = await get(`${quiet.url}/details/unreachable`);
      assert.equal(r.status, 500);
      assert.equal(r.text, '');
    },
  );

  check(
    'return_error_details merged with a good backend: both, incomplete (merging.go combineData)',
    async () => {
      const r = await get(`${quiet.url}/details/merged`);
      assert.equal(r.status, 200);
      assert.equal(r.json.main, true);
      assert.equal(r.json.error_tea.http_status_code, 418);
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
    },
  );
});

describe('sequential proxy as Lura renders it', () => {
  let gw;
  before(async () => {
    const host = [backend.url];
    const seq = (endpoint, urlPatterns, extra = {}) => ({
      endpoint,
      extra_config: { proxy: { sequential: true, ...extra } },
      backend: [
        { host, url_pattern: '/first' },
        ...urlPatterns.map((u) => ({ host, url_pattern: u, group: 'next' })),
      ],
    });
    gw = await startGateway({
      version: 3,
      endpoints: [
        seq('/seq/array', ['/echo/array/{resp0_array}']),
        seq('/seq/scalars', [
          '/echo/s/{resp0_int}/{resp0_string}/{resp0_bool}/{resp0_float}/{resp0_struct.foo}',
        ]),
        seq('/seq/nested', [
          '/echo/n/{resp0_struct.foo}/{resp0_struct.struct.foo}/{resp0_struct.struct.struct.foo}',
        ]),
        seq('/seq/object', ['/echo/o/{resp0_obj}']),
        seq('/seq/nil', ['/echo/nil/{resp0_nil}']),
        seq('/seq/walk', ['/echo/walk/{resp0_missing.foo}']),
        seq('/seq/unset', ['/echo/unset/{resp0_nope}']),
        seq('/seq/literal', ['/echo/lit/{resp0_price}/{resp0_nums}/{resp0_big}']),
        {
          ...seq('/seq/propagated', ['/echo/p/{resp0_array}'], {
            sequential_propagated_params: ['resp0_propagated', 'resp5'],
          }),
          backend: [
            { host, url_pattern: '/first' },
            {
              host,
              url_pattern: '/echo/p/{resp0_array}',
              group: 'next',
              extra_config: {
                'modifier/lua-backend': {
                  pre: "local r = request.load(); r:headers('X-Params', r:params('Resp0_propagated') .. '|' .. r:params('Resp0_array'))",
                },
              },
            },
          ],
        },
      ],
    });
  });
  after(() => gw?.stop());

  const nextOf = async (path) => {
    const r = await get(`${gw.url}${path}`);
    assert.equal(r.status, 200, r.text);
    return r.json.next;
  };

  check(
    'an array is its items joined by commas (merging.go sequentialMerge; merging_test.go Resp0_array "1,2")',
    async () => {
      assert.equal((await nextOf('/seq/array')).path, '/echo/array/1,2');
    },
  );

  check(
    'int, string, bool, float and a nested key as written (merging_test.go testNewMergeDataMiddleware_sequential)',
    async () => {
      assert.equal((await nextOf('/seq/scalars')).path, '/echo/s/42/some/true/3.14/bar');
    },
  );

  check('keys three objects deep (merging_test.go Resp0_struct.struct.struct.foo)', async () => {
    assert.equal((await nextOf('/seq/nested')).path, '/echo/n/bar/bar/bar');
  });

  check('an object prints as Go prints a map, keys sorted (merging.go: fmt %v)', async () => {
    assert.equal((await nextOf('/seq/object')).path, '/echo/o/map[a:x y b:1]');
  });

  check('null prints as Go prints nil (merging.go: fmt %v)', async () => {
    assert.equal((await nextOf('/seq/nil')).path, '/echo/nil/<nil>');
  });

  check(
    'a missing object on the path: the last key is looked up where the walk stopped (merging.go sequentialMerge)',
    async () => {
      assert.equal((await nextOf('/seq/walk')).path, '/echo/walk/top');
    },
  );

  check("a value no answer has stays as Lura's template key (request.go GeneratePath)", async () => {
    const next = await nextOf('/seq/unset');
    assert.equal(next.path, '/echo/unset/{{.Resp0_nope}}');
    const hit = backend.requests.find((r) => r.url.startsWith('/echo/unset/'));
    assert.equal(hit.url, '/echo/unset/%7B%7B.Resp0_nope%7D%7D');
  });

  check(
    'numbers as the backend wrote them, in arrays too (encoding.go UseNumber; merging.go %v of json.Number)',
    { skip: RAW_JSON },
    async () => {
      assert.equal((await nextOf('/seq/literal')).path, '/echo/lit/4.20/1,2.50,3/12345678901234567890');
    },
  );

  check(
    'propagated params and url_pattern params reach the backend as Resp0_x (merging.go sequentialMergerConfig; Lua params())',
    async () => {
      const next = await nextOf('/seq/propagated');
      assert.equal(next.path, '/echo/p/1,2');
      assert.equal(next.lua, 'everywhere|1,2');
    },
  );
});

describe('shadow backends as Lura runs them', () => {
  let gw;
  before(async () => {
    const host = [backend.url];
    const shadow = (url_pattern, extra = {}) => ({
      host,
      url_pattern,
      extra_config: { proxy: { shadow: true, ...extra } },
    });
    gw = await startGateway({
      version: 3,
      endpoints: [
        {
          endpoint: '/sh/ok/{id}',
          backend: [{ host, url_pattern: '/main/{id}' }, shadow('/shadow/ok/{id}')],
        },
        { endpoint: '/sh/failing', backend: [{ host, url_pattern: '/main/2' }, shadow('/shadow/fail')] },
        { endpoint: '/sh/main-fails', backend: [{ host, url_pattern: '/fail' }, shadow('/shadow/ok/3')] },
        {
          endpoint: '/sh/slow',
          timeout: '1s',
          backend: [{ host, url_pattern: '/main/4' }, shadow('/shadow/slow', { shadow_timeout: '5s' })],
        },
        { endpoint: '/sh/only', backend: [shadow('/shadow/ok/only')] },
        {
          endpoint: '/sh/http-ns/{id}',
          backend: [
            { host, url_pattern: '/main/{id}' },
            { host, url_pattern: '/shadow/ok/{id}', extra_config: { 'backend/http': { shadow: true } } },
          ],
        },
      ],
    });
  });
  after(() => gw?.stop());

  check(
    'a shadow gets the request, its answer is never merged (shadow.go NewShadowProxyWithTimeout; shadow_test.go TestNewShadowFactory)',
    async () => {
      const r = await get(`${gw.url}/sh/ok/1`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { main: true, n: 4.2 });
      assert.equal(r.headers.get('x-krakend-completed'), 'true');
      await arrived('/shadow/ok/1');
    },
  );

  check('"backend/http": {"shadow": true} marks a shadow too (gw reads both spellings)', async () => {
    const r = await get(`${gw.url}/sh/http-ns/5`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { main: true, n: 4.2 });
    await arrived('/shadow/ok/5');
  });

  check(
    'a failing shadow leaves the answer complete (shadow_test.go TestShadowMiddleware_erroredBackend)',
    async () => {
      const r = await get(`${gw.url}/sh/failing`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-krakend-completed'), 'true');
      await arrived('/shadow/fail');
    },
  );

  check(
    "a shadow never answers for a failed main backend (shadow.go: the main proxy's answer is the answer)",
    async () => {
      const r = await get(`${gw.url}/sh/main-fails`);
      assert.equal(r.status, 500);
      assert.equal(r.text, '');
      await arrived('/shadow/ok/3');
    },
  );

  check(
    'a shadow slower than the endpoint does not make it incomplete (shadow_test.go TestShadowMiddleware_partialTimeout)',
    async () => {
      const r = await get(`${gw.url}/sh/slow`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { main: true, n: 4.2 });
      assert.equal(r.headers.get('x-krakend-completed'), 'true');
    },
  );

  check(
    'only shadow backends: the endpoint cannot be built, every request is a bare 500 (shadow_test.go TestShadowFactory_noBackends)',
    async () => {
      const r = await get(`${gw.url}/sh/only`);
      assert.equal(r.status, 500);
      assert.equal(r.text, '');
    },
  );
});

describe('decoded numbers as Lura decodes them (UseNumber)', () => {
  let gw;
  before(async () => {
    const host = [backend.url];
    gw = await startGateway({
      version: 3,
      endpoints: [
        { endpoint: '/num/safejson', backend: [{ host, url_pattern: '/scalar', encoding: 'safejson' }] },
        {
          endpoint: '/num/paths',
          backend: [
            {
              host,
              url_pattern: '/first',
              extra_config: {
                proxy: {
                  flatmap_filter: [
                    { type: 'append', args: ['nums', 'array'] },
                    { type: 'move', args: ['int.x', 'y'] },
                    { type: 'del', args: ['price.x', 'struct', 'obj'] },
                  ],
                },
              },
            },
          ],
        },
        {
          endpoint: '/num/sequence',
          extra_config: { proxy: { sequential: true } },
          backend: [
            { host, url_pattern: '/first', allow: ['price', 'big', 'nums'] },
            { host, url_pattern: '/main/{resp0_price}' },
          ],
        },
      ],
    });
  });
  after(() => gw?.stop());

  check('safejson keeps a scalar literal (encoding.go SafeJSONDecoder)', { skip: RAW_JSON }, async () => {
    const r = await get(`${gw.url}/num/safejson`);
    assert.equal(r.text, '{"content":4.20}');
  });

  check(
    "flatmap append: the destination's items, then the source's (krakend/flatmap tree.go Tree.Append, tree_test.go TestTree_Append)",
    async () => {
      const r = await get(`${gw.url}/num/paths`);
      assert.deepEqual(r.json.array, ['1', '2', 1, 2.5, 3]);
      assert.equal(r.json.nums, undefined);
    },
  );

  check(
    'a path into a kept number finds nothing to change (flatmap tree: a number has no children)',
    { skip: RAW_JSON },
    async () => {
      const r = await get(`${gw.url}/num/paths`);
      assert.ok(r.text.includes('"array":["1","2",1,2.50,3]'), r.text);
      assert.ok(r.text.includes('"price":4.20,'), r.text);
      assert.ok(r.text.includes('"int":42,'), r.text);
      assert.equal(r.json.y, undefined);
    },
  );

  check(
    'a merged sequence keeps literals through allow and merge (encoding.go JSONDecoder, UseNumber)',
    { skip: RAW_JSON },
    async () => {
      const r = await get(`${gw.url}/num/sequence`);
      assert.equal(
        r.text,
        '{"price":4.20,"big":12345678901234567890,"nums":[1,2.50,3],"main":true,"n":4.20}',
      );
      assert.equal((await arrived('/main/4.20')).length >= 1, true);
    },
  );
});
