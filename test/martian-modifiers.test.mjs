// modifier/martian: every example of the "Martian" page, on compiled modifiers (unit) and
// through the real gateway against an echo backend (like KrakenD's /__echo).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileMartian, compileRe2, validateMartian } from '../dist/modifiers/martian.js';
import { get, startBackend, startGateway } from './helpers/gateway.mjs';

const BASE = new URL('http://localhost:8080');

function breq(path, headers = {}, body = null) {
  return {
    method: 'GET',
    path,
    headers: { 'User-Agent': 'KrakenD Version 2', ...headers },
    body,
    params: {},
    origin: { headers: {} },
    deadline: 0,
  };
}

function run(cfg, req) {
  const m = compileMartian(cfg, '$.m');
  return m.request ? m.request(req, BASE) : req;
}

describe('martian modifiers (unit)', () => {
  test('header.Modifier, header.Append, header.Copy, header.Blacklist, header.Id', () => {
    const r = breq('/x', { 'X-Some': 'a', 'X-Forwarded-For': '1.2.3.4' });
    assert.equal(
      run(
        { 'header.Modifier': { scope: ['request'], name: 'User-Agent', value: 'Late-Night-Commander v2.3' } },
        r,
      ).headers['User-Agent'],
      'Late-Night-Commander v2.3',
    );
    assert.equal(
      run({ 'header.Append': { scope: ['request'], name: 'X-Some', value: 'I am' } }, r).headers['X-Some'],
      'a, I am',
    );
    assert.equal(
      run({ 'header.Copy': { scope: ['request'], from: 'User-Agent', to: 'X-Browser' } }, r).headers[
        'X-Browser'
      ],
      'KrakenD Version 2',
    );
    const bl = run(
      { 'header.Blacklist': { scope: ['request'], names: ['X-Some', 'User-Agent', 'X-Forwarded-For'] } },
      r,
    ).headers;
    assert.deepEqual(bl, {});
    const id = run({ 'header.Id': { scope: ['request'], header: 'X-Request-Id' } }, r).headers[
      'X-Request-Id'
    ];
    assert.match(id, /^[0-9a-f-]{36}$/);
    const kept = run({ 'header.Id': { scope: ['request'] } }, breq('/x', { 'X-Krakend-Id': 'mine' })).headers[
      'X-Krakend-Id'
    ];
    assert.equal(kept, 'mine');
    assert.equal(r.headers['X-Some'], 'a', 'the input request is not mutated');
  });

  test('querystring.Modifier sets one key and re-encodes sorted (Go url.Values)', () => {
    const out = run(
      { 'querystring.Modifier': { scope: ['request'], name: 'amount', value: '75' } },
      breq('/q?currency=EUR&amount=55'),
    );
    assert.equal(out.path, '/q?amount=75&currency=EUR');
  });

  test('url.Modifier and port.Modifier give an absolute URL; stash.Modifier stashes it', () => {
    const url = run(
      {
        'url.Modifier': {
          scope: ['request'],
          scheme: 'http',
          host: 'localhost:8080',
          path: '/__echo/hello',
          query: 'flag=true',
        },
      },
      breq('/neither'),
    );
    assert.equal(url.path, 'http://localhost:8080/__echo/hello?flag=true');
    const port = run({ 'port.Modifier': { scope: ['request'], port: 9999 } }, breq('/p?a=1'));
    assert.equal(port.path, 'http://localhost:9999/p?a=1');
    const stash = run(
      { 'stash.Modifier': { scope: ['request'], headerName: 'X-Stash' } },
      breq('/s?amount=1'),
    );
    assert.equal(stash.headers['X-Stash'], 'http://localhost:8080/s?amount=1');
    assert.equal(stash.path, '/s?amount=1');
  });

  test('body.Modifier (base64) and cookie.Modifier', () => {
    const body = run(
      {
        'body.Modifier': {
          scope: ['request'],
          body: 'eyJtc2ciOiJ5b3Ugcm9jayEifQ==',
          contentType: 'application/json',
        },
      },
      breq('/b', { 'Content-Encoding': 'gzip' }),
    );
    assert.equal(body.body.toString(), '{"msg":"you rock!"}');
    assert.equal(body.headers['Content-Type'], 'application/json');
    assert.equal(body.headers['Content-Encoding'], undefined);
    const cfg = {
      'cookie.Modifier': {
        scope: ['request', 'response'],
        name: 'AcceptCookies',
        value: 'yes',
        path: '/some/path',
        domain: 'example.com',
        expires: '2025-04-12T23:20:50.52Z',
        secure: true,
        httpOnly: false,
        maxAge: 86400,
      },
    };
    assert.equal(run(cfg, breq('/c', { Cookie: 'a=b' })).headers.Cookie, 'a=b; AcceptCookies=yes');
    const m = compileMartian(cfg, '$.m');
    const res = m.response({ status: 200, headers: {}, body: Buffer.alloc(0) }, breq('/c'), BASE);
    assert.equal(
      res.headers['set-cookie'],
      'AcceptCookies=yes; Path=/some/path; Domain=example.com; Expires=Sat, 12 Apr 2025 23:20:50 GMT; Max-Age=86400; Secure',
    );
  });

  test('filters: header, header regex, cookie, url, url regex, querystring, port (with else)', () => {
    const set = (name, value) => ({ 'header.Modifier': { scope: ['request'], name, value } });
    const headerFilter = {
      'header.Filter': {
        scope: ['request'],
        name: 'X-Tenant',
        value: 'v1',
        modifier: { 'querystring.Modifier': { scope: ['request'], name: 'legacy', value: '1' } },
      },
    };
    assert.equal(run(headerFilter, breq('/h', { 'X-Tenant': 'v1' })).path, '/h?legacy=1');
    assert.equal(run(headerFilter, breq('/h', { 'X-Tenant': 'v2' })).path, '/h');
    const regex = {
      'header.RegexFilter': {
        scope: ['request'],
        header: 'X-App-Version',
        regex: '.*-(alpha|beta|preview)$',
        modifier: { 'querystring.Modifier': { scope: ['request'], name: 'testing', value: '1' } },
      },
    };
    assert.equal(run(regex, breq('/r', { 'X-App-Version': 'v1.2.3-alpha' })).path, '/r?testing=1');
    assert.equal(run(regex, breq('/r', { 'X-App-Version': 'v1.2.3' })).path, '/r');
    const cookie = {
      'cookie.Filter': {
        scope: ['request'],
        name: 'marketingCookies',
        value: 'yes',
        modifier: set('Accepts-Marketing-Cookies', 'true'),
        else: set('Accepts-Marketing-Cookies', 'false'),
      },
    };
    assert.equal(
      run(cookie, breq('/c', { Cookie: 'marketingCookies=no;' })).headers['Accepts-Marketing-Cookies'],
      'false',
    );
    assert.equal(
      run(cookie, breq('/c', { Cookie: 'x=1; marketingCookies=yes' })).headers['Accepts-Marketing-Cookies'],
      'true',
    );
    const url = {
      'url.Filter': {
        scope: ['request', 'response'],
        query: 'legacy=1',
        modifier: set('X-Legacy', 'true'),
        else: set('X-Legacy', 'false'),
      },
    };
    assert.equal(run(url, breq('/u?legacy=1')).headers['X-Legacy'], 'true');
    assert.equal(run(url, breq('/u')).headers['X-Legacy'], 'false');
    const urlRe = {
      'url.RegexFilter': {
        scope: ['request'],
        regex: '.*localhost.*',
        modifier: set('Is-Localhost', 'true'),
        else: set('Is-Localhost', 'false'),
      },
    };
    assert.equal(run(urlRe, breq('/x')).headers['Is-Localhost'], 'true');
    const qs = {
      'querystring.Filter': {
        scope: ['request'],
        name: 'param',
        value: 'true',
        modifier: set('X-Passed-Param', 'true'),
      },
    };
    assert.equal(run(qs, breq('/q?param=true')).headers['X-Passed-Param'], 'true');
    assert.equal(run(qs, breq('/q?param=false')).headers['X-Passed-Param'], undefined);
    const port = {
      'port.Filter': {
        scope: ['request'],
        port: 8080,
        modifier: { 'port.Modifier': { scope: ['request'], port: 1234 } },
      },
    };
    assert.equal(run(port, breq('/p')).path, 'http://localhost:1234/p');
  });

  test('a filter only runs in its own scope; modifiers only in theirs', () => {
    const respOnly = { 'header.Modifier': { scope: ['response'], name: 'X-R', value: '1' } };
    assert.equal(run(respOnly, breq('/x')).headers['X-R'], undefined);
    const filterRespOnly = {
      'header.Filter': {
        scope: ['response'],
        name: 'X-A',
        modifier: { 'header.Modifier': { scope: ['request'], name: 'X-B', value: '1' } },
      },
    };
    assert.equal(run(filterRespOnly, breq('/x', { 'X-A': '1' })).headers['X-B'], undefined);
  });

  test('fifo.Group in order, priority.Group by priority (highest first)', () => {
    const fifo = {
      'fifo.Group': {
        scope: ['request', 'response'],
        aggregateErrors: true,
        modifiers: [
          { 'body.Modifier': { scope: ['request'], body: 'eyJtc2ciOiJ5b3Ugcm9jayEifQ==' } },
          { 'header.Modifier': { scope: ['request', 'response'], name: 'X-Martian', value: 'true' } },
          { 'header.Append': { scope: ['request'], name: 'X-Martian', value: 'again' } },
        ],
      },
    };
    const out = run(fifo, breq('/f'));
    assert.equal(out.body.toString(), '{"msg":"you rock!"}');
    assert.equal(out.headers['X-Martian'], 'true, again');
    const res = compileMartian(fifo, '$').response(
      { status: 200, headers: {}, body: Buffer.alloc(0) },
      breq('/f'),
      BASE,
    );
    assert.equal(res.headers['x-martian'], 'true');
    const prio = {
      'priority.Group': {
        scope: ['request', 'response'],
        modifiers: [
          {
            priority: 0,
            modifier: { 'header.Append': { scope: ['request'], name: 'X-Order', value: 'zero' } },
          },
          {
            priority: 100,
            modifier: { 'header.Append': { scope: ['request'], name: 'X-Order', value: 'hundred' } },
          },
        ],
      },
    };
    assert.equal(run(prio, breq('/p')).headers['X-Order'], 'hundred, zero');
  });

  test('config errors come back with JSON paths', () => {
    assert.deepEqual(
      validateMartian({ 'header.Modifier': { scope: ['request'], name: 'X', value: 'y' } }, '$.m'),
      [],
    );
    const unknown = validateMartian({ 'nope.Modifier': {} }, '$.m');
    assert.equal(unknown[0].path, '$.m["nope.Modifier"]');
    assert.match(unknown[0].message, /unknown martian component/);
    const two = validateMartian({ 'header.Modifier': {}, 'header.Append': {} }, '$.m');
    assert.match(two[0].message, /exactly one/);
    const scope = validateMartian({ 'header.Modifier': { scope: ['both'], name: 'X', value: 'y' } }, '$.m');
    assert.equal(scope[0].path, '$.m["header.Modifier"].scope');
    const nested = validateMartian(
      { 'fifo.Group': { scope: ['request'], modifiers: [{ 'header.Modifier': { scope: ['request'] } }] } },
      '$.m',
    );
    assert.equal(nested[0].path, '$.m["fifo.Group"].modifiers[0]["header.Modifier"].name');
    const re = validateMartian(
      {
        'url.RegexFilter': {
          scope: ['request'],
          regex: '(',
          modifier: { 'header.Modifier': { name: 'a', value: 'b' } },
        },
      },
      '$.m',
    );
    assert.equal(re[0].path, '$.m["url.RegexFilter"].regex');
    assert.equal(compileRe2('(?i)^abc$', '$').test('ABC'), true);
  });
});

describe('martian end to end (docs examples)', () => {
  let echo;
  let gw;

  before(async () => {
    echo = await startBackend((req, res, body) => {
      const headers = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i].replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
        headers[k] ??= [];
        headers[k].push(req.rawHeaders[i + 1]);
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-backend': 'echo',
        'set-cookie': 'backend=1',
      });
      res.end(
        JSON.stringify({
          req_uri: req.url,
          req_method: req.method,
          req_headers: headers,
          req_body: body.toString(),
        }),
      );
    });
    const host = [echo.url];
    const martian = (endpoint, cfg, extra = {}, backendExtra = {}) => ({
      endpoint,
      ...extra,
      backend: [
        {
          host,
          url_pattern: `/__echo${endpoint}`,
          ...backendExtra,
          extra_config: { 'modifier/martian': cfg },
        },
      ],
    });
    gw = await startGateway({
      version: 3,
      host,
      endpoints: [
        martian('/test/body.Modifier', {
          'body.Modifier': {
            scope: ['request', 'response'],
            body: 'eyJtc2ciOiJ5b3Ugcm9jayEifQ==',
            contentType: 'application/json',
          },
        }),
        martian(
          '/test/querystring.Modifier',
          { 'querystring.Modifier': { scope: ['request'], name: 'amount', value: '75' } },
          { input_query_strings: ['currency', 'amount'] },
          { allow: ['req_uri'] },
        ),
        martian(
          '/test/url.Modifier',
          {
            'url.Modifier': {
              scope: ['request'],
              scheme: 'http',
              host: new URL(echo.url).host,
              path: '/__echo/hello',
              query: 'flag=true',
            },
          },
          {},
          { host: ['http://does-not-exist.invalid'], url_pattern: '/neither', allow: ['req_uri'] },
        ),
        martian(
          '/test/header.Copy',
          { 'header.Copy': { scope: ['request', 'response'], from: 'User-Agent', to: 'X-Browser' } },
          { output_encoding: 'no-op' },
        ),
        martian(
          '/test/header.Modifier',
          {
            'header.Modifier': {
              scope: ['request', 'response'],
              name: 'User-Agent',
              value: 'Late-Night-Commander v2.3',
            },
          },
          { output_encoding: 'no-op' },
        ),
        martian(
          '/test/header.Blacklist',
          {
            'header.Blacklist': {
              scope: ['request', 'response'],
              names: ['X-Some', 'User-Agent', 'X-Forwarded-Host', 'X-Forwarded-For', 'X-Backend'],
            },
          },
          { output_encoding: 'no-op', input_headers: ['X-Some'] },
        ),
        martian(
          '/test/cookie.Modifier',
          {
            'cookie.Modifier': {
              scope: ['request', 'response'],
              name: 'AcceptCookies',
              value: 'yes',
              path: '/some/path',
              maxAge: 86400,
            },
          },
          { output_encoding: 'no-op' },
          { encoding: 'no-op' },
        ),
        martian(
          '/test/cookie.Filter',
          {
            'cookie.Filter': {
              scope: ['request'],
              name: 'marketingCookies',
              value: 'yes',
              modifier: {
                'header.Modifier': { scope: ['request'], name: 'Accepts-Marketing-Cookies', value: 'true' },
              },
              else: {
                'header.Modifier': { scope: ['request'], name: 'Accepts-Marketing-Cookies', value: 'false' },
              },
            },
          },
          { input_headers: ['Cookie'] },
          { allow: ['req_headers.Accepts-Marketing-Cookies'] },
        ),
        martian(
          '/test/header.Filter',
          {
            'header.Filter': {
              scope: ['request'],
              name: 'X-Tenant',
              value: 'v1',
              modifier: { 'querystring.Modifier': { scope: ['request'], name: 'legacy', value: '1' } },
            },
          },
          { input_headers: ['X-Tenant'] },
          { allow: ['req_uri'] },
        ),
        martian(
          '/test/priority.Group',
          {
            'priority.Group': {
              scope: ['request', 'response'],
              modifiers: [
                {
                  priority: 0,
                  modifier: { 'querystring.Modifier': { scope: ['request'], name: 'first', value: '0' } },
                },
                {
                  priority: 100,
                  modifier: { 'querystring.Modifier': { scope: ['request'], name: 'last', value: '100' } },
                },
              ],
            },
          },
          {},
          { allow: ['req_uri'] },
        ),
        martian(
          '/test/port.Modifier',
          { 'port.Modifier': { scope: ['request'], port: Number(new URL(echo.url).port) } },
          {},
          { host: ['http://127.0.0.1:1'], allow: ['req_uri'] },
        ),
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await echo?.close();
  });

  test('body.Modifier in request and response (data re-decoded)', async () => {
    const r = await get(`${gw.url}/test/body.Modifier`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { msg: 'you rock!' });
    assert.equal(echo.requests.at(-1).body.toString(), '{"msg":"you rock!"}');
    assert.equal(echo.requests.at(-1).headers['content-type'], 'application/json');
  });

  test('querystring.Modifier (docs output)', async () => {
    const r = await get(`${gw.url}/test/querystring.Modifier?currency=EUR&amount=55`);
    assert.deepEqual(r.json, { req_uri: '/__echo/test/querystring.Modifier?amount=75&currency=EUR' });
  });

  test('url.Modifier sends the request elsewhere', async () => {
    const r = await get(`${gw.url}/test/url.Modifier`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { req_uri: '/__echo/hello?flag=true' });
  });

  test('port.Modifier switches the port', async () => {
    const r = await get(`${gw.url}/test/port.Modifier`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { req_uri: '/__echo/test/port.Modifier' });
  });

  test('header.Copy / header.Modifier / header.Blacklist in both directions (no-op)', async () => {
    const copy = await get(`${gw.url}/test/header.Copy`);
    assert.deepEqual(copy.json.req_headers['X-Browser'], [copy.json.req_headers['User-Agent'][0]]);
    const mod = await get(`${gw.url}/test/header.Modifier`);
    assert.deepEqual(mod.json.req_headers['User-Agent'], ['Late-Night-Commander v2.3']);
    assert.equal(mod.headers.get('user-agent'), 'Late-Night-Commander v2.3');
    const bl = await get(`${gw.url}/test/header.Blacklist`, { headers: { 'X-Some': 'secret' } });
    assert.equal(bl.json.req_headers['X-Some'], undefined);
    assert.equal(bl.json.req_headers['X-Forwarded-For'], undefined);
    assert.equal(bl.headers.get('x-backend'), null);
  });

  test('cookie.Modifier sets the cookie on the request and on the no-op response', async () => {
    const r = await get(`${gw.url}/test/cookie.Modifier`);
    assert.deepEqual(r.json.req_headers.Cookie, ['AcceptCookies=yes']);
    assert.deepEqual(r.headers.getSetCookie(), [
      'backend=1',
      'AcceptCookies=yes; Path=/some/path; Max-Age=86400',
    ]);
  });

  test('cookie.Filter with else (docs output)', async () => {
    const no = await get(`${gw.url}/test/cookie.Filter`, { headers: { Cookie: 'marketingCookies=no;' } });
    assert.deepEqual(no.json, { req_headers: { 'Accepts-Marketing-Cookies': ['false'] } });
    const yes = await get(`${gw.url}/test/cookie.Filter`, { headers: { Cookie: 'marketingCookies=yes' } });
    assert.deepEqual(yes.json, { req_headers: { 'Accepts-Marketing-Cookies': ['true'] } });
  });

  test('header.Filter (docs output)', async () => {
    const r = await get(`${gw.url}/test/header.Filter`, { headers: { 'X-Tenant': 'v1' } });
    assert.deepEqual(r.json, { req_uri: '/__echo/test/header.Filter?legacy=1' });
  });

  test('priority.Group', async () => {
    const r = await get(`${gw.url}/test/priority.Group`);
    assert.deepEqual(r.json, { req_uri: '/__echo/test/priority.Group?first=0&last=100' });
  });
});
