// The limits of the `websocket` namespace as the KrakenD EE page defines them: a message over
// `max_message_size` closes its sender with 1009 (message too big); clients are pinged every
// `ping_period` and dropped without a pong in `pong_wait`; and the backpressure policy gw
// documents: a direct client that does not read pauses its backend and is dropped after
// `write_wait`; a multiplexed one is dropped as soon as it is a buffer behind, while the others
// go on receiving. Both fronts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway } from './helpers/gateway.mjs';
import { FRONTS, openClient, startWsBackend, wsUrl } from './helpers/websocket.mjs';

const until = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r('timeout'), ms))]);

for (const front of FRONTS) {
  describe(`limits (--front ${front})`, () => {
    let echo;
    let flood;
    let gw;
    const flooded = [];
    before(async () => {
      echo = await startWsBackend({ multiplexed: false });
      // A backend that writes 16 KiB messages to each connection for as long as its socket takes them.
      flood = await startWsBackend({
        multiplexed: false,
        onConnection: (ws) => {
          const record = { sent: 0, blocked: false, closedAt: 0 };
          flooded.push(record);
          const chunk = Buffer.alloc(16 * 1024, 120);
          ws.on('close', () => (record.closedAt = Date.now()));
          const pump = () => {
            if (ws.readyState !== 1) return;
            while (ws.bufferedAmount < 1024 * 1024) {
              ws.send(chunk);
              record.sent += chunk.length;
            }
            record.blocked = true;
            setTimeout(pump, 20);
          };
          pump();
        },
      });
      const ep = (endpoint, host, websocket) => ({
        endpoint,
        backend: [{ url_pattern: '/', disable_host_sanitize: true, host: [host] }],
        extra_config: { websocket: { enable_direct_communication: true, ...websocket } },
      });
      gw = await startGateway(
        {
          version: 3,
          endpoints: [
            ep('/small', echo.url, { max_message_size: 64 }),
            ep('/large', echo.url, { max_message_size: 4096 }),
            ep('/ping', echo.url, { ping_period: '200ms', pong_wait: '600ms' }),
            ep('/flood', flood.url, {
              max_message_size: 65536,
              write_buffer_size: 1024,
              message_buffer_size: 64,
              write_wait: '1s',
            }),
          ],
        },
        { args: ['--workers', '1', '--front', front] },
      );
    });
    after(async () => {
      await gw?.stop();
      await echo?.close();
      await flood?.close();
    });

    test('max_message_size: a larger message closes its sender with 1009, a smaller one passes', async () => {
      for (const path of ['/small', '/large']) {
        const limit = path === '/small' ? 64 : 4096;
        const c = openClient(wsUrl(gw, path));
        await c.opened;
        c.send('x'.repeat(limit));
        assert.equal((await c.next()).text.length, limit, `${path}: at the limit passes`);
        c.send('x'.repeat(limit + 1));
        const closed = await until(c.closed, 10000);
        assert.equal(closed.code, 1009, `${path}: ${JSON.stringify(closed)}`);
      }
    });

    test('ping_period / pong_wait: a client that answers pings stays, one that does not is dropped', async () => {
      const alive = openClient(wsUrl(gw, '/ping'));
      const mute = openClient(wsUrl(gw, '/ping'), undefined, { autoPong: false });
      let pings = 0;
      alive.ws.on('ping', () => pings++);
      await Promise.all([alive.opened, mute.opened]);
      const closed = await until(mute.closed, 10000);
      assert.notEqual(closed, 'timeout', 'the client without pongs is dropped');
      assert.ok(pings >= 2, `pinged ${pings} times`);
      alive.send('still here');
      assert.equal((await alive.next()).text, 'still here');
      alive.close();
    });

    test('direct backpressure: a client that does not read pauses its backend, and is dropped after write_wait', async () => {
      const c = openClient(wsUrl(gw, '/flood'));
      await c.opened;
      c.ws.pause();
      const paused = Date.now();
      const start = flooded.length - 1;
      const record = flooded[start];
      const deadline = Date.now() + 15000;
      while (record.closedAt === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(record.blocked, 'the backend found its socket full: gw stopped reading it');
      assert.ok(record.closedAt > 0, 'the backend connection is closed once the client is dropped');
      assert.ok(
        record.closedAt - paused >= 900,
        `dropped after write_wait, not before (${record.closedAt - paused} ms)`,
      );
      // What the backend wrote is what the sockets between hold, not a growing gateway buffer.
      assert.ok(record.sent < 256 * 1024 * 1024, `backend wrote ${record.sent} bytes`);
      c.ws.resume();
      assert.notEqual(await until(c.closed, 10000), 'timeout');
    });
  });

  describe(`multiplexed backpressure (--front ${front})`, () => {
    test('a client that does not read is dropped; the others receive every message', async () => {
      const be = await startWsBackend();
      const gw = await startGateway(
        {
          version: 3,
          endpoints: [
            {
              endpoint: '/feed',
              backend: [{ url_pattern: '/', disable_host_sanitize: true, host: [be.url] }],
              extra_config: {
                websocket: { max_message_size: 70000, write_buffer_size: 1024, message_buffer_size: 16 },
              },
            },
          ],
        },
        { args: ['--workers', '1', '--front', front] },
      );
      try {
        const slow = openClient(wsUrl(gw, '/feed'));
        const fast = openClient(wsUrl(gw, '/feed'));
        await Promise.all([slow.opened, fast.opened]);
        slow.ws.pause();
        await be.waitFor((m) => m.handshake !== undefined);
        const count = 400;
        const chunk = Buffer.alloc(64 * 1024, 97).toString();
        let received = 0;
        fast.ws.on('message', () => received++);
        // Sent in rounds the reading client keeps up with (it shares this process with the backend).
        for (let i = 0; i < count; i++) {
          be.broadcast(chunk);
          if (i % 20 === 19) {
            const wait = Date.now() + 10000;
            while (received < i - 20 && Date.now() < wait) await new Promise((r) => setTimeout(r, 5));
          }
        }
        const deadline = Date.now() + 20000;
        while (received < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(received, count, 'the reading client got every message');
        const logs = await gw.waitForLog(/does not read: disconnected/, 10000);
        assert.match(logs, /does not read: disconnected/);
        slow.ws.resume();
        assert.notEqual(await until(slow.closed, 10000), 'timeout', 'the slow client was closed');
        fast.close();
      } finally {
        await gw.stop();
        await be.close();
      }
    });
  });
}
