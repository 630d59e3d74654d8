// Metrics: the histogram layout, merging across threads, Prometheus exposition, /__stats, config
// checks, and through `gw run --workers 2`: /metrics and /__stats count every request of both
// worker threads, per endpoint, per proxy and per backend, and answer while under load.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { checkConfig } from '../dist/config/index.js';
import { loadAllModules } from '../dist/extensions/registry.js';
import {
  BUCKET_COUNT,
  bucketHigh,
  bucketIndex,
  bucketLow,
  cumulativeBuckets,
  histogramStats,
  MetricsStore,
  mergeSnapshots,
} from '../dist/telemetry/metrics-store.js';
import { renderPrometheus } from '../dist/telemetry/prometheus.js';
import { renderStats } from '../dist/telemetry/stats.js';
import { freePort, get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

// checkConfig validates each namespace with its module: the CLI loads those a config uses.
await loadAllModules();

test('bucket layout: every value lands in a bucket that contains it, within 0.8%', () => {
  let previous = -1;
  const values = [];
  for (let v = 0; v < 5000; v++) values.push(v);
  for (let v = 5000; v < 2 ** 32; v = Math.floor(v * 1.013) + 7) values.push(v);
  values.push(2 ** 32 - 1);
  for (const v of values) {
    const i = bucketIndex(v);
    assert.ok(i >= 0 && i < BUCKET_COUNT, `index of ${v}`);
    assert.ok(bucketLow(i) <= v && v <= bucketHigh(i), `${v} in [${bucketLow(i)}, ${bucketHigh(i)}]`);
    assert.ok(bucketHigh(i) - bucketLow(i) <= Math.max(0, v / 128), `bucket width at ${v}`);
    assert.ok(i >= previous, 'indexes grow with values');
    previous = i;
  }
  assert.equal(bucketIndex(2 ** 32 - 1), BUCKET_COUNT - 1);
});

test('stores merge across threads; stats and cumulative buckets agree with the raw values', () => {
  const a = new MetricsStore();
  const b = new MetricsStore();
  const raw = [];
  for (let i = 1; i <= 1000; i++) {
    const v = i * 37; // 37 µs … 37 ms
    raw.push(v);
    (i % 2 ? a : b).series('lat', { route: '/x' }, 'us').record(v);
  }
  a.series('lat', { route: '/y' }, 'us').record(5);
  b.series('hits', { route: '/x' }, 'count').record(1);
  b.series('never', { route: '/z' }, 'us'); // no observation: not in the snapshot
  const merged = mergeSnapshots([structuredClone(a.snapshot()), structuredClone(b.snapshot())]);
  assert.equal(merged.length, 3);
  const x = merged.find((s) => s.family === 'lat' && s.labels.route === '/x');
  assert.equal(x.count, 1000);
  assert.equal(
    x.sum,
    raw.reduce((n, v) => n + v, 0),
  );
  const st = histogramStats(x.counts);
  assert.equal(st.count, 1000);
  for (const [p, exact] of [
    [st.p50, 500 * 37],
    [st.p99, 990 * 37],
  ])
    assert.ok(Math.abs(p - exact) / exact < 0.01, `${p} ≈ ${exact}`);
  assert.ok(Math.abs(st.max - 37000) / 37000 < 0.01 && Math.abs(st.min - 37) <= 1);
  const [le1ms, le10ms, le100ms] = cumulativeBuckets(x.counts, [1000, 10000, 100000]);
  assert.equal(le1ms, raw.filter((v) => v <= 1000).length);
  assert.ok(Math.abs(le10ms - raw.filter((v) => v <= 10000).length) <= 1);
  assert.equal(le100ms, 1000);
  assert.equal(merged.find((s) => s.family === 'hits').count, 1);
});

const PROM_LINE =
  /^(# (HELP|TYPE) [a-z_][a-z0-9_]* .+|[a-z_][a-z0-9_]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [-+0-9.e]+|[a-z_][a-z0-9_]*\{.*le="\+Inf".*\} \d+)$/;

test('Prometheus exposition: valid lines, monotonic buckets, _count = +Inf bucket', () => {
  const store = new MetricsStore();
  for (let i = 0; i < 50; i++)
    store
      .series('server.duration', { method: 'GET', route: '/a "quoted"', status: '200' }, 'us')
      .record(300 + i * 100);
  store
    .series(
      'backend.duration',
      {
        method: 'GET',
        route: '/a',
        backend_method: 'GET',
        backend: '/b',
        status: '0',
        complete: 'false',
        error: 'true',
      },
      'us',
    )
    .record(2_000_000);
  const text = renderPrometheus(mergeSnapshots([store.snapshot()]), {
    resource: { service_name: 'svc', service_version: '', deployment_environment: 'prod' },
    processMetrics: true,
    runtimeMetrics: true,
    threads: 1,
  });
  const lines = text.trim().split('\n');
  for (const l of lines) assert.match(l, PROM_LINE);
  assert.ok(lines.includes('target_info{service_name="svc",deployment_environment="prod"} 1'));
  const buckets = lines.filter((l) => l.startsWith('http_server_duration_seconds_bucket'));
  const counts = buckets.map((l) => Number(l.split(' ').pop()));
  for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1]);
  assert.equal(counts.at(-1), 50);
  assert.ok(buckets[0].includes('http_route="/a \\"quoted\\""'));
  assert.ok(
    lines.includes(
      'http_server_duration_seconds_count{http_request_method="GET",http_route="/a \\"quoted\\"",http_response_status_code="200"} 50',
    ),
  );
  assert.ok(text.includes('krakend_backend_duration_seconds_bucket{') && text.includes('url_path="/b"'));
  assert.match(text, /\nprocess_cpu_seconds_total [\d.]+\n/);
  assert.match(text, /\nnodejs_heap_used_bytes \d+\n/);
});

test('/__stats naming: router, endpoint and backend layers, histograms flattened in ns', () => {
  const store = new MetricsStore();
  store.series('server.duration', { method: 'GET', route: '/a', status: '200' }, 'us').record(1000);
  store.series('server.duration', { method: 'GET', route: '/a', status: '404' }, 'us').record(2000);
  store
    .series('proxy.duration', { method: 'GET', route: '/a', complete: 'true', error: 'false' }, 'us')
    .record(900);
  store
    .series(
      'backend.duration',
      { method: 'GET', route: '/a', backend: '/u/{id}', complete: 'true', error: 'false', status: '200' },
      'us',
    )
    .record(800);
  const out = renderStats(mergeSnapshots([store.snapshot()]), 1);
  assert.equal(out['krakend.router.response./a.status.200'], 1);
  assert.equal(out['krakend.router.response./a.status.404'], 1);
  assert.equal(out['krakend.router.response./a.time.count'], 2);
  assert.ok(Math.abs(out['krakend.router.response./a.time.max'] - 2_000_000) < 20_000);
  assert.equal(out['krakend.proxy.requests.layer.endpoint.name./a.complete.true.error.false'], 1);
  assert.equal(out['krakend.proxy.requests.layer.backend.name./u/{id}.complete.true.error.false'], 1);
  assert.ok(
    Math.abs(
      out['krakend.proxy.latency.layer.backend.name./u/{id}.complete.true.error.false.50-percentile'] -
        800_000,
    ) < 8_000,
  );
  assert.ok(Array.isArray(out.cmdline));
});

test('gw check: telemetry/metrics and telemetry/opentelemetry issues with their paths', () => {
  const check = (extra) => checkConfig({ version: 3, extra_config: extra, endpoints: [] });
  let r = check({ 'telemetry/metrics': { listen_address: 'nope' } });
  assert.equal(r.errors[0].path, '$.extra_config["telemetry/metrics"].listen_address');
  r = check({ 'telemetry/metrics': { collection_time: '60s', listen_address: ':8090' } });
  assert.deepEqual(r.errors, []);
  const otel = '$.extra_config["telemetry/opentelemetry"]';
  r = check({
    'telemetry/opentelemetry': {
      exporters: {
        prometheus: [{ name: 'a', port: 9090 }, { name: 'b' }],
        otlp: [{ name: 'a', host: 'collector' }],
      },
    },
  });
  assert.deepEqual(r.errors.map((e) => e.path).sort(), [
    `${otel}.exporters.otlp[0].name`,
    `${otel}.exporters.prometheus[1].port`,
  ]);
  r = check({ 'telemetry/opentelemetry': { exporters: { otlp: [{ name: 'x' }] } } });
  assert.ok(
    r.errors.some((e) => e.path.startsWith(`${otel}.exporters.otlp[0]`)),
    JSON.stringify(r.errors),
  );
  r = check({ 'telemetry/opentelemetry': {} });
  assert.deepEqual(r.errors, []);
  assert.match(r.warnings[0].message, /no exporter/);
});

/** GET with a fresh connection each time, so that the kernel spreads them over both workers. */
function fresh(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
  });
}

test('gw run --workers 2: /metrics and /__stats count the requests of both threads', async (t) => {
  const backend = await jsonBackend({ '/a': { a: 1 }, '/b': { b: 2 } });
  const [promPort, statsPort] = [await freePort(), await freePort()];
  const gw = await startGateway(
    {
      version: 3,
      extra_config: {
        'telemetry/metrics': { listen_address: `127.0.0.1:${statsPort}` },
        'telemetry/opentelemetry': {
          service_name: 'gw-test',
          skip_paths: ['/skipped'],
          exporters: {
            prometheus: [{ name: 'local', port: promPort, listen_ip: '127.0.0.1', process_metrics: true }],
          },
        },
      },
      endpoints: [
        { endpoint: '/one', backend: [{ host: [backend.url], url_pattern: '/a' }] },
        {
          endpoint: '/two',
          backend: [
            { host: [backend.url], url_pattern: '/a', group: 'a' },
            { host: [backend.url], url_pattern: '/missing', group: 'm' },
          ],
        },
        { endpoint: '/skipped', backend: [{ host: [backend.url], url_pattern: '/b' }] },
      ],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  t.after(async () => {
    await gw.stop();
    await backend.close();
  });
  const N = 40;
  const statuses = [];
  for (let wave = 0; wave < N / 10; wave++)
    statuses.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, (_, i) => fresh(`${gw.url}/${i % 2 ? 'one' : 'two'}`)),
      )),
    );
  await Promise.all(Array.from({ length: 5 }, () => fresh(`${gw.url}/skipped`)));
  assert.ok(statuses.every((s) => s === 200));

  // the metrics servers start with worker 0, maybe a moment after the gateway's port
  let metrics;
  for (let i = 0; i < 40; i++) {
    metrics = await get(`http://127.0.0.1:${promPort}/metrics`).catch(() => undefined);
    if (metrics?.status === 200 && metrics.text.includes('gw_worker_threads 2')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(metrics.status, 200);
  // the access log (pino JSON) says which worker served each request: both did
  // (log lines are batched: wait until both workers' lines are out)
  await gw.waitForLog(
    /"worker":0,[^\n]*\[GW\] GET \/[\s\S]*"worker":1|"worker":1,[^\n]*\[GW\] GET \/[\s\S]*"worker":0/,
  );
  const workers = new Set(
    gw
      .logs()
      .split('\n')
      .filter((l) => l.includes('[GW] GET /'))
      .map((l) => JSON.parse(l).worker),
  );
  assert.equal(workers.size, 2, 'the kernel spread the connections over both workers');
  assert.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = metrics.text;
  assert.match(text, /\ngw_worker_threads 2\n/);
  const value = (line) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(line))
        ?.split(' ')
        .pop(),
    );
  const route = (r) => `http_request_method="GET",http_route="${r}",http_response_status_code="200"}`;
  assert.equal(value(`http_server_duration_seconds_count{${route('/one')}`), N / 2);
  assert.equal(value(`http_server_duration_seconds_count{${route('/two')}`), N / 2);
  assert.ok(!text.includes('/skipped'), 'skip_paths');
  assert.equal(
    value(
      'krakend_proxy_duration_seconds_count{http_request_method="GET",http_route="/two",krakend_response_complete="false",error="true"}',
    ),
    N / 2,
  );
  assert.equal(
    value(
      'krakend_backend_duration_seconds_count{http_request_method="GET",http_route="/two",krakend_backend_method="GET",url_path="/missing",http_response_status_code="404",krakend_response_complete="false",error="true"}',
    ),
    N / 2,
  );
  assert.equal(
    value(
      'krakend_backend_duration_seconds_count{http_request_method="GET",http_route="/one",krakend_backend_method="GET",url_path="/a",http_response_status_code="200",krakend_response_complete="true",error="false"}',
    ),
    N / 2,
  );
  assert.match(text, /\ntarget_info\{service_name="gw-test"\} 1\n/);
  assert.equal((await get(`http://127.0.0.1:${promPort}/other`)).status, 404);

  const stats = await get(`http://127.0.0.1:${statsPort}/__stats`);
  assert.equal(stats.status, 200);
  const s = stats.json;
  assert.equal(s['gw.worker-threads'], 2);
  assert.equal(s['krakend.router.response./one.status.200'], N / 2);
  assert.equal(s['krakend.router.response./skipped.status.200'], 5, '/__stats has no skip_paths');
  assert.equal(s['krakend.proxy.requests.layer.backend.name./a.complete.true.error.false'], N);
  assert.equal(s['krakend.proxy.requests.layer.backend.name./missing.complete.false.error.true'], N / 2);
  assert.equal(s['krakend.proxy.requests.layer.endpoint.name./two.complete.false.error.true'], N / 2);
  assert.ok(s['krakend.router.response./one.time.99-percentile'] > 0);
  assert.ok(s['krakend.router.response./one.size.max'] > 0);
});

test('layer switches: router_disabled / backend_disabled and global disable_metrics drop their series', async (t) => {
  const backend = await jsonBackend({ '/a': { a: 1 } });
  const [promPort, statsPort] = [await freePort(), await freePort()];
  const gw = await startGateway({
    version: 3,
    extra_config: {
      'telemetry/metrics': {
        listen_address: `127.0.0.1:${statsPort}`,
        router_disabled: true,
        backend_disabled: true,
      },
      'telemetry/opentelemetry': {
        layers: { global: { disable_metrics: true }, backend: { metrics: { disable_stage: true } } },
        exporters: { prometheus: [{ name: 'p', port: promPort, listen_ip: '127.0.0.1' }] },
      },
    },
    endpoints: [{ endpoint: '/one', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
  });
  t.after(async () => {
    await gw.stop();
    await backend.close();
  });
  for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/one`)).status, 200);
  let stats;
  for (let i = 0; i < 40 && stats?.status !== 200; i++) {
    stats = await get(`http://127.0.0.1:${statsPort}/__stats`).catch(() => undefined);
    if (stats?.status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  const keys = Object.keys(stats.json);
  assert.ok(!keys.some((k) => k.startsWith('krakend.router.')), 'router_disabled');
  assert.ok(!keys.some((k) => k.includes('layer.backend')), 'backend_disabled');
  assert.equal(stats.json['krakend.proxy.requests.layer.endpoint.name./one.complete.true.error.false'], 3);
  const text = (await get(`http://127.0.0.1:${promPort}/metrics`)).text;
  assert.ok(!text.includes('http_server_duration_seconds'), 'global disable_metrics');
  assert.ok(!text.includes('krakend_backend_duration_seconds'), 'backend disable_stage');
  assert.match(text, /krakend_proxy_duration_seconds_count\{[^}]*http_route="\/one"[^}]*\} 3/);
});

test('under load (autocannon, 2 workers): /metrics and /__stats answer with counts that grow and end exact', async (t) => {
  const { default: autocannon } = await import('autocannon');
  const backend = await jsonBackend({ '/a': { a: 1 } });
  const [promPort, statsPort] = [await freePort(), await freePort()];
  const gw = await startGateway(
    {
      version: 3,
      extra_config: {
        router: { disable_access_log: true },
        'telemetry/metrics': { listen_address: `127.0.0.1:${statsPort}` },
        'telemetry/opentelemetry': {
          exporters: { prometheus: [{ name: 'local', port: promPort, listen_ip: '127.0.0.1' }] },
        },
      },
      endpoints: [{ endpoint: '/load', backend: [{ host: [backend.url], url_pattern: '/a' }] }],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  t.after(async () => {
    await gw.stop();
    await backend.close();
  });
  const count = (text) =>
    Number(
      /\nhttp_server_duration_seconds_count\{http_request_method="GET",http_route="\/load",http_response_status_code="200"\} (\d+)/.exec(
        text,
      )?.[1] ?? 0,
    );
  const loaded = new Promise((resolve, reject) =>
    autocannon({ url: `${gw.url}/load`, connections: 16, duration: 3 }, (err, r) =>
      err ? reject(err) : resolve(r),
    ),
  );
  const seen = [];
  const statsSeen = [];
  await new Promise((r) => setTimeout(r, 600));
  for (let i = 0; i < 3; i++) {
    const metrics = await get(`http://127.0.0.1:${promPort}/metrics`);
    const stats = await get(`http://127.0.0.1:${statsPort}/__stats`);
    assert.equal(metrics.status, 200);
    assert.equal(stats.status, 200);
    seen.push(count(metrics.text));
    statsSeen.push(stats.json['krakend.router.response./load.status.200'] ?? 0);
    await new Promise((r) => setTimeout(r, 600));
  }
  const result = await loaded;
  assert.ok(seen[0] > 0 && seen[0] < seen[1] && seen[1] < seen[2], `growing during the load: ${seen}`);
  assert.ok(statsSeen[0] > 0 && statsSeen[0] < statsSeen[2], `growing during the load: ${statsSeen}`);
  assert.equal(result.non2xx, 0);
  const total = result['2xx'];
  assert.ok(total > seen[2], `${total} requests in all`);
  // after the load every request of both threads is counted: what autocannon saw, plus at most
  // one request per connection that was in flight when it stopped counting
  await new Promise((r) => setTimeout(r, 300)); // the requests cut off by the client's stop settle
  const final = count((await get(`http://127.0.0.1:${promPort}/metrics`)).text);
  const finalStats = (await get(`http://127.0.0.1:${statsPort}/__stats`)).json[
    'krakend.router.response./load.status.200'
  ];
  assert.ok(final >= total && final <= total + 16, `${final} counted, ${total} seen by the client`);
  assert.equal(finalStats, final, '/__stats and /metrics agree');
});

test('endpoint and backend overrides of telemetry/opentelemetry: layers switched off, static attributes as labels', async (t) => {
  const backend = await jsonBackend({ '/a': { a: 1 }, '/b': { b: 2 } });
  const promPort = await freePort();
  const otel = (cfg) => ({ extra_config: { 'telemetry/opentelemetry': cfg } });
  const gw = await startGateway({
    version: 3,
    extra_config: {
      'telemetry/opentelemetry': {
        layers: { backend: { metrics: { static_attributes: [{ key: 'tier', value: 'gold' }] } } },
        exporters: { prometheus: [{ name: 'p', port: promPort, listen_ip: '127.0.0.1' }] },
      },
    },
    endpoints: [
      {
        endpoint: '/quiet',
        backend: [{ host: [backend.url], url_pattern: '/a' }],
        ...otel({ proxy: { disable_metrics: true } }),
      },
      {
        endpoint: '/owned',
        backend: [
          {
            host: [backend.url],
            url_pattern: '/a',
            ...otel({
              backend: { metrics: { static_attributes: [{ key: 'backend.team', value: 'b-team' }] } },
            }),
          },
          {
            host: [backend.url],
            url_pattern: '/b',
            ...otel({ backend: { metrics: { disable_stage: true } } }),
          },
        ],
        ...otel({ proxy: { metrics_static_attributes: [{ key: 'owner', value: 'team-charlie' }] } }),
      },
      // the docs' "noisy backend": proxy and backend layers off from the backend's own config
      {
        endpoint: '/noisy',
        backend: [
          {
            host: [backend.url],
            url_pattern: '/b',
            ...otel({
              proxy: { disable_metrics: true, disable_traces: true },
              backend: { metrics: { disable_stage: true }, traces: { disable_stage: true } },
            }),
          },
        ],
      },
      { endpoint: '/plain', backend: [{ host: [backend.url], url_pattern: '/a' }] },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await backend.close();
  });
  for (const path of ['/quiet', '/owned', '/noisy', '/plain'])
    for (let i = 0; i < 2; i++) assert.equal((await get(`${gw.url}${path}`)).status, 200, path);
  const text = (await get(`http://127.0.0.1:${promPort}/metrics`)).text;
  for (const l of text.trim().split('\n')) assert.match(l, PROM_LINE);
  const counts = (family, route) =>
    text.split('\n').filter((l) => l.startsWith(`${family}_count{`) && l.includes(`http_route="${route}"`));

  // every endpoint is still timed at the global layer
  for (const route of ['/quiet', '/owned', '/noisy', '/plain'])
    assert.equal(counts('http_server_duration_seconds', route).length, 1, route);

  // proxy layer: off for /quiet (endpoint) and /noisy (its only backend); /owned carries its owner
  assert.deepEqual(counts('krakend_proxy_duration_seconds', '/quiet'), []);
  assert.deepEqual(counts('krakend_proxy_duration_seconds', '/noisy'), []);
  assert.deepEqual(counts('krakend_proxy_duration_seconds', '/owned'), [
    'krakend_proxy_duration_seconds_count{http_request_method="GET",http_route="/owned",krakend_response_complete="true",error="false",owner="team-charlie"} 2',
  ]);
  assert.deepEqual(counts('krakend_proxy_duration_seconds', '/plain'), [
    'krakend_proxy_duration_seconds_count{http_request_method="GET",http_route="/plain",krakend_response_complete="true",error="false"} 2',
  ]);

  // backend layer: the service's static attribute, replaced by a backend's own list, or no series
  assert.deepEqual(counts('krakend_backend_duration_seconds', '/plain'), [
    'krakend_backend_duration_seconds_count{http_request_method="GET",http_route="/plain",krakend_backend_method="GET",url_path="/a",http_response_status_code="200",krakend_response_complete="true",error="false",tier="gold"} 2',
  ]);
  assert.equal(counts('krakend_backend_duration_seconds', '/quiet').length, 1, 'only the proxy layer is off');
  assert.deepEqual(counts('krakend_backend_duration_seconds', '/owned'), [
    'krakend_backend_duration_seconds_count{http_request_method="GET",http_route="/owned",krakend_backend_method="GET",url_path="/a",http_response_status_code="200",krakend_response_complete="true",error="false",backend_team="b-team"} 2',
  ]);
  assert.deepEqual(counts('krakend_backend_duration_seconds', '/noisy'), []);
  assert.doesNotMatch(
    text,
    /krakend_backend_(round_trip|read_payload|connection_get)/,
    'phases off by default',
  );
});

test('gw check: endpoint and backend overrides checked against their own shape', () => {
  const OTEL = 'telemetry/opentelemetry';
  const service = { [OTEL]: { exporters: { prometheus: [{ name: 'p' }] } } };
  const check = (endpointOtel, backendOtel, root = service) =>
    checkConfig({
      version: 3,
      extra_config: root,
      endpoints: [
        {
          endpoint: '/x',
          backend: [
            {
              host: ['http://127.0.0.1:9'],
              url_pattern: '/x',
              ...(backendOtel && { extra_config: { [OTEL]: backendOtel } }),
            },
          ],
          ...(endpointOtel && { extra_config: { [OTEL]: endpointOtel } }),
        },
      ],
    });
  const ep = `$.endpoints[0].extra_config["${OTEL}"]`;
  const be = `$.endpoints[0].backend[0].extra_config["${OTEL}"]`;

  // the docs' examples: no error, no warning (and no service-level "no exporter" warning)
  let r = check(
    {
      proxy: {
        disable_metrics: false,
        disable_traces: false,
        report_headers: true,
        traces_static_attributes: [{ key: 'owner', value: 'team-charlie' }],
        metrics_static_attributes: [{ key: 'owner', value: 'team-charlie' }],
      },
    },
    {
      proxy: { disable_metrics: true, disable_traces: true },
      backend: { metrics: { disable_stage: true }, traces: { disable_stage: true } },
    },
  );
  assert.deepEqual(r, { errors: [], warnings: [] });

  // wrong types and unknown properties, with their paths
  r = check(
    { proxy: { disable_metrics: 'yes', disable_metric: true }, disable_traces: true },
    { backend: { metrics: { static_attributes: [{ key: 'k' }], stage: false }, logs: {} } },
  );
  const byPath = Object.fromEntries(r.errors.map((e) => [e.path, e.message]));
  assert.match(
    byPath[`${ep}.proxy.disable_metrics`],
    /expected a boolean \(true or false\), found the string "yes"/,
  );
  assert.match(
    byPath[`${be}.backend.metrics.static_attributes[0].value`],
    /required property "value" is missing/,
  );
  // validate() runs once the schema passes: fix the types to see the unknown properties
  r = check(
    { proxy: { disable_metric: true }, disable_traces: true },
    { backend: { metrics: { stage: false }, trace: {} }, logs: {} },
  );
  assert.deepEqual(
    r.errors.map((e) => [e.path, e.message]),
    [
      [`${ep}.disable_traces`, 'unknown property "disable_traces": expected "proxy"'],
      [
        `${ep}.proxy.disable_metric`,
        'unknown property "disable_metric": expected one of "disable_metrics", "disable_traces", "report_headers", "traces_static_attributes", "metrics_static_attributes"',
      ],
      [`${be}.logs`, 'unknown property "logs": expected one of "proxy", "backend"'],
      [`${be}.backend.trace`, 'unknown property "trace": expected one of "metrics", "traces"'],
      [
        `${be}.backend.metrics.stage`,
        'unknown property "stage": expected one of "disable_stage", "round_trip", "read_payload", "detailed_connection", "report_headers", "static_attributes"',
      ],
    ],
  );
  assert.deepEqual(r.warnings, []);

  // sub-measures gw does not produce, label names already taken, settings of another level
  r = check(
    {
      proxy: { metrics_static_attributes: [{ key: 'http.route', value: 'x' }] },
      exporters_override: {},
      service_name: 'x',
    },
    {
      proxy: { report_headers: true },
      backend: {
        metrics: { round_trip: true, static_attributes: [{ key: 'url.path', value: 'x' }] },
        traces: { detailed_connection: true },
      },
    },
  );
  assert.deepEqual(r.errors, []);
  const warned = Object.fromEntries(r.warnings.map((w) => [w.path, w.message]));
  assert.match(
    warned[`${ep}.proxy.metrics_static_attributes[0].key`],
    /"http\.route" gives the label "http_route", which the layer's series have already .* dropped/,
  );
  assert.match(
    warned[`${be}.backend.metrics.static_attributes[0].key`],
    /"url\.path" gives the label "url_path"/,
  );
  assert.match(warned[`${ep}.exporters_override`], /KrakenD Enterprise setting, not supported by gw/);
  assert.match(warned[`${ep}.service_name`], /service-level setting: it belongs in \$\.extra_config/);
  assert.match(warned[`${be}.proxy.report_headers`], /set it in the endpoint's extra_config/);
  // round_trip, read_payload and detailed_connection are produced (spans and histograms): no warning
  assert.equal(warned[`${be}.backend.metrics`], undefined);
  assert.equal(warned[`${be}.backend.traces`], undefined);
  assert.equal(r.warnings.length, 5, JSON.stringify(r.warnings));

  // an override without the service-level namespace does nothing
  r = check({ proxy: { disable_metrics: true } }, undefined, {});
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.warnings.map((w) => w.path),
    [ep],
  );
  assert.match(
    r.warnings[0].message,
    /no effect: "telemetry\/opentelemetry" is not configured at the service level/,
  );

  // the proxy layer is the endpoint's: one backend of two cannot switch it
  r = checkConfig({
    version: 3,
    extra_config: service,
    endpoints: [
      {
        endpoint: '/x',
        backend: [
          {
            host: ['http://h'],
            url_pattern: '/a',
            extra_config: { [OTEL]: { proxy: { disable_metrics: true } } },
          },
          { host: ['http://h'], url_pattern: '/b' },
        ],
      },
    ],
  });
  assert.deepEqual(
    r.warnings.map((w) => w.path),
    [`${be}.proxy.disable_metrics`],
  );
  assert.match(r.warnings[0].message, /applies only when every backend of the endpoint sets the same value/);
});

test('static attributes in /metrics: sanitized label names after the layer labels, a taken name dropped', () => {
  const store = new MetricsStore();
  store
    .series(
      'proxy.duration',
      {
        method: 'GET',
        route: '/a',
        '@cost.center': 'cc-7',
        '@http_route': 'spoofed',
        complete: 'true',
        error: 'false',
      },
      'us',
    )
    .record(900);
  const text = renderPrometheus(mergeSnapshots([store.snapshot()]), {
    resource: {},
    processMetrics: false,
    runtimeMetrics: false,
    threads: 1,
  });
  assert.ok(
    text.includes(
      'krakend_proxy_duration_seconds_count{http_request_method="GET",http_route="/a",krakend_response_complete="true",error="false",cost_center="cc-7"} 1',
    ),
    text,
  );
  assert.ok(!text.includes('spoofed'));
});

test('backend phases as histograms: round_trip, read_payload and the connection wait, per backend', async (t) => {
  const PAUSE_MS = 60;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // thinks PAUSE_MS before the head, sends half the body, the rest PAUSE_MS later
  const phased = await startBackend(async (_req, res) => {
    await sleep(PAUSE_MS);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"a":');
    await sleep(PAUSE_MS);
    res.end('1}');
  });
  const backend = await jsonBackend({ '/a': { a: 1 } });
  const promPort = await freePort();
  const stage = (metrics) => ({ extra_config: { 'telemetry/opentelemetry': { backend: { metrics } } } });
  const gw = await startGateway({
    version: 3,
    extra_config: {
      'telemetry/opentelemetry': {
        layers: { backend: { metrics: { round_trip: true, read_payload: true } } },
        exporters: { prometheus: [{ name: 'p', port: promPort, listen_ip: '127.0.0.1' }] },
      },
    },
    endpoints: [
      { endpoint: '/phases', backend: [{ host: [phased.url], url_pattern: '/p' }] },
      {
        endpoint: '/conn',
        backend: [
          {
            host: [backend.url],
            url_pattern: '/a',
            ...stage({ detailed_connection: true, round_trip: false, read_payload: false }),
          },
        ],
      },
      {
        endpoint: '/off',
        backend: [
          { host: [backend.url], url_pattern: '/a', ...stage({ round_trip: false, read_payload: false }) },
        ],
      },
    ],
  });
  t.after(async () => {
    await gw.stop();
    await phased.close();
    await backend.close();
  });
  for (const path of ['/phases', '/conn', '/off'])
    for (let i = 0; i < 2; i++) assert.equal((await get(`${gw.url}${path}`)).status, 200, path);
  const text = (await get(`http://127.0.0.1:${promPort}/metrics`)).text;
  for (const l of text.trim().split('\n')) assert.match(l, PROM_LINE);
  const value = (name, route) => {
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}{`) && l.includes(`http_route="${route}"`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const labels = 'http_request_method="GET",http_route="/phases",krakend_backend_method="GET",url_path="/p"';
  for (const family of [
    'krakend_backend_round_trip_duration_seconds',
    'krakend_backend_read_payload_duration_seconds',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${family} histogram$`, 'm'));
    assert.ok(text.includes(`${family}_count{${labels}} 2`), `${family} count 2`);
    const sum = value(`${family}_sum`, '/phases');
    assert.ok(
      sum > 0 && sum < value('krakend_backend_duration_seconds_sum', '/phases'),
      `${family}_sum ${sum}`,
    );
  }
  // each phase covers one deliberate pause of the backend, on each of the 2 calls; gw may read a head
  // late on a busy machine, which shortens read_payload but not the round trip or the two together
  const roundTrip = value('krakend_backend_round_trip_duration_seconds_sum', '/phases');
  const readPayload = value('krakend_backend_read_payload_duration_seconds_sum', '/phases');
  assert.ok(roundTrip >= (2 * (PAUSE_MS - 5)) / 1000, `round_trip sum ${roundTrip}`);
  assert.ok(roundTrip + readPayload >= (4 * (PAUSE_MS - 5)) / 1000, `sums ${roundTrip} + ${readPayload}`);
  assert.equal(value('krakend_backend_connection_get_duration_seconds_count', '/phases'), undefined);
  // /conn: the connection wait only; /off: the backend's options replace the service's
  assert.equal(value('krakend_backend_connection_get_duration_seconds_count', '/conn'), 2);
  assert.equal(value('krakend_backend_round_trip_duration_seconds_count', '/conn'), undefined);
  for (const family of ['round_trip', 'read_payload', 'connection_get'])
    assert.equal(value(`krakend_backend_${family}_duration_seconds_count`, '/off'), undefined, family);
  assert.equal(value('krakend_backend_duration_seconds_count', '/off'), 2);
});
