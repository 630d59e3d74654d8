// Requests no endpoint serves in the OpenTelemetry global layer (telemetry/opentelemetry): the
// router's own answers (404, 405, a trailing-slash redirect) counted on the Prometheus exporter's
// /metrics and pushed over OTLP per method and status code, without a route label (many unmatched
// paths, one series), and a SERVER span named by the method. layers.global.disable_metrics /
// disable_traces and skip_paths leave them out. A matched no-op endpoint on the same gateway is
// recorded by its endpoint layer's meters and still answers with the backend's header lines as
// bytes: the recording of unmatched requests sits in the not-found branch, not in a service-wide
// middleware around every endpoint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, get, startBackend, startGateway } from './helpers/gateway.mjs';
import { startOtlpHttpReceiver } from './helpers/otlp.mjs';
import { rawRequest } from './helpers/raw-http.mjs';

const OTEL = 'telemetry/opentelemetry';
const INCOMING_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const NOT_FOUND_BODY = '404 page not found';

/** A backend whose header name keeps its case when its lines pass as bytes (a header map lower-cases it). */
function startApi() {
  return startBackend((req, res) => {
    res.setHeader('X-Backend', 'yes');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ url: req.url }));
  });
}

const noop = (endpoint, host) => ({
  endpoint,
  output_encoding: 'no-op',
  backend: [{ host: [host], url_pattern: '/store', encoding: 'no-op' }],
});

/** gw with a Prometheus exporter and `otel` merged into its telemetry/opentelemetry config. */
async function startPrometheus(t, otel = {}, { args = ['--workers', '1'], router } = {}) {
  const api = await startApi();
  const promPort = await freePort();
  const gw = await startGateway(
    {
      version: 3,
      extra_config: {
        ...(router ? { router } : {}),
        [OTEL]: {
          ...otel,
          exporters: { prometheus: [{ name: 'local', port: promPort, listen_ip: '127.0.0.1' }] },
        },
      },
      endpoints: [noop('/x', api.url), noop('/skipped-endpoint', api.url)],
    },
    { args },
  );
  t.after(async () => {
    await gw.stop();
    await api.close();
  });
  const scrape = async () => {
    let res;
    // the exporter starts with worker 0, maybe a moment after the gateway's port
    for (let i = 0; i < 40 && res?.status !== 200; i++) {
      res = await get(`http://127.0.0.1:${promPort}/metrics`).catch(() => undefined);
      if (res?.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(res?.status, 200);
    return res.text;
  };
  return { gw, scrape };
}

/** The samples of `text` whose name starts with `prefix`: { 'name{labels}': value }. */
function samples(text, prefix) {
  const out = {};
  for (const line of text.split('\n'))
    if (line.startsWith(prefix))
      out[line.slice(0, line.lastIndexOf(' '))] = Number(line.slice(line.lastIndexOf(' ') + 1));
  return out;
}

/** A request of any method token, written by hand. */
function request(port, method, path) {
  return rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
}

test('/metrics: 404, 405, redirect and auto_options answers per method and status, no http_route; skip_paths left out', async (t) => {
  const { gw, scrape } = await startPrometheus(
    t,
    { skip_paths: ['/skipped', '/skipped-endpoint'] },
    { router: { auto_options: true } },
  );
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/nowhere-${i}`)).status, 404);
  const missing = await get(`${gw.url}/nowhere`, { method: 'DELETE' });
  assert.equal(missing.status, 404);
  assert.equal(missing.text, NOT_FOUND_BODY);
  assert.equal((await get(`${gw.url}/x`, { method: 'POST', body: '{}' })).status, 405);
  assert.equal((await get(`${gw.url}/x/`)).status, 301);
  assert.equal((await get(`${gw.url}/x`, { method: 'OPTIONS' })).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await get(`${gw.url}/skipped`)).status, 404);
  for (let i = 0; i < 2; i++) assert.equal((await get(`${gw.url}/x`)).status, 200);

  const text = await scrape();
  const counts = samples(text, 'http_server_duration_seconds_count');
  const series = (method, status) =>
    `http_server_duration_seconds_count{http_request_method="${method}",http_response_status_code="${status}"}`;
  assert.deepEqual(counts, {
    [series('GET', 404)]: 3,
    [series('DELETE', 404)]: 1,
    [series('POST', 405)]: 1,
    [series('GET', 301)]: 1,
    [series('OPTIONS', 200)]: 1,
    'http_server_duration_seconds_count{http_request_method="GET",http_route="/x",http_response_status_code="200"}': 2,
  });
  const sizes = samples(text, 'http_server_response_size_bytes_sum');
  assert.equal(
    sizes['http_server_response_size_bytes_sum{http_request_method="GET",http_response_status_code="404"}'],
    3 * NOT_FOUND_BODY.length,
  );
  // the duration histogram of a 404 is a real one: its +Inf bucket holds every observation
  assert.equal(
    samples(text, 'http_server_duration_seconds_bucket')[
      'http_server_duration_seconds_bucket{http_request_method="GET",http_response_status_code="404",le="+Inf"}'
    ],
    3,
  );
  assert.ok(!text.includes('/nowhere'), 'no request path as a label value');
  assert.ok(!text.includes('/skipped'), 'skip_paths: neither the unmatched path nor the endpoint');
  assert.ok(!text.includes('http_route=""'), 'the route label is left out, not empty');
});

test('many different unmatched paths make one series: /metrics does not grow with them', async (t) => {
  const { gw, scrape } = await startPrometheus(t);
  assert.equal((await get(`${gw.url}/probe-first`)).status, 404);
  const before = await scrape();
  const N = 200;
  for (let wave = 0; wave < N / 20; wave++)
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await get(`${gw.url}/scan/${wave}/${i}/${Math.random().toString(36).slice(2)}`);
        assert.equal(res.status, 404);
      }),
    );
  const after = await scrape();
  const key = 'http_server_duration_seconds_count{http_request_method="GET",http_response_status_code="404"}';
  assert.equal(samples(before, 'http_server_duration_seconds_count')[key], 1);
  assert.equal(samples(after, 'http_server_duration_seconds_count')[key], N + 1);
  const lines = (text) => text.split('\n').filter((l) => l.startsWith('http_server_')).length;
  assert.ok(lines(before) > 0);
  assert.equal(lines(after), lines(before), 'the same global-layer lines, only their values changed');
  assert.ok(!after.includes('/scan'), 'no request path as a label value');
});

test("a matched no-op endpoint is recorded by its endpoint layer and answers with the backend's header case", async (t) => {
  const front = process.env.GW_FRONT ? ['--front', process.env.GW_FRONT] : [];
  const { gw, scrape } = await startPrometheus(
    t,
    {},
    { args: ['--workers', '1', ...front, '--log-level', 'DEBUG'] },
  );
  const logged =
    /\[ENDPOINT: GET \/x\] pipeline: endpoint: metered; proxy: metered; .*answer head passed as bytes; render: the backend's header lines as bytes/;
  assert.match(await gw.waitForLog(logged), logged);
  assert.equal((await request(gw.port, 'GET', '/nowhere')).status, 404);
  const served = await request(gw.port, 'GET', '/x');
  assert.equal(served.status, 200);
  // the backend's header lines passed as bytes keep their case; a header map lower-cases names
  assert.ok(served.headers.includes('X-Backend: yes'), served.headers.join(' | '));
  const counts = samples(await scrape(), 'http_server_duration_seconds_count');
  assert.equal(
    counts[
      'http_server_duration_seconds_count{http_request_method="GET",http_route="/x",http_response_status_code="200"}'
    ],
    1,
  );
  assert.equal(
    counts['http_server_duration_seconds_count{http_request_method="GET",http_response_status_code="404"}'],
    1,
  );
});

test('layers.global.disable_metrics: unmatched requests are not counted (the proxy layer still is)', async (t) => {
  const { gw, scrape } = await startPrometheus(t, { layers: { global: { disable_metrics: true } } });
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/nowhere-${i}`)).status, 404);
  assert.equal((await get(`${gw.url}/x`, { method: 'POST', body: '{}' })).status, 405);
  assert.equal((await get(`${gw.url}/x`)).status, 200);
  const text = await scrape();
  assert.match(text, /krakend_proxy_duration_seconds_count\{[^}]*http_route="\/x"[^}]*\} 1/);
  assert.ok(!text.includes('http_server_'), text);
});

test('a method the semantic conventions do not know is counted as _OTHER (node:http front)', async (t) => {
  const { gw, scrape } = await startPrometheus(t, {}, { args: ['--workers', '1', '--node-http'] });
  assert.equal((await request(gw.port, 'PROPFIND', '/x')).status, 405);
  assert.equal((await request(gw.port, 'MKCOL', '/nowhere')).status, 404);
  assert.equal((await request(gw.port, 'GET', '/nowhere')).status, 404);
  assert.deepEqual(samples(await scrape(), 'http_server_duration_seconds_count'), {
    'http_server_duration_seconds_count{http_request_method="_OTHER",http_response_status_code="404"}': 1,
    'http_server_duration_seconds_count{http_request_method="_OTHER",http_response_status_code="405"}': 1,
    'http_server_duration_seconds_count{http_request_method="GET",http_response_status_code="404"}': 1,
  });
});

/** An OTLP/HTTP receiver and gw pushing to it (batch delay 100 ms), stopped after the test. */
async function startTraced(t, otel) {
  const receiver = await startOtlpHttpReceiver();
  const api = await startApi();
  const gw = await startGateway(
    {
      version: 3,
      extra_config: {
        [OTEL]: {
          metric_reporting_period: 1,
          ...otel,
          exporters: { otlp: [{ name: 'local', host: '127.0.0.1', port: receiver.port, use_http: true }] },
        },
      },
      endpoints: [{ endpoint: '/t', backend: [{ host: [api.url], url_pattern: '/store' }] }],
    },
    { env: { OTEL_BSP_SCHEDULE_DELAY: '100' } },
  );
  t.after(async () => {
    await gw.stop();
    await api.close();
    await receiver.close();
  });
  return { receiver, gw };
}

test('OTLP: a SERVER span named by the method for a 404 and a 405, caller context followed; metrics pushed without http.route', async (t) => {
  const { receiver, gw } = await startTraced(t, { skip_paths: ['/skipped'] });
  const sampled = `00-${INCOMING_TRACE}-${CALLER_SPAN}-01`;
  assert.equal((await get(`${gw.url}/missing`, { headers: { traceparent: sampled } })).status, 404);
  assert.equal((await get(`${gw.url}/missing-too`)).status, 404);
  const unsampled = `00-${'1'.repeat(32)}-${CALLER_SPAN}-00`;
  assert.equal((await get(`${gw.url}/unsampled`, { headers: { traceparent: unsampled } })).status, 404);
  assert.equal((await get(`${gw.url}/skipped`)).status, 404);
  assert.equal((await get(`${gw.url}/t`, { method: 'POST', body: '{}' })).status, 405);
  assert.equal((await get(`${gw.url}/t`)).status, 200);

  await receiver.until((s) => s.spans.filter((x) => x.kind === 2).length >= 4);
  await new Promise((r) => setTimeout(r, 400)); // more batch periods: anything else would be here
  const servers = receiver.spans.filter((x) => x.kind === 2);
  assert.deepEqual(servers.map((x) => x.name).sort(), ['GET', 'GET', 'GET /t', 'POST']);
  const unmatched = servers.filter((x) => x.name !== 'GET /t');
  assert.ok(
    unmatched.every((x) => !('http.route' in x.attributes)),
    'no http.route without a matched route',
  );
  const continued = unmatched.find((x) => x.attributes['url.path'] === '/missing');
  assert.ok(continued, unmatched.map((x) => x.attributes['url.path']).join(', '));
  assert.equal(continued.traceId, INCOMING_TRACE, "the caller's trace");
  assert.equal(continued.parentSpanId, CALLER_SPAN);
  assert.equal(continued.attributes['http.request.method'], 'GET');
  assert.equal(continued.attributes['http.response.status_code'], 404);
  assert.equal(continued.attributes['krakend.stage'], 'global');
  assert.equal(continued.statusCode, 0, 'a 4xx is no server error');
  assert.ok(continued.end >= continued.start && continued.end - continued.start < 1_000_000_000n);
  const fresh = unmatched.find((x) => x.attributes['url.path'] === '/missing-too');
  assert.ok(fresh && fresh.traceId !== INCOMING_TRACE && fresh.parentSpanId === '', 'a new trace');
  const refused = unmatched.find((x) => x.name === 'POST');
  assert.equal(refused.attributes['http.response.status_code'], 405);
  assert.ok(!servers.some((x) => x.attributes['url.path'] === '/skipped'), 'skip_paths');
  assert.ok(!receiver.spans.some((x) => x.traceId === '1'.repeat(32)), 'an unsampled caller is followed');

  // metrics are not sampled: the unsampled 404 is counted, the skipped one is not
  const point = (s) =>
    s.metrics.findLast(
      (m) =>
        m.name === 'http.server.duration' &&
        m.attributes['http.response.status_code'] === 404 &&
        m.attributes['http.request.method'] === 'GET',
    );
  await receiver.until((s) => point(s)?.count === 3);
  assert.deepEqual(point(receiver).attributes, {
    'http.request.method': 'GET',
    'http.response.status_code': 404,
  });
  const size = receiver.metrics.findLast(
    (m) => m.name === 'http.server.response.size' && m.attributes['http.response.status_code'] === 404,
  );
  assert.equal(size.sum, 3 * NOT_FOUND_BODY.length);
});

test('OTLP: layers.global.disable_traces drops the span of a 404 (the proxy span of an endpoint stays)', async (t) => {
  const { receiver, gw } = await startTraced(t, { layers: { global: { disable_traces: true } } });
  assert.equal((await get(`${gw.url}/missing`)).status, 404);
  assert.equal((await get(`${gw.url}/t`)).status, 200);
  await receiver.until((s) => s.spans.some((x) => x.name === 'proxy /t'));
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(!receiver.spans.some((x) => x.kind === 2), receiver.spans.map((x) => x.name).join(', '));
  // the global layer's metrics are still on
  await receiver.until((s) =>
    s.metrics.some(
      (m) => m.name === 'http.server.duration' && m.attributes['http.response.status_code'] === 404,
    ),
  );
});
