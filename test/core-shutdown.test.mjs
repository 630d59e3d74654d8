// Graceful shutdown: SIGTERM stops accepting, finishes in-flight requests, exits 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, startBackend, startGateway } from './helpers/gateway.mjs';

for (const workers of ['1', '2']) {
  test(`SIGTERM drains in-flight requests (${workers} worker(s))`, async () => {
    const slow = await startBackend((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"slow":true}');
      }, 400);
    });
    const gw = await startGateway(
      {
        version: 3,
        timeout: '5s',
        endpoints: [{ endpoint: '/slow', backend: [{ host: [slow.url], url_pattern: '/' }] }],
      },
      { args: ['--workers', workers] },
    );
    try {
      const inflight = Array.from({ length: 10 }, () => get(`${gw.url}/slow`));
      // In flight = the backend has them (a connection still in a closed listener's backlog is the kernel's).
      for (let i = 0; i < 200 && slow.requests.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
      const exited = gw.stop();
      const results = await Promise.all(inflight);
      for (const r of results) {
        assert.equal(r.status, 200);
        assert.deepEqual(r.json, { slow: true });
      }
      const { code } = await exited;
      assert.equal(code, 0);
      await assert.rejects(fetch(`${gw.url}/slow`));
    } finally {
      await slow.close();
    }
  });
}
