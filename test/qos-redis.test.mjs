// Redis-backed rate limits end to end: a real redis-server on a free port, two gw nodes (each with
// 2 worker threads) sharing it, and what happens when Redis goes away and comes back.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { jsonBackend, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';
import { haveRedis, startRedis } from './helpers/redis.mjs';

const skip = haveRedis ? false : 'redis-server is not installed (apt-get install redis-server)';

function fresh(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
  });
}

const count = (statuses, s) => statuses.filter((x) => x === s).length;

function config(backendUrl, redisAddress, limit) {
  return {
    version: 3,
    extra_config: {
      redis: {
        connection_pools: [{ name: 'shared_instance', address: redisAddress, read_timeout: '200ms' }],
      },
    },
    endpoints: [
      {
        endpoint: '/foo',
        extra_config: {
          'qos/ratelimit/router/redis': { connection_name: 'shared_instance', every: '1h', ...limit },
        },
        backend: [{ host: [backendUrl], url_pattern: '/ok' }],
      },
    ],
  };
}

test('two gw nodes × 2 workers share one Redis: 5 per client and 8 per endpoint in total', {
  skip,
}, async () => {
  const redis = await startRedis();
  const backend = await jsonBackend({ '/ok': { ok: true } });
  const cfg = config(backend.url, redis.address, {
    client_max_rate: 5,
    max_rate: 8,
    strategy: 'header',
    key: 'X-Client',
  });
  const [n1, n2] = await Promise.all([
    startGateway(cfg, { args: ['--workers', '2', '--front', 'uws'] }),
    startGateway(cfg, { args: ['--workers', '2', '--front', 'uws'] }),
  ]);
  try {
    const alice = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fresh(`${(i % 2 ? n1 : n2).url}/foo`, { 'x-client': 'alice' })),
    );
    assert.equal(count(alice, 200), 5, alice.join(','));
    assert.equal(count(alice, 429), 7);
    const bob = await Promise.all(
      Array.from({ length: 6 }, (_, i) => fresh(`${(i % 2 ? n1 : n2).url}/foo`, { 'x-client': 'bob' })),
    );
    assert.equal(count(bob, 200), 3, 'the endpoint total of 8 is shared by both nodes');
    assert.equal(count(bob, 503), 3);

    // Redis only keeps buckets that are not full again: keys expire.
    const r = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
    const keys = await r.keys('gw:rl:*');
    assert.equal(keys.length, 3, keys.join(' ')); // endpoint, alice, bob
    for (const k of keys) {
      const ttl = await r.pttl(k);
      assert.ok(ttl > 0 && ttl <= 3_600_000 * 8 + 1000, `${k} expires (${ttl} ms)`);
    }
    r.disconnect();
  } finally {
    await Promise.all([n1.stop(), n2.stop()]);
    await backend.close();
    await redis.stop();
  }
});

test('Redis unreachable: refuse (503) or fall back to local buckets, with a log line; back when it returns', {
  skip,
}, async () => {
  const redis = await startRedis();
  const backend = await jsonBackend({ '/ok': { ok: true } });
  const limit = { client_max_rate: 3, strategy: 'header', key: 'X-Client' };
  const strict = await startGateway(config(backend.url, redis.address, limit), {
    args: ['--workers', '2', '--front', 'uws'],
  });
  const lenient = await startGateway(
    config(backend.url, redis.address, { ...limit, on_failure_allow: true }),
    {
      args: ['--workers', '2', '--front', 'uws'],
    },
  );
  try {
    assert.equal(await fresh(`${strict.url}/foo`, { 'x-client': 'warm' }), 200);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 300));

    const refused = await Promise.all(
      Array.from({ length: 4 }, () => fresh(`${strict.url}/foo`, { 'x-client': 'c' })),
    );
    assert.deepEqual(refused, [503, 503, 503, 503]);
    const local = await Promise.all(
      Array.from({ length: 6 }, () => fresh(`${lenient.url}/foo`, { 'x-client': 'c' })),
    );
    assert.equal(count(local, 200), 3, `local buckets keep the limit across workers: ${local}`);
    assert.equal(count(local, 429), 3);
    assert.match(
      await strict.waitForLog(/Redis unreachable .*refusing requests \(503\)/),
      /Redis unreachable .*refusing requests \(503\)/,
    );
    assert.match(
      await lenient.waitForLog(/Redis unreachable .*falling back to local buckets/),
      /Redis unreachable .*falling back to local buckets/,
    );

    // Redis back on the same port: cluster-wide limits again (a fresh Redis: new buckets).
    const again = await startRedis(redis.port);
    // Until every worker has reconnected: a batch over fresh connections (spread over both
    // workers), each request as a new client, all served.
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const batch = await Promise.all(
        Array.from({ length: 8 }, (_, j) => fresh(`${strict.url}/foo`, { 'x-client': `probe-${i}-${j}` })),
      );
      if (batch.every((s) => s === 200)) break;
    }
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => fresh(`${strict.url}/foo`, { 'x-client': 'd' })),
    );
    assert.equal(count(statuses, 200), 3, statuses.join(','));
    assert.match(await strict.waitForLog(/Redis answers again/), /Redis answers again/);
    await again.stop();
  } finally {
    await Promise.all([strict.stop(), lenient.stop()]);
    await backend.close();
    await redis.stop();
  }
});

test('gw check: Redis pools and Redis-backed limits', async () => {
  const file = writeConfig({
    version: 3,
    extra_config: {
      redis: {
        connection_pools: [
          { name: 'a', address: '' },
          { name: 'a', address: 'redis:6379', db: -1 },
        ],
        clusters: [{ name: 'c' }],
      },
      'qos/ratelimit/service/redis': { connection_pool: 'missing', client_max_rate: 0.000000000001 },
    },
    endpoints: [
      {
        endpoint: '/x',
        extra_config: { 'qos/ratelimit/router/redis': { client_max_rate: -3, on_failure_allow: 'yes' } },
        backend: [{ host: ['http://127.0.0.1:9'], url_pattern: '/' }],
      },
    ],
  });
  const { code, stdout, stderr } = await runGw(['check', '-c', file]);
  const out = stdout + stderr;
  assert.equal(code, 1);
  for (const path of [
    '$.extra_config.redis.connection_pools[0].address',
    '$.extra_config.redis.connection_pools[1].name',
    '$.extra_config.redis.connection_pools[1].db',
    '$.extra_config.redis.clusters[0].addresses',
    '$.extra_config["qos/ratelimit/service/redis"].connection_pool',
    '$.extra_config["qos/ratelimit/service/redis"].client_max_rate',
    '$.endpoints[0].extra_config["qos/ratelimit/router/redis"].client_max_rate',
    '$.endpoints[0].extra_config["qos/ratelimit/router/redis"].on_failure_allow',
    '$.endpoints[0].extra_config["qos/ratelimit/router/redis"].connection_name',
  ])
    assert.ok(out.includes(path), `missing ${path} in:\n${out}`);
});
