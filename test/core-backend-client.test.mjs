// gw's own HTTP/1.1 backend client (src/proxy/h1-client.ts) against backends written on raw
// sockets, so that each answers exactly the bytes a test needs: fragmented chunked bodies,
// bodies framed by the close, keep-alive races, Keep-Alive hints, malformed answers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { H1Pool, H1RequestError } from '../dist/proxy/h1-client.js';
import { get, startGateway } from './helpers/gateway.mjs';

/**
 * A backend on node:net. `answer(socket, request, info)` is called once per request read, with
 * info = { connection: index of the connection, onConnection: index of the request on it }.
 */
function rawBackend(answer) {
  const stats = { connections: 0, closedByPeer: 0, requests: [] };
  const sockets = new Set();
  const server = net.createServer((socket) => {
    const connection = stats.connections++;
    sockets.add(socket);
    let onConnection = 0;
    let buffer = '';
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.slice(end + 4, end + 4 + length);
        buffer = buffer.slice(end + 4 + length);
        const [method, path] = head.split(' ');
        const request = { method, path, head, body };
        stats.requests.push({ ...request, connection });
        answer(socket, request, { connection, onConnection: onConnection++ });
      }
    });
    socket.on('end', () => stats.closedByPeer++);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stats,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(r));
        },
      }),
    ),
  );
}

const json = (text, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;

/** Writes `text` one byte per write, each in its own tick. */
async function dribble(socket, text) {
  for (const ch of text) {
    if (socket.destroyed) return;
    socket.write(ch, 'latin1');
    await new Promise((r) => setImmediate(r));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('backend client through gw run', () => {
  let chunked;
  let untilClose;
  let racy;
  let racyPost;
  let hinted;
  let broken;
  let gw;

  before(async () => {
    chunked = await rawBackend((socket) => {
      void dribble(
        socket,
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '7\r\n{"a":1,\r\n8;ext=1\r\n"b":[2,3\r\n2\r\n]}\r\n0\r\nX-T: 1\r\n\r\n',
      );
    });
    untilClose = await rawBackend((socket) => {
      socket.end('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"framed":"by the close"}');
    });
    // Answers the first request of each connection, and drops the connection when a second one
    // comes: what a server whose idle timeout fires as the request arrives looks like.
    racy = await rawBackend((socket, req, info) => {
      if (info.onConnection > 0) socket.destroy();
      else socket.write(json(`{"connection":${info.connection},"method":"${req.method}"}`));
    });
    racyPost = await rawBackend((socket, req, info) => {
      if (info.onConnection > 0) socket.destroy();
      else socket.write(json(`{"connection":${info.connection},"method":"${req.method}"}`));
    });
    hinted = await rawBackend((socket, _req, info) => {
      socket.write(json(`{"connection":${info.connection}}`, 'Keep-Alive: timeout=2\r\n'));
    });
    broken = await rawBackend((socket, req) => {
      if (req.path === '/bad-chunk')
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n');
      else if (req.path === '/cut') socket.end('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"short":');
      else if (req.path === '/split')
        socket.write('HTTP/1.1 200 OK\r\nX-A: one\nX-Injected: yes\r\nContent-Length: 2\r\n\r\n{}');
      else socket.write(json('{"fine":true}'));
    });
    const backend = (host, url_pattern, extra = {}) => ({ host: [host.url], url_pattern, ...extra });
    gw = await startGateway({
      version: 3,
      timeout: '2s',
      endpoints: [
        { endpoint: '/chunked', backend: [backend(chunked, '/')] },
        { endpoint: '/until-close', backend: [backend(untilClose, '/')] },
        { endpoint: '/racy', backend: [backend(racy, '/')] },
        { endpoint: '/racy-post', method: 'POST', backend: [backend(racyPost, '/')] },
        { endpoint: '/hinted', backend: [backend(hinted, '/')] },
        { endpoint: '/bad-chunk', backend: [backend(broken, '/bad-chunk')] },
        { endpoint: '/cut', backend: [backend(broken, '/cut')] },
        {
          endpoint: '/split',
          output_encoding: 'no-op',
          backend: [{ ...backend(broken, '/split'), encoding: 'no-op' }],
        },
        { endpoint: '/fine', backend: [backend(broken, '/fine')] },
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await Promise.all([chunked, untilClose, racy, racyPost, hinted, broken].map((b) => b?.close()));
  });

  test('a chunked body that arrives one byte at a time', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await get(`${gw.url}/chunked`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { a: 1, b: [2, 3] });
    }
    assert.equal(chunked.stats.connections, 1, 'the connection is reused after a chunked body');
  });

  test('a body framed by the end of the connection, on a new connection each time', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await get(`${gw.url}/until-close`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { framed: 'by the close' });
    }
    assert.equal(untilClose.stats.connections, 3);
  });

  test('a reused connection that dies before answering: a GET is sent again on a new one', async () => {
    const first = await get(`${gw.url}/racy`);
    assert.deepEqual(first.json, { connection: 0, method: 'GET' });
    const second = await get(`${gw.url}/racy`);
    assert.equal(second.status, 200, second.text);
    assert.deepEqual(second.json, { connection: 1, method: 'GET' });
    assert.equal(second.headers.get('x-krakend-completed'), 'true');
  });

  test('…but a POST with a body is not sent twice', async () => {
    const fresh = await get(`${gw.url}/racy-post`, { method: 'POST', body: '{"n":1}' });
    assert.equal(fresh.status, 200);
    const before = racyPost.stats.requests.length;
    const res = await get(`${gw.url}/racy-post`, { method: 'POST', body: '{"n":2}' });
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('x-krakend-completed'), 'false');
    assert.equal(racyPost.stats.requests.length - before, 1, 'the POST reached the backend once');
  });

  test("the backend's Keep-Alive: timeout hint retires idle connections before the backend does", async () => {
    assert.deepEqual((await get(`${gw.url}/hinted`)).json, { connection: 0 });
    assert.deepEqual((await get(`${gw.url}/hinted`)).json, { connection: 0 }, 'reused while fresh');
    // timeout=2 is trusted minus one second: after 1.2 s idle the connection is not reused.
    await sleep(1200);
    assert.deepEqual((await get(`${gw.url}/hinted`)).json, { connection: 1 });
  });

  test('malformed and cut answers: 500, X-Krakend-Completed: false, and gw goes on', async () => {
    for (const path of ['/bad-chunk', '/cut', '/split']) {
      const res = await get(`${gw.url}${path}`);
      assert.equal(res.status, 500, path);
      assert.equal(res.headers.get('x-krakend-completed'), 'false', path);
      assert.equal(res.headers.get('x-injected'), null, path);
    }
    const fine = await get(`${gw.url}/fine`);
    assert.deepEqual(fine.json, { fine: true });
    assert.match(await gw.waitForLog(/invalid chunked body/), /invalid chunked body/);
  });
});

describe('H1Pool', () => {
  let backend;
  before(async () => {
    backend = await rawBackend((socket, req) => {
      setTimeout(
        () => socket.write(json(JSON.stringify({ path: req.path, body: req.body, head: req.head }))),
        20,
      );
    });
  });
  after(() => backend.close());

  function call(pool, request) {
    return new Promise((resolve, reject) => {
      let status = 0;
      let headers;
      const chunks = [];
      pool.dispatch(request, {
        onResponseStart: (_controller, s, h) => {
          status = s;
          headers = h;
        },
        onResponseData: (_controller, c) => chunks.push(Buffer.from(c)),
        onResponseEnd: () => resolve({ status, headers, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        onResponseError: (_controller, err) => reject(err),
      });
    });
  }

  test('requests beyond `connections` wait for a free connection', async () => {
    const pool = new H1Pool(backend.url, { connections: 2, keepAliveTimeoutMs: 5000 });
    const before = backend.stats.connections;
    const answers = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        call(pool, { method: 'GET', path: `/q${i}`, headers: [], body: null }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.body.path),
      Array.from({ length: 7 }, (_, i) => `/q${i}`),
    );
    assert.equal(backend.stats.connections - before, 2);
    await pool.close();
  });

  test('the head: Host from the origin, the body measured by the client, framing headers dropped', async () => {
    const pool = new H1Pool(backend.url, { connections: 4, keepAliveTimeoutMs: 5000 });
    const res = await call(pool, {
      method: 'POST',
      path: '/p?x=1',
      headers: [
        'X-One',
        'a b',
        'Content-Length',
        '999',
        'Transfer-Encoding',
        'chunked',
        'Connection',
        'close',
      ],
      body: Buffer.from('{"sent":true}'),
    });
    const head = res.body.head;
    assert.match(head, /^POST \/p\?x=1 HTTP\/1\.1\r\n/);
    assert.match(head, /\r\nX-One: a b\r\n/);
    assert.match(head, new RegExp(`\\r\\nhost: ${new URL(backend.url).host}\\r\\n`));
    assert.match(head, /\r\ncontent-length: 13(\r\n|$)/);
    // Framing headers the caller gave are dropped (the port in Host may hold any digits).
    assert.doesNotMatch(head, /content-length: 999|transfer-encoding|connection: close/i);
    assert.equal(res.body.body, '{"sent":true}');
    const empty = await call(pool, {
      method: 'PUT',
      path: '/',
      headers: ['Host', 'example.org'],
      body: null,
    });
    assert.match(empty.body.head, /\r\nHost: example.org\r\ncontent-length: 0$/);
    await pool.close();
  });

  test('header injection and bad paths are refused before anything is sent', async () => {
    const pool = new H1Pool(backend.url, { connections: 1, keepAliveTimeoutMs: 5000 });
    const before = backend.stats.connections;
    const bad = [
      { method: 'GET', path: '/', headers: ['X-A', 'v\r\nX-Injected: 1'], body: null },
      { method: 'GET', path: '/', headers: ['X A', 'v'], body: null },
      { method: 'GET', path: '/a b', headers: [], body: null },
      { method: 'GET', path: 'no-slash', headers: [], body: null },
      { method: 'GET / HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET', path: '/', headers: [], body: null },
    ];
    for (const request of bad) await assert.rejects(call(pool, request), H1RequestError);
    assert.equal(backend.stats.connections, before, 'no connection was opened');
    await pool.close();
  });

  test('a refused connection reports ECONNREFUSED', async () => {
    const closed = await rawBackend(() => {});
    await closed.close();
    const pool = new H1Pool(closed.url, { connections: 1, keepAliveTimeoutMs: 5000 });
    await assert.rejects(call(pool, { method: 'GET', path: '/', headers: [], body: null }), {
      code: 'ECONNREFUSED',
    });
    await pool.close();
  });
});
