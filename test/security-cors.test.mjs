// security/cors, from the CORS page (rs/cors semantics): preflight, origins with *, methods,
// headers, expose, credentials, max_age, Vary.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { corsModule } from '../dist/security/cors.js';
import { ctxFor, okStage, request } from './fixtures/security/unit.mjs';

const docsExample = {
  allow_origins: ['*'],
  allow_methods: ['GET', 'HEAD', 'POST'],
  expose_headers: ['Content-Length', 'Content-Type'],
  allow_headers: ['Accept-Language'],
  max_age: '12h',
  allow_credentials: false,
  debug: false,
};

function cors(cfg) {
  const next = okStage();
  return { stage: corsModule.service(cfg, ctxFor({ path: '$.extra_config["security/cors"]' }))(next), next };
}

const preflight = (origin, method, headers) =>
  request({
    method: 'OPTIONS',
    path: '/anything',
    headers: {
      origin,
      'access-control-request-method': method,
      ...(headers ? { 'access-control-request-headers': headers } : {}),
    },
  });

describe('security/cors', () => {
  test('docs example: preflight answered by the gateway with 204 and the allow headers', async () => {
    const { stage, next } = cors(docsExample);
    const res = await stage(preflight('https://www.domain.com', 'POST', 'accept-language'));
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-methods'], 'POST');
    assert.equal(res.headers['access-control-allow-headers'], 'accept-language');
    assert.equal(res.headers['access-control-max-age'], '43200');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    assert.equal(next.seen.length, 0, 'preflights never reach the endpoint');
  });

  test('preflight with a method or header not allowed: no allow headers', async () => {
    const { stage } = cors(docsExample);
    const put = await stage(preflight('https://a.com', 'PUT'));
    assert.equal(put.status, 204);
    assert.equal(put.headers['access-control-allow-origin'], undefined);
    const hdr = await stage(preflight('https://a.com', 'GET', 'X-Custom'));
    assert.equal(hdr.headers['access-control-allow-origin'], undefined);
  });

  test('actual request: Vary: Origin always; allow-origin and expose headers when allowed', async () => {
    const { stage, next } = cors(docsExample);
    const res = await stage(request({ headers: { origin: 'https://www.domain.com' } }));
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-expose-headers'], 'Content-Length, Content-Type');
    assert.equal(res.headers.vary, 'Origin');
    const noOrigin = await stage(request());
    assert.equal(noOrigin.headers.vary, 'Origin');
    assert.equal(noOrigin.headers['access-control-allow-origin'], undefined);
    const del = await stage(request({ method: 'DELETE', headers: { origin: 'https://x.com' } }));
    assert.equal(del.headers['access-control-allow-origin'], undefined);
    assert.equal(next.seen.length, 3);
  });

  test('listed origins (case-insensitive, one * wildcard), credentials echo the origin', async () => {
    const { stage } = cors({
      allow_origins: ['https://app.example.com', 'https://*.example.org'],
      allow_credentials: true,
    });
    const ok = await stage(request({ headers: { origin: 'https://APP.example.com' } }));
    assert.equal(ok.headers['access-control-allow-origin'], 'https://APP.example.com');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    const wild = await stage(request({ headers: { origin: 'https://a.b.example.org' } }));
    assert.equal(wild.headers['access-control-allow-origin'], 'https://a.b.example.org');
    for (const bad of ['https://evil.com', 'https://example.org', 'http://app.example.com', 'null']) {
      const r = await stage(request({ headers: { origin: bad } }));
      assert.equal(r.headers['access-control-allow-origin'], undefined, bad);
    }
  });

  test('defaults: all origins, GET/POST/HEAD, simple headers; max_age absent → no header', async () => {
    const { stage } = cors({});
    const res = await stage(preflight('https://a.com', 'GET', 'Content-Type, X-Requested-With'));
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-headers'], 'Content-Type, X-Requested-With');
    assert.equal(res.headers['access-control-max-age'], undefined);
    assert.equal(
      (await stage(preflight('https://a.com', 'PATCH'))).headers['access-control-allow-origin'],
      undefined,
    );
  });

  test('allow_headers "*" accepts any requested header; OPTIONS without request-method is not a preflight', async () => {
    const { stage, next } = cors({ allow_headers: ['*'] });
    const res = await stage(preflight('https://a.com', 'GET', 'X-Anything, Authorization'));
    assert.equal(res.headers['access-control-allow-headers'], 'X-Anything, Authorization');
    const plainOptions = await stage(request({ method: 'OPTIONS', headers: { origin: 'https://a.com' } }));
    assert.equal(plainOptions.status, 200);
    assert.equal(next.seen.length, 1);
  });

  test('options_passthrough and options_success_status', async () => {
    const pass = cors({ options_passthrough: true });
    const r = await pass.stage(preflight('https://a.com', 'GET'));
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(pass.next.seen.length, 1);
    const ok200 = cors({ options_success_status: 200 });
    assert.equal((await ok200.stage(preflight('https://a.com', 'GET'))).status, 200);
  });

  // rs/cors handleActualRequest sets Vary: Origin before the handler adds the answer's own Vary
  test('Vary from the response is kept, after Origin', async () => {
    const stage = corsModule.service(
      {},
      ctxFor({}),
    )(async () => ({ status: 200, headers: { vary: 'Accept-Encoding' }, body: '' }));
    assert.equal(
      (await stage(request({ headers: { origin: 'https://a.com' } }))).headers.vary,
      'Origin, Accept-Encoding',
    );
  });

  test('validate(): paths and messages', () => {
    const issues = corsModule.validate(
      { allow_origins: 'x', max_age: 'soon', options_success_status: 500 },
      '$.extra_config["security/cors"]',
      { version: 3 },
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      [
        '$.extra_config["security/cors"].allow_origins',
        '$.extra_config["security/cors"].max_age',
        '$.extra_config["security/cors"].options_success_status',
      ],
    );
    // Go's time.ParseDuration takes no white space: krakend-cors would drop such a max_age.
    assert.deepEqual(
      corsModule
        .validate({ max_age: ' 12h' }, '$.extra_config["security/cors"]', { version: 3 })
        .map((i) => i.path),
      ['$.extra_config["security/cors"].max_age'],
    );
    // KrakenD CE reads CORS at the root only: at an endpoint it is ignored, with a warning.
    const atEndpoint = '$.endpoints[0].extra_config["security/cors"]';
    assert.deepEqual(corsModule.validate({}, atEndpoint, { version: 3 }), [
      {
        path: atEndpoint,
        message: 'security/cors is read in the root extra_config only (ignored here, as in KrakenD CE)',
        severity: 'warning',
      },
    ]);
  });
});
