// Router, service and proxy rate limits, end to end: the real `gw run` with 2 worker threads, one
// fresh TCP connection per request (so the kernel spreads them over both workers), real backends.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { jsonBackend, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

/** One request on its own connection: resolves { status, body }. */
function fresh(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
}

async function burst(n, url, headers) {
  return Promise.all(Array.from({ length: n }, () => fresh(url, headers)));
}

const count = (results, status) => results.filter((r) => r.status === status).length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** startGateway returns once one worker accepts; wait for all of them (the main thread's log line). */
async function allWorkersListening(gw) {
  for (let i = 0; i < 200 && !/listening on .*workers\)/.test(gw.logs()); i++) await sleep(25);
}

/** Workers whose access log shows at least one request for `path`. */
function workersServing(logs, path) {
  const seen = new Set();
  for (const line of logs.split('\n')) {
    if (!line.includes(path)) continue;
    const m = /"worker":(\d+)/.exec(line);
    if (m) seen.add(m[1]);
  }
  return seen;
}

test('client_max_rate 5: exactly 5 per client across 2 workers, then 429', async () => {
  const backend = await jsonBackend({ '/ok': { ok: true } });
  const gw = await startGateway(
    {
      version: 3,
      endpoints: [
        {
          endpoint: '/by-ip',
          extra_config: { 'qos/ratelimit/router': { client_max_rate: 5, every: '1h' } },
          backend: [{ host: [backend.url], url_pattern: '/ok' }],
        },
        {
          endpoint: '/by-header',
          extra_config: {
            'qos/ratelimit/router': { client_max_rate: 5, every: '1h', strategy: 'header', key: 'X-Client' },
          },
          backend: [{ host: [backend.url], url_pattern: '/ok' }],
        },
      ],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  try {
    await allWorkersListening(gw);
    // Sequential waves of concurrent requests: each wave opens new connections.
    const byIp = [];
    for (let wave = 0; wave < 4; wave++) byIp.push(...(await burst(10, `${gw.url}/by-ip`)));
    assert.equal(count(byIp, 200), 5, `200s: ${byIp.map((r) => r.status).join(',')}`);
    assert.equal(count(byIp, 429), 35);

    const [a, b, none] = await Promise.all([
      burst(12, `${gw.url}/by-header`, { 'x-client': 'alice' }),
      burst(12, `${gw.url}/by-header`, { 'x-client': 'bob' }),
      burst(2, `${gw.url}/by-header`),
    ]);
    assert.equal(count(a, 200), 5);
    assert.equal(count(a, 429), 7);
    assert.equal(count(b, 200), 5);
    assert.equal(count(b, 429), 7);
    // No identity with the header strategy: refused, as KrakenD does.
    assert.equal(count(none, 429), 2);
    // Access logs are written asynchronously by each worker.
    for (let i = 0; i < 100 && workersServing(gw.logs(), '/by-ip').size < 2; i++) await sleep(50);
    assert.equal(workersServing(gw.logs(), '/by-ip').size, 2, 'both workers served /by-ip');
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('max_rate: endpoint limit shared by all clients → 503; refill after `every`; param strategy', async () => {
  const backend = await jsonBackend({ '/ok': { ok: true } });
  const gw = await startGateway(
    {
      version: 3,
      endpoints: [
        {
          endpoint: '/shared',
          extra_config: { 'qos/ratelimit/router': { max_rate: 3, every: '1h' } },
          backend: [{ host: [backend.url], url_pattern: '/ok' }],
        },
        {
          endpoint: '/refill',
          extra_config: { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1s' } },
          backend: [{ host: [backend.url], url_pattern: '/ok' }],
        },
        {
          endpoint: '/api/{customer}/invoices',
          extra_config: {
            'qos/ratelimit/router': { client_max_rate: 2, every: '1h', strategy: 'param', key: 'customer' },
          },
          backend: [{ host: [backend.url], url_pattern: '/ok' }],
        },
        {
          endpoint: '/both',
          extra_config: {
            'qos/ratelimit/router': {
              max_rate: 4,
              client_max_rate: 3,
              every: '1h',
              strategy: 'header',
              key: 'X-Id',
            },
          },
          backend: [{ host: [backend.url], url_pattern: '/ok' }],
        },
      ],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  try {
    const shared = await Promise.all([
      burst(4, `${gw.url}/shared`, { 'x-forwarded-for': '10.0.0.1' }),
      burst(4, `${gw.url}/shared`, { 'x-forwarded-for': '10.0.0.2' }),
    ]);
    const all = shared.flat();
    assert.equal(count(all, 200), 3);
    assert.equal(count(all, 503), 5);

    const first = await burst(4, `${gw.url}/refill`);
    assert.equal(count(first, 200), 2, 'capacity 2');
    await new Promise((r) => setTimeout(r, 1100)); // 2/s: two tokens back after 1 s
    const second = await burst(4, `${gw.url}/refill`);
    assert.equal(count(second, 200), 2, 'refilled at max_rate');

    const c1 = await burst(4, `${gw.url}/api/1234/invoices`);
    const c2 = await burst(3, `${gw.url}/api/5678/invoices`);
    assert.equal(count(c1, 200), 2);
    assert.equal(count(c2, 200), 2);

    // Client limit (429) is checked before the endpoint's (503): x gets 3, y gets 1 of the 4.
    const x = await burst(5, `${gw.url}/both`, { 'x-id': 'x' });
    assert.equal(count(x, 200), 3);
    assert.equal(count(x, 429), 2);
    const y = await burst(3, `${gw.url}/both`, { 'x-id': 'y' });
    assert.equal(count(y, 200), 1);
    assert.equal(count(y, 503), 2);
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('qos/ratelimit/service limits every endpoint together, per client and in total', async () => {
  const backend = await jsonBackend({ '/ok': { ok: true } });
  const gw = await startGateway(
    {
      version: 3,
      extra_config: {
        'qos/ratelimit/service': {
          max_rate: 6,
          client_max_rate: 4,
          every: '1h',
          strategy: 'header',
          key: 'X-Token',
        },
      },
      endpoints: [
        { endpoint: '/a', backend: [{ host: [backend.url], url_pattern: '/ok' }] },
        { endpoint: '/b', backend: [{ host: [backend.url], url_pattern: '/ok' }] },
      ],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  try {
    const t1 = [
      ...(await burst(3, `${gw.url}/a`, { 'x-token': 't1' })),
      ...(await burst(3, `${gw.url}/b`, { 'x-token': 't1' })),
    ];
    assert.equal(count(t1, 200), 4, 'client limit spans endpoints');
    assert.equal(count(t1, 429), 2);
    const t2 = await burst(4, `${gw.url}/b`, { 'x-token': 't2' });
    assert.equal(count(t2, 200), 2, 'service total of 6');
    assert.equal(count(t2, 503), 2);
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('qos/ratelimit/proxy: one bucket per backend across workers; refused calls fail the backend', async () => {
  const backend = await jsonBackend({ '/a': { a: 1 }, '/b': { b: 2 } });
  const gw = await startGateway(
    {
      version: 3,
      endpoints: [
        {
          endpoint: '/limited',
          backend: [
            {
              host: [backend.url],
              url_pattern: '/a',
              extra_config: { 'qos/ratelimit/proxy': { max_rate: 0.5, capacity: 3, every: '1s' } },
            },
          ],
        },
        {
          endpoint: '/partial',
          backend: [
            {
              host: [backend.url],
              url_pattern: '/a',
              extra_config: { 'qos/ratelimit/proxy': { max_rate: 1, every: '1h' } },
            },
            { host: [backend.url], url_pattern: '/b' },
          ],
        },
      ],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  try {
    const before = backend.requests.length;
    const r = await burst(8, `${gw.url}/limited`);
    assert.equal(count(r, 200), 3);
    assert.equal(count(r, 503), 5);
    assert.equal(backend.requests.length - before, 3, 'refused calls never reach the backend');

    const p1 = await fresh(`${gw.url}/partial`);
    const p2 = await fresh(`${gw.url}/partial`);
    assert.deepEqual(JSON.parse(p1.body), { a: 1, b: 2 });
    assert.equal(p2.status, 200);
    assert.deepEqual(JSON.parse(p2.body), { b: 2 }, 'the limited backend is missing from the merge');
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('gw check rejects 0, negative, NaN-like and absurd limits with their JSON path', async () => {
  const config = {
    version: 3,
    extra_config: { 'qos/ratelimit/service': { max_rate: 'INFINITY', strategy: 'cookie' } },
    endpoints: [
      {
        endpoint: '/x',
        extra_config: {
          'qos/ratelimit/router': {
            max_rate: -1,
            client_max_rate: 'ten',
            capacity: 0,
            every: '0s',
            max_clients: 1e12,
          },
        },
        backend: [
          {
            host: ['http://127.0.0.1:9'],
            url_pattern: '/',
            extra_config: { 'qos/ratelimit/proxy': { max_rate: 1e12, every: '1h', capacity: 2.5 } },
          },
        ],
      },
      {
        endpoint: '/y',
        extra_config: { 'qos/ratelimit/router': { client_max_rate: 5, strategy: 'header' } },
        backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/' }],
      },
    ],
  };
  // 1e999 is valid JSON that parses to Infinity (JSON.stringify would write null).
  const file = writeConfig(JSON.stringify(config).replace('"INFINITY"', '1e999'));
  const { code, stdout, stderr } = await runGw(['check', '-c', file]);
  const out = stdout + stderr;
  assert.equal(code, 1, out);
  const ep = '$.endpoints[0].extra_config["qos/ratelimit/router"]';
  for (const path of [
    '$.extra_config["qos/ratelimit/service"].max_rate',
    '$.extra_config["qos/ratelimit/service"].strategy',
    `${ep}.max_rate`,
    `${ep}.client_max_rate`,
    `${ep}.capacity`,
    `${ep}.every`,
    `${ep}.max_clients`,
    '$.endpoints[0].backend[0].extra_config["qos/ratelimit/proxy"].max_rate',
    '$.endpoints[0].backend[0].extra_config["qos/ratelimit/proxy"].capacity',
    '$.endpoints[1].extra_config["qos/ratelimit/router"].key',
  ])
    assert.ok(out.includes(path), `missing ${path} in:\n${out}`);

  // The docs' "happy hour": max_rate 0 means no limit and is valid.
  const ok = writeConfig({
    version: 3,
    endpoints: [
      {
        endpoint: '/happy-hour',
        extra_config: { 'qos/ratelimit/router': { max_rate: 0, client_max_rate: 0 } },
        backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/' }],
      },
    ],
  });
  const good = await runGw(['check', '-c', ok]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
});
