// WebSockets, multiplexing (the default of the `websocket` namespace), as the KrakenD EE page
// "WebSockets Integration" describes it: one backend channel per endpoint opened with
// {"msg":"KrakenD WS proxy starting"} / OK, client messages wrapped in {"url","session","body"}
// (base64 body, `uuid`, capitalised endpoint params), the backend's envelopes routed back by
// `url` and `session` (unicast, multicast, broadcast), anything else broadcast. Both fronts.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { freePort, jsonBackend, startGateway } from './helpers/gateway.mjs';
import { FRONTS, openClient, startWsBackend, wsUrl } from './helpers/websocket.mjs';

const b64 = (s) => Buffer.from(s).toString('base64');

function wsEndpoint(endpoint, host, websocket = {}, extra = {}) {
  return {
    endpoint,
    ...extra,
    backend: [{ url_pattern: '/ws', disable_host_sanitize: true, host: [host] }],
    extra_config: { websocket },
  };
}

for (const front of FRONTS) {
  describe(`multiplexing (--front ${front})`, () => {
    let be;
    let gw;
    let api;
    before(async () => {
      api = await jsonBackend({ '/data': { ok: true } });
      be = await startWsBackend({
        onMessage: (ws, msg) => {
          if (msg?.body === undefined) return;
          const text = Buffer.from(msg.body, 'base64').toString();
          // The test's commands, written by the clients: who the answer goes to.
          if (text.startsWith('all:')) ws.send(JSON.stringify({ body: b64(text.slice(4)) }));
          else if (text.startsWith('url:'))
            ws.send(JSON.stringify({ url: '/chat/a', body: b64(text.slice(4)) }));
          else if (text.startsWith('room:'))
            ws.send(JSON.stringify({ session: { Room: 'b' }, body: b64(text.slice(5)) }));
          else if (text.startsWith('raw:')) ws.send(text.slice(4));
          else if (text === 'bin')
            ws.send(
              JSON.stringify({
                session: { uuid: msg.session.uuid },
                body: Buffer.from([0xff, 0, 1]).toString('base64'),
              }),
            );
          else ws.send(JSON.stringify({ session: { uuid: msg.session.uuid }, url: msg.url, body: msg.body }));
        },
      });
      gw = await startGateway(
        {
          version: 3,
          endpoints: [
            wsEndpoint(
              '/chat/{room}',
              be.url,
              { input_headers: ['X-User'] },
              { input_query_strings: ['nick'] },
            ),
            { endpoint: '/plain', backend: [{ host: [api.url], url_pattern: '/data' }] },
          ],
        },
        { args: ['--workers', '1', '--front', front] },
      );
    });
    after(async () => {
      await gw?.stop();
      await be?.close();
      await api?.close();
    });

    test('the channel opens with the handshake, and a message reaches the backend as the envelope', async () => {
      const c = openClient(wsUrl(gw, '/chat/a?nick=ana&other=x'), undefined, { headers: { 'X-User': 'u1' } });
      await c.opened;
      c.send('Hello World!');
      const echoed = await c.next();
      assert.equal(echoed.text, 'Hello World!');
      assert.equal(echoed.binary, false);
      assert.deepEqual(be.messages[0], { handshake: '{"msg":"KrakenD WS proxy starting"}' });
      assert.equal(be.connections.length, 1, 'one channel for the endpoint');
      assert.equal(be.connections[0].url, '/ws');
      const env = await be.waitFor((m) => m.body === b64('Hello World!'));
      assert.equal(env.url, '/chat/a');
      assert.match(env.session.uuid, /^[0-9a-f-]{36}$/);
      assert.equal(env.session.Room, 'a', '{room} as Room');
      assert.equal(env.session['X-User'], 'u1', 'input_headers in the session');
      assert.equal(env.session.nick, 'ana', 'input_query_strings in the session');
      assert.equal(env.session.other, undefined, 'a query string not listed stays out');
      c.close();
    });

    test('unicast by uuid, multicast by url and by session, broadcast, raw messages broadcast', async () => {
      const a1 = openClient(wsUrl(gw, '/chat/a'));
      const a2 = openClient(wsUrl(gw, '/chat/a'));
      const b1 = openClient(wsUrl(gw, '/chat/b'));
      await Promise.all([a1.opened, a2.opened, b1.opened]);
      a1.send('just me');
      assert.equal((await a1.next()).text, 'just me');
      assert.ok(await a2.quiet(200), 'unicast reaches its uuid only');
      assert.ok(await b1.quiet(0));

      a1.send('url:to a');
      assert.equal((await a1.next()).text, 'to a');
      assert.equal((await a2.next()).text, 'to a');
      assert.ok(await b1.quiet(200), 'url /chat/a leaves /chat/b out');

      a1.send('room:to b');
      assert.equal((await b1.next()).text, 'to b');
      assert.ok(await a1.quiet(200), 'session {Room: b} leaves room a out');
      assert.ok(await a2.quiet(0));

      b1.send('all:everyone');
      for (const c of [a1, a2, b1]) assert.equal((await c.next()).text, 'everyone');

      b1.send('raw:not an envelope');
      for (const c of [a1, a2, b1]) assert.equal((await c.next()).text, 'not an envelope');

      a2.send('bin');
      const bin = await a2.next();
      assert.equal(bin.binary, true, 'a body that is not UTF-8 goes as a binary message');
      assert.deepEqual([...bin.data], [0xff, 0, 1]);
      for (const c of [a1, a2, b1]) c.close();
    });

    test('a websocket endpoint asked without an upgrade answers 400; another endpoint asked with one (websocket or h2c) answers as usual', async () => {
      const res = await fetch(`${gw.url}/chat/a`);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /not using the websocket protocol/);
      const c = openClient(wsUrl(gw, '/plain'));
      const err = await c.opened.then(
        () => null,
        (e) => e,
      );
      assert.equal(err?.status, 200, 'an endpoint without `websocket` answers as it always does, no upgrade');
      // Another protocol's upgrade (h2c) is served as a plain request too.
      const h2c = await new Promise((resolve, reject) => {
        http
          .get(
            `${gw.url}/plain`,
            {
              headers: {
                Connection: 'Upgrade, HTTP2-Settings',
                Upgrade: 'h2c',
                'HTTP2-Settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
              },
            },
            (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode, body }));
            },
          )
          .on('error', reject);
      });
      assert.deepEqual(h2c, { status: 200, body: '{"ok":true}' });
      const missing = openClient(wsUrl(gw, '/nowhere'));
      const e404 = await missing.opened.then(
        () => null,
        (e) => e,
      );
      assert.equal(e404.status, 404);
    });
  });
}

describe('multiplexing: events, a late backend, retries', () => {
  test('connect_event and disconnect_event tell the backend who came and went', async () => {
    const be = await startWsBackend({ onMessage: () => {} });
    const gw = await startGateway({
      version: 3,
      endpoints: [wsEndpoint('/room/{id}', be.url, { connect_event: true, disconnect_event: true })],
    });
    try {
      const c = openClient(wsUrl(gw, '/room/7'));
      await c.opened;
      const connect = await be.waitFor((m) => m.event === 'connect');
      assert.equal(connect.url, '/room/7');
      assert.equal(connect.session.Id, '7');
      c.ws.close(1000);
      await c.closed;
      const gone = await be.waitFor((m) => m.event === 'disconnect');
      assert.equal(gone.session.uuid, connect.session.uuid);
    } finally {
      await gw.stop();
      await be.close();
    }
  });

  test('a backend down at start: the gateway serves, keeps retrying, and delivers the messages that waited', async () => {
    const port = await freePort();
    const gw = await startGateway({
      version: 3,
      endpoints: [wsEndpoint('/late', `ws://127.0.0.1:${port}`, { backoff_strategy: 'fallback' })],
    });
    let wss;
    try {
      const c = openClient(wsUrl(gw, '/late'));
      await c.opened;
      c.send('waited');
      const got = [];
      wss = new WebSocketServer({ port, host: '127.0.0.1' });
      wss.on('connection', (ws) => {
        let first = true;
        ws.on('message', (d) => {
          if (first) {
            first = false;
            ws.send('OK');
            return;
          }
          got.push(JSON.parse(d.toString()));
        });
      });
      const until = Date.now() + 10000;
      while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 1);
      assert.equal(Buffer.from(got[0].body, 'base64').toString(), 'waited');
      assert.match(gw.logs(), /Unable to renew the connection/);
      c.close();
    } finally {
      await gw.stop();
      await new Promise((r) => (wss ? wss.close(r) : r()));
    }
  });

  test('a backend that does not answer OK is refused; once max_retries are spent, upgrades get 502 Bad Gateway', async () => {
    const be = await startWsBackend({ multiplexed: false, onMessage: (ws) => ws.send('what?') });
    const gw = await startGateway({
      version: 3,
      endpoints: [wsEndpoint('/ws', be.url, { max_retries: 1, backoff_strategy: 'linear' })],
    });
    try {
      const logs = await gw.waitForLog(/Unable to reconnect to the backend/, 15000);
      assert.match(logs, /answered the handshake with .*what\?/);
      const c = openClient(wsUrl(gw, '/ws'));
      const err = await c.opened.then(
        () => null,
        (e) => e,
      );
      assert.equal(err?.status, 502);
    } finally {
      await gw.stop();
      await be.close();
    }
  });
});
