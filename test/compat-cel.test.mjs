// validation/cel as KrakenD CE evaluates it, through the real `gw run` and a real backend.
// Sources: krakend-cel v2.4 proxy.go (newProxy, evalChecks, newReqActivation,
// newRespActivation), internal/cel.go (parseByKey, Parse, defaultDeclarations), and cel-go's
// type adapter (a json.Number is a Go string: a CEL string). Cases from krakend-cel's
// proxy_test.go, rewritten against HTTP, then what parseByKey and the type check decide.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

describe('KrakenD CE CEL over HTTP', () => {
  let backend;
  let gw;

  before(async () => {
    backend = await jsonBackend({
      '/ok': { ok: true },
      '/item': (req) => {
        const id = new URL(req.url, 'http://x').searchParams.get('id') ?? '0';
        return { Id: Number(id), IdText: id, n: 5 };
      },
    });
    const b = (urlPattern, extra = {}) => [{ host: [backend.url], url_pattern: urlPattern, ...extra }];
    const cel = (...exprs) => ({ 'validation/cel': exprs.map((check_expr) => ({ check_expr })) });
    gw = await startGateway({
      version: 3,
      timeout: '3s',
      extra_config: { router: { return_error_msg: true } },
      endpoints: [
        {
          endpoint: '/querystring',
          input_query_strings: ['x', 'y'],
          backend: b('/ok'),
          extra_config: cel("'2' in req_querystring.y", 'int(req_querystring.x[0]) % 2 == 0'),
        },
        {
          endpoint: '/params/{id}',
          backend: b('/ok'),
          extra_config: cel('int(req_params.Id) % 2 == 0'),
        },
        {
          endpoint: '/resp/{id}',
          backend: b('/item?id={id}'),
          extra_config: cel('int(resp_data.Id) % 2 == 0', 'resp_data.IdText == resp_data.Id'),
        },
        ...[
          "req_params.Nick in ['kpacha', 'alombarte']",
          "req_params.Nick.matches('kpacha|alombarte')",
          "req_params.Nick.matches('^(kpacha|alombarte)$')",
        ].map((expr, i) => ({
          endpoint: `/nick${i}/{nick}`,
          backend: b('/ok'),
          extra_config: cel(expr),
        })),
        {
          endpoint: '/unknown-variable',
          backend: b('/ok'),
          extra_config: cel("resp_headers['Content-Type'][0] == 'nope'", "req_method == 'GET'"),
        },
        {
          endpoint: '/number-is-a-string',
          backend: b('/item?id=1'),
          extra_config: cel('resp_data.n > 1'),
        },
        {
          endpoint: '/numbering',
          backend: b('/item?id=3'),
          extra_config: cel("req_method == 'GET'", "req_path == '/numbering'", "resp_data.IdText == '4'"),
        },
        {
          endpoint: '/no-phase',
          backend: b('/ok'),
          extra_config: cel("now == 'never'"),
        },
        {
          endpoint: '/both-phases',
          backend: b('/ok'),
          extra_config: cel("req_method == 'GET' && resp_completed"),
        },
        {
          endpoint: '/now',
          backend: b('/ok'),
          extra_config: cel(
            "req_method == 'GET' && now.matches('^\\\\d{4}-\\\\d{2}-\\\\d{2}T\\\\d{2}:\\\\d{2}:\\\\d{2}(\\\\.\\\\d{1,3})?Z$')",
          ),
        },
        {
          endpoint: '/backend-level/{id}',
          backend: b('/item?id={id}', {
            extra_config: cel("resp_data.IdText == '8' && int(resp_data.Id) == 8"),
          }),
        },
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  test('proxy_test.go TestProxyFactory_reqQuerystring: list membership and int() of a query value', async () => {
    for (const i of [0, 1, 2, 7, 10]) {
      const r = await get(`${gw.url}/querystring?x=${i}&y=2&y=3`);
      assert.equal(r.status, i % 2 === 0 ? 200 : 500, `x=${i}`);
    }
    assert.equal((await get(`${gw.url}/querystring?x=2&y=3`)).status, 500);
  });

  test('proxy_test.go TestProxyFactory_reqParams_int: req_params with the first letter capitalised', async () => {
    for (const i of [0, 1, 4, 9])
      assert.equal((await get(`${gw.url}/params/${i}`)).status, i % 2 === 0 ? 200 : 500);
  });

  test("proxy_test.go TestProxyFactory_respParams_int: int(resp_data.Id); a backend's number equals its text", async () => {
    const ok = await get(`${gw.url}/resp/6`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { Id: 6, IdText: '6', n: 5 });
    const odd = await get(`${gw.url}/resp/7`);
    assert.equal(odd.status, 500);
    assert.equal(odd.text, 'request aborted by evaluator #0');
  });

  test('proxy_test.go TestProxyFactory_reqParams_string: in, matches (RE2, unanchored) and anchored matches', async () => {
    for (const i of [0, 1, 2])
      for (const [nick, ok] of [
        ['kpacha', true],
        ['bar', false],
        ['alombarte', true],
        ['foo', false],
      ])
        assert.equal((await get(`${gw.url}/nick${i}/${nick}`)).status, ok ? 200 : 500, `nick${i} ${nick}`);
  });

  test('internal/cel.go parseByKey: an expression that does not type-check (resp_headers is not declared) is skipped', async () => {
    const r = await get(`${gw.url}/unknown-variable`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ok: true });
    // worker threads write their startup warnings in batches (up to 200 ms after)
    assert.match(
      await gw.waitForLog(/skipped, as KrakenD skips it: .*resp_headers/, 3000),
      /skipped, as KrakenD skips it: .*resp_headers/,
    );
  });

  test('cel-go adapts json.Number as a string: comparing it with an int is an evaluation error, so 500', async () => {
    const r = await get(`${gw.url}/number-is-a-string`);
    assert.equal(r.status, 500);
    assert.equal(r.text, 'request aborted by evaluator #0');
  });

  test('proxy.go evalChecks: evaluators are numbered within their phase', async () => {
    const r = await get(`${gw.url}/numbering`);
    assert.equal(r.status, 500);
    assert.equal(r.text, 'request aborted by evaluator #0');
  });

  test('internal/cel.go parseByKey: an expression naming no req, resp or JWT is never evaluated', async () => {
    assert.equal((await get(`${gw.url}/no-phase`)).status, 200);
    assert.match(
      await gw.waitForLog(/never evaluated, as in KrakenD: .*now == 'never'/, 3000),
      /never evaluated, as in KrakenD: .*now == 'never'/,
    );
  });

  test('internal/cel.go parseByKey: req and resp in one expression run before the call too, where resp_* is unset: 500', async () => {
    const before = backend.requests.length;
    const r = await get(`${gw.url}/both-phases`);
    assert.equal(r.status, 500);
    assert.equal(backend.requests.length, before, 'the request check stops it before the backend');
  });

  test('proxy.go newProxy: now is "2006-01-02T15:04:05.999Z07:00"', async () => {
    assert.equal((await get(`${gw.url}/now`)).status, 200);
  });

  test('proxy.go BackendFactory: a backend-level response check sees the number as a string', async () => {
    assert.equal((await get(`${gw.url}/backend-level/8`)).status, 200);
    assert.equal((await get(`${gw.url}/backend-level/9`)).status, 500);
  });

  test('proxy.go newProxy / BackendFactory: an abort is logged with the layer and the phase', async () => {
    assert.equal((await get(`${gw.url}/params/3`)).status, 500);
    assert.equal((await get(`${gw.url}/resp/5`)).status, 500);
    assert.equal((await get(`${gw.url}/backend-level/7`)).status, 500);
    const lines = [
      /\[ENDPOINT: \/params\/\{id\}\]\[CEL\] request aborted by evaluator #0/,
      /\[ENDPOINT: \/resp\/\{id\}\]\[CEL\] response aborted by evaluator #0/,
      /\[BACKEND: \/item\?id=\{id\}\]\[CEL\] response aborted by evaluator #0/,
    ];
    for (const re of lines) assert.match(await gw.waitForLog(re, 3000), re);
  });
});
