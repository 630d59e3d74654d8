// The HTTP/1.1 front on the wire (node:net): framing, odd-but-legal requests and the requests a
// front must refuse. Every case records the status line(s) that came back and whether gw closed
// the connection (FIN) within 1.5 s of the request; no case can pass on silence, since each one
// expects a status line. The backends are node:http servers that log what reached them, so the
// smuggling and url-param cases also prove that nothing refused got through.
//
// gw names its front in its start line (`gw listening on HOST:PORT (uws|node, …)`). The uws
// front's documented limits (README, HTTP front) are expected there, read from uWebSockets.js's
// parser (uNetworking/uWebSockets src/HttpParser.h, HttpContext.h): HTTP/1.0, an absolute-form
// target, a bare LF or a space in the target are answered 505 + FIN; more than 98 header lines
// 431 + FIN; a request pipelined behind one still being answered closes the connection.
// Everything else is expected alike on both. GW_FRONT=uws|node|auto runs this file with
// `--front GW_FRONT` (gw's default otherwise).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { noopEndpoint, startFrontBackend } from './helpers/front-backend.mjs';
import { freePort, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

/** How long a case waits for the answer and the FIN. */
const WAIT_MS = 1500;
const FRONT_ARGS = ['--workers', '1', ...(process.env.GW_FRONT ? ['--front', process.env.GW_FRONT] : [])];

let api;
let gw;
let front;
let configFile;

/**
 * Splits what came back into responses: by Content-Length, chunked, or up to the close; 1xx, 204
 * and 304 have no body. `ended` says the peer closed (a body without length is then complete).
 */
function parseResponses(buf, ended) {
  const text = buf.toString('latin1');
  const out = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) {
      out.push({ statusLine: text.slice(at).split('\r\n')[0], status: NaN, complete: false, partial: true });
      break;
    }
    const lines = text.slice(at, headEnd).split('\r\n');
    const statusLine = lines[0];
    const status = /^HTTP\/\d\.\d (\d{3})/.test(statusLine) ? Number(statusLine.slice(9, 12)) : NaN;
    const headers = lines.slice(1).map((l) => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()];
    });
    const header = (name) => {
      const values = headers.filter(([k]) => k === name).map(([, v]) => v);
      return values.length === 0 ? undefined : values.join(', ');
    };
    const res = { statusLine, status, headers, header, body: '', complete: true };
    out.push(res);
    let bodyAt = headEnd + 4;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      at = bodyAt;
      continue;
    }
    const te = header('transfer-encoding');
    const cl = header('content-length');
    if (te !== undefined && /chunked/i.test(te)) {
      let body = '';
      for (;;) {
        const lineEnd = text.indexOf('\r\n', bodyAt);
        if (lineEnd < 0) break;
        const size = Number.parseInt(text.slice(bodyAt, lineEnd), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const trailerEnd = text.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd < 0 && text.slice(lineEnd, lineEnd + 4) !== '\r\n\r\n') break;
          bodyAt = (trailerEnd < 0 ? lineEnd : trailerEnd) + 4;
          res.body = body;
          at = bodyAt;
          break;
        }
        if (text.length < lineEnd + 2 + size + 2) break;
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        bodyAt = lineEnd + 2 + size + 2;
      }
      if (at !== bodyAt) {
        res.complete = false;
        res.body = body;
        break;
      }
    } else if (cl !== undefined) {
      const length = Number(cl);
      res.body = text.slice(bodyAt, bodyAt + length);
      if (text.length < bodyAt + length) {
        res.complete = false;
        break;
      }
      at = bodyAt + length;
    } else {
      res.body = text.slice(bodyAt);
      res.complete = ended;
      break;
    }
  }
  return out;
}

/** One client connection, read as it goes: what arrived, and whether (and when) gw closed it. */
class RawConn {
  static open(port) {
    return new Promise((resolve, reject) => {
      const conn = new RawConn(port);
      conn.socket.once('connect', () => resolve(conn));
      conn.socket.once('error', reject);
    });
  }

  constructor(port) {
    this.chunks = [];
    this.fin = false;
    this.finMs = null;
    this.error = null;
    this.closed = false;
    this.sentAt = performance.now();
    this.wakers = new Set();
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c) => {
      this.chunks.push(c);
      this.wake();
    });
    this.socket.on('end', () => {
      this.fin = true;
      this.finMs = Math.round(performance.now() - this.sentAt);
      this.wake();
    });
    this.socket.on('error', (err) => {
      this.error = err;
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  wake() {
    for (const w of this.wakers) w();
  }

  send(bytes) {
    this.sentAt = performance.now();
    this.socket.write(bytes);
  }

  get responses() {
    return parseResponses(Buffer.concat(this.chunks), this.fin || this.closed);
  }

  /** Complete responses so far. */
  get complete() {
    return this.responses.filter((r) => r.complete);
  }

  /** Resolves true once `pred()` holds, false after `ms`. */
  waitFor(pred, ms = WAIT_MS) {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v) => {
        clearTimeout(timer);
        this.wakers.delete(check);
        resolve(v);
      };
      const check = () => {
        if (pred()) done(true);
      };
      const timer = setTimeout(() => done(pred()), ms);
      this.wakers.add(check);
    });
  }

  /** What came back, for an assertion's message. */
  describe() {
    const lines = this.responses.map(
      (r) =>
        `${JSON.stringify(r.statusLine)}${r.complete ? '' : ' (incomplete)'}` +
        (r.body ? ` body ${JSON.stringify(r.body.slice(0, 80))}` : ''),
    );
    const closing = this.fin
      ? `FIN after ${this.finMs} ms`
      : this.error
        ? `${this.error.code ?? this.error.message} (no FIN)`
        : `no FIN within ${WAIT_MS} ms`;
    return `${lines.length ? lines.join(' | ') : 'no answer'}; ${closing}`;
  }

  destroy() {
    this.socket.destroy();
  }
}

/**
 * Sends `bytes` on a fresh connection. Waits for the FIN (or an error), for at most 1.5 s; with
 * `until`, it stops early once that many complete responses arrived (then 50 ms more, so a close
 * that follows the answer is seen).
 */
async function exchange(bytes, { until } = {}) {
  const conn = await RawConn.open(gw.port);
  conn.send(bytes);
  const ended = () => conn.fin || conn.closed;
  await conn.waitFor(() => ended() || (until !== undefined && conn.complete.length >= until));
  if (!ended()) await conn.waitFor(ended, 50);
  conn.destroy();
  return conn;
}

/** The backend requests that arrived from `from` on (after a short settle). */
async function backendCallsSince(from) {
  await new Promise((r) => setTimeout(r, 50));
  return api.requests.slice(from).map((r) => `${r.method} ${r.url}`);
}

/** One answer with `status`, then FIN. */
function assertAnsweredThenClosed(conn, status, what) {
  const msg = `${what}: got ${conn.describe()}`;
  assert.equal(conn.responses.length, 1, msg);
  assert.equal(conn.responses[0].status, status, msg);
  assert.ok(conn.responses[0].complete, msg);
  assert.ok(conn.fin, `${msg} — expected FIN`);
}

const ok = (h) => `GET /noop HTTP/1.1\r\nHost: gw.test\r\n${h}\r\n`;

before(async () => {
  api = await startFrontBackend();
  const host = [api.url];
  const noop = (endpoint, urlPattern, extra) => noopEndpoint(host, endpoint, urlPattern, extra);
  const port = await freePort();
  configFile = writeConfig({
    version: 3,
    listen_ip: '127.0.0.1',
    port,
    timeout: '2s',
    max_header_bytes: 16384,
    extra_config: { router: { disable_access_log: true } },
    endpoints: [
      noop('/noop', '/noop'),
      noop('/slow', '/slow'),
      noop('/smuggled', '/smuggled'),
      noop('/public/{file}', '/public/{file}'),
      noop('/post', '/post', { method: 'POST' }),
      {
        endpoint: '/merged',
        backend: [
          { host, url_pattern: '/a' },
          { host, url_pattern: '/b' },
        ],
      },
    ],
  });
  gw = await startGateway(null, { file: configFile, port, args: FRONT_ARGS });
  front = /gw listening on \S+ \((uws|node),/.exec(gw.logs())?.[1];
  assert.ok(front, `no front named in gw's start line:\n${gw.logs()}`);
});

after(async () => {
  await gw?.stop();
  await api?.close();
});

describe('connection handling', () => {
  test('HTTP/1.1 Connection: close → 200 with Connection: close, then FIN', async () => {
    const c = await exchange(ok('Connection: close\r\n'));
    assertAnsweredThenClosed(c, 200, 'Connection: close');
    assert.equal(c.responses[0].body, 'noop');
    const connection = c.responses[0].header('connection');
    assert.match(connection ?? '', /^close$/i, `Connection header in the answer: ${connection ?? 'none'}`);
  });

  test('HTTP/1.0 without Connection → 200 then FIN (uws: 505 then FIN)', async () => {
    const c = await exchange('GET /noop HTTP/1.0\r\nHost: gw.test\r\n\r\n');
    if (front === 'uws') return assertAnsweredThenClosed(c, 505, 'HTTP/1.0 on uws');
    assertAnsweredThenClosed(c, 200, 'HTTP/1.0');
    assert.equal(c.responses[0].body, 'noop');
  });

  test('HTTP/1.0 Connection: keep-alive → 200 with Connection: keep-alive, stays open, second request answered (uws: 505 then FIN)', async () => {
    const req = 'GET /noop HTTP/1.0\r\nHost: gw.test\r\nConnection: keep-alive\r\n\r\n';
    if (front === 'uws') {
      return assertAnsweredThenClosed(await exchange(req), 505, 'HTTP/1.0 keep-alive on uws');
    }
    const conn = await RawConn.open(gw.port);
    try {
      conn.send(req);
      await conn.waitFor(() => conn.complete.length >= 1 || conn.fin || conn.closed);
      await conn.waitFor(() => conn.fin || conn.closed, 200);
      const first = conn.responses[0];
      assert.equal(first?.status, 200, `first answer: ${conn.describe()}`);
      const connection = first.header('connection');
      assert.match(
        connection ?? '',
        /^keep-alive$/i,
        `Connection header in the answer: ${connection ?? 'none'}`,
      );
      assert.ok(!conn.fin && !conn.closed, `closed after the first answer: ${conn.describe()}`);
      conn.send(req);
      await conn.waitFor(() => conn.complete.length >= 2 || conn.fin || conn.closed);
      assert.equal(conn.complete.length, 2, `second request: ${conn.describe()}`);
      assert.equal(conn.responses[1].status, 200, `second request: ${conn.describe()}`);
    } finally {
      conn.destroy();
    }
  });

  test('two pipelined requests in one write (slow backend first) → both answered, in order (uws: closed)', async () => {
    const from = api.requests.length;
    const c = await exchange(
      'GET /slow HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /noop HTTP/1.1\r\nHost: gw.test\r\n\r\n',
      { until: 2 },
    );
    const msg = `pipelined: ${c.describe()}; backend: ${(await backendCallsSince(from)).join(', ')}`;
    if (front === 'uws') {
      // uWS refuses a request pipelined behind one still being answered: it closes the connection.
      assert.equal(c.responses.length, 0, msg);
      assert.ok(c.fin || c.closed, msg);
      return;
    }
    assert.deepEqual(
      c.complete.map((r) => r.status),
      [200, 200],
      msg,
    );
    assert.deepEqual(
      c.complete.map((r) => r.body),
      ['slow', 'noop'],
      msg,
    );
  });

  test('Expect: 100-continue → 100 Continue before the body, the final 200 after it', async () => {
    const conn = await RawConn.open(gw.port);
    try {
      conn.send(
        'POST /post HTTP/1.1\r\nHost: gw.test\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n' +
          'Expect: 100-continue\r\n\r\n',
      );
      await conn.waitFor(() => conn.complete.length >= 1 || conn.fin || conn.closed);
      assert.equal(conn.responses.length, 1, `before the body: ${conn.describe()}`);
      assert.equal(
        conn.responses[0].statusLine,
        'HTTP/1.1 100 Continue',
        `before the body: ${conn.describe()}`,
      );
      conn.send('abc');
      await conn.waitFor(() => conn.complete.length >= 2 || conn.fin || conn.closed);
      const final = conn.responses[1];
      assert.equal(final?.status, 200, `after the body: ${conn.describe()}`);
      assert.equal(final.body, 'length=3', `after the body: ${conn.describe()}`);
    } finally {
      conn.destroy();
    }
  });
});

describe('odd but legal requests', () => {
  const headers = (n) => Array.from({ length: n }, (_, i) => `X-Header-${i}: value-${i}\r\n`).join('');
  for (const [name, bytes] of [
    ['header names with _ and . (X_Api_Key, api.key)', ok('X_Api_Key: 1\r\napi.key: 2\r\n')],
    ['60 headers', ok(headers(60))],
    ['100 headers', ok(headers(100))],
  ]) {
    test(`${name} → 200${name === '100 headers' ? ' (uws: 431 + FIN beyond 98 lines)' : ''}`, async () => {
      if (front === 'uws' && name === '100 headers')
        return assertAnsweredThenClosed(await exchange(bytes), 431, `${name} on uws`);
      const c = await exchange(bytes, { until: 1 });
      assert.equal(c.responses[0]?.status, 200, `${name}: ${c.describe()}`);
      assert.equal(c.responses[0].body, 'noop', `${name}: ${c.describe()}`);
    });
  }

  test('absolute-form target (GET http://gw.test/noop) → 200, routed by its path (uws: 505 + FIN)', async () => {
    if (front === 'uws')
      return assertAnsweredThenClosed(
        await exchange('GET http://gw.test/noop HTTP/1.1\r\nHost: gw.test\r\n\r\n'),
        505,
        'absolute-form on uws',
      );
    const from = api.requests.length;
    const c = await exchange('GET http://gw.test/noop HTTP/1.1\r\nHost: gw.test\r\n\r\n', { until: 1 });
    const calls = await backendCallsSince(from);
    const msg = `absolute-form: ${c.describe()}; backend: ${calls.join(', ')}`;
    assert.equal(c.responses[0]?.status, 200, msg);
    assert.equal(c.responses[0].body, 'noop', msg);
    assert.deepEqual(calls, ['GET /noop'], msg);
  });

  test('PROPFIND on a GET-only endpoint → 405 (or 404), never silence', async () => {
    const c = await exchange('PROPFIND /noop HTTP/1.1\r\nHost: gw.test\r\n\r\n', { until: 1 });
    assert.ok([405, 404].includes(c.responses[0]?.status), `PROPFIND: ${c.describe()}`);
  });

  test('unknown method token FOO → a 4xx answer (400, 404 or 405), never silence', async () => {
    const c = await exchange('FOO /noop HTTP/1.1\r\nHost: gw.test\r\n\r\n', { until: 1 });
    assert.ok([400, 404, 405].includes(c.responses[0]?.status), `FOO: ${c.describe()}`);
  });
});

describe('malformed requests → 400 + FIN', () => {
  // gw's refusals are Go's net/http ones (src/net/http/server.go: badRequestError, written as
  // "400 Bad Request: <reason>" with Connection: close), what KrakenD's clients get.
  test('a malformed Host is answered as Go answers it: "400 Bad Request: malformed Host header"', async () => {
    const c = await exchange('GET /noop HTTP/1.1\r\nHost: a b<c\r\n\r\n');
    assertAnsweredThenClosed(c, 400, 'malformed Host');
    assert.equal(c.responses[0].body, '400 Bad Request: malformed Host header');
    assert.match(c.responses[0].header('connection') ?? '', /^close$/i);
  });

  for (const [name, bytes] of [
    ['a control byte (0x01) in a header value', ok('X-Test: a\x01b\r\n')],
    ['NUL in a header value', ok('X-Test: a\x00b\r\n')],
    ['obs-fold (a line starting with a space)', ok('X-Test: a\r\n b\r\n')],
    ['bare LF line endings', 'GET /noop HTTP/1.1\nHost: gw.test\n\n'],
    ['HTTP/1.1 without Host', 'GET /noop HTTP/1.1\r\nX-Test: 1\r\n\r\n'],
    ['two Host headers', ok('Host: other.test\r\n')],
    ['Host: a b<c', 'GET /noop HTTP/1.1\r\nHost: a b<c\r\n\r\n'],
    ['a space inside the request target (GET /a b)', 'GET /a b HTTP/1.1\r\nHost: gw.test\r\n\r\n'],
  ]) {
    // uWS answers a request line or line ending it cannot read with 505.
    const uws505 = name.startsWith('bare LF') || name.startsWith('a space inside the request target');
    test(`${name} → 400 + FIN${uws505 ? ' (uws: 505 + FIN)' : ''}`, async () => {
      assertAnsweredThenClosed(await exchange(bytes), front === 'uws' && uws505 ? 505 : 400, name);
    });
  }
});

describe('request smuggling: ambiguous framing → 400 + FIN, no second request reaches the backend', () => {
  // Each body carries a second request for /smuggled: a front that framed the first request the
  // wrong way would forward it.
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n';
  const post = (h, body) =>
    `POST /post HTTP/1.1\r\nHost: gw.test\r\nContent-Type: text/plain\r\n${h}\r\n${body}`;
  const chunkedThenSmuggled = `0\r\n\r\n${smuggled}`;
  for (const [name, bytes] of [
    [
      'two different Content-Length headers',
      post(`Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n`, smuggled),
    ],
    ['the same Content-Length twice', post('Content-Length: 0\r\nContent-Length: 0\r\n', smuggled)],
    [
      'Content-Length with Transfer-Encoding: chunked',
      post(
        `Content-Length: ${chunkedThenSmuggled.length}\r\nTransfer-Encoding: chunked\r\n`,
        chunkedThenSmuggled,
      ),
    ],
    ['Transfer-Encoding: xchunked', post('Transfer-Encoding: xchunked\r\n', smuggled)],
    [
      'Transfer-Encoding: chunked, identity',
      post('Transfer-Encoding: chunked, identity\r\n', chunkedThenSmuggled),
    ],
    [
      'Transfer-Encoding: chunked in two header lines',
      post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', chunkedThenSmuggled),
    ],
  ]) {
    test(`${name} → 400 + FIN, nothing smuggled`, async () => {
      const from = api.requests.length;
      const c = await exchange(bytes);
      const calls = await backendCallsSince(from);
      assert.ok(
        !calls.some((call) => call.includes('/smuggled')),
        `${name}: the backend got a smuggled request: ${calls.join(', ')}; client got ${c.describe()}`,
      );
      assertAnsweredThenClosed(c, 400, `${name} (backend: ${calls.join(', ') || 'nothing'})`);
    });
  }
});

describe('size limits (max_header_bytes: 16384)', () => {
  test('a request target of 20,000 bytes → 414 + FIN (uws: 431 + FIN)', async () => {
    const prefix = '/noop?q=';
    const target = prefix + 'a'.repeat(20000 - prefix.length);
    // uWS refuses any head over the limit itself, with 431 (README, HTTP front).
    assertAnsweredThenClosed(
      await exchange(`GET ${target} HTTP/1.1\r\nHost: gw.test\r\n\r\n`),
      front === 'uws' ? 431 : 414,
      'long target',
    );
  });

  test('one header value of 20,000 bytes → 431 + FIN', async () => {
    assertAnsweredThenClosed(await exchange(ok(`X-Big: ${'b'.repeat(20000)}\r\n`)), 431, 'long header');
  });
});

describe('url params stay inside their url_pattern', () => {
  // Lura refuses a param that is still encoded after one decoding, or holds `?` or `#`, with
  // 400 `error: encoded url params` (luraproject/lura router/gin/engine.go, paramChecker); a param
  // that does not decode is a 400 too.
  const ENCODED = 'error: encoded url params';
  for (const [path, body] of [
    ['/public/%2e%2e', undefined],
    ['/public/%2e', undefined],
    ['/public/%252e%252e%252fsecret', ENCODED],
    ['/public/a%2Fb', undefined],
    ['/public/a%3Fb', ENCODED],
    ['/public/a%23b', ENCODED],
  ]) {
    test(`GET ${path} → 400${body ? ` "${body}"` : ''}, the backend not called`, async () => {
      const from = api.requests.length;
      const c = await exchange(`GET ${path} HTTP/1.1\r\nHost: gw.test\r\n\r\n`, { until: 1 });
      const calls = await backendCallsSince(from);
      const msg = `${path}: ${c.describe()}; backend: ${calls.join(', ') || 'nothing'}`;
      assert.equal(c.responses[0]?.status, 400, msg);
      if (body) assert.equal(c.responses[0].body.trim(), body, msg);
      assert.deepEqual(calls, [], msg);
    });
  }

  test('GET /public/ok%20file → 200, the backend gets /public/ok%20file', async () => {
    const from = api.requests.length;
    const c = await exchange('GET /public/ok%20file HTTP/1.1\r\nHost: gw.test\r\n\r\n', { until: 1 });
    const calls = await backendCallsSince(from);
    const msg = `${c.describe()}; backend: ${calls.join(', ') || 'nothing'}`;
    assert.equal(c.responses[0]?.status, 200, msg);
    assert.deepEqual(calls, ['GET /public/ok%20file'], msg);
  });
});

describe('one owner per port', () => {
  test('a second gw run on the same port exits 1 saying the port is in use; the first still answers', async () => {
    const second = await runGw(['run', '-c', configFile, '-p', String(gw.port), ...FRONT_ARGS], {
      timeoutMs: 10000,
    });
    const output = second.stdout + second.stderr;
    assert.equal(
      second.code,
      1,
      `second gw: exit ${second.code === null ? 'none (killed after 10 s: it kept running)' : second.code}\n${output}`,
    );
    assert.match(output, /in use/i);
    for (let i = 0; i < 5; i++) {
      const c = await exchange(ok('Connection: close\r\n'));
      assert.equal(c.responses[0]?.status, 200, `first gw afterwards: ${c.describe()}`);
    }
  });
});
