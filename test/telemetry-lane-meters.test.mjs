// Metrics on the lanes: with `telemetry/metrics` and a Prometheus exporter, a plain no-op
// endpoint keeps the pass-through lane (src/proxy/passthrough-lane.ts), a byte-path merge the
// merge lane, and the lanes record what the telemetry middlewares record on the header-map path. The same config is served twice: as is
// (lane) and with router.forwarded_by_client_ip (a service-wide rule that turns the lane off).
// Both get the same requests (answers of every kind: passed, a backend error status, a timeout, a
// refused connection, a rate-limit refusal, a header gw's client will not write); then every
// count and size of /metrics and /__stats is compared. Durations differ from run to run: only
// their counts are compared. A backend with phase histograms (no lane meter) keeps the lane off.
// The same holds for byte-path merges on the merge lane (src/proxy/endpoint.ts): their endpoint
// and proxy layers record the merge, each backend's layer its own call.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get as fetchGet, freePort, startBackend, startGateway } from './helpers/gateway.mjs';
import { rawRequest } from './helpers/raw-http.mjs';

// The lanes exist on the uWS front only.
const UWS = ['--workers', '1', '--front', 'uws'];
const UWS_DEBUG = [...UWS, '--log-level', 'DEBUG'];

let api;
let lane;
let layered;
let deadPort;

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
    backend: [{ host: [host], url_pattern: urlPattern, encoding: 'no-op', ...(extra.backendExtra ?? {}) }],
  };
}

async function config(extraRouter) {
  const [promPort, statsPort] = [await freePort(), await freePort()];
  const phased = noop('/phased', '/store/phased');
  phased.backend[0].extra_config = {
    'telemetry/opentelemetry': { backend: { metrics: { round_trip: true } } },
  };
  return {
    promPort,
    statsPort,
    config: {
      version: 3,
      timeout: '300ms',
      extra_config: {
        router: { disable_access_log: true, ...extraRouter },
        'telemetry/metrics': { listen_address: `127.0.0.1:${statsPort}` },
        'telemetry/opentelemetry': {
          service_name: 'gw-lane',
          exporters: { prometheus: [{ name: 'local', port: promPort, listen_ip: '127.0.0.1' }] },
        },
      },
      endpoints: [
        noop('/items/{id}', '/store/{id}'),
        noop('/teapot', '/teapot'),
        noop('/slow', '/slow'),
        noop('/dead', '/x', {}, `http://127.0.0.1:${deadPort}`),
        noop('/limited', '/store/limited', {
          extra_config: { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1m' } },
        }),
        phased,
        merged('/merged/{id}', [
          ['/store/{id}', { allow: ['url'] }],
          ['/store/other', { group: 'other' }],
        ]),
        merged('/merged-partly', ['/store/partly', ['/teapot', { group: 't' }]]),
        merged('/merged-failing', ['/teapot', ['/x', { host: [`http://127.0.0.1:${deadPort}`] }]]),
        merged('/merged-slow', ['/store/slow', ['/slow', { group: 's' }]]),
        merged('/merged-empty', ['/store/e', ['/empty', { group: 'e' }]]),
        merged('/merged-limited', ['/store/limited', ['/store/l2', { group: 'l' }]], {
          extra_config: { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1m' } },
        }),
        merged('/merged-phased', [
          '/store/mp',
          [
            '/store/mp2',
            {
              group: 'p',
              extra_config: { 'telemetry/opentelemetry': { backend: { metrics: { round_trip: true } } } },
            },
          ],
        ]),
      ],
    },
  };
}

/** A GET, with a Host value gw's client will not write when `invalidHost` is set. */
function get(port, path, invalidHost) {
  const host = invalidHost ? 'gw\x7ftest' : 'gw.test';
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

const SEQUENCE = [
  ['/items/1'],
  ['/items/2'],
  ['/items/3'],
  ['/teapot'],
  ['/slow'],
  ['/dead'],
  ['/limited'],
  ['/limited'],
  ['/limited'],
  ['/items/4', 'invalid host'],
  ['/phased'],
  ['/merged/1'],
  ['/merged/2'],
  ['/merged-partly'],
  ['/merged-failing'],
  ['/merged-slow'],
  ['/merged-empty'],
  ['/merged-limited'],
  ['/merged-limited'],
  ['/merged-limited'],
  ['/merged/3', 'invalid host'],
  ['/merged-phased'],
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

/** The /__stats entries that do not depend on timing: counters and size statistics. */
function statsCounts(json) {
  const out = {};
  for (const [key, value] of Object.entries(json))
    if (
      key.startsWith('krakend.') &&
      !key.includes('.time.') &&
      !key.includes('.latency.') &&
      !key.includes('.connected')
    )
      out[key] = value;
  return out;
}

async function metricsOf(gw) {
  let prom;
  for (let i = 0; i < 40; i++) {
    prom = await fetchGet(`http://127.0.0.1:${gw.promPort}/metrics`).catch(() => undefined);
    if (prom?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const stats = await fetchGet(`http://127.0.0.1:${gw.statsPort}/__stats`);
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
  const a = await config({});
  const b = await config({ forwarded_by_client_ip: true });
  lane = Object.assign(await startGateway(a.config, { args: UWS_DEBUG }), a);
  layered = Object.assign(await startGateway(b.config, { args: UWS }), b);
});

after(async () => {
  await lane?.stop();
  await layered?.stop();
  await api?.close();
});

test('metrics keep the lanes, and the lanes record the counts and sizes of the header-map path', async () => {
  for (const path of ['/items/{id}', '/teapot', '/slow', '/dead', '/limited'])
    assert.match(
      lane.logs(),
      new RegExp(
        `\\[ENDPOINT: GET ${path.replace(/[{}]/g, '\\$&')}\\] response path: no-op pass-through lane`,
      ),
    );
  assert.match(lane.logs(), /\[ENDPOINT: GET \/phased\] response path: no-op"/);
  for (const path of ['/merged/{id}', '/merged-partly', '/merged-failing', '/merged-limited'])
    assert.match(
      lane.logs(),
      new RegExp(
        `\\[ENDPOINT: GET ${path.replace(/[{}]/g, '\\$&')}\\] response path: wasm bytes, merge lane`,
      ),
    );
  assert.match(lane.logs(), /\[ENDPOINT: GET \/merged-phased\] response path: wasm bytes"/);

  const statuses = [];
  for (const gw of [lane, layered]) {
    const seen = [];
    for (const [path, invalid] of SEQUENCE) seen.push(await get(gw.port, path, invalid));
    statuses.push(seen.map((a) => a.status));
    // the backend's header names as it sent them: the lane answered (lower-case: header maps)
    assert.ok(seen[0].headers.includes(gw === lane ? 'X-Backend: yes' : 'x-backend: yes'));
  }
  assert.deepEqual(
    statuses[0],
    // an invalid Host is refused at the front (400), before any layer records it
    [200, 200, 200, 418, 500, 500, 200, 200, 503, 400, 200]
      // merged: whole, a backend failing, both, one too slow, one empty, refused, invalid host
      .concat([200, 200, 200, 500, 200, 200, 200, 200, 503, 400, 200]),
  );
  assert.deepEqual(statuses[0], statuses[1]);

  const [a, b] = [await metricsOf(lane), await metricsOf(layered)];
  const [promA, promB] = [promCounts(a.prom), promCounts(b.prom)];
  assert.deepEqual(promA, promB);
  const [statsA, statsB] = [statsCounts(a.stats), statsCounts(b.stats)];
  assert.deepEqual(statsA, statsB);

  // and the figures are there: each layer, each outcome
  const route = (r, status) =>
    `http_server_duration_seconds_count{http_request_method="GET",http_route="${r}",http_response_status_code="${status}"}`;
  const proxy = (r, complete, error) =>
    `krakend_proxy_duration_seconds_count{http_request_method="GET",http_route="${r}",krakend_response_complete="${complete}",error="${error}"}`;
  /** A failed backend call's series. */
  const backendFailure = (r, urlPath, status) =>
    `krakend_backend_duration_seconds_count{http_request_method="GET",http_route="${r}",krakend_backend_method="GET",url_path="${urlPath}",http_response_status_code="${status}",krakend_response_complete="false",error="true"}`;
  assert.equal(promA[route('/items/{id}', 200)], 3);
  assert.equal(promA[route('/items/{id}', 400)], undefined, 'refused at the front, unrecorded');
  assert.equal(promA[route('/teapot', 418)], 1);
  assert.equal(promA[route('/limited', 503)], 1);
  assert.equal(promA[backendFailure('/slow', '/slow', 0)], 1);
  assert.equal(
    promA[proxy('/limited', false, false)],
    2,
    'the refused request never reached the proxy layer',
  );
  // the merge lane's layers: the merge, each backend call, a refusal the proxy never saw
  assert.equal(promA[proxy('/merged/{id}', true, false)], 2);
  assert.equal(promA[proxy('/merged-partly', false, true)], 1);
  assert.equal(promA[proxy('/merged-limited', true, false)], 2);
  assert.equal(promA[route('/merged-limited', 503)], 1);
  assert.equal(promA[backendFailure('/merged-partly', '/teapot', 418)], 1);
  assert.equal(
    promA[backendFailure('/merged-empty', '/empty', 0)],
    1,
    'an empty body fails the backend stage check',
  );
  assert.equal(statsA['krakend.router.response./teapot.status.418'], 1);
  assert.ok(
    Object.keys(promA).some((k) => k.startsWith('krakend_backend_round_trip_duration_seconds_count')),
    Object.keys(promA).join('\n'),
  );
});
