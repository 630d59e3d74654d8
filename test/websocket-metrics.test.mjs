// WebSocket metrics: connections opened, closed and open, and messages and bytes each way, per
// endpoint, summed over the worker threads: in `telemetry/metrics`' /__stats and in the
// Prometheus exporter of `telemetry/opentelemetry` (src/websocket/metrics.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, startGateway } from './helpers/gateway.mjs';
import { openClient, startWsBackend, wsUrl } from './helpers/websocket.mjs';

test('/__stats and Prometheus count connections, messages and bytes of a websocket endpoint (2 workers)', async () => {
  const be = await startWsBackend();
  const statsPort = await freePort();
  const promPort = await freePort();
  const gw = await startGateway(
    {
      version: 3,
      extra_config: {
        'telemetry/metrics': { listen_address: `127.0.0.1:${statsPort}` },
        'telemetry/opentelemetry': {
          exporters: { prometheus: [{ name: 'local', port: promPort, listen_ip: '127.0.0.1' }] },
        },
      },
      endpoints: [
        {
          endpoint: '/chat/{room}',
          backend: [{ url_pattern: '/ws', disable_host_sanitize: true, host: [be.url] }],
          extra_config: { websocket: {} },
        },
      ],
    },
    { args: ['--workers', '2'] },
  );
  try {
    const a = openClient(wsUrl(gw, '/chat/1'));
    const b = openClient(wsUrl(gw, '/chat/2'));
    await Promise.all([a.opened, b.opened]);
    for (const text of ['one', 'two!', 'three']) {
      a.send(text);
      assert.equal((await a.next()).text, text);
    }
    b.ws.close(1000);
    await b.closed;
    const route = 'krakend.websocket./chat/{room}';
    let stats;
    const until = Date.now() + 10000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      stats = await (await fetch(`http://127.0.0.1:${statsPort}/__stats`)).json();
    } while (stats[`${route}.connections.closed`] !== 1 && Date.now() < until);
    assert.equal(stats[`${route}.connections.opened`], 2);
    assert.equal(stats[`${route}.connections.closed`], 1);
    assert.equal(stats[`${route}.connections.open`], 1);
    assert.equal(stats[`${route}.messages.in`], 3);
    assert.equal(stats[`${route}.bytes.in`], 3 + 4 + 5);
    assert.equal(stats[`${route}.messages.out`], 3);
    assert.equal(stats[`${route}.bytes.out`], 12);
    const prom = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
    assert.match(
      prom,
      /krakend_websocket_connections_total\{http_route="\/chat\/\{room\}",event="opened"\} 2/,
    );
    assert.match(prom, /krakend_websocket_connections_open\{http_route="\/chat\/\{room\}"\} 1/);
    assert.match(
      prom,
      /krakend_websocket_message_size_bytes_count\{http_route="\/chat\/\{room\}",direction="in"\} 3/,
    );
    assert.match(
      prom,
      /krakend_websocket_message_size_bytes_sum\{http_route="\/chat\/\{room\}",direction="in"\} 12/,
    );
    a.close();
  } finally {
    await gw.stop();
    await be.close();
  }
});
