// qos/circuit-breaker and host load balancing, end to end: real gw with 2 workers (one breaker
// state shared by both), real failing backends, one fresh connection per request.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { runGw, startBackend, startGateway, writeConfig } from './helpers/gateway.mjs';

function fresh(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
}

async function sequence(n, url) {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await fresh(url)).status);
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A backend whose status the test switches; `delay` ms before answering. */
async function switchable() {
  const state = { status: 500, delay: 0 };
  const backend = await startBackend((_req, res) => {
    setTimeout(() => {
      res.writeHead(state.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: state.status }));
    }, state.delay);
  });
  return { backend, state };
}

test('closed → open after more than max_errors consecutive errors → half-open probe → closed', async () => {
  const { backend, state } = await switchable();
  const gw = await startGateway(
    {
      version: 3,
      endpoints: [
        {
          endpoint: '/cb',
          backend: [
            {
              host: [backend.url],
              url_pattern: '/',
              extra_config: {
                'qos/circuit-breaker': {
                  interval: 60,
                  timeout: 1,
                  max_errors: 2,
                  name: 'cb-test',
                  log_status_change: true,
                },
              },
            },
          ],
        },
      ],
    },
    { args: ['--workers', '2', '--front', 'uws'] },
  );
  try {
    // Consecutive: a success in between starts the count again.
    assert.deepEqual(await sequence(2, `${gw.url}/cb`), [500, 500]);
    state.status = 200;
    assert.deepEqual(await sequence(1, `${gw.url}/cb`), [200]);
    state.status = 500;
    assert.deepEqual(
      await sequence(3, `${gw.url}/cb`),
      [500, 500, 500],
      'the 3rd consecutive error exceeds 2',
    );
    const hits = backend.requests.length;
    assert.equal(hits, 6);
    assert.deepEqual(await sequence(4, `${gw.url}/cb`), [503, 503, 503, 503], 'open: refused at once');
    assert.equal(backend.requests.length, hits, 'no call reaches the backend while open');

    // After `timeout`, one probe: it fails → open again for another timeout.
    await sleep(1100);
    assert.deepEqual(await sequence(2, `${gw.url}/cb`), [500, 503]);
    assert.equal(backend.requests.length, hits + 1);

    // Next probe succeeds (slowly): concurrent calls are refused while it runs, then closed.
    await sleep(1100);
    state.status = 200;
    state.delay = 1000;
    const during = await Promise.all(Array.from({ length: 6 }, () => fresh(`${gw.url}/cb`)));
    assert.equal(during.filter((r) => r.status === 200).length, 1, 'exactly one probe');
    assert.equal(during.filter((r) => r.status === 503).length, 5);
    assert.equal(backend.requests.length, hits + 2);
    state.delay = 0;
    assert.deepEqual(await sequence(3, `${gw.url}/cb`), [200, 200, 200]);

    await sleep(400); // log lines are batched for up to 200 ms
    const logs = gw.logs();
    for (const change of [
      "from 'closed' to 'open'",
      "from 'open' to 'half-open'",
      "from 'half-open' to 'open'",
      "from 'half-open' to 'closed'",
    ])
      assert.ok(logs.includes(`Circuit breaker named 'cb-test' went ${change}`), `log: ${change}\n${logs}`);
  } finally {
    await gw.stop();
    await backend.close();
  }
});

test('round-robin over host entries; a host whose breaker is open is skipped', async () => {
  const a = await startBackend((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"host":"a"}');
  });
  const b = await startBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"host":"b"}');
  });
  const c = await startBackend((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"host":"c"}');
  });
  const gw = await startGateway(
    {
      version: 3,
      endpoints: [
        { endpoint: '/rr', backend: [{ host: [b.url, c.url, c.url], url_pattern: '/' }] },
        {
          endpoint: '/skip',
          backend: [
            {
              host: [a.url, b.url],
              url_pattern: '/',
              extra_config: { 'qos/circuit-breaker': { interval: 60, timeout: 30, max_errors: 1 } },
            },
          ],
        },
      ],
    },
    { args: ['--workers', '1'] },
  );
  try {
    // Poor man's weighting: c written twice gets two thirds.
    await sequence(12, `${gw.url}/rr`);
    assert.equal(b.requests.length, 4);
    assert.equal(c.requests.length, 8);

    const statuses = await sequence(20, `${gw.url}/skip`);
    assert.equal(a.requests.length, 2, 'host a: 2 consecutive errors open its breaker, then it is skipped');
    assert.equal(statuses.filter((s) => s === 500).length, 2);
    assert.ok(
      statuses.slice(4).every((s) => s === 200),
      statuses.join(','),
    );
  } finally {
    await gw.stop();
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test('gw check: circuit-breaker values', async () => {
  const file = writeConfig({
    version: 3,
    endpoints: [
      {
        endpoint: '/x',
        backend: [
          {
            host: ['http://127.0.0.1:9'],
            url_pattern: '/',
            extra_config: { 'qos/circuit-breaker': { interval: 0, timeout: -5, max_errors: 1.5 } },
          },
          {
            host: ['http://127.0.0.1:9'],
            url_pattern: '/',
            extra_config: { 'qos/circuit-breaker': { interval: 60 } },
          },
        ],
      },
    ],
  });
  const { code, stdout, stderr } = await runGw(['check', '-c', file]);
  const out = stdout + stderr;
  assert.equal(code, 1);
  const p0 = '$.endpoints[0].backend[0].extra_config["qos/circuit-breaker"]';
  const p1 = '$.endpoints[0].backend[1].extra_config["qos/circuit-breaker"]';
  for (const path of [
    `${p0}.interval`,
    `${p0}.timeout`,
    `${p0}.max_errors`,
    `${p1}.timeout`,
    `${p1}.max_errors`,
  ])
    assert.ok(out.includes(path), `missing ${path} in:\n${out}`);
});
