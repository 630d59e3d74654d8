// A no-op endpoint (output_encoding and backend encoding no-op) on the one pipeline: what its
// backend receives (url_pattern filled, the query filtered, forwarded headers, the gateway's own
// lines) and what the client gets back (the backend's status, header lines and body; gw's
// X-Krakend lines; 500 when the backend fails), for backends that answer awkwardly: gzip, a
// redirect, a chunked body with two Set-Cookie lines, obs-text bytes in a header value, an error
// status, too slow, not there. Guards on the endpoint (rate limits), several hosts, front
// refusals, the access log and max_header_bytes too.
//
// The `--log-level DEBUG` log names each endpoint's choices. A backend request head is written
// from a template when the backend forwards no client header, else from the header map; a no-op
// answer's header lines go to the client as bytes when no middleware reads them (the backend's
// names keep their case: `X-Backend: yes`), else through a header map (names lower-cased:
// `x-backend: yes`). The header case is how these tests see which form served.
//
// GW_FRONT=uws|node|auto runs this file with `--front GW_FRONT` (gw's default otherwise).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { awkwardAnswer, ZIPPED_JSON } from './helpers/awkward-backend.mjs';
import { freePort, startBackend, startGateway } from './helpers/gateway.mjs';
import { rawGet, rawRequest } from './helpers/raw-http.mjs';

const ARGS = ['--workers', '1', ...(process.env.GW_FRONT ? ['--front', process.env.GW_FRONT] : [])];
const VERSION = 'KrakenD Version 0.1.0';

let api;
let other;
let apiHost;
let otherHost;
let gw;
let logged;
let limited;
let deadPort;

/** A no-op endpoint on the `api` backend (or `hosts`), with extra endpoint settings. */
function noop(endpoint, urlPattern, extra = {}, hosts = [api.url]) {
  return {
    endpoint,
    output_encoding: 'no-op',
    ...extra,
    backend: [{ host: hosts, url_pattern: urlPattern, encoding: 'no-op' }],
  };
}

function config() {
  const modified = noop('/backend-modified', '/store/modified');
  modified.backend[0].extra_config = {
    'modifier/martian': { 'header.Modifier': { scope: ['response'], name: 'X-Modified', value: '1' } },
  };
  return {
    version: 3,
    timeout: '300ms',
    extra_config: { router: { disable_access_log: true } },
    endpoints: [
      noop('/items/{id}', '/store/{id}', { input_query_strings: ['q'] }),
      noop('/teapot', '/teapot'),
      noop('/obs-text', '/obs-text'),
      noop('/chunked', '/chunked'),
      noop('/gzip', '/gzip'),
      noop('/moved', '/moved'),
      noop('/away', '/away'),
      noop('/slow', '/slow'),
      noop('/dead', '/x', {}, [`http://127.0.0.1:${deadPort}`]),
      noop('/forwarding', '/store/forwarding', { input_headers: ['X-Trace', 'User-Agent'] }),
      noop('/all-headers', '/store/all', { input_headers: ['*'] }),
      noop('/limited', '/store/limited', {
        extra_config: { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1m' } },
      }),
      noop('/per-user', '/store/per-user', {
        extra_config: {
          'qos/ratelimit/router': {
            client_max_rate: 1,
            client_capacity: 1,
            every: '1m',
            strategy: 'header',
            key: 'X-User',
          },
        },
      }),
      noop('/balanced', '/store/balanced', {}, [api.url, other.url]),
      noop('/gzip-forwarded', '/gzip', { input_headers: ['Accept-Encoding'] }),
      // A proxy-layer middleware that reads the answer.
      noop('/lua', '/store/lua', {
        extra_config: { 'modifier/lua-proxy': { post: 'local r = response.load()' } },
      }),
      // A backend-layer middleware that changes the answer's headers.
      modified,
    ],
  };
}

before(async () => {
  other = await startBackend((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ host: req.headers.host }));
  });
  api = await startBackend((req, res) => {
    const path = req.url.split('?')[0];
    if (path.startsWith('/store/')) {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('X-Backend', 'yes');
      res.setHeader('Cache-Control', 'max-age=5');
      res.end(JSON.stringify({ url: req.url, raw: req.rawHeaders }));
    } else if (path === '/teapot') {
      res.writeHead(418, { 'X-Teapot': 'short and stout', 'Content-Type': 'text/plain' });
      res.end('no coffee');
    } else if (path === '/obs-text') {
      // Node writes header values as latin1: the byte 0xE9.
      res.writeHead(200, { 'X-Name': 'caf\xe9', 'Content-Type': 'application/json' });
      res.end('{}');
    } else if (path === '/chunked') {
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.write('{"part":');
      setTimeout(() => res.end('2}'), 20);
    } else if (
      !awkwardAnswer(path, res, {
        redirectTo: '/store/after-redirect?x=1',
        elsewhere: `${other.url}/elsewhere`,
      })
    ) {
      res.statusCode = 404;
      res.end();
    }
  });
  apiHost = api.url.slice('http://'.length);
  otherHost = other.url.slice('http://'.length);
  deadPort = await freePort();
  gw = await startGateway(config(), { args: [...ARGS, '--log-level', 'DEBUG'] });
  logged = await startGateway(
    { ...config(), extra_config: { 'telemetry/logging': { level: 'INFO', stdout: true } } },
    { args: ARGS },
  );
  limited = await startGateway({ ...config(), max_header_bytes: 8192 }, { args: ARGS });
});

after(async () => {
  await gw?.stop();
  await logged?.stop();
  await limited?.stop();
  await api?.close();
  await other?.close();
});

/** What the gateway adds to a backend request after the forwarded headers, host last. */
function gatewayLines(host = apiHost) {
  return [
    'Accept-Encoding',
    'gzip',
    'X-Forwarded-For',
    '127.0.0.1',
    'X-Forwarded-Host',
    'gw.test',
    'host',
    host,
  ];
}

/** The answer's header lines but those the front writes itself: framing and uWS's own line. */
function own(answer) {
  return answer.headers.filter((l) => !/^(content-length|connection|uwebsockets):/i.test(l));
}

/**
 * The front's framing: one Content-Length for the bytes that came, no Transfer-Encoding, no
 * Keep-Alive, and a Connection line only to say `close` (the requests here ask for it).
 */
function assertFramed(answer) {
  const lengths = answer.headers.filter((l) => /^content-length:/i.test(l));
  assert.equal(lengths.length, 1, answer.headers.join(' | '));
  assert.equal(
    Number(lengths[0].slice(lengths[0].indexOf(':') + 1)),
    Buffer.byteLength(answer.body, 'latin1'),
  );
  assert.ok(
    !answer.headers.some((l) => /^(transfer-encoding|keep-alive):/i.test(l)),
    answer.headers.join(' | '),
  );
  for (const l of answer.headers.filter((h) => /^connection:/i.test(h)))
    assert.match(l, /^connection: close$/i);
}

/** gw's X-Krakend lines after a passed no-op answer's own (a no-op answer is never complete). */
const KRAKEND_LINES = ['X-Krakend: Version 0.1.0', 'X-Krakend-Completed: false'];
/** A failed no-op answer: gw's own lines through a header map, no body. */
const FAILED_LINES = ['x-krakend: Version 0.1.0', 'x-krakend-completed: false'];
/** The backend's header lines of a /store/… answer. */
const STORE_LINES = ['Content-Type: application/json', 'X-Backend: yes', 'Cache-Control: max-age=5'];

function get(path, extraLines = '') {
  return rawGet(gw.port, path, extraLines);
}

describe('a no-op endpoint: the backend answer passed on', () => {
  test('a param path, a filtered query, Content-Type forwarded: the request and the answer as they came', async () => {
    const answer = await get('/items/a%20b?q=1&drop=2', 'Content-Type: text/x\r\nUser-Agent: curl\r\n');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [...STORE_LINES, ...KRAKEND_LINES]);
    assertFramed(answer);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.url, '/store/a%20b?q=1');
    // The client's User-Agent is not forwarded (not in input_headers): gw's own takes its place.
    assert.deepEqual(seen.raw, ['Content-Type', 'text/x', 'User-Agent', VERSION, ...gatewayLines()]);
  });

  test("a backend's error status and its headers", async () => {
    const answer = await get('/teapot');
    assert.equal(answer.status, 418);
    assert.deepEqual(own(answer), [
      'X-Teapot: short and stout',
      'Content-Type: text/plain',
      ...KRAKEND_LINES,
    ]);
    assert.equal(answer.body, 'no coffee');
    assertFramed(answer);
  });

  test("a header value's obs-text byte (0xE9) passes as it came, as KrakenD's Go passes it", async () => {
    const answer = await get('/obs-text');
    assert.equal(answer.status, 200);
    // raw-http reads the head as latin1: one char 0xE9 is the byte as it came (UTF-8 would be two).
    assert.deepEqual(own(answer), ['X-Name: caf\xe9', 'Content-Type: application/json', ...KRAKEND_LINES]);
    assert.equal(answer.body, '{}');
  });

  test('a chunked answer with two Set-Cookie lines: both lines, the body whole with its length', async () => {
    const answer = await get('/chunked');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), ['Set-Cookie: a=1', 'Set-Cookie: b=2', ...KRAKEND_LINES]);
    assert.equal(answer.body, '{"part":2}');
    assertFramed(answer);
  });

  test('a gzip answer to the gzip the gateway asked for: undone, Content-Encoding dropped', async () => {
    const before = api.requests.length;
    const answer = await get('/gzip');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), ['Content-Type: application/json', ...KRAKEND_LINES]);
    assert.equal(answer.body, ZIPPED_JSON);
    assertFramed(answer);
    assert.equal(api.requests.slice(before)[0].headers['accept-encoding'], 'gzip');
  });

  test('a redirect followed on the same host, with a Referer', async () => {
    const answer = await get('/moved');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [...STORE_LINES, ...KRAKEND_LINES]);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.url, '/store/after-redirect?x=1');
    assert.deepEqual(seen.raw, [
      'User-Agent',
      VERSION,
      'Accept-Encoding',
      'gzip',
      'X-Forwarded-For',
      '127.0.0.1',
      'X-Forwarded-Host',
      'gw.test',
      'Referer',
      `${api.url}/moved`,
      'host',
      apiHost,
    ]);
  });

  test('a redirect followed to another host', async () => {
    const answer = await get('/away');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), ['Content-Type: application/json', ...KRAKEND_LINES]);
    assert.deepEqual(JSON.parse(answer.body), { host: otherHost });
  });

  test('a backend slower than the timeout: 500, X-Krakend-Completed: false, no body', async () => {
    const answer = await get('/slow');
    assert.equal(answer.status, 500);
    assert.deepEqual(own(answer), FAILED_LINES);
    assert.equal(answer.body, '');
  });

  test('a backend that refuses connections: 500, X-Krakend-Completed: false, no body', async () => {
    const answer = await get('/dead');
    assert.equal(answer.status, 500);
    assert.deepEqual(own(answer), FAILED_LINES);
    assert.equal(answer.body, '');
  });

  test('a GET with a body: the body reaches the backend with its length', async () => {
    const before = api.requests.length;
    const answer = await rawRequest(
      gw.port,
      'GET /items/7 HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [...STORE_LINES, ...KRAKEND_LINES]);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.url, '/store/7');
    assert.deepEqual(seen.raw, ['User-Agent', VERSION, ...gatewayLines(), 'content-length', '2']);
    assert.equal(api.requests.slice(before)[0].body.toString(), '{}');
  });

  test('forwarded headers: a repeated one joined, User-Agent forwarded (X-Forwarded-Via added), others not', async () => {
    const answer = await get(
      '/forwarding',
      'X-Trace: a\r\nX-Trace: b\r\nUser-Agent: curl\r\nContent-Type: text/x\r\nX-Other: no\r\n',
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [...STORE_LINES, ...KRAKEND_LINES]);
    assert.deepEqual(JSON.parse(answer.body).raw, [
      'X-Trace',
      'a, b',
      'User-Agent',
      'curl',
      'Content-Type',
      'text/x',
      'X-Forwarded-Via',
      VERSION,
      ...gatewayLines(),
    ]);
    const noContentType = await get('/forwarding', 'X-Trace: a\r\nX-Trace: b\r\nUser-Agent: curl\r\n');
    assert.deepEqual(JSON.parse(noContentType.body).raw, [
      'X-Trace',
      'a, b',
      'User-Agent',
      'curl',
      'X-Forwarded-Via',
      VERSION,
      ...gatewayLines(),
    ]);
  });

  test("forwarded headers the client did not send: only the gateway's own lines", async () => {
    const answer = await get('/forwarding');
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body), {
      url: '/store/forwarding',
      raw: ['User-Agent', VERSION, ...gatewayLines()],
    });
  });

  test('every header forwarded (*): hop-by-hop and X-Forwarded-* ones left out', async () => {
    const answer = await get(
      '/all-headers',
      'Cookie: c=1\r\nX-Forwarded-For: 10.0.0.1\r\nAccept-Encoding: br\r\nX-Trace: t\r\nUser-Agent: curl\r\n',
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [...STORE_LINES, ...KRAKEND_LINES]);
    // The client's Accept-Encoding is forwarded in its place: gw asks for no gzip of its own.
    assert.deepEqual(JSON.parse(answer.body).raw, [
      'Cookie',
      'c=1',
      'Accept-Encoding',
      'br',
      'X-Trace',
      't',
      'User-Agent',
      'curl',
      'X-Forwarded-Via',
      VERSION,
      'X-Forwarded-For',
      '127.0.0.1',
      'X-Forwarded-Host',
      'gw.test',
      'host',
      apiHost,
    ]);
  });

  test('Accept-Encoding forwarded: the gzip answer passes compressed', async () => {
    const answer = await get('/gzip-forwarded', 'Accept-Encoding: gzip\r\n');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [
      'Content-Type: application/json',
      'Content-Encoding: gzip',
      ...KRAKEND_LINES,
    ]);
    assertFramed(answer);
    assert.equal(zlib.gunzipSync(Buffer.from(answer.body, 'latin1')).toString(), ZIPPED_JSON);
  });

  test('Accept-Encoding forwarded but not sent: gzip asked for and undone', async () => {
    const answer = await get('/gzip-forwarded');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), ['Content-Type: application/json', ...KRAKEND_LINES]);
    assert.equal(answer.body, ZIPPED_JSON);
  });

  test('rate limits: admissions and refusals in order, refused requests never reach the backend', async () => {
    const sequence = [
      ['/limited', ''],
      ['/limited', ''],
      ['/limited', ''],
      ['/per-user', 'X-User: a\r\n'],
      ['/per-user', 'X-User: a\r\n'],
      ['/per-user', 'X-User: b\r\n'],
      // no key: refused
      ['/per-user', ''],
      // a repeated key header is one key, "c, d": not the one of `X-User: c`
      ['/per-user', 'X-User: c\r\nX-User: d\r\n'],
      ['/per-user', 'X-User: c\r\n'],
    ];
    const before = api.requests.length;
    const answers = [];
    for (const [path, lines] of sequence) answers.push(await get(path, lines));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 503, 200, 429, 200, 429, 200, 200],
    );
    for (const a of answers.filter((x) => x.status === 200))
      assert.deepEqual(own(a), [...STORE_LINES, ...KRAKEND_LINES]);
    for (const a of answers.filter((x) => x.status !== 200)) assert.equal(a.body, '');
    assert.deepEqual(
      api.requests.slice(before).map((r) => r.url),
      [
        '/store/limited',
        '/store/limited',
        '/store/per-user',
        '/store/per-user',
        '/store/per-user',
        '/store/per-user',
      ],
    );
  });

  test('several hosts: taken in round-robin order', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await get('/balanced'));
    assert.deepEqual(
      answers.map((a) => JSON.parse(a.body).host ?? 'api'),
      ['api', otherHost, 'api', otherHost],
    );
    assert.deepEqual(own(answers[0]), [...STORE_LINES, ...KRAKEND_LINES]);
    assert.deepEqual(own(answers[1]), ['Content-Type: application/json', ...KRAKEND_LINES]);
  });

  test('a control byte in a header value is refused at the front (400), before any backend call', async () => {
    const before = api.requests.length;
    for (const request of [
      'GET /items/1 HTTP/1.1\r\nHost: gw\x7ftest\r\nConnection: close\r\n\r\n',
      'GET /forwarding HTTP/1.1\r\nHost: gw.test\r\nX-Trace: a\x7fb\r\nConnection: close\r\n\r\n',
    ]) {
      const answer = await rawRequest(gw.port, request);
      assert.equal(answer.status, 400, JSON.stringify(request));
    }
    assert.equal(api.requests.length, before);
  });

  test('the access log records what was served', async () => {
    const answer = await rawGet(logged.port, '/items/9?q=2');
    assert.equal(answer.status, 200);
    assert.deepEqual(own(answer), [...STORE_LINES, ...KRAKEND_LINES]);
    const out = await logged.waitForLog(/"\/items\/9\?q=2"/);
    assert.match(out, /\| 200 \|.*\| +127\.0\.0\.1 \| GET +"\/items\/9\?q=2"/);
  });

  test('max_header_bytes 8192: a 16,000-byte header is refused with 431; without it, served', async () => {
    const big = `X-Big: ${'a'.repeat(16000)}\r\n`;
    assert.equal((await rawGet(limited.port, '/items/1', big)).status, 431);
    const small = await rawGet(limited.port, '/items/1');
    assert.equal(small.status, 200);
    assert.deepEqual(own(small), [...STORE_LINES, ...KRAKEND_LINES]);
    assert.equal((await get('/items/1', big)).status, 200);
  });

  test('the -d log names how each endpoint serves, and the answers and backend requests agree', async () => {
    const logs = await gw.waitForLog(/\[ENDPOINT: GET \/backend-modified\] pipeline: /);
    const pipeline = (endpoint) => {
      const at = logs.indexOf(`[ENDPOINT: GET ${endpoint}] pipeline: `);
      assert.ok(at >= 0, `no pipeline line for ${endpoint}:\n${logs}`);
      return logs.slice(at, logs.indexOf('"', at));
    };

    // No middleware: the head from a template, the answer's header lines passed as bytes.
    assert.match(
      pipeline('/items/{id}'),
      /proxy: -; core: no-op: the backend answer passed on; backend\[0\]: GET \/store\/\{id\}, the call, head from a template, answer head passed as bytes; render: the backend's header lines as bytes$/,
    );
    const item = await get('/items/3', 'X-Trace: t\r\n');
    assert.deepEqual(own(item), [...STORE_LINES, ...KRAKEND_LINES]);
    assert.deepEqual(JSON.parse(item.body).raw, ['User-Agent', VERSION, ...gatewayLines()]);

    // A forwarded client header: the head from the header map; the answer still passed as bytes.
    assert.match(
      pipeline('/forwarding'),
      /backend\[0\]: GET \/store\/forwarding, the call, head from the header map, answer head passed as bytes; render: the backend's header lines as bytes$/,
    );
    const forwarded = await get('/forwarding', 'X-Trace: t\r\n');
    assert.deepEqual(own(forwarded), [...STORE_LINES, ...KRAKEND_LINES]);
    assert.deepEqual(JSON.parse(forwarded.body).raw, [
      'X-Trace',
      't',
      'User-Agent',
      VERSION,
      ...gatewayLines(),
    ]);
    // The guard keeps the answer as bytes.
    assert.match(
      pipeline('/limited'),
      /endpoint: 1 guard; proxy: -; .*render: the backend's header lines as bytes$/,
    );

    // A proxy-layer middleware reads the answer: a header map, names lower-cased.
    assert.match(
      pipeline('/lua'),
      /proxy: 1 promise middleware; .*backend\[0\]: GET \/store\/lua, the call, head from a template, answer head read into a map; render: a header map$/,
    );
    const lua = await get('/lua', 'X-Trace: t\r\n');
    assert.equal(lua.status, 200);
    assert.deepEqual(own(lua), [
      'content-type: application/json',
      'x-backend: yes',
      'cache-control: max-age=5',
      'x-krakend: Version 0.1.0',
      'x-krakend-completed: false',
    ]);
    assert.deepEqual(JSON.parse(lua.body).raw, ['User-Agent', VERSION, ...gatewayLines()]);

    // A backend-layer middleware changes the answer's headers: a header map too.
    const modified = await get('/backend-modified');
    assert.equal(modified.status, 200);
    assert.ok(modified.headers.includes('x-backend: yes'), modified.headers.join(' | '));
    assert.ok(modified.headers.includes('x-modified: 1'), modified.headers.join(' | '));
    assert.match(
      pipeline('/backend-modified'),
      /backend\[0\]: GET \/store\/modified, through the backend middlewares, head from the header map, answer head read into a map; render: a header map$/,
    );
  });

  test('the gateway keeps serving after the failures', async () => {
    assert.equal((await get('/items/2')).status, 200);
  });
});
