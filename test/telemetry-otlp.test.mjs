// OTLP push (telemetry/opentelemetry exporters.otlp): real OTLP receivers (HTTP/protobuf on
// node:http, gRPC on @grpc/grpc-js), a real backend and `gw run`: spans of the three layers with
// their parents and the W3C traceparent the backend receives, layer switches, skip_paths,
// sampling, metrics pushed from the aggregating thread, a collector that is down, `gw check`
// paths, and proof (through a module-resolution hook) that nothing @opentelemetry is loaded
// without an otlp exporter.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfig } from '../dist/config/index.js';
import { loadAllModules } from '../dist/extensions/registry.js';
import { MetricsStore, mergeSnapshots } from '../dist/telemetry/metrics-store.js';
import { otlpUrl, seriesToMetrics } from '../dist/telemetry/otlp.js';
import {
  freePort,
  get,
  jsonBackend,
  ROOT,
  runGw,
  startBackend,
  startGateway,
  writeConfig,
} from './helpers/gateway.mjs';
import { startOtlpGrpcReceiver, startOtlpHttpReceiver } from './helpers/otlp.mjs';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

const OTEL = 'telemetry/opentelemetry';
const INCOMING_TRACE = '0af7651916cd43dd8448eb211c80319c';
const INCOMING = `00-${INCOMING_TRACE}-b7ad6b7169203331-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

/** Runs gw with a hook that logs every resolved import specifier into a file; returns the gateway and a reader. */
async function startWatched(config, args = ['--workers', '1']) {
  const log = join(tmpdir(), `gw-imports-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const gw = await startGateway(config, {
    args,
    env: {
      OTEL_BSP_SCHEDULE_DELAY: '100',
      GW_IMPORT_LOG: log,
      NODE_OPTIONS: `--import=${join(ROOT, 'test', 'helpers', 'import-watch.mjs')}`,
    },
    startTimeoutMs: 30000,
  });
  const otelImports = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('@opentelemetry/'));
  return { gw, otelImports };
}

function traceBackend() {
  return jsonBackend({ '/a': { a: 1 }, '/b': { b: 2 }, '/fail': { __status: 503, __body: { no: 1 } } });
}

const oneEndpoint = (backendUrl) => [
  { endpoint: '/t', backend: [{ host: [backendUrl], url_pattern: '/a' }] },
];
const startBatched = (config) => startGateway(config, { env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });

/**
 * An OTLP receiver (HTTP, or gRPC with `grpc`), the trace backend and gw with `otel(receiver)` as
 * its telemetry/opentelemetry config, all stopped after the test. `start` runs gw (batch delay 100 ms).
 */
async function startTraced(t, otel, { endpoints = oneEndpoint, grpc = false, start = startBatched } = {}) {
  const receiver = grpc ? await startOtlpGrpcReceiver() : await startOtlpHttpReceiver();
  const backend = await traceBackend();
  const started = await start({
    version: 3,
    extra_config: { [OTEL]: otel(receiver) },
    endpoints: endpoints(backend.url),
  });
  const gw = started.gw ?? started;
  t.after(async () => {
    await gw.stop();
    await backend.close();
    await receiver.close();
  });
  return { receiver, backend, gw, otelImports: started.otelImports };
}

test('otlpUrl: gRPC origin on 4317, HTTP /v1/<signal> on 4318, schemes and IPv6 kept', () => {
  assert.equal(otlpUrl({ name: 'a', host: 'collector' }, 'traces'), 'http://collector:4317');
  assert.equal(
    otlpUrl({ name: 'a', host: 'collector', use_http: true }, 'metrics'),
    'http://collector:4318/v1/metrics',
  );
  assert.equal(
    otlpUrl({ name: 'a', host: 'https://otel.example', port: 443, use_http: true }, 'traces'),
    'https://otel.example/v1/traces',
  );
  assert.equal(otlpUrl({ name: 'a', host: '::1', port: 9 }, 'traces'), 'http://[::1]:9');
});

test('seriesToMetrics: per-bucket counts add up to the count, seconds, OTel attribute names', () => {
  const store = new MetricsStore();
  const s = store.series('server.duration', { method: 'GET', route: '/x', status: '200' }, 'us');
  for (const us of [100, 700, 3000, 3000, 2_000_000]) s.record(us);
  const [metric] = seriesToMetrics(mergeSnapshots([store.snapshot()]), [1, 0], [2, 0]);
  assert.equal(metric.descriptor.name, 'http.server.duration');
  assert.equal(metric.descriptor.unit, 's');
  const [point] = metric.dataPoints;
  assert.deepEqual(point.attributes, {
    'http.request.method': 'GET',
    'http.route': '/x',
    'http.response.status_code': 200,
  });
  const { boundaries, counts } = point.value.buckets;
  assert.equal(counts.length, boundaries.length + 1);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    5,
  );
  assert.equal(counts[boundaries.indexOf(0.0005)], 1, '100 µs ≤ 0.5 ms');
  assert.equal(counts[boundaries.indexOf(0.001)], 1, '700 µs in (0.5 ms, 1 ms]');
  assert.equal(counts[boundaries.indexOf(0.005)], 2, '3 ms in (2.5 ms, 5 ms]');
  assert.equal(counts[boundaries.indexOf(2.5)], 1, '2 s in (1 s, 2.5 s]');
  assert.ok(Math.abs(point.value.sum - 2.0068) < 1e-9);
});

test('gw check: otlp host, port and do-nothing exporters reported with their paths', () => {
  const at = `$.extra_config["${OTEL}"].exporters.otlp`;
  const check = (otlp) =>
    checkConfig({ version: 3, extra_config: { [OTEL]: { exporters: { otlp } } }, endpoints: [] });
  let r = check([
    { name: 'a', host: 'localhost:4317' },
    { name: 'b', host: 'http://collector/v1/traces' },
    { name: 'c', host: '' },
    { name: 'd', host: 'collector', port: 0 },
    { name: 'e', host: 'has space' },
  ]);
  assert.deepEqual(r.errors.map((e) => e.path).sort(), [
    `${at}[0].host`,
    `${at}[1].host`,
    `${at}[2].host`,
    `${at}[3].port`,
    `${at}[4].host`,
  ]);
  assert.match(r.errors.find((e) => e.path === `${at}[0].host`).message, /port goes in `port`/);
  r = check([
    { name: 'a', host: 'otel-collector.monitoring.svc', port: 4317 },
    { name: 'b', host: '10.0.0.7', use_http: true },
    { name: 'c', host: '::1' },
    { name: 'd', host: 'https://otlp.example.com', disable_metrics: true, disable_traces: true },
  ]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.warnings.map((w) => w.path),
    [`${at}[3]`],
  );
  r = checkConfig({
    version: 3,
    extra_config: { [OTEL]: { trace_sample_rate: 2, layers: { global: { disable_propagation: 'yes' } } } },
    endpoints: [],
  });
  assert.deepEqual(r.errors.map((e) => e.path).sort(), [
    `$.extra_config["${OTEL}"].layers.global.disable_propagation`,
    `$.extra_config["${OTEL}"].trace_sample_rate`,
  ]);
});

test('OTLP/HTTP, 2 workers: server, proxy and backend spans, traceparent to the backend, metrics pushed', async (t) => {
  const { receiver, backend, gw, otelImports } = await startTraced(
    t,
    (receiver) => ({
      service_name: 'gw-otlp-test',
      service_version: '1.2.3',
      metric_reporting_period: 1,
      layers: { backend: { traces: { static_attributes: [{ key: 'team', value: 'charlie' }] } } },
      exporters: { otlp: [{ name: 'local', host: '127.0.0.1', port: receiver.port, use_http: true }] },
    }),
    {
      endpoints: (url) => [
        { endpoint: '/t', backend: [{ host: [url], url_pattern: '/a' }] },
        {
          endpoint: '/two',
          backend: [
            { host: [url], url_pattern: '/a' },
            { host: [url], url_pattern: '/fail' },
          ],
        },
      ],
      start: (config) => startWatched(config, ['--workers', '2', '--front', 'uws']),
    },
  );

  // a caller's trace is continued: same trace id all the way to the backend
  const res = await get(`${gw.url}/t`, { headers: { traceparent: INCOMING } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { a: 1 });
  const sent = backend.requests.at(-1).headers.traceparent;
  const [, sentTrace, sentParent] = TRACEPARENT.exec(sent) ?? [];
  assert.equal(sentTrace, INCOMING_TRACE, `backend traceparent ${sent}`);

  const { spans } = await receiver.until(
    (s) => s.spans.filter((x) => x.traceId === INCOMING_TRACE).length >= 3,
  );
  const trace = spans.filter((x) => x.traceId === INCOMING_TRACE);
  const server = trace.find((x) => x.name === 'GET /t');
  const proxy = trace.find((x) => x.name === 'proxy /t');
  const call = trace.find((x) => x.name === 'backend GET /a');
  assert.ok(server && proxy && call, trace.map((x) => x.name).join(', '));
  assert.equal(server.parentSpanId, 'b7ad6b7169203331', "the server span is the caller span's child");
  assert.equal(proxy.parentSpanId, server.spanId);
  assert.equal(call.parentSpanId, proxy.spanId);
  assert.equal(sentParent, call.spanId, 'the backend sees the backend span as its parent');
  assert.equal(server.kind, 2, 'SERVER');
  assert.equal(call.kind, 3, 'CLIENT');
  assert.equal(server.resource['service.name'], 'gw-otlp-test');
  assert.equal(server.resource['service.version'], '1.2.3');
  assert.equal(server.attributes['http.route'], '/t');
  assert.equal(server.attributes['http.response.status_code'], 200);
  assert.equal(call.attributes['http.response.status_code'], 200);
  assert.equal(call.attributes.team, 'charlie', 'static_attributes');

  // without a caller's trace, a new one per request; a failing backend marks its span as an error
  for (let i = 0; i < 6; i++) assert.equal((await get(`${gw.url}/two`)).status, 200);
  await receiver.until((s) => s.spans.filter((x) => x.name === 'backend GET /fail').length >= 6);
  const failed = receiver.spans.filter((x) => x.name === 'backend GET /fail');
  assert.ok(
    failed.every((x) => x.statusCode === 2),
    'STATUS_CODE_ERROR',
  );
  assert.ok(failed.every((x) => x.attributes['http.response.status_code'] === 503));
  const traces = new Set(receiver.spans.filter((x) => x.name === 'GET /two').map((x) => x.traceId));
  assert.equal(traces.size, 6);
  for (const r of backend.requests.filter((r) => r.url === '/fail'))
    assert.ok(traces.has(TRACEPARENT.exec(r.headers.traceparent)[1]));

  // metrics: the same layer series as /metrics, every second, from the aggregating thread
  await receiver.until((s) =>
    s.metrics.some(
      (m) => m.name === 'http.server.duration' && m.attributes['http.route'] === '/two' && m.count === 6,
    ),
  );
  const names = new Set(receiver.metrics.map((m) => m.name));
  for (const n of [
    'http.server.duration',
    'http.server.response.size',
    'krakend.proxy.duration',
    'krakend.backend.duration',
  ])
    assert.ok(names.has(n), `${n} in ${[...names]}`);
  const backendPoint = receiver.metrics.findLast(
    (m) => m.name === 'krakend.backend.duration' && m.attributes['url.path'] === '/fail',
  );
  assert.equal(backendPoint.attributes.error, true);
  assert.equal(backendPoint.resource['service.name'], 'gw-otlp-test');
  assert.equal(
    backendPoint.counts.reduce((a, b) => a + b, 0),
    backendPoint.count,
  );
  assert.ok(otelImports().length > 0, 'positive control: the watch hook sees @opentelemetry imports');
});

test('layers: proxy traces off, backend traces off still propagates, skip_paths, no OTLP metrics', async (t) => {
  const { receiver, backend, gw } = await startTraced(
    t,
    (receiver) => ({
      metric_reporting_period: 1,
      skip_paths: ['/skip'],
      layers: { proxy: { disable_traces: true }, backend: { traces: { disable_stage: true } } },
      exporters: {
        otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true, disable_metrics: true }],
      },
    }),
    {
      endpoints: (url) => [
        { endpoint: '/t', backend: [{ host: [url], url_pattern: '/a' }] },
        { endpoint: '/skip', backend: [{ host: [url], url_pattern: '/b' }] },
      ],
    },
  );
  assert.equal((await get(`${gw.url}/skip`)).status, 200);
  assert.equal((await get(`${gw.url}/t`)).status, 200);
  await receiver.until((s) => s.spans.some((x) => x.name === 'GET /t'));
  await new Promise((r) => setTimeout(r, 400)); // two more batch periods: anything else would be here
  assert.deepEqual(
    receiver.spans.map((x) => x.name),
    ['GET /t'],
  );
  const server = receiver.spans[0];
  assert.equal(server.resource['service.name'], 'KrakenD', 'the default service name');
  const toA = backend.requests.find((r) => r.url === '/a');
  assert.equal(TRACEPARENT.exec(toA.headers.traceparent)?.[2], server.spanId, 'parent = the server span');
  assert.equal(backend.requests.find((r) => r.url === '/b').headers.traceparent, undefined, 'skip_paths');
  assert.equal(receiver.posts.metrics, 0, 'disable_metrics');
});

test('trace_sample_rate 0 and disable_propagation: no spans, no traceparent; metrics still pushed', async (t) => {
  const { receiver, backend, gw } = await startTraced(t, (receiver) => ({
    trace_sample_rate: 0,
    metric_reporting_period: 1,
    layers: { global: { disable_propagation: true } },
    exporters: { otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true }] },
  }));
  for (let i = 0; i < 5; i++)
    assert.equal(
      (await get(`${gw.url}/t`, { headers: i === 0 ? { traceparent: INCOMING } : {} })).status,
      200,
    );
  // a metrics push that counts all 5 requests comes after their spans would have been sent
  await receiver.until((s) => s.metrics.some((m) => m.name === 'http.server.duration' && m.count === 5));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.spans.length, 0, 'sampled out (and the sampled caller trace ignored)');
  assert.equal(receiver.posts.traces, 0);
  assert.ok(
    backend.requests.every((r) => r.headers.traceparent === undefined),
    'disable_propagation',
  );
});

test('trace_sample_rate 0 with propagation: unsampled traceparent to backends; a sampled caller is followed', async (t) => {
  const { receiver, backend, gw } = await startTraced(t, (receiver) => ({
    trace_sample_rate: 0,
    exporters: {
      otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true, disable_metrics: true }],
    },
  }));
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/t`)).status, 200);
  const unsampled = backend.requests.map((r) => r.headers.traceparent);
  assert.equal(unsampled.length, 3);
  assert.ok(
    unsampled.every((h) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/.test(h)),
    unsampled.join(' '),
  );
  assert.equal(new Set(unsampled.map((h) => h.slice(3, 35))).size, 3, 'a trace id per request');
  // the caller decided to sample: its trace is continued whatever the rate (parent-based sampling)
  assert.equal((await get(`${gw.url}/t`, { headers: { traceparent: INCOMING } })).status, 200);
  await receiver.until((s) => s.spans.length >= 3);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(receiver.spans.map((x) => x.name).sort(), ['GET /t', 'backend GET /a', 'proxy /t']);
  assert.ok(receiver.spans.every((x) => x.traceId === INCOMING_TRACE));
  assert.match(
    backend.requests.at(-1).headers.traceparent,
    new RegExp(`^00-${INCOMING_TRACE}-[0-9a-f]{16}-01$`),
  );
});

test('without an otlp exporter no @opentelemetry module is loaded; a collector that is down costs no request', async (t) => {
  const backend = await traceBackend();
  const promPort = await freePort();
  const off = await startWatched({
    version: 3,
    extra_config: {
      [OTEL]: { exporters: { prometheus: [{ name: 'p', port: promPort, listen_ip: '127.0.0.1' }] } },
    },
    endpoints: [{ endpoint: '/t', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
  });
  t.after(async () => {
    await off.gw.stop();
    await backend.close();
  });
  for (let i = 0; i < 3; i++)
    assert.equal((await get(`${off.gw.url}/t`, { headers: { traceparent: INCOMING } })).status, 200);
  assert.match(
    (await get(`http://127.0.0.1:${promPort}/metrics`)).text,
    /http_server_duration_seconds_count/,
  );
  assert.deepEqual(off.otelImports(), []);
  assert.equal(backend.requests.at(-1).headers.traceparent, undefined);
  assert.doesNotMatch(off.gw.logs(), /otlp/);
  await off.gw.stop();

  // nobody listens on these ports: gRPC and HTTP exporters both fail, requests do not notice
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const down = await startGateway(
    {
      version: 3,
      extra_config: {
        [OTEL]: {
          metric_reporting_period: 1,
          exporters: {
            otlp: [
              { name: 'g', host: '127.0.0.1', port: grpcPort },
              { name: 'h', host: '127.0.0.1', port: httpPort, use_http: true },
            ],
          },
        },
      },
      endpoints: [{ endpoint: '/t', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
    },
    { args: ['--workers', '2', '--front', 'uws'], env: { OTEL_BSP_SCHEDULE_DELAY: '100' } },
  );
  t.after(() => down.stop());
  for (let round = 0; round < 4; round++) {
    const all = await Promise.all(Array.from({ length: 25 }, () => get(`${down.url}/t`)));
    assert.ok(all.every((r) => r.status === 200));
    await new Promise((r) => setTimeout(r, 300));
  }
  const logs = await down.waitForLog(/otlp: .*(export|ECONNREFUSED|UNAVAILABLE)/i, 15000);
  assert.match(logs, /otlp: .*(export|ECONNREFUSED|UNAVAILABLE)/i, 'the failure is reported');
  // rate-limited: one line per thread and exporter kind per 30 s, not one per batch
  const warnings = logs.split('\n').filter((l) => /"level":40.*otlp:/.test(l));
  assert.ok(warnings.length <= 6, `${warnings.length} warnings:\n${warnings.join('\n')}`);
  assert.equal(down.child.exitCode, null, 'gw is alive');
  assert.equal((await get(`${down.url}/t`)).status, 200);
});

test('OTLP/gRPC (use_http false, the default): spans and metrics reach a grpc-js collector', async (t) => {
  const { receiver, gw } = await startTraced(
    t,
    (receiver) => ({
      service_name: 'gw-grpc',
      metric_reporting_period: 1,
      exporters: { otlp: [{ name: 'grpc', host: '127.0.0.1', port: receiver.port }] },
    }),
    { grpc: true },
  );
  assert.equal((await get(`${gw.url}/t`, { headers: { traceparent: INCOMING } })).status, 200);
  await receiver.until(
    (s) => s.spans.length >= 3 && s.metrics.some((m) => m.name === 'krakend.backend.duration'),
  );
  assert.deepEqual(receiver.spans.map((x) => x.name).sort(), ['GET /t', 'backend GET /a', 'proxy /t']);
  assert.ok(
    receiver.spans.every((x) => x.traceId === INCOMING_TRACE && x.resource['service.name'] === 'gw-grpc'),
  );
});

test('endpoint and backend overrides: static attributes on spans and OTLP metrics, layers off per endpoint', async (t) => {
  const otel = (cfg) => ({ extra_config: { [OTEL]: cfg } });
  const { receiver, backend, gw } = await startTraced(
    t,
    (receiver) => ({
      metric_reporting_period: 1,
      layers: { backend: { traces: { static_attributes: [{ key: 'tier', value: 'gold' }] } } },
      exporters: { otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true }] },
    }),
    {
      endpoints: (url) => [
        {
          endpoint: '/owned',
          backend: [
            {
              host: [url],
              url_pattern: '/a',
              ...otel({
                backend: { traces: { static_attributes: [{ key: 'backend.team', value: 'b-team' }] } },
              }),
            },
          ],
          ...otel({
            proxy: {
              report_headers: true,
              traces_static_attributes: [{ key: 'owner', value: 'team-charlie' }],
              metrics_static_attributes: [{ key: 'cost.center', value: 'cc-7' }],
            },
          }),
        },
        {
          endpoint: '/quiet',
          backend: [
            { host: [url], url_pattern: '/b', ...otel({ backend: { traces: { disable_stage: true } } }) },
          ],
          ...otel({ proxy: { disable_traces: true } }),
        },
        { endpoint: '/plain', backend: [{ host: [url], url_pattern: '/a' }] },
      ],
    },
  );
  for (const path of ['/owned', '/quiet', '/plain'])
    assert.equal((await get(`${gw.url}${path}`, { headers: { 'x-team': 'charlie' } })).status, 200, path);
  await receiver.until(
    (s) =>
      s.spans.some((x) => x.name === 'GET /plain') &&
      s.spans.some((x) => x.name === 'GET /quiet') &&
      s.spans.filter((x) => x.name.startsWith('backend ')).length >= 2 &&
      s.metrics.some((m) => m.name === 'krakend.proxy.duration' && m.attributes['http.route'] === '/owned'),
  );
  await new Promise((r) => setTimeout(r, 300)); // a batch period more: a late /quiet span would be here
  const span = (name) => receiver.spans.find((x) => x.name === name);

  const ownedProxy = span('proxy /owned');
  assert.equal(ownedProxy.attributes.owner, 'team-charlie', 'traces_static_attributes');
  assert.deepEqual(ownedProxy.attributes['http.request.header.x-team'], ['charlie'], 'report_headers');
  assert.equal(ownedProxy.attributes['cost.center'], undefined, 'metrics attributes stay off the spans');
  const calls = receiver.spans.filter((x) => x.name === 'backend GET /a');
  const ownedBackend = calls.find((x) => x.attributes['http.route'] === '/owned');
  const plainBackend = calls.find((x) => x.attributes['http.route'] === '/plain');
  assert.ok(ownedBackend && plainBackend, calls.map((x) => x.attributes['http.route']).join());
  assert.equal(ownedBackend.attributes['backend.team'], 'b-team', "the backend's own static attributes");
  assert.equal(ownedBackend.attributes.tier, undefined, "the backend's list replaces the service's");
  assert.equal(plainBackend.attributes.tier, 'gold', "the service's static attributes elsewhere");
  assert.equal(span('proxy /plain').attributes.owner, undefined);
  assert.equal(span('proxy /plain').attributes['http.request.header.x-team'], undefined);

  // /quiet: its proxy span and its backend's span are off; the backend still gets the context
  assert.equal(span('proxy /quiet'), undefined);
  assert.equal(span('backend GET /b'), undefined);
  const quiet = span('GET /quiet');
  const toB = backend.requests.find((r) => r.url === '/b');
  assert.equal(
    TRACEPARENT.exec(toB.headers.traceparent)?.[2],
    quiet.spanId,
    'propagated from the server span',
  );

  const proxyPoint = receiver.metrics.findLast(
    (m) => m.name === 'krakend.proxy.duration' && m.attributes['http.route'] === '/owned',
  );
  assert.equal(proxyPoint.attributes['cost.center'], 'cc-7', 'metrics_static_attributes on OTLP metrics');
  assert.equal(proxyPoint.attributes['http.request.method'], 'GET');
});

test('seriesToMetrics: static attributes keep their key; the layer attributes keep theirs', () => {
  const store = new MetricsStore();
  store
    .series(
      'backend.duration',
      { method: 'GET', route: '/x', backend: '/b', status: '200', '@team.name': 'b', '@url.path': 'spoofed' },
      'us',
    )
    .record(10);
  const [metric] = seriesToMetrics(mergeSnapshots([store.snapshot()]), [1, 0], [2, 0]);
  assert.equal(metric.dataPoints[0].attributes['team.name'], 'b');
  assert.equal(metric.dataPoints[0].attributes['url.path'], '/b');
});

const PHASE_NAMES = ['round_trip', 'read_payload', 'http.getconn', 'http.connect', 'http.dns'];
const PAUSE_MS = 60;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Span duration in ms (start and end are BigInt ns). */
const ms = (span) => Number(span.end - span.start) / 1e6;

/** A backend that thinks PAUSE_MS before its head, then sends half its body and the rest PAUSE_MS later. */
function phasedBackend() {
  return startBackend(async (_req, res) => {
    await sleep(PAUSE_MS);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"a":');
    await sleep(PAUSE_MS);
    if (!res.destroyed) res.end('1}');
  });
}

test('backend phases: round_trip and read_payload spans inside the backend span, detailed_connection, overrides', async (t) => {
  const phased = await phasedBackend();
  const fresh = await traceBackend();
  t.after(async () => {
    await phased.close();
    await fresh.close();
  });
  const stage = (traces) => ({ extra_config: { [OTEL]: { backend: { traces } } } });
  const { receiver, gw } = await startTraced(
    t,
    (receiver) => ({
      layers: { backend: { traces: { round_trip: true, read_payload: true } } },
      exporters: {
        otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true, disable_metrics: true }],
      },
    }),
    {
      endpoints: () => [
        { endpoint: '/phases', backend: [{ host: [phased.url], url_pattern: '/p' }] },
        {
          endpoint: '/off',
          backend: [
            { host: [phased.url], url_pattern: '/o', ...stage({ round_trip: false, read_payload: false }) },
          ],
        },
        {
          endpoint: '/conn',
          backend: [
            {
              // a host name: the new connection resolves it first
              host: [fresh.url.replace('127.0.0.1', 'localhost')],
              url_pattern: '/a',
              ...stage({ detailed_connection: true, round_trip: false, read_payload: false }),
            },
          ],
        },
        { endpoint: '/late', timeout: '20ms', backend: [{ host: [phased.url], url_pattern: '/l' }] },
      ],
    },
  );
  assert.equal((await get(`${gw.url}/phases`)).status, 200);
  assert.equal((await get(`${gw.url}/off`)).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/conn`)).status, 200);
  assert.notEqual((await get(`${gw.url}/late`)).status, 200);

  const backendSpan = (url) => receiver.spans.find((x) => x.name === `backend GET ${url}`);
  const childrenOf = (span) => receiver.spans.filter((x) => x.parentSpanId === span.spanId);
  await receiver.until(
    (s) =>
      s.spans.filter((x) => x.name === 'GET /conn').length === 3 &&
      ['/p', '/o', '/l'].every((u) => s.spans.some((x) => x.name === `backend GET ${u}`)),
  );
  await sleep(300); // a batch period more: late child spans would be here

  // /phases: the head came PAUSE_MS after the request, the rest of the body PAUSE_MS after the head
  const call = backendSpan('/p');
  const kids = childrenOf(call);
  assert.deepEqual(kids.map((x) => x.name).sort(), ['read_payload', 'round_trip']);
  const roundTrip = kids.find((x) => x.name === 'round_trip');
  const readPayload = kids.find((x) => x.name === 'read_payload');
  assert.ok(kids.every((x) => x.kind === 1 && x.traceId === call.traceId && x.statusCode === 0));
  assert.ok(call.start <= roundTrip.start, 'round_trip starts within the backend span');
  assert.ok(roundTrip.end <= readPayload.start, 'round_trip before read_payload');
  assert.ok(readPayload.end <= call.end, 'read_payload ends within the backend span');
  assert.ok(ms(roundTrip) >= PAUSE_MS - 5, `round_trip covers the wait for the head: ${ms(roundTrip)} ms`);
  // gw may read the head late on a busy machine, which shortens read_payload but not the two together
  assert.ok(ms(readPayload) > 0, `read_payload covers the body: ${ms(readPayload)} ms`);
  assert.ok(
    ms(roundTrip) + ms(readPayload) >= 2 * PAUSE_MS - 5,
    `round_trip + read_payload cover both waits: ${ms(roundTrip)} + ${ms(readPayload)} ms`,
  );

  // a backend's own stage options replace the service's
  assert.deepEqual(childrenOf(backendSpan('/o')), []);

  // detailed_connection: a new connection for the first call (dns, connect inside getconn), then reused
  const connCalls = receiver.spans.filter((x) => x.name === 'backend GET /a');
  assert.equal(connCalls.length, 3);
  const getconns = connCalls.map((c) => {
    const list = childrenOf(c);
    assert.deepEqual(
      list.map((x) => x.name),
      ['http.getconn'],
    );
    assert.ok(c.start <= list[0].start && list[0].end <= c.end, 'getconn within the backend span');
    return list[0];
  });
  assert.deepEqual(getconns.map((g) => g.attributes['http.conn.reused']).sort(), [false, true, true]);
  for (const g of getconns) {
    const inner = childrenOf(g);
    if (g.attributes['http.conn.reused']) assert.deepEqual(inner, []);
    else {
      const [dns, connect] = inner.sort((a, b) => (a.start < b.start ? -1 : 1));
      assert.deepEqual(
        inner.map((x) => x.name),
        ['http.dns', 'http.connect'],
      );
      assert.ok(g.start <= dns.start && dns.end <= connect.start && connect.end <= g.end, 'within getconn');
    }
  }

  // a call that times out waiting for the head: its round_trip ends with it, in error
  const late = backendSpan('/l');
  assert.equal(late.statusCode, 2);
  const lateKids = childrenOf(late);
  assert.deepEqual(
    lateKids.map((x) => x.name),
    ['round_trip'],
  );
  assert.equal(lateKids[0].statusCode, 2);
  assert.ok(late.start <= lateKids[0].start && lateKids[0].end <= late.end);
});

test('backend phases through undici (the https client, here forced for http:): the same spans, reuse unknown', async (t) => {
  const phased = await phasedBackend();
  t.after(() => phased.close());
  const { receiver, gw } = await startTraced(
    t,
    (receiver) => ({
      layers: { backend: { traces: { round_trip: true, read_payload: true, detailed_connection: true } } },
      exporters: {
        otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true, disable_metrics: true }],
      },
    }),
    {
      endpoints: () => [{ endpoint: '/phases', backend: [{ host: [phased.url], url_pattern: '/p' }] }],
      start: (config) =>
        startGateway(config, { env: { OTEL_BSP_SCHEDULE_DELAY: '100', GW_BACKEND_CLIENT: 'undici' } }),
    },
  );
  assert.equal((await get(`${gw.url}/phases`)).status, 200);
  await receiver.until((s) => s.spans.filter((x) => PHASE_NAMES.includes(x.name)).length >= 3);
  await sleep(300);
  const call = receiver.spans.find((x) => x.name === 'backend GET /p');
  const kids = receiver.spans
    .filter((x) => x.parentSpanId === call.spanId)
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  assert.deepEqual(
    kids.map((x) => x.name),
    ['http.getconn', 'round_trip', 'read_payload'],
  );
  const [getconn, roundTrip, readPayload] = kids;
  assert.equal(getconn.attributes['http.conn.reused'], undefined, 'undici does not tell');
  assert.ok(call.start <= getconn.start && getconn.end <= roundTrip.start);
  assert.ok(roundTrip.end <= readPayload.start && readPayload.end <= call.end);
  assert.ok(ms(roundTrip) >= PAUSE_MS - 5 && ms(readPayload) > 0);
  assert.ok(ms(roundTrip) + ms(readPayload) >= 2 * PAUSE_MS - 5);
});

test('backend phases are off by default: no child spans under the backend span', async (t) => {
  const { receiver, gw } = await startTraced(t, (receiver) => ({
    exporters: {
      otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true, disable_metrics: true }],
    },
  }));
  assert.equal((await get(`${gw.url}/t`)).status, 200);
  await receiver.until((s) => s.spans.length >= 3);
  await sleep(300);
  assert.deepEqual(receiver.spans.map((x) => x.name).sort(), ['GET /t', 'backend GET /a', 'proxy /t']);
  assert.ok(receiver.spans.every((x) => !PHASE_NAMES.includes(x.name)));
});

test('seriesToMetrics: the backend phases have their own OTLP histograms', () => {
  const store = new MetricsStore();
  const labels = { method: 'GET', route: '/r', backend_method: 'GET', backend: '/b' };
  store.series('backend.round_trip', labels, 'us').record(2000);
  store.series('backend.read_payload', labels, 'us').record(1000);
  store.series('backend.get_conn', labels, 'us').record(10);
  const metrics = seriesToMetrics(mergeSnapshots([store.snapshot()]), [0, 0], [1, 0]);
  assert.deepEqual(metrics.map((m) => m.descriptor.name).sort(), [
    'krakend.backend.connection.get.duration',
    'krakend.backend.read_payload.duration',
    'krakend.backend.round_trip.duration',
  ]);
  const roundTrip = metrics.find((m) => m.descriptor.name === 'krakend.backend.round_trip.duration');
  assert.equal(roundTrip.descriptor.unit, 's');
  assert.ok(Math.abs(roundTrip.dataPoints[0].value.sum - 0.002) < 1e-12);
  assert.equal(roundTrip.dataPoints[0].attributes['url.path'], '/b');
});

const B3_TRACE = '80f198ee56343ba864fe8b2a57d3eff7';
const B3_SPAN = 'e457b5a2e4d86bd1';
const startWithPropagators = (propagators) => (config) =>
  startGateway(config, { env: { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_PROPAGATORS: propagators } });
const httpTraces = (receiver) => ({
  exporters: {
    otlp: [{ name: 'x', host: '127.0.0.1', port: receiver.port, use_http: true, disable_metrics: true }],
  },
});

test('OTEL_PROPAGATORS=b3,baggage: a B3 caller is followed, backends get b3 and the baggage, no traceparent', async (t) => {
  const { receiver, backend, gw } = await startTraced(t, httpTraces, {
    start: startWithPropagators('b3,baggage'),
  });
  const res = await get(`${gw.url}/t`, {
    headers: { b3: `${B3_TRACE}-${B3_SPAN}-1`, baggage: 'tenant=acme,plan=gold' },
  });
  assert.equal(res.status, 200);
  await receiver.until((s) => s.spans.length >= 3);
  const byName = Object.fromEntries(receiver.spans.map((x) => [x.name, x]));
  assert.equal(byName['GET /t'].traceId, B3_TRACE, 'the caller trace is continued');
  assert.equal(byName['GET /t'].parentSpanId, B3_SPAN);
  const sent = backend.requests.at(-1).headers;
  assert.equal(sent.b3, `${B3_TRACE}-${byName['backend GET /a'].spanId}-1`, `b3 ${sent.b3}`);
  assert.equal(sent.baggage, 'tenant=acme,plan=gold');
  assert.equal(sent.traceparent, undefined, 'tracecontext is not among the propagators');

  // a W3C caller is not understood now: a new trace, still sent on as b3
  assert.equal((await get(`${gw.url}/t`, { headers: { traceparent: INCOMING } })).status, 200);
  const fresh = backend.requests.at(-1).headers;
  assert.match(fresh.b3, /^[0-9a-f]{32}-[0-9a-f]{16}-1$/);
  assert.notEqual(fresh.b3.slice(0, 32), INCOMING_TRACE);
  assert.equal(fresh.traceparent, undefined);
});

test('OTEL_PROPAGATORS=b3multi,tracecontext: X-B3-* headers in, X-B3-* and traceparent out', async (t) => {
  const { receiver, backend, gw } = await startTraced(t, httpTraces, {
    start: startWithPropagators(' b3multi , tracecontext '),
  });
  const res = await get(`${gw.url}/t`, {
    headers: { 'x-b3-traceid': B3_TRACE, 'x-b3-spanid': B3_SPAN, 'x-b3-sampled': '1' },
  });
  assert.equal(res.status, 200);
  await receiver.until((s) => s.spans.length >= 3);
  const backendSpan = receiver.spans.find((x) => x.name === 'backend GET /a');
  assert.equal(backendSpan.traceId, B3_TRACE);
  const sent = backend.requests.at(-1).headers;
  assert.equal(sent['x-b3-traceid'], B3_TRACE);
  assert.equal(sent['x-b3-spanid'], backendSpan.spanId);
  assert.equal(sent['x-b3-sampled'], '1');
  assert.equal(sent.b3, undefined, 'multi-header form only');
  assert.equal(sent.traceparent, `00-${B3_TRACE}-${backendSpan.spanId}-01`);
});

test('OTEL_PROPAGATORS=none: no context in or out, spans still exported', async (t) => {
  const { receiver, backend, gw } = await startTraced(t, httpTraces, { start: startWithPropagators('none') });
  assert.equal((await get(`${gw.url}/t`, { headers: { traceparent: INCOMING } })).status, 200);
  await receiver.until((s) => s.spans.length >= 3);
  assert.ok(receiver.spans.every((x) => x.traceId !== INCOMING_TRACE));
  const sent = backend.requests.at(-1).headers;
  assert.deepEqual(
    Object.keys(sent).filter((k) => k === 'traceparent' || k === 'b3' || k.startsWith('x-b3-')),
    [],
  );
});

test('gw check and gw run: an unknown OTEL_PROPAGATORS name is an error naming the namespace', async () => {
  const config = {
    version: 3,
    extra_config: { [OTEL]: { exporters: { otlp: [{ name: 'x', host: '127.0.0.1', port: 4318 }] } } },
    endpoints: [],
  };
  const file = writeConfig(config);
  for (const args of [
    ['check', '-c', file],
    ['run', '-c', file, '-p', String(await freePort())],
  ]) {
    const r = await runGw(args, { env: { OTEL_PROPAGATORS: 'tracecontext,jaeger' } });
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(
      `${r.stdout}${r.stderr}`,
      /extra_config\["telemetry\/opentelemetry"\].*OTEL_PROPAGATORS names "jaeger"/s,
    );
  }
  const ok = await runGw(['check', '-c', file], { env: { OTEL_PROPAGATORS: 'B3, baggage' } });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
});
