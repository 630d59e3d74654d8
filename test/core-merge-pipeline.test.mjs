// A merge of JSON backends kept as bytes (the WASM transform: allow, mapping, group, in order of
// arrival) on the one pipeline: what each backend receives (url_pattern filled, its own query or
// the client's, forwarded headers, the gateway's own lines) and what the client gets back (the
// merged JSON, X-Krakend-Completed, Cache-Control from cache_ttl, 500 when every backend fails),
// for backends that answer awkwardly: an error status, invalid JSON, gzip, chunked, a redirect,
// too slow, not there. Guards on the endpoint (a rate limit, JWT validation), several hosts,
// front refusals and the access log too.
//
// The `--log-level DEBUG` log names each endpoint's choices: a backend's request head is written
// from a template when it forwards no client header, else from the header map; both must send
// what the backend would get either way.
//
// GW_FRONT=uws|node|auto runs this file with `--front GW_FRONT` (gw's default otherwise).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { awkwardAnswer } from './helpers/awkward-backend.mjs';
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
let deadPort;
let jwkPath;
const SECRET = 'gw-merge-pipeline-secret-0123456789abcdef0123456789';
/** What the backends received, in arrival order: method, url, header lines as sent, body. */
const received = [];

function merge(endpoint, backends, extra = {}) {
  return { endpoint, ...extra, backend: backends };
}

function backend(urlPattern, extra = {}, hosts = [api.url]) {
  return { host: hosts, url_pattern: urlPattern, ...extra };
}

function config() {
  const user = backend('/users/{id}', {
    allow: ['id', 'name', 'email'],
    mapping: { email: 'contact' },
  });
  const posts = backend('/posts', { group: 'extra' });
  return {
    version: 3,
    timeout: '300ms',
    extra_config: { router: { disable_access_log: true } },
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
      merge('/forwarding', [posts, backend('/users/1')], { input_headers: ['X-Trace'] }),
      merge('/by-header', [posts, backend('/users/{input_headers.X-Id}')]),
    ],
  };
}

function record(req, body) {
  received.push({ method: req.method, url: req.url, raw: req.rawHeaders, body: body.toString() });
}

before(async () => {
  other = await startBackend((req, res, body) => {
    record(req, body);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ host: 'other' }));
  });
  api = await startBackend((req, res, body) => {
    record(req, body);
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
      !awkwardAnswer(path, res, { redirectTo: '/users/after-redirect', elsewhere: `${other.url}/elsewhere` })
    )
      json({ error: 'not found' }, 404);
  });
  apiHost = api.url.slice('http://'.length);
  otherHost = other.url.slice('http://'.length);
  deadPort = await freePort();
  jwkPath = join(mkdtempSync(join(tmpdir(), 'gw-merge-pipeline-')), 'jwk.json');
  writeFileSync(
    jwkPath,
    JSON.stringify({
      keys: [{ kty: 'oct', kid: 'k1', alg: 'HS256', k: Buffer.from(SECRET).toString('base64url') }],
    }),
  );
  gw = await startGateway(config(), { args: [...ARGS, '--log-level', 'DEBUG'] });
  logged = await startGateway(
    { ...config(), extra_config: { 'telemetry/logging': { level: 'INFO', stdout: true } } },
    { args: ARGS },
  );
});

after(async () => {
  await gw?.stop();
  await logged?.stop();
  await api?.close();
  await other?.close();
});

/** One request: its answer, and what the backends received for it (sorted by url). */
async function exchange(target, request) {
  const from = received.length;
  const answer = await rawRequest(target.port, request);
  // A backend slower than the timeout still receives its request: wait for stragglers.
  await new Promise((r) => setTimeout(r, 20));
  const calls = received
    .slice(from)
    .sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
    .map(({ url, raw }) => ({ url, raw }));
  return { answer, calls };
}

/** The answer's header lines but those the front writes itself: framing and uWS's own line. */
function own(answer) {
  return answer.headers.filter((l) => !/^(content-length|connection|uwebsockets):/i.test(l));
}

const JSON_LINES = ['content-type: application/json; charset=utf-8', 'x-krakend: Version 0.1.0'];
const COMPLETE = [...JSON_LINES, 'x-krakend-completed: true'];
const INCOMPLETE = [...JSON_LINES, 'x-krakend-completed: false'];
/** Every backend failed: gw's own lines, no body. */
const FAILED = ['x-krakend: Version 0.1.0', 'x-krakend-completed: false'];
/** /posts in the group `extra`, as the client sent no query. */
const POSTS = { extra: { posts: [1, 2], query: '/posts' } };
const USER_1 = { id: '1', name: 'Ada', email: 'ada@example.com', secret: 's', query: '/users/1' };

/** A backend request's header lines: `first` (forwarded), then the gateway's own, host last. */
function lines(first = [], host = apiHost) {
  return [
    ...first,
    'User-Agent',
    VERSION,
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

/** The request a redirect made: the same lines with a Referer naming where it came from. */
function redirected(from, host = apiHost) {
  const out = lines([], host);
  out.splice(out.length - 2, 0, 'Referer', `${api.url}${from}`);
  return out;
}

describe('a merge of backends as bytes: what the backends receive and the client gets', () => {
  /** [name, path, extra request lines, () => the expected { status, headers, body, calls }] */
  const cases = [
    [
      'a param path and a filtered query, Content-Type sent: allow and mapping applied, a group',
      '/merged/7?q=1&drop=2',
      'Content-Type: text/x\r\n',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: {
          id: '7',
          name: 'Ada',
          contact: 'ada@example.com',
          extra: { posts: [1, 2], query: '/posts?q=1' },
        },
        calls: [
          { url: '/posts?q=1', raw: lines(['Content-Type', 'text/x']) },
          { url: '/users/7?q=1', raw: lines(['Content-Type', 'text/x']) },
        ],
      }),
    ],
    [
      'a single backend with an escaped param',
      '/single/a%20b',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { id: 'a%20b', name: 'Ada', contact: 'ada@example.com' },
        calls: [{ url: '/users/a%20b', raw: lines() }],
      }),
    ],
    [
      // The client's query (input_query_strings) replaces a url_pattern's own, as KrakenD's docs
      // say (README, compatibility notes).
      "url_patterns with their own query and the client's",
      '/query?id=3&page=2',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        // `query` is in both answers: the one that arrives last wins.
        body: (body) => {
          const { query, ...rest } = body;
          assert.deepEqual(rest, {
            posts: [1, 2],
            id: '3',
            name: 'Ada',
            email: 'ada@example.com',
            secret: 's',
          });
          assert.ok(['/posts?id=3&page=2', '/users/3?id=3&page=2'].includes(query), query);
        },
        calls: [
          { url: '/posts?id=3&page=2', raw: lines() },
          { url: '/users/3?id=3&page=2', raw: lines() },
        ],
      }),
    ],
    [
      'one backend failing with an error status: a partial answer',
      '/partial',
      '',
      () => ({
        status: 200,
        headers: INCOMPLETE,
        body: POSTS,
        calls: [
          { url: '/posts', raw: lines() },
          { url: '/teapot', raw: lines() },
        ],
      }),
    ],
    [
      'return_error_code on the failing backend of a merge: still the partial answer',
      '/partial-code',
      '',
      () => ({
        status: 200,
        headers: INCOMPLETE,
        body: POSTS,
        calls: [
          { url: '/posts', raw: lines() },
          { url: '/teapot', raw: lines() },
        ],
      }),
    ],
    [
      'every backend failing: 500, no body',
      '/failing',
      '',
      () => ({
        status: 500,
        headers: FAILED,
        body: '',
        calls: [
          { url: '/broken', raw: lines() },
          { url: '/teapot', raw: lines() },
        ],
      }),
    ],
    [
      'one backend answering invalid JSON: a partial answer',
      '/broken',
      '',
      () => ({
        status: 200,
        headers: INCOMPLETE,
        body: POSTS,
        calls: [
          { url: '/broken', raw: lines() },
          { url: '/posts', raw: lines() },
        ],
      }),
    ],
    [
      'backends answering empty objects: complete',
      '/empty',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { e: {} },
        calls: [
          { url: '/empty', raw: lines() },
          { url: '/empty', raw: lines() },
        ],
      }),
    ],
    [
      'a gzip answer to the gzip the gateway asked for: undone and merged',
      '/gzip',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { ...POSTS, zipped: true },
        calls: [
          { url: '/gzip', raw: lines() },
          { url: '/posts', raw: lines() },
        ],
      }),
    ],
    [
      'a chunked answer',
      '/chunked',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { ...POSTS, part: 2 },
        calls: [
          { url: '/chunked', raw: lines() },
          { url: '/posts', raw: lines() },
        ],
      }),
    ],
    [
      'a redirect followed on the same host, with a Referer',
      '/moved',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { ...POSTS, ...USER_1, id: 'after-redirect', query: '/users/after-redirect' },
        calls: [
          { url: '/moved', raw: lines() },
          { url: '/posts', raw: lines() },
          { url: '/users/after-redirect', raw: redirected('/moved') },
        ],
      }),
    ],
    [
      'a redirect followed to another host',
      '/away',
      '',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { ...POSTS, host: 'other' },
        calls: [
          { url: '/away', raw: lines() },
          { url: '/elsewhere', raw: redirected('/away', otherHost) },
          { url: '/posts', raw: lines() },
        ],
      }),
    ],
    [
      'a backend slower than the timeout: a partial answer',
      '/slow',
      '',
      () => ({
        status: 200,
        headers: INCOMPLETE,
        body: POSTS,
        calls: [
          { url: '/posts', raw: lines() },
          { url: '/slow', raw: lines() },
        ],
      }),
    ],
    [
      'a backend that refuses connections: a partial answer',
      '/dead',
      '',
      () => ({ status: 200, headers: INCOMPLETE, body: POSTS, calls: [{ url: '/posts', raw: lines() }] }),
    ],
    [
      'cache_ttl: Cache-Control on a complete answer',
      '/cached',
      '',
      () => ({
        status: 200,
        headers: [...COMPLETE, 'cache-control: public, max-age=60'],
        body: { ...POSTS, ...USER_1 },
        calls: [
          { url: '/posts', raw: lines() },
          { url: '/users/1', raw: lines() },
        ],
      }),
    ],
    [
      'a query string the url_pattern reads and the client did not send: that backend is not called',
      '/missing',
      '',
      () => ({ status: 200, headers: INCOMPLETE, body: POSTS, calls: [{ url: '/posts', raw: lines() }] }),
    ],
    [
      'a forwarded header reaches every backend',
      '/forwarding',
      'X-Trace: t\r\n',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { ...POSTS, ...USER_1 },
        calls: [
          { url: '/posts', raw: lines(['X-Trace', 't']) },
          { url: '/users/1', raw: lines(['X-Trace', 't']) },
        ],
      }),
    ],
    [
      'a url_pattern reading a header: the header fills the path, and is not forwarded',
      '/by-header',
      'X-Id: 5\r\n',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { ...POSTS, ...USER_1, id: '5', query: '/users/5' },
        calls: [
          { url: '/posts', raw: lines() },
          { url: '/users/5', raw: lines() },
        ],
      }),
    ],
    [
      'a GET with a body: each backend receives it with its length',
      '/merged/8',
      'Content-Length: 2\r\n',
      () => ({
        status: 200,
        headers: COMPLETE,
        body: { id: '8', name: 'Ada', contact: 'ada@example.com', ...POSTS },
        calls: [
          { url: '/posts', raw: [...lines(), 'content-length', '2'] },
          { url: '/users/8', raw: [...lines(), 'content-length', '2'] },
        ],
      }),
    ],
  ];
  for (const [name, path, extra, expect] of cases) {
    test(name, async () => {
      const expected = expect();
      const withBody = extra.startsWith('Content-Length') ? '{}' : '';
      const from = received.length;
      const { answer, calls } = await exchange(
        gw,
        `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extra}Connection: close\r\n\r\n${withBody}`,
      );
      assert.equal(answer.status, expected.status);
      assert.deepEqual(own(answer), expected.headers);
      if (typeof expected.body === 'function') expected.body(JSON.parse(answer.body));
      else if (typeof expected.body === 'string') assert.equal(answer.body, expected.body);
      else assert.deepEqual(JSON.parse(answer.body), expected.body);
      assert.deepEqual(calls, expected.calls);
      if (withBody) for (const r of received.slice(from)) assert.equal(r.body, '{}', r.url);
    });
  }

  test('several hosts: taken in round-robin order', async () => {
    const hosts = [];
    for (let i = 0; i < 4; i++) hosts.push(JSON.parse((await rawGet(gw.port, '/balanced')).body).host);
    assert.deepEqual(hosts, ['api', 'other', 'api', 'other']);
  });

  test('a control byte in a header value is refused at the front (400), before any backend call', async () => {
    const before = received.length;
    const answer = await rawRequest(
      gw.port,
      'GET /merged/1 HTTP/1.1\r\nHost: gw\x7ftest\r\nConnection: close\r\n\r\n',
    );
    assert.equal(answer.status, 400);
    assert.equal(received.length, before);
  });

  test('the access log records what was served', async () => {
    const answer = await rawGet(logged.port, '/merged/9?q=2');
    assert.equal(answer.status, 200);
    const out = await logged.waitForLog(/"\/merged\/9\?q=2"/);
    assert.match(out, /\| 200 \|.*\| +127\.0\.0\.1 \| GET +"\/merged\/9\?q=2"/);
  });

  test('guards: a rate limit and JWT validation admit and refuse in order; admitted requests reach every backend', async () => {
    const sign = (claims, secret = SECRET) => {
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const unsigned = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64(claims)}`;
      return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
    };
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const good = sign({ iss: 'gw-test', exp, sub: 'ada' });
    const forged = sign({ iss: 'gw-test', exp, sub: 'eve' }, 'not the secret');
    // A Content-Type sent twice counts by its first value (a single-valued field), on every front.
    const twice = 'Content-Type: a\r\nContent-Type: b\r\n';
    const sequence = [
      ['/limited', twice],
      ['/limited', twice],
      ['/limited', twice],
      ['/private', twice],
      ['/private', `Authorization: Bearer ${forged}\r\n${twice}`],
      // a token seen for the first time (verified), then the same one again (remembered)
      ['/private', `Authorization: Bearer ${good}\r\n${twice}`],
      ['/private', `Authorization: Bearer ${good}\r\n${twice}`],
    ];
    const seen = [];
    for (const [path, extra] of sequence) {
      const { answer, calls } = await exchange(
        gw,
        `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extra}Connection: close\r\n\r\n`,
      );
      seen.push({ answer, calls });
    }
    assert.deepEqual(
      seen.map((s) => s.answer.status),
      [200, 200, 503, 401, 401, 200, 200],
    );
    for (const { answer } of seen.filter((s) => s.answer.status === 200)) {
      assert.deepEqual(own(answer), COMPLETE);
      assert.deepEqual(JSON.parse(answer.body), { ...POSTS, ...USER_1 });
    }
    for (const { answer } of seen.filter((s) => s.answer.status !== 200)) assert.equal(answer.body, '');
    const admitted = [
      { url: '/posts', raw: lines(['Content-Type', 'a']) },
      { url: '/users/1', raw: lines(['Content-Type', 'a']) },
    ];
    assert.deepEqual(
      seen.map((s) => s.calls),
      [admitted, admitted, [], [], [], admitted, admitted],
    );
  });

  test('the -d log names how each backend request is written, and both forms send what they should', async () => {
    const logs = await gw.waitForLog(/\[ENDPOINT: GET \/by-header\] pipeline: /);
    const pipeline = (endpoint) => {
      const at = logs.indexOf(`[ENDPOINT: GET ${endpoint}] pipeline: `);
      assert.ok(at >= 0, `no pipeline line for ${endpoint}:\n${logs}`);
      return logs.slice(at, logs.indexOf('"', at));
    };
    assert.match(
      pipeline('/merged/{id}'),
      /endpoint: -; proxy: -; core: merge of 2 backends as bytes \(WASM\); backend\[0\]: GET \/users\/\{id\}, the call, head from a template, answer head read lean; backend\[1\]: GET \/posts, the call, head from a template, answer head read lean; render: JSON bytes with header lines as bytes$/,
    );
    assert.match(
      pipeline('/forwarding'),
      /backend\[0\]: GET \/posts, the call, head from the header map, answer head read lean; backend\[1\]: GET \/users\/1, the call, head from the header map, answer head read lean; render: JSON bytes with header lines as bytes$/,
    );
    // A url_pattern that reads a header forwards none: still a template.
    assert.match(
      pipeline('/by-header'),
      /backend\[1\]: GET \/users\/\{input_headers\.X-Id\}, the call, head from a template/,
    );
    assert.match(pipeline('/limited'), /endpoint: 1 guard; proxy: -; core: merge of 2 backends as bytes/);
    assert.match(
      pipeline('/private'),
      /endpoint: 1 guard or promise middleware; proxy: -; core: merge of 2 backends as bytes/,
    );

    // The same request lines to a template endpoint and a header-map one: only the forwarded
    // header differs.
    const request = (path) =>
      `GET ${path} HTTP/1.1\r\nHost: gw.test\r\nContent-Type: text/x\r\nX-Trace: t\r\nUser-Agent: curl\r\nConnection: close\r\n\r\n`;
    const fromTemplate = await exchange(gw, request('/merged/1'));
    assert.deepEqual(own(fromTemplate.answer), COMPLETE);
    assert.deepEqual(fromTemplate.calls, [
      { url: '/posts', raw: lines(['Content-Type', 'text/x']) },
      { url: '/users/1', raw: lines(['Content-Type', 'text/x']) },
    ]);
    const fromMap = await exchange(gw, request('/forwarding'));
    assert.deepEqual(own(fromMap.answer), COMPLETE);
    assert.deepEqual(fromMap.calls, [
      { url: '/posts', raw: lines(['X-Trace', 't', 'Content-Type', 'text/x']) },
      { url: '/users/1', raw: lines(['X-Trace', 't', 'Content-Type', 'text/x']) },
    ]);
  });

  test('the gateway keeps serving after the failures', async () => {
    assert.equal((await rawGet(gw.port, '/merged/2')).status, 200);
  });
});
