// The pass-through lane (src/proxy/passthrough-lane.ts) serves plain no-op GETs without header
// maps. It must answer as the header-map path does and send the backend the same request. The
// same config is served twice: as is (lane) and with router.forwarded_by_client_ip (a
// service-wide rule that turns the lane and the direct stage off). Every answer is compared on
// the wire, and so is every request the backends receive. The lane writes the backend's header
// names in the backend's case, where the header-map path writes them lower-case: that is how the
// tests see which path answered.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { freePort, startBackend, startGateway } from './helpers/gateway.mjs';
import { laneTestAnswer } from './helpers/lane-backend.mjs';
import { rawGet, rawRequest } from './helpers/raw-http.mjs';

// The lanes exist on the uWS front only.
const UWS = ['--workers', '1', '--front', 'uws'];
const UWS_DEBUG = [...UWS, '--log-level', 'DEBUG'];

let api;
let other;
let lane;
let layered;
let logged;
let limited;
let deadPort;

function getRaw(gw, path, extraLines = '') {
  return rawGet(gw.port, path, extraLines);
}

/** The answer with header names lower-cased: what a client may rely on. */
function normalized(answer) {
  return {
    status: answer.status,
    headers: answer.headers.map((l) => {
      const colon = l.indexOf(':');
      return `${l.slice(0, colon).toLowerCase()}:${l.slice(colon + 1).trim()}`;
    }),
    body: answer.body,
  };
}

/** A no-op endpoint on the `api` backend (or `hosts`), with extra endpoint settings. */
function noop(endpoint, urlPattern, extra = {}, hosts = [api.url]) {
  return {
    endpoint,
    output_encoding: 'no-op',
    ...extra,
    backend: [{ host: hosts, url_pattern: urlPattern, encoding: 'no-op' }],
  };
}

function config(extraRouter) {
  return {
    version: 3,
    timeout: '300ms',
    extra_config: { router: { disable_access_log: true, ...extraRouter } },
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
      !laneTestAnswer(path, res, {
        redirectTo: '/store/after-redirect?x=1',
        elsewhere: `${other.url}/elsewhere`,
      })
    ) {
      res.statusCode = 404;
      res.end();
    }
  });
  deadPort = await freePort();
  lane = await startGateway(config({}), { args: UWS_DEBUG });
  layered = await startGateway(config({ forwarded_by_client_ip: true }), { args: UWS });
  logged = await startGateway(
    {
      ...config({}),
      extra_config: { 'telemetry/logging': { level: 'INFO', stdout: true } },
    },
    { args: UWS },
  );
  limited = await startGateway({ ...config({}), max_header_bytes: 8192 }, { args: UWS });
});

after(async () => {
  await lane?.stop();
  await layered?.stop();
  await logged?.stop();
  await limited?.stop();
  await api?.close();
  await other?.close();
});

describe('pass-through lane: the same answers and backend requests as the header-map path', () => {
  const cases = [
    [
      'a param path, a filtered query, Content-Type forwarded',
      '/items/a%20b?q=1&drop=2',
      'Content-Type: text/x\r\n',
    ],
    ["a backend's error status and its headers", '/teapot'],
    ['a chunked answer with two Set-Cookie lines', '/chunked'],
    ['a gzip answer to the gzip the gateway asked for: undone, Content-Encoding dropped', '/gzip'],
    ['a redirect followed on the same host', '/moved'],
    ['a redirect followed to another host', '/away'],
    ['a backend slower than the timeout', '/slow'],
    ['a backend that refuses connections', '/dead'],
    ['a GET with a body (not the lane)', '/items/7', 'Content-Length: 2\r\n'],
    [
      'forwarded headers: a repeated one joined, User-Agent forwarded (X-Forwarded-Via added)',
      '/forwarding',
      'X-Trace: a\r\nX-Trace: b\r\nUser-Agent: curl\r\nContent-Type: text/x\r\nX-Other: no\r\n',
    ],
    ['forwarded headers the client did not send', '/forwarding'],
    [
      'every header forwarded (*), hop-by-hop and X-Forwarded-* ones left out',
      '/all-headers',
      'Cookie: c=1\r\nX-Forwarded-For: 10.0.0.1\r\nAccept-Encoding: br\r\nX-Trace: t\r\nUser-Agent: curl\r\n',
    ],
    [
      'Accept-Encoding forwarded: the gzip answer passes compressed',
      '/gzip-forwarded',
      'Accept-Encoding: gzip\r\n',
    ],
    ['Accept-Encoding forwarded but not sent: gzip asked for and undone', '/gzip-forwarded'],
  ];
  for (const [name, path, extra] of cases) {
    test(name, async () => {
      const withBody = extra?.startsWith('Content-Length') ? '{}' : '';
      const a = await rawRequest(
        lane.port,
        `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extra ?? ''}Connection: close\r\n\r\n${withBody}`,
      );
      const b = await rawRequest(
        layered.port,
        `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extra ?? ''}Connection: close\r\n\r\n${withBody}`,
      );
      assert.deepEqual(normalized(a), normalized(b));
    });
  }

  test('the lane answered, with the backend header names as they came', async () => {
    assert.match(lane.logs(), /\[ENDPOINT: GET \/items\/\{id\}\] response path: no-op pass-through lane/);
    for (const forwarding of ['/forwarding', '/all-headers', '/gzip-forwarded'])
      assert.match(
        lane.logs(),
        new RegExp(`\\[ENDPOINT: GET ${forwarding}\\] response path: no-op pass-through lane`),
      );
    for (const path of ['/items/1', '/forwarding', '/all-headers']) {
      const viaLane = await getRaw(lane, path, 'X-Trace: t\r\n');
      const viaMaps = await getRaw(layered, path, 'X-Trace: t\r\n');
      assert.ok(viaLane.headers.includes('X-Backend: yes'), viaLane.headers.join('|'));
      assert.ok(viaMaps.headers.includes('x-backend: yes'), viaMaps.headers.join('|'));
      assert.ok(viaLane.headers.includes('X-Krakend-Completed: false'));
    }
    const zipped = await getRaw(lane, '/gzip-forwarded', 'Accept-Encoding: gzip\r\n');
    assert.ok(zipped.headers.includes('Content-Encoding: gzip'), zipped.headers.join('|'));
    assert.equal(zlib.gunzipSync(Buffer.from(zipped.body, 'latin1')).toString(), '{"zipped":true}');
  });

  test('what the lane sends and answers', async () => {
    const item = await getRaw(
      lane,
      '/items/a%20b?q=1&drop=2',
      'Content-Type: text/x\r\nUser-Agent: curl\r\n',
    );
    assert.equal(item.status, 200);
    const seen = JSON.parse(item.body);
    assert.equal(seen.url, '/store/a%20b?q=1');
    // What every lane request ends with: the gateway's own lines, then the backend's host.
    const gatewayLines = [
      'Accept-Encoding',
      'gzip',
      'X-Forwarded-For',
      '127.0.0.1',
      'X-Forwarded-Host',
      'gw.test',
      'host',
      api.url.slice('http://'.length),
    ];
    assert.deepEqual(seen.raw, [
      'Content-Type',
      'text/x',
      'User-Agent',
      'KrakenD Version 0.1.0',
      ...gatewayLines,
    ]);
    for (const dropped of [/^content-length:/i, /^connection:/i, /^keep-alive:/i, /^server:/i])
      assert.equal(
        item.headers.filter((l) => dropped.test(l)).length,
        dropped.source.includes('content-length') ? 1 : 0,
      );
    const forwarded = await getRaw(lane, '/forwarding', 'X-Trace: a\r\nX-Trace: b\r\nUser-Agent: curl\r\n');
    assert.deepEqual(JSON.parse(forwarded.body).raw, [
      'X-Trace',
      'a, b',
      'User-Agent',
      'curl',
      'X-Forwarded-Via',
      'KrakenD Version 0.1.0',
      ...gatewayLines,
    ]);
    const teapot = await getRaw(lane, '/teapot');
    assert.equal(teapot.status, 418);
    assert.ok(teapot.headers.includes('X-Teapot: short and stout'));
    assert.equal(teapot.body, 'no coffee');
    // A value's obs-text bytes pass as they came (as KrakenD's Go passes them), not re-encoded.
    const obsText = await getRaw(lane, '/obs-text');
    assert.ok(obsText.headers.includes('X-Name: caf\xe9'), obsText.headers.join('|'));
    const chunked = await getRaw(lane, '/chunked');
    assert.deepEqual(
      chunked.headers.filter((l) => /^set-cookie/i.test(l)),
      ['Set-Cookie: a=1', 'Set-Cookie: b=2'],
    );
    assert.equal(chunked.body, '{"part":2}');
    const zipped = await getRaw(lane, '/gzip');
    assert.equal(zipped.body, '{"zipped":true}');
    assert.equal(zipped.headers.filter((l) => /^content-encoding/i.test(l)).length, 0);
    const moved = await getRaw(lane, '/moved');
    const after = JSON.parse(moved.body);
    assert.equal(after.url, '/store/after-redirect?x=1');
    assert.ok(after.raw.includes('Referer'));
    const away = await getRaw(lane, '/away');
    assert.deepEqual(JSON.parse(away.body), { host: other.url.slice('http://'.length) });
    for (const failing of ['/slow', '/dead']) {
      const failed = await getRaw(lane, failing);
      assert.equal(failed.status, 500, failing);
      assert.ok(
        failed.headers.some((l) => /^x-krakend-completed: false$/i.test(l)),
        failing,
      );
    }
  });

  test('rate limits guard the lane: the same admissions and refusals as the middleware path', async () => {
    for (const path of ['/limited', '/per-user'])
      assert.match(
        lane.logs(),
        new RegExp(`\\[ENDPOINT: GET ${path}\\] response path: no-op pass-through lane`),
      );
    const sequence = [
      ['/limited', ''],
      ['/limited', ''],
      ['/limited', ''],
      ['/per-user', 'X-User: a\r\n'],
      ['/per-user', 'X-User: a\r\n'],
      ['/per-user', 'X-User: b\r\n'],
      ['/per-user', ''],
      ['/per-user', 'X-User: c\r\nX-User: d\r\n'],
      ['/per-user', 'X-User: c\r\n'],
    ];
    const answers = [];
    for (const gw of [lane, layered]) {
      const seen = [];
      for (const [path, lines] of sequence) seen.push(await getRaw(gw, path, lines));
      answers.push(seen);
    }
    assert.deepEqual(
      answers[0].map((a) => a.status),
      [200, 200, 503, 200, 429, 200, 429, 200, 200],
    );
    assert.deepEqual(answers[0].map(normalized), answers[1].map(normalized));
    assert.ok(answers[0][0].headers.includes('X-Backend: yes'), 'served by the lane');
  });

  test('several hosts: the lane takes them in the round-robin order of the header-map path', async () => {
    assert.match(lane.logs(), /\[ENDPOINT: GET \/balanced\] response path: no-op pass-through lane/);
    const answers = [];
    for (const gw of [lane, layered]) {
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await getRaw(gw, '/balanced'));
      answers.push(seen);
    }
    assert.deepEqual(answers[0].map(normalized), answers[1].map(normalized));
    const hosts = answers[0].map((a) => JSON.parse(a.body).host ?? 'api');
    assert.deepEqual(hosts, [
      'api',
      other.url.slice('http://'.length),
      'api',
      other.url.slice('http://'.length),
    ]);
    assert.ok(answers[0][0].headers.includes('X-Backend: yes'), 'served by the lane');
  });

  test('a control byte in a header value is refused at the front (400), before any backend call', async () => {
    const before = api.requests.length;
    for (const gw of [lane, layered])
      for (const request of [
        'GET /items/1 HTTP/1.1\r\nHost: gw\x7ftest\r\nConnection: close\r\n\r\n',
        'GET /forwarding HTTP/1.1\r\nHost: gw.test\r\nX-Trace: a\x7fb\r\nConnection: close\r\n\r\n',
      ]) {
        const answer = await rawRequest(gw.port, request);
        assert.equal(answer.status, 400, request);
      }
    assert.equal(api.requests.length, before);
  });

  test('the access log records what the lane served', async () => {
    const answer = await getRaw(logged, '/items/9?q=2');
    assert.equal(answer.status, 200);
    assert.ok(answer.headers.includes('X-Backend: yes'), 'served by the lane');
    const out = await logged.waitForLog(/"\/items\/9\?q=2"/);
    assert.match(out, /\| 200 \|.*\| +127\.0\.0\.1 \| GET +"\/items\/9\?q=2"/);
  });

  test('a max_header_bytes below what uWS accepts keeps the lane off: the 431 still holds', async () => {
    const big = `X-Big: ${'a'.repeat(16000)}\r\n`;
    assert.equal((await getRaw(limited, '/items/1', big)).status, 431);
    const small = await getRaw(limited, '/items/1');
    assert.equal(small.status, 200);
    assert.ok(small.headers.includes('x-backend: yes'), 'served by the header-map path');
    assert.equal((await getRaw(lane, '/items/1', big)).status, 200);
  });

  test('the gateway keeps serving after the failures', async () => {
    assert.equal((await getRaw(lane, '/items/2')).status, 200);
  });
});
