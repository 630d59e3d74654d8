// validation/cel, from the "Conditional requests and responses with CEL" page: the docs'
// expressions at endpoint and backend level, request and response phases.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { celModule, compileCelChecks, normaliseExpression } from '../dist/validation/cel.js';
import { ctxFor, request } from './fixtures/security/unit.mjs';

function endpointStage(cel, endpoint = {}, data = { ok: true }) {
  const ep = { endpoint: '/e', ...endpoint, extra_config: { 'validation/cel': cel } };
  let calls = 0;
  const stage = celModule.proxy(
    cel,
    ctxFor({ endpoint: ep }),
  )(async () => {
    calls++;
    return { data: structuredClone(data), isComplete: true };
  });
  return { stage, calls: () => calls };
}

function backendStage(cel, backend = {}, data = {}) {
  let calls = 0;
  const b = { url_pattern: '/x', ...backend, extra_config: { 'validation/cel': cel } };
  const stage = celModule.backend(
    cel,
    ctxFor({ backend: b }),
  )(async () => {
    calls++;
    return { status: 200, headers: {}, body: Buffer.from('{}'), data: structuredClone(data) };
  });
  return { stage, calls: () => calls };
}

const breq = (over = {}) => ({
  method: 'GET',
  path: '/x',
  headers: {},
  body: null,
  params: {},
  origin: request(),
  deadline: 0,
  ...over,
});

describe('validation/cel: endpoint level', () => {
  test("req_params capitalised: req_params.Nick.matches('k.*')", async () => {
    const { stage, calls } = endpointStage([{ check_expr: "req_params.Nick.matches('k.*')" }]);
    assert.deepEqual((await stage(request({ params: { nick: 'kate' } }))).data, { ok: true });
    await assert.rejects(stage(request({ params: { nick: 'ray' } })), /request aborted by evaluator #0/);
    assert.equal(calls(), 1, 'a refused request never reaches the backends');
  });

  test("'::1' in req_headers['X-Forwarded-For'] (the client IP)", async () => {
    const { stage } = endpointStage([{ check_expr: "'::1' in req_headers['X-Forwarded-For']" }]);
    await stage(request({ clientIp: '::1' }));
    await assert.rejects(stage(request({ clientIp: '10.0.0.1' })));
  });

  test('headers are only those in input_headers (canonical names)', async () => {
    const cel = [{ check_expr: "req_headers['X-Tenant'][0] == 'acme'" }];
    const withHeader = endpointStage(cel, { input_headers: ['X-Tenant'] });
    await withHeader.stage(request({ headers: { 'x-tenant': 'acme' } }));
    const without = endpointStage(cel);
    await assert.rejects(without.stage(request({ headers: { 'x-tenant': 'acme' } })));
  });

  test("query strings: has(req_querystring['foo[]']) && 'bar' in req_querystring['foo[]']", async () => {
    const cel = [{ check_expr: "has(req_querystring['foo[]']) && 'bar' in req_querystring['foo[]']" }];
    const { stage } = endpointStage(cel, { input_query_strings: ['foo[]'] });
    await stage(request({ query: 'foo[]=baz&foo[]=bar' }));
    await stage(request({ query: 'foo%5B%5D=bar' }));
    await assert.rejects(stage(request({ query: 'foo[]=baz' })));
    await assert.rejects(stage(request({ query: '' })));
  });

  test('stacked expressions: the first false one is reported', async () => {
    const { stage } = endpointStage([
      { check_expr: "req_method == 'GET'" },
      { check_expr: "req_path.startsWith('/nick')" },
    ]);
    await assert.rejects(stage(request({ path: '/other' })), /evaluator #1/);
    await stage(request({ path: '/nick/x' }));
  });

  // krakend-cel internal/cel.go parseByKey: an expression containing none of req, resp, JWT
  // belongs to no phase and is never evaluated
  test('the weekday example (no req/resp/JWT in its text) is never evaluated, as in KrakenD', () => {
    assert.equal(
      celModule.proxy(
        [{ check_expr: '(timestamp(now).getDayOfWeek() + 6) % 7 <= 4' }],
        ctxFor({ endpoint: { endpoint: '/e' } }),
      ),
      undefined,
    );
  });

  test('response checks: resp_data and resp_completed; a failing one answers 500 without data', async () => {
    // a backend's numbers are json.Number for krakend-cel: CEL strings, so int() reads them
    const { stage } = endpointStage(
      [{ check_expr: 'resp_completed && int(resp_data.user.id) > 10' }],
      {},
      { user: { id: 42 } },
    );
    assert.deepEqual((await stage(request())).data, { user: { id: 42 } });
    const low = endpointStage([{ check_expr: 'int(resp_data.user.id) > 100' }], {}, { user: { id: 42 } });
    const res = await low.stage(request());
    assert.equal(res.data, null);
    assert.equal(res.error.status, 500);
  });

  test('JWT-only expressions are left to auth/validator; errors count as false', async () => {
    assert.equal(
      celModule.proxy([{ check_expr: 'has(JWT.sub)' }], ctxFor({ endpoint: { endpoint: '/e' } })),
      undefined,
    );
    const { stage } = endpointStage([{ check_expr: "req_headers['Missing'][0] == 'x'" }]);
    await assert.rejects(stage(request()));
  });
});

describe('validation/cel: backend level', () => {
  test("'company' in resp_data.github, after the backend's group", async () => {
    const cel = [{ check_expr: "'company' in resp_data.github" }];
    const ok = backendStage(
      cel,
      { allow: ['name', 'company'], group: 'github' },
      { name: 'n', company: 'c', other: 1 },
    );
    const res = await ok.stage(breq());
    assert.deepEqual(res.data, { name: 'n', company: 'c', other: 1 }, 'the data itself is not modified');
    const missing = backendStage(cel, { allow: ['name', 'company'], group: 'github' }, { name: 'n' });
    await assert.rejects(missing.stage(breq()), /request aborted by evaluator #0/);
  });

  test('request checks run before the call; propagated claims are headers', async () => {
    const { stage, calls } = backendStage([{ check_expr: "size(req_headers['X-User-Id']) == 1" }]);
    await stage(breq({ headers: { 'X-User-Id': 'u1' } }));
    await assert.rejects(stage(breq({ headers: {} })));
    assert.equal(calls(), 1);
  });

  test('has(req_querystring.foo) reads the backend query; NEVER_CALLED_BACKEND never called', async () => {
    const q = backendStage([{ check_expr: 'has(req_querystring.foo)' }]);
    await q.stage(breq({ path: '/__debug/3?foo=A' }));
    await assert.rejects(q.stage(breq({ path: '/__debug/3' })));
    const never = backendStage([{ check_expr: 'has(req_params.NEVER_CALLED_BACKEND)' }]);
    await assert.rejects(never.stage(breq({ params: { id: '1' } })));
    assert.equal(never.calls(), 0);
  });

  test('resp_data.sequence2.message == "pong" with group', async () => {
    const { stage } = backendStage(
      [{ check_expr: "resp_data.sequence2.message == 'pong'" }],
      { group: 'sequence2' },
      { message: 'pong' },
    );
    await stage(breq());
  });
});

describe('validation/cel: compile', () => {
  test('phases by variable names; has(x[...]) rewritten', () => {
    const cel = [
      { check_expr: "req_method == 'GET'" },
      { check_expr: 'resp_completed' },
      { check_expr: 'has(JWT.a)' },
    ];
    assert.deepEqual(
      compileCelChecks(cel, 'req').map((c) => c.index),
      [0],
    );
    // proxy.go evalChecks numbers the evaluators within their phase
    assert.deepEqual(
      compileCelChecks(cel, 'resp').map((c) => c.index),
      [0],
    );
    assert.deepEqual(
      compileCelChecks(cel, 'jwt').map((c) => c.index),
      [0],
    );
    assert.equal(normaliseExpression("has(a.b['x y'])"), "('x y' in a.b)");
    // an undeclared variable fails krakend-cel's type check: the expression is skipped
    const skipped = [];
    assert.deepEqual(
      compileCelChecks([{ check_expr: 'req_x == 1' }], 'req', (m) => skipped.push(m)),
      [],
    );
    assert.match(skipped[0], /does not type-check/);
  });

  test('validate(): syntax errors with the path of check_expr', () => {
    const issues = celModule.validate(
      [{ check_expr: 'req_method ==' }, { nope: 1 }],
      '$.endpoints[0].extra_config["validation/cel"]',
      { version: 3 },
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      [
        '$.endpoints[0].extra_config["validation/cel"][0].check_expr',
        '$.endpoints[0].extra_config["validation/cel"][1]',
      ],
    );
  });
});
