// Graceful shutdown with traffic management in the way: requests in flight through a rate limit,
// a circuit breaker, a cache and a Redis-backed limit all complete after SIGTERM, new ones are
// refused, and the process exits 0 promptly (the Redis clients are closed, nothing holds it up).
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startBackend, startGateway } from './helpers/gateway.mjs';
import { haveRedis, startRedis } from './helpers/redis.mjs';

function fresh(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (err) => resolve({ error: err.code ?? err.message }));
  });
}

for (const workers of ['1', '2']) {
  test(`SIGTERM with qos features: in-flight requests complete, exit 0 (${workers} worker(s))`, async (t) => {
    const slow = await startBackend((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
        res.end('{"slow":true}');
      }, 500);
    });
    const redis = haveRedis ? await startRedis() : undefined;
    if (!redis) t.diagnostic('redis-server is not installed: the Redis-backed limit is left out');
    const backend = (extra) => [{ host: [slow.url], url_pattern: '/', extra_config: extra }];
    const config = {
      version: 3,
      timeout: '5s',
      ...(redis
        ? { extra_config: { redis: { connection_pools: [{ name: 'r', address: redis.address }] } } }
        : {}),
      endpoints: [
        {
          endpoint: '/limited',
          extra_config: { 'qos/ratelimit/router': { max_rate: 100, client_max_rate: 100 } },
          backend: backend({
            'qos/circuit-breaker': { interval: 60, timeout: 10, max_errors: 3 },
            'qos/ratelimit/proxy': { max_rate: 100 },
            'qos/http-cache': {},
          }),
        },
        ...(redis
          ? [
              {
                endpoint: '/redis',
                extra_config: {
                  'qos/ratelimit/router/redis': { connection_name: 'r', client_max_rate: 100 },
                },
                backend: backend(),
              },
            ]
          : []),
      ],
    };
    const gw = await startGateway(config, { args: ['--workers', workers] });
    try {
      // startGateway returns once one worker accepts; gw handles SIGTERM once all have started.
      for (let i = 0; i < 400 && !/listening on /.test(gw.logs()); i++)
        await new Promise((r) => setTimeout(r, 25));
      const paths = redis ? ['/limited', '/redis'] : ['/limited'];
      const inflight = Array.from({ length: 12 }, (_, i) => fresh(`${gw.url}${paths[i % paths.length]}`));
      // In flight = accepted and being served: every request has reached the (slow) backend.
      // (A connection still in a listen socket's accept queue at SIGTERM is the core's matter.)
      for (let i = 0; i < 200 && slow.requests.length < inflight.length; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(slow.requests.length, inflight.length);
      const started = Date.now();
      const exited = gw.stop();
      const results = await Promise.all(inflight);
      for (const r of results) {
        assert.equal(r.status, 200, JSON.stringify(r));
        assert.deepEqual(JSON.parse(r.body), { slow: true });
      }
      const { code } = await exited;
      assert.equal(code, 0, gw.logs());
      assert.ok(Date.now() - started < 4000, `exited ${Date.now() - started} ms after SIGTERM`);
      const after = await fresh(`${gw.url}/limited`);
      assert.ok(after.error, 'new connections are refused once stopped');
    } finally {
      await slow.close();
      await redis?.stop();
    }
  });
}
