// Bad input: broken backends and malformed requests each get the documented status, and the
// gateway keeps serving afterwards. Run on both fronts (uWebSockets.js and node:http).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

/** Sends raw bytes, resolves with what came back before the server closed or 1.5 s passed. */
function raw(port, bytes) {
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    const done = () => resolve(out);
    s.on('close', done);
    s.on('error', done);
    setTimeout(() => {
      s.destroy();
      done();
    }, 1500);
  });
}

let good;
let broken;
let garbage;

before(async () => {
  good = await jsonBackend({ '/ok': { ok: true }, '/ok2': { second: 2 } });
  broken = await startBackend((req, res) => {
    switch (req.url) {
      case '/invalid-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"oops": ');
        return;
      case '/array':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('[1,2]');
        return;
      case '/hang':
        return; // never answers
      case '/reset':
        req.socket.destroy();
        return;
      case '/404':
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('404 page not found\n');
        return;
      default:
        res.writeHead(500);
        res.end('boom');
    }
  });
  garbage = await new Promise((resolve) => {
    const srv = net.createServer((s) => {
      s.on('data', () => s.end('THIS IS NOT HTTP\r\n\r\n'));
    });
    srv.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${srv.address().port}`, close: () => srv.close() }),
    );
  });
});

after(async () => {
  await Promise.all([good, broken, garbage].map((b) => b?.close()));
});

function config() {
  const b = [broken.url];
  return {
    version: 3,
    timeout: '500ms',
    max_header_bytes: 8192,
    extra_config: { router: { max_payload_size: 1024 } },
    endpoints: [
      { endpoint: '/invalid-json', backend: [{ host: b, url_pattern: '/invalid-json' }] },
      { endpoint: '/array', backend: [{ host: b, url_pattern: '/array' }] },
      { endpoint: '/hang', backend: [{ host: b, url_pattern: '/hang' }] },
      { endpoint: '/reset', backend: [{ host: b, url_pattern: '/reset' }] },
      { endpoint: '/garbage', backend: [{ host: [garbage.url], url_pattern: '/' }] },
      { endpoint: '/refused', backend: [{ host: ['http://127.0.0.1:1'], url_pattern: '/' }] },
      {
        endpoint: '/partial',
        cache_ttl: '60s',
        backend: [
          { host: [good.url], url_pattern: '/ok' },
          { host: b, url_pattern: '/hang' },
        ],
      },
      {
        endpoint: '/all-fail',
        backend: [
          { host: b, url_pattern: '/404' },
          { host: b, url_pattern: '/reset' },
        ],
      },
      {
        endpoint: '/details',
        backend: [
          { host: [good.url], url_pattern: '/ok' },
          {
            host: b,
            url_pattern: '/404',
            extra_config: { 'backend/http': { return_error_details: 'backend_b' } },
          },
        ],
      },
      {
        endpoint: '/error-code',
        backend: [
          { host: b, url_pattern: '/404', extra_config: { 'backend/http': { return_error_code: true } } },
        ],
      },
      { endpoint: '/post', method: 'POST', backend: [{ host: [good.url], url_pattern: '/ok' }] },
    ],
  };
}

for (const front of ['uws', 'node']) {
  describe(`bad input (${front} front)`, () => {
    let gw;
    before(async () => {
      gw = await startGateway(config(), {
        args: ['--workers', '1', '--front', front],
      });
    });
    after(() => gw?.stop());

    test('invalid JSON from the backend → 500, X-Krakend-Completed: false', async () => {
      const r = await get(`${gw.url}/invalid-json`);
      assert.equal(r.status, 500);
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
    });

    test('a JSON array without is_collection → 500', async () => {
      assert.equal((await get(`${gw.url}/array`)).status, 500);
    });

    test('a backend that hangs → 500 when the timeout passes', async () => {
      const started = Date.now();
      const r = await get(`${gw.url}/hang`);
      assert.equal(r.status, 500);
      assert.ok(Date.now() - started >= 450, 'waited for the timeout');
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
    });

    test('a backend that resets, refuses or answers garbage → 500', async () => {
      for (const p of ['/reset', '/refused', '/garbage']) {
        const r = await get(`${gw.url}${p}`);
        assert.equal(r.status, 500, p);
        assert.equal(r.headers.get('x-krakend-completed'), 'false', p);
      }
    });

    test('partial response: 200 with what arrived, incomplete, no Cache-Control', async () => {
      const r = await get(`${gw.url}/partial`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { ok: true });
      assert.equal(r.headers.get('x-krakend-completed'), 'false');
      assert.equal(r.headers.get('cache-control'), null);
    });

    test('nothing arrives from several backends → 500', async () => {
      const r = await get(`${gw.url}/all-fail`);
      assert.equal(r.status, 500);
      assert.equal(r.text, '');
    });

    test('return_error_details puts the error under error_<alias>, status 200', async () => {
      const r = await get(`${gw.url}/details`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, {
        ok: true,
        // luraproject/lura transport/http/client/status.go, HTTPResponseError: the backend's Content-Type too
        error_backend_b: {
          http_status_code: 404,
          http_body: '404 page not found\n',
          http_body_encoding: 'text/plain',
        },
      });
    });

    test('return_error_code returns the backend status with an empty body', async () => {
      const r = await get(`${gw.url}/error-code`);
      assert.equal(r.status, 404);
      assert.equal(r.text, '');
    });

    test('a body over max_payload_size → 413', async () => {
      const r = await get(`${gw.url}/post`, { method: 'POST', body: 'x'.repeat(4096) });
      assert.equal(r.status, 413);
    });

    test('headers over max_header_bytes → 431', async () => {
      const res = await raw(gw.port, `GET /post HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(16000)}\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 431/);
    });

    test('a malformed request line or header gets 400 or a closed connection, never a crash', async () => {
      for (const bytes of [
        'GARBAGE\r\n\r\n',
        'GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
        'GET /\x00 HTTP/1.1\r\n\r\n',
        'POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      ]) {
        const res = await raw(gw.port, bytes);
        // uWebSockets.js answers a request line it cannot read with 505 (README, HTTP front).
        const answered = front === 'uws' ? /^HTTP\/1\.1 (4\d\d|505)/ : /^HTTP\/1\.1 4\d\d/;
        assert.ok(res === '' || answered.test(res), `got ${JSON.stringify(res.slice(0, 40))}`);
      }
      assert.equal((await get(`${gw.url}/__health`)).status, 200);
    });

    test('unknown paths → 404, known path with another method → 405', async () => {
      const r = await get(`${gw.url}/nope`);
      assert.equal(r.status, 404);
      assert.equal(r.text, '404 page not found');
      const m = await get(`${gw.url}/post`);
      assert.equal(m.status, 405);
      assert.equal(m.text, '405 method not allowed');
    });

    test('after all of it, the gateway still serves', async () => {
      const r = await get(`${gw.url}/partial`);
      assert.equal(r.status, 200);
      assert.equal(gw.child.exitCode, null);
    });
  });
}
