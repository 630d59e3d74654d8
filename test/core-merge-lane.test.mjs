// The merge lane (src/proxy/endpoint.ts, MergeLaneAnswers): a byte-path merge of GET backends whose
// url_patterns read only params and the query, with no middleware and no forwarded client header,
// is served without header maps: backend heads written from a template, backend answers parsed
// for framing only (ResponseParser's lean mode), the JSON written with its header lines in one
// uWS call. It must answer as the header-map path does and send the backends the same requests.
// The same config is served twice: as is (lane) and with router.forwarded_by_client_ip (a
// service-wide rule that turns the lanes and the direct stage off). Every answer is compared on
// the wire (header lines as sent, but Date), and so is every request the backends receive.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
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
let deadPort;
let jwkPath;
const SECRET = 'gw-merge-lane-secret-0123456789abcdef0123456789';
/** What the backends received, in arrival order: method, url and header lines as sent. */
const received = [];

function merge(endpoint, backends, extra = {}) {
  return { endpoint, ...extra, backend: backends };
}

function backend(urlPattern, extra = {}, hosts = [api.url]) {
  return { host: hosts, url_pattern: urlPattern, ...extra };
}

function config(extraRouter) {
  const user = backend('/users/{id}', {
    allow: ['id', 'name', 'email'],
    mapping: { email: 'contact' },
  });
  const posts = backend('/posts', { group: 'extra' });
  return {
    version: 3,
    timeout: '300ms',
    extra_config: { router: { disable_access_log: true, ...extraRouter } },
    endpoints: [
      merge('/merged/{id}', [user, posts], { input_query_strings: ['q'] }),
      merge('/single/{id}', [user]),
      merge(
        '/query',
        [
          backend('/posts?fixed=1'),
          backend('/users/{input_query_strings.id}?page={input_query_strings.page}'),
        ],
        { input_query_strings: ['id', 'page'] },
      ),
      merge('/partial', [posts, backend('/teapot')]),
      merge('/partial-code', [
        posts,
        backend('/teapot', { extra_config: { 'backend/http': { return_error_code: true } } }),
      ]),
      merge('/failing', [backend('/teapot'), backend('/broken')]),
      merge('/broken', [posts, backend('/broken')]),
      merge('/empty', [backend('/empty'), backend('/empty', { group: 'e' })]),
      merge('/gzip', [posts, backend('/gzip')]),
      merge('/chunked', [posts, backend('/chunked')]),
      merge('/moved', [posts, backend('/moved')]),
      merge('/away', [posts, backend('/away')]),
      merge('/slow', [posts, backend('/slow')]),
      merge('/dead', [posts, backend('/x', {}, [`http://127.0.0.1:${deadPort}`])]),
      merge('/cached', [posts, backend('/users/1')], { cache_ttl: '1m' }),
      merge('/balanced', [posts, backend('/host', {}, [api.url, other.url])]),
      merge('/missing', [posts, backend('/users/{input_query_strings.nothing}')]),
      // Guards keep the lane: a rate limit, JWT validation (a token not seen before takes the
      // header-map path, where it is verified and remembered).
      merge('/limited', [posts, backend('/users/1')], {
        extra_config: { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1m' } },
      }),
      merge('/private', [posts, backend('/users/1')], {
        extra_config: {
          'auth/validator': {
            alg: 'HS256',
            jwk_local_path: jwkPath,
            disable_jwk_security: true,
            issuer: 'gw-test',
          },
        },
      }),
      // Not the lane: a forwarded client header, a url_pattern reading a header.
      merge('/forwarding', [posts, backend('/users/1')], { input_headers: ['X-Trace'] }),
      merge('/by-header', [posts, backend('/users/{input_headers.X-Id}')]),
    ],
  };
}

function record(req) {
  received.push({ method: req.method, url: req.url, raw: req.rawHeaders });
}

before(async () => {
  other = await startBackend((req, res) => {
    record(req);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ host: 'other' }));
  });
  api = await startBackend((req, res) => {
    record(req);
    const path = req.url.split('?')[0];
    const json = (value, status = 200) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'X-Backend': 'yes' });
      res.end(JSON.stringify(value));
    };
    if (path.startsWith('/users/'))
      json({ id: path.slice(7), name: 'Ada', email: 'ada@example.com', secret: 's', query: req.url });
    else if (path === '/posts') json({ posts: [1, 2], query: req.url });
    else if (path === '/host') json({ host: 'api' });
    else if (path === '/empty') json({});
    else if (path === '/teapot') json({ teapot: true }, 418);
    else if (path === '/broken') {
      res.setHeader('Content-Type', 'application/json');
      res.end('{"not json');
    } else if (path === '/chunked') {
      res.setHeader('Content-Type', 'application/json');
      res.write('{"part":');
      setTimeout(() => res.end('2}'), 20);
    } else if (
      !laneTestAnswer(path, res, { redirectTo: '/users/after-redirect', elsewhere: `${other.url}/elsewhere` })
    )
      json({ error: 'not found' }, 404);
  });
  deadPort = await freePort();
  jwkPath = join(mkdtempSync(join(tmpdir(), 'gw-merge-lane-')), 'jwk.json');
  writeFileSync(
    jwkPath,
    JSON.stringify({
      keys: [{ kty: 'oct', kid: 'k1', alg: 'HS256', k: Buffer.from(SECRET).toString('base64url') }],
    }),
  );
  lane = await startGateway(config({}), { args: UWS_DEBUG });
  layered = await startGateway(config({ forwarded_by_client_ip: true }), { args: UWS });
  logged = await startGateway(
    {
      ...config({}),
      extra_config: { 'telemetry/logging': { level: 'INFO', stdout: true } },
    },
    { args: UWS },
  );
});

after(async () => {
  await lane?.stop();
  await layered?.stop();
  await logged?.stop();
  await api?.close();
  await other?.close();
});

/** One request to a gateway: its answer, and what the backends received for it (by url). */
async function exchange(gw, request) {
  const from = received.length;
  const answer = await rawRequest(gw.port, request);
  // A backend slower than the timeout still receives its request: wait for stragglers.
  await new Promise((r) => setTimeout(r, 20));
  const calls = received.slice(from).sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  return { answer, calls };
}

/**
 * An answer with its JSON body as a value: a merge is in order of arrival, which two requests
 * need not share, and deepEqual compares objects without their key order.
 */
function comparable(answer) {
  try {
    return { ...answer, body: JSON.parse(answer.body) };
  } catch {
    return answer;
  }
}

describe('merge lane: the same answers and backend requests as the header-map path', () => {
  const cases = [
    [
      'a param path and a filtered query, Content-Type sent',
      '/merged/7?q=1&drop=2',
      'Content-Type: text/x\r\n',
    ],
    ['a single backend with a param', '/single/a%20b'],
    ["url_patterns with their own query and the client's", '/query?id=3&page=2'],
    ['one backend failing with an error status: a partial answer', '/partial'],
    ['return_error_code on the failing backend', '/partial-code'],
    ['every backend failing', '/failing'],
    ['one backend answering invalid JSON', '/broken'],
    ['backends answering empty objects', '/empty'],
    ['a gzip answer to the gzip the gateway asked for', '/gzip'],
    ['a chunked answer', '/chunked'],
    ['a redirect followed on the same host', '/moved'],
    ['a redirect followed to another host', '/away'],
    ['a backend slower than the timeout', '/slow'],
    ['a backend that refuses connections', '/dead'],
    ['cache_ttl: Cache-Control on a complete answer', '/cached'],
    ['a query string the url_pattern reads and the client did not send', '/missing'],
    ['a forwarded header (not the lane)', '/forwarding', 'X-Trace: t\r\n'],
    ['a url_pattern reading a header (not the lane)', '/by-header', 'X-Id: 5\r\n'],
    ['a GET with a body (not the lane)', '/merged/8', 'Content-Length: 2\r\n'],
  ];
  for (const [name, path, extra] of cases) {
    test(name, async () => {
      const withBody = extra?.startsWith('Content-Length') ? '{}' : '';
      const request = `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extra ?? ''}Connection: close\r\n\r\n${withBody}`;
      const a = await exchange(lane, request);
      const b = await exchange(layered, request);
      assert.deepEqual(comparable(a.answer), comparable(b.answer));
      assert.deepEqual(a.calls, b.calls);
    });
  }

  test('the lane serves the eligible endpoints, the others keep their paths', () => {
    for (const path of [
      '/merged/{id}',
      '/single/{id}',
      '/query',
      '/partial',
      '/cached',
      '/balanced',
      '/limited',
      '/private',
    ])
      assert.match(
        lane.logs(),
        new RegExp(
          `\\[ENDPOINT: GET ${path.replace(/[{}]/g, '\\$&')}\\] response path: wasm bytes, merge lane"`,
        ),
      );
    for (const path of ['/forwarding', '/by-header'])
      assert.match(lane.logs(), new RegExp(`\\[ENDPOINT: GET ${path}\\] response path: wasm bytes"`));
  });

  test('what the lane sends and answers', async () => {
    const { answer, calls } = await exchange(
      lane,
      'GET /merged/7?q=1&drop=2 HTTP/1.1\r\nHost: gw.test\r\nContent-Type: text/x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.headers.slice(0, 3), [
      'content-type: application/json; charset=utf-8',
      'x-krakend: Version 0.1.0',
      'x-krakend-completed: true',
    ]);
    assert.deepEqual(JSON.parse(answer.body), {
      id: '7',
      name: 'Ada',
      contact: 'ada@example.com',
      extra: { posts: [1, 2], query: '/posts?q=1' },
    });
    assert.deepEqual(
      calls.map((c) => c.url),
      ['/posts?q=1', '/users/7?q=1'],
    );
    assert.deepEqual(calls[0].raw, [
      'Content-Type',
      'text/x',
      'User-Agent',
      'KrakenD Version 0.1.0',
      'Accept-Encoding',
      'gzip',
      'X-Forwarded-For',
      '127.0.0.1',
      'X-Forwarded-Host',
      'gw.test',
      'host',
      api.url.slice('http://'.length),
    ]);
    const partial = await rawGet(lane.port, '/partial');
    assert.equal(partial.status, 200);
    assert.ok(partial.headers.includes('x-krakend-completed: false'));
    assert.deepEqual(JSON.parse(partial.body), { extra: { posts: [1, 2], query: '/posts' } });
    const cached = await rawGet(lane.port, '/cached');
    assert.ok(cached.headers.includes('cache-control: public, max-age=60'), cached.headers.join('|'));
    const failing = await rawGet(lane.port, '/failing');
    assert.equal(failing.status, 500);
    assert.ok(failing.headers.includes('x-krakend-completed: false'));
    const zipped = await rawGet(lane.port, '/gzip');
    assert.deepEqual(JSON.parse(zipped.body).zipped, true);
  });

  test('several hosts: the lane takes them in the round-robin order of the header-map path', async () => {
    const seen = [];
    for (const gw of [lane, layered]) {
      const hosts = [];
      for (let i = 0; i < 4; i++) hosts.push(JSON.parse((await rawGet(gw.port, '/balanced')).body).host);
      seen.push(hosts);
    }
    assert.deepEqual(seen[0], ['api', 'other', 'api', 'other']);
    assert.deepEqual(seen[0], seen[1]);
  });

  test('a control byte in a header value is refused at the front (400), before any backend call', async () => {
    const before = received.length;
    for (const gw of [lane, layered]) {
      const answer = await rawRequest(
        gw.port,
        'GET /merged/1 HTTP/1.1\r\nHost: gw\x7ftest\r\nConnection: close\r\n\r\n',
      );
      assert.equal(answer.status, 400);
    }
    assert.equal(received.length, before);
  });

  test('the access log records what the lane served', async () => {
    const answer = await rawGet(logged.port, '/merged/9?q=2');
    assert.equal(answer.status, 200);
    const out = await logged.waitForLog(/"\/merged\/9\?q=2"/);
    assert.match(out, /\| 200 \|.*\| +127\.0\.0\.1 \| GET +"\/merged\/9\?q=2"/);
  });

  test('guards: the same admissions and refusals as the middleware path, the lane serving', async () => {
    const sign = (claims, secret = SECRET) => {
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const unsigned = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64(claims)}`;
      return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
    };
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const good = sign({ iss: 'gw-test', exp, sub: 'ada' });
    const forged = sign({ iss: 'gw-test', exp, sub: 'eve' }, 'not the secret');
    // A Content-Type sent twice reaches the backends joined on the header-map path and as its
    // first value on the lane: that is how the test sees which path served a request.
    const twice = 'Content-Type: a\r\nContent-Type: b\r\n';
    const sequence = [
      ['/limited', twice],
      ['/limited', twice],
      ['/limited', twice],
      ['/private', twice],
      ['/private', `Authorization: Bearer ${forged}\r\n${twice}`],
      ['/private', `Authorization: Bearer ${good}\r\n${twice}`],
      ['/private', `Authorization: Bearer ${good}\r\n${twice}`],
    ];
    const runs = [];
    for (const gw of [lane, layered]) {
      const seen = [];
      for (const [path, lines] of sequence) {
        const { answer, calls } = await exchange(
          gw,
          `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${lines}Connection: close\r\n\r\n`,
        );
        seen.push({ answer, contentTypes: calls.map((c) => c.raw[c.raw.indexOf('Content-Type') + 1]) });
      }
      runs.push(seen);
    }
    assert.deepEqual(
      runs[0].map((r) => r.answer.status),
      [200, 200, 503, 401, 401, 200, 200],
    );
    assert.deepEqual(
      runs[0].map((r) => r.answer),
      runs[1].map((r) => r.answer),
    );
    // The lane: both admitted /limited requests and the remembered token's second request.
    assert.deepEqual(
      runs[0].map((r) => r.contentTypes),
      [['a', 'a'], ['a', 'a'], [], [], [], ['a, b', 'a, b'], ['a', 'a']],
    );
    assert.deepEqual(
      runs[1].map((r) => r.contentTypes),
      [['a, b', 'a, b'], ['a, b', 'a, b'], [], [], [], ['a, b', 'a, b'], ['a, b', 'a, b']],
    );
  });

  test('the gateway keeps serving after the failures', async () => {
    assert.equal((await rawGet(lane.port, '/merged/2')).status, 200);
  });
});
