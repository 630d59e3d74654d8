// Metrics of the one pipeline, recorded through meters: with `telemetry/metrics` (/__stats) and a
// Prometheus exporter (telemetry/opentelemetry), no-op endpoints and byte-path merges answer
// every kind of request (passed, a backend error status, a timeout, a refused connection, an
// empty body, a rate-limit refusal, a Host the front refuses) and each layer records its count
// and size per series: the endpoint layer (route, status), the proxy layer (complete, error) and
// each backend's call (url_path, status, complete, error). Durations differ from run to run:
// only their counts are checked. A backend with phase histograms (round_trip) has them recorded
// by its middleware around the call.
//
// GW_FRONT=uws|node|auto runs this file with `--front GW_FRONT` (gw's default otherwise).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get as fetchGet, freePort, startBackend, startGateway } from './helpers/gateway.mjs';
import { rawRequest } from './helpers/raw-http.mjs';

const ARGS = ['--workers', '1', ...(process.env.GW_FRONT ? ['--front', process.env.GW_FRONT] : [])];
const PHASES = { 'telemetry/opentelemetry': { backend: { metrics: { round_trip: true } } } };

let api;
let gw;
let deadPort;
let promPort;
let statsPort;

/** A byte-path merge of `backends` (url_pattern, or [url_pattern, backend settings]). */
function merged(endpoint, backends, extra = {}) {
  return {
    endpoint,
    ...extra,
    backend: backends.map((b) => {
      const [urlPattern, settings] = Array.isArray(b) ? b : [b, {}];
      return { host: [api.url], url_pattern: urlPattern, ...settings };
    }),
  };
}

function noop(endpoint, urlPattern, extra = {}, host = api.url) {
  return {
    endpoint,
    output_encoding: 'no-op',
    ...extra,
    backend: [{ host: [host], url_pattern: urlPattern, encoding: 'no-op' }],
  };
}

function config() {
  const phased = noop('/phased', '/store/phased');
  phased.backend[0].extra_config = PHASES;
  const limit = { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1m' } };
  return {
    version: 3,
    timeout: '300ms',
    extra_config: {
      router: { disable_access_log: true },
      'telemetry/metrics': { listen_address: `127.0.0.1:${statsPort}` },
      'telemetry/opentelemetry': {
        service_name: 'gw-meters',
        exporters: { prometheus: [{ name: 'local', port: promPort, listen_ip: '127.0.0.1' }] },
      },
    },
    endpoints: [
      noop('/items/{id}', '/store/{id}'),
      noop('/teapot', '/teapot'),
      noop('/slow', '/slow'),
      noop('/dead', '/x', {}, `http://127.0.0.1:${deadPort}`),
      noop('/limited', '/store/limited', { extra_config: limit }),
      phased,
      merged('/merged/{id}', [
        ['/store/{id}', { allow: ['url'] }],
        ['/store/other', { group: 'other' }],
      ]),
      merged('/merged-partly', ['/store/partly', ['/teapot', { group: 't' }]]),
      merged('/merged-failing', ['/teapot', ['/x', { host: [`http://127.0.0.1:${deadPort}`] }]]),
      merged('/merged-slow', ['/store/slow', ['/slow', { group: 's' }]]),
      merged('/merged-empty', ['/store/e', ['/empty', { group: 'e' }]]),
      merged('/merged-limited', ['/store/limited', ['/store/l2', { group: 'l' }]], { extra_config: limit }),
      merged('/merged-phased', ['/store/mp', ['/store/mp2', { group: 'p', extra_config: PHASES }]]),
    ],
  };
}

/** A GET, with a Host value the front refuses (a control byte) when `invalidHost` is set. */
function get(path, invalidHost) {
  const host = invalidHost ? 'gw\x7ftest' : 'gw.test';
  return rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

/** [path, invalid Host?, the status expected] */
const SEQUENCE = [
  ['/items/1', false, 200],
  ['/items/2', false, 200],
  ['/items/3', false, 200],
  ['/teapot', false, 418],
  ['/slow', false, 500],
  ['/dead', false, 500],
  ['/limited', false, 200],
  ['/limited', false, 200],
  ['/limited', false, 503],
  // refused at the front, before any layer records it
  ['/items/4', true, 400],
  ['/phased', false, 200],
  ['/merged/1', false, 200],
  ['/merged/2', false, 200],
  // a backend failing: a partial answer
  ['/merged-partly', false, 200],
  // both failing
  ['/merged-failing', false, 500],
  // one too slow, one empty: partial answers
  ['/merged-slow', false, 200],
  ['/merged-empty', false, 200],
  ['/merged-limited', false, 200],
  ['/merged-limited', false, 200],
  ['/merged-limited', false, 503],
  ['/merged/3', true, 400],
  ['/merged-phased', false, 200],
];

/** A body's size in bytes. */
const size = (value) => Buffer.byteLength(JSON.stringify(value));

/** The endpoint layer: route → [status, answers, body bytes of each]. */
const ROUTER = {
  '/items/{id}': [[200, 3, size({ url: '/store/1' })]],
  '/teapot': [[418, 1, 'no coffee'.length]],
  '/slow': [[500, 1, 0]],
  '/dead': [[500, 1, 0]],
  '/limited': [
    [200, 2, size({ url: '/store/limited' })],
    [503, 1, 0],
  ],
  '/phased': [[200, 1, size({ url: '/store/phased' })]],
  '/merged/{id}': [[200, 2, size({ url: '/store/1', other: { url: '/store/other' } })]],
  '/merged-partly': [[200, 1, size({ url: '/store/partly' })]],
  '/merged-failing': [[500, 1, 0]],
  '/merged-slow': [[200, 1, size({ url: '/store/slow' })]],
  '/merged-empty': [[200, 1, size({ url: '/store/e' })]],
  '/merged-limited': [
    [200, 2, size({ url: '/store/limited', l: { url: '/store/l2' } })],
    [503, 1, 0],
  ],
  '/merged-phased': [[200, 1, size({ url: '/store/mp', p: { url: '/store/mp2' } })]],
};

/**
 * The proxy layer: [route, complete, error, count]. A no-op answer is never complete; a refused
 * request never reaches the proxy layer.
 */
const PROXY = [
  ['/items/{id}', false, false, 3],
  ['/teapot', false, false, 1],
  ['/slow', false, true, 1],
  ['/dead', false, true, 1],
  ['/limited', false, false, 2],
  ['/phased', false, false, 1],
  ['/merged/{id}', true, false, 2],
  ['/merged-partly', false, true, 1],
  ['/merged-failing', false, true, 1],
  ['/merged-slow', false, true, 1],
  ['/merged-empty', false, true, 1],
  ['/merged-limited', true, false, 2],
  ['/merged-phased', true, false, 1],
];

/**
 * Each backend's call: [route, url_path, status (0: no answer), succeeded, count]. A no-op
 * backend's 418 is its answer, passed on; a merge's is a failure. An empty body fails a merge's
 * JSON stage check.
 */
const BACKEND = [
  ['/items/{id}', '/store/{id}', 200, true, 3],
  ['/teapot', '/teapot', 418, true, 1],
  ['/slow', '/slow', 0, false, 1],
  ['/dead', '/x', 0, false, 1],
  ['/limited', '/store/limited', 200, true, 2],
  ['/phased', '/store/phased', 200, true, 1],
  ['/merged/{id}', '/store/{id}', 200, true, 2],
  ['/merged/{id}', '/store/other', 200, true, 2],
  ['/merged-partly', '/store/partly', 200, true, 1],
  ['/merged-partly', '/teapot', 418, false, 1],
  ['/merged-failing', '/teapot', 418, false, 1],
  ['/merged-failing', '/x', 0, false, 1],
  ['/merged-slow', '/store/slow', 200, true, 1],
  ['/merged-slow', '/slow', 0, false, 1],
  ['/merged-empty', '/store/e', 200, true, 1],
  ['/merged-empty', '/empty', 0, false, 1],
  ['/merged-limited', '/store/limited', 200, true, 2],
  ['/merged-limited', '/store/l2', 200, true, 2],
  ['/merged-phased', '/store/mp', 200, true, 1],
  ['/merged-phased', '/store/mp2', 200, true, 1],
];

/** The backends with phase histograms: [route, url_path, count]. */
const ROUND_TRIPS = [
  ['/phased', '/store/phased', 1],
  ['/merged-phased', '/store/mp2', 1],
];

/** The Prometheus samples that do not depend on timing: counts, and the size sums. */
function promCounts(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const name = line.slice(0, line.search(/[{ ]/));
    const counted = name.endsWith('_count') || (name.includes('_size_') && name.endsWith('_sum'));
    if (counted && !name.startsWith('process_') && !name.startsWith('nodejs_'))
      out[line.slice(0, line.lastIndexOf(' '))] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

function expectedProm() {
  const out = {};
  const server = (name, route, status) =>
    `${name}{http_request_method="GET",http_route="${route}",http_response_status_code="${status}"}`;
  for (const [route, answers] of Object.entries(ROUTER))
    for (const [status, count, bytes] of answers) {
      out[server('http_server_duration_seconds_count', route, status)] = count;
      out[server('http_server_response_size_bytes_count', route, status)] = count;
      out[server('http_server_response_size_bytes_sum', route, status)] = count * bytes;
    }
  for (const [route, complete, error, count] of PROXY)
    out[
      `krakend_proxy_duration_seconds_count{http_request_method="GET",http_route="${route}",krakend_response_complete="${complete}",error="${error}"}`
    ] = count;
  for (const [route, urlPath, status, ok, count] of BACKEND)
    out[
      `krakend_backend_duration_seconds_count{http_request_method="GET",http_route="${route}",krakend_backend_method="GET",url_path="${urlPath}",http_response_status_code="${status}",krakend_response_complete="${ok}",error="${!ok}"}`
    ] = count;
  for (const [route, urlPath, count] of ROUND_TRIPS)
    out[
      `krakend_backend_round_trip_duration_seconds_count{http_request_method="GET",http_route="${route}",krakend_backend_method="GET",url_path="${urlPath}"}`
    ] = count;
  return out;
}

/** The /__stats counters: answers per route and status, size counts, each layer's requests. */
function statsCounts(json) {
  const out = {};
  for (const [key, value] of Object.entries(json))
    if (
      /^krakend\.router\.response\..*\.(status\.\d+|size\.count)$/.test(key) ||
      key.startsWith('krakend.proxy.requests.')
    )
      out[key] = value;
  return out;
}

/** The same counts as /__stats names them: backends by url_pattern across endpoints. */
function expectedStats() {
  const out = {};
  const add = (key, n) => (out[key] = (out[key] ?? 0) + n);
  for (const [route, answers] of Object.entries(ROUTER))
    for (const [status, count] of answers) {
      add(`krakend.router.response.${route}.status.${status}`, count);
      add(`krakend.router.response.${route}.size.count`, count);
    }
  for (const [route, complete, error, count] of PROXY)
    add(`krakend.proxy.requests.layer.endpoint.name.${route}.complete.${complete}.error.${error}`, count);
  for (const [, urlPath, , ok, count] of BACKEND)
    add(`krakend.proxy.requests.layer.backend.name.${urlPath}.complete.${ok}.error.${!ok}`, count);
  return out;
}

async function metrics() {
  let prom;
  for (let i = 0; i < 40; i++) {
    prom = await fetchGet(`http://127.0.0.1:${promPort}/metrics`).catch(() => undefined);
    if (prom?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const stats = await fetchGet(`http://127.0.0.1:${statsPort}/__stats`);
  return { prom: prom.text, stats: stats.json };
}

before(async () => {
  api = await startBackend((req, res) => {
    const path = req.url.split('?')[0];
    if (path.startsWith('/store/')) {
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('X-Backend', 'yes');
      res.end(JSON.stringify({ url: req.url }));
    } else if (path === '/teapot') {
      res.writeHead(418, { 'Content-Type': 'text/plain' });
      res.end('no coffee');
    } else if (path === '/empty') {
      res.end();
    } else if (path === '/slow') {
      setTimeout(() => res.end('{"late":true}'), 1000).unref();
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  deadPort = await freePort();
  promPort = await freePort();
  statsPort = await freePort();
  gw = await startGateway(config(), { args: [...ARGS, '--log-level', 'DEBUG'] });
});

after(async () => {
  await gw?.stop();
  await api?.close();
});

test('each layer records the count and size of every kind of answer, on both exporters', async () => {
  const answers = [];
  for (const [path, invalidHost] of SEQUENCE) answers.push(await get(path, invalidHost));
  assert.deepEqual(
    answers.map((a) => a.status),
    SEQUENCE.map(([, , status]) => status),
  );
  const { prom, stats } = await metrics();
  assert.deepEqual(promCounts(prom), expectedProm());
  assert.deepEqual(statsCounts(stats), expectedStats());
});

test('the -d log names the meters of each layer, and the answers agree with the log', async () => {
  const logs = await gw.waitForLog(/\[ENDPOINT: GET \/merged-phased\] pipeline: /);
  const pipeline = (endpoint) => {
    const at = logs.indexOf(`[ENDPOINT: GET ${endpoint}] pipeline: `);
    assert.ok(at >= 0, `no pipeline line for ${endpoint}:\n${logs}`);
    return logs.slice(at, logs.indexOf('"', at));
  };
  // Meters only: the call runs direct, its head from a template, the answer passed as bytes.
  assert.match(
    pipeline('/items/{id}'),
    /pipeline: endpoint: metered; proxy: metered; core: no-op: the backend answer passed on; backend\[0\]: GET \/store\/\{id\}, the call, metered, head from a template, answer head passed as bytes; render: the backend's header lines as bytes$/,
  );
  assert.match(pipeline('/limited'), /pipeline: endpoint: metered, 1 guard; proxy: metered; /);
  const item = await get('/items/5');
  assert.ok(item.headers.includes('X-Backend: yes'), item.headers.join(' | '));
  assert.match(
    pipeline('/merged/{id}'),
    /pipeline: endpoint: metered; proxy: metered; core: merge of 2 backends as bytes \(WASM\); backend\[0\]: GET \/store\/\{id\}, the call, metered, head from a template, answer head read lean; backend\[1\]: GET \/store\/other, the call, metered, head from a template, answer head read lean; render: JSON bytes with header lines as bytes$/,
  );
  assert.match(
    pipeline('/merged-phased'),
    /backend\[0\]: GET \/store\/mp, the call, metered, head from a template, answer head read lean; backend\[1\]: GET \/store\/mp2, through the backend middlewares, head from the header map, answer head read into a map; render: JSON bytes with header lines as bytes$/,
  );
  // Phase histograms are a backend middleware: the call goes through it, its answer read into a
  // map, and written to the client through a header map.
  const phased = await get('/phased');
  assert.equal(phased.status, 200);
  assert.ok(phased.headers.includes('x-backend: yes'), phased.headers.join(' | '));
  assert.match(
    pipeline('/phased'),
    /backend\[0\]: GET \/store\/phased, through the backend middlewares, head from the header map, answer head read into a map; render: a header map$/,
  );
});
