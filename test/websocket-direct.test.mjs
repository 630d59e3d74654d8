// WebSockets, direct communication (`enable_direct_communication`), as the KrakenD EE page
// describes it: one backend connection per client, no handshake nor envelope, binary passed
// through, subprotocols; gw also passes close codes both ways, and dials a lost backend again
// per `max_retries` / `backoff_strategy` while the client stays connected.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, startGateway } from './helpers/gateway.mjs';
import { FRONTS, openClient, startWsBackend, wsUrl } from './helpers/websocket.mjs';

function direct(endpoint, url_pattern, host, websocket = {}, extra = {}) {
  return {
    endpoint,
    ...extra,
    backend: [{ url_pattern, disable_host_sanitize: true, host: [host] }],
    extra_config: { websocket: { enable_direct_communication: true, ...websocket } },
  };
}

for (const front of FRONTS) {
  describe(`direct communication (--front ${front})`, () => {
    let be;
    let gw;
    before(async () => {
      be = await startWsBackend({
        multiplexed: false,
        handleProtocols: (offered) => (offered.has('v2.chat') ? 'v2.chat' : false),
        onMessage: (ws, _parsed, data, binary) => {
          const text = binary ? '' : data.toString();
          if (text.startsWith('close:')) ws.close(Number(text.slice(6)), 'bye from backend');
          else ws.send(data, { binary });
        },
      });
      gw = await startGateway(
        {
          version: 3,
          endpoints: [
            direct(
              '/live/{room}',
              '/rooms/{room}',
              be.url,
              { input_headers: ['Authorization'] },
              { input_query_strings: ['token'] },
            ),
          ],
        },
        { args: ['--workers', '1', '--front', front] },
      );
    });
    after(async () => {
      await gw?.stop();
      await be?.close();
    });

    test('one backend connection per client, url_pattern params, query strings, headers and subprotocol forwarded', async () => {
      const before = be.connections.length;
      const c = openClient(wsUrl(gw, '/live/r1?token=t&drop=1'), ['v1.chat', 'v2.chat'], {
        headers: { Authorization: 'Bearer x', 'X-Other': 'no' },
      });
      await c.opened;
      assert.equal(c.ws.protocol, 'v2.chat', "the backend's subprotocol is the client's");
      const conn = be.connections[before];
      assert.equal(conn.url, '/rooms/r1?token=t');
      assert.equal(conn.headers.authorization, 'Bearer x');
      assert.equal(conn.headers['x-other'], undefined);
      assert.deepEqual(conn.headers['sec-websocket-protocol'].split(/, */), ['v1.chat', 'v2.chat']);
      const d = openClient(wsUrl(gw, '/live/r2'));
      await d.opened;
      assert.equal(be.connections.length, before + 2, 'a second client, a second backend connection');
      c.close();
      d.close();
    });

    test('text and binary messages pass through unchanged, no envelope', async () => {
      const c = openClient(wsUrl(gw, '/live/r1'));
      await c.opened;
      c.send('plain text');
      const t = await c.next();
      assert.equal(t.text, 'plain text');
      assert.equal(t.binary, false);
      const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe]);
      c.send(bytes);
      const b = await c.next();
      assert.equal(b.binary, true);
      assert.deepEqual(b.data, bytes);
      c.close();
    });

    test('close codes pass through: the backend closing with 4001 closes the client with 4001; the client closing with 4002 closes the backend with it', async () => {
      const c = openClient(wsUrl(gw, '/live/r1'));
      await c.opened;
      c.send('close:4001');
      const closed = await c.closed;
      assert.equal(closed.code, 4001);
      assert.equal(closed.reason, 'bye from backend');

      const before = be.connections.length;
      const d = openClient(wsUrl(gw, '/live/r1'));
      await d.opened;
      const backendSide = be.connections[before].ws;
      const seen = new Promise((r) =>
        backendSide.on('close', (code, reason) => r({ code, reason: reason.toString() })),
      );
      d.ws.close(4002, 'bye from client');
      assert.deepEqual(await seen, { code: 4002, reason: 'bye from client' });
    });
  });
}

describe('direct communication: a backend that is away', () => {
  test('an unreachable backend answers the upgrade 502 Bad Gateway', async () => {
    const port = await freePort();
    const gw = await startGateway({ version: 3, endpoints: [direct('/d', '/', `ws://127.0.0.1:${port}`)] });
    try {
      const c = openClient(wsUrl(gw, '/d'));
      const err = await c.opened.then(
        () => null,
        (e) => e,
      );
      assert.equal(err?.status, 502);
    } finally {
      await gw.stop();
    }
  });

  test('a backend connection lost abnormally is dialled again; the client stays and its messages wait; max_retries spent kicks it out (1011)', async () => {
    const be = await startWsBackend({ multiplexed: false });
    const gw = await startGateway({
      version: 3,
      endpoints: [direct('/d', '/', be.url, { max_retries: 2, backoff_strategy: 'fallback' })],
    });
    try {
      const c = openClient(wsUrl(gw, '/d'));
      await c.opened;
      c.send('one');
      assert.equal((await c.next()).text, 'one');
      // The backend's side drops without a close frame (1006): gw redials.
      be.connections[0].ws.terminate();
      await new Promise((r) => setTimeout(r, 100));
      c.send('two');
      assert.equal((await c.next(10000)).text, 'two', 'delivered on the new connection');
      assert.equal(be.connections.length, 2);
      assert.match(gw.logs(), /Reading from the connection: websocket: close 1006/);
      // Now the backend goes away for good: after two failed dials the client is closed.
      await be.close();
      const closed = await Promise.race([
        c.closed,
        new Promise((r) => setTimeout(() => r('timeout'), 15000)),
      ]);
      assert.equal(closed.code, 1011);
    } finally {
      await gw.stop();
      await be.close();
    }
  });
});
