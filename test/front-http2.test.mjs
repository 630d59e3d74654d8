// HTTP/2 as KrakenD serves it through Go's net/http (lura router/gin/engine.go, RunServer with
// `use_h2c` wrapping the handler in golang.org/x/net/http2/h2c; on the TLS port net/http offers
// h2 by ALPN): through node:http2 into the same pipeline, tried with curl and h2load.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { makePki } from './fixtures/security/certs.mjs';
import { startBackend, startGateway } from './helpers/gateway.mjs';

/** Runs a command; resolves { code, stdout, stderr } (never rejects). */
function run(cmd, args, timeoutMs = 60000) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** curl ARGS…; resolves { version, status, body } from `-w`. */
async function curl(...args) {
  const r = await run('curl', [
    '-s',
    '-o',
    '-',
    '-w',
    '\n%{http_version} %{http_code}',
    '--max-time',
    '20',
    ...args,
  ]);
  const nl = r.stdout.lastIndexOf('\n');
  const [version, status] = r.stdout.slice(nl + 1).split(' ');
  return { code: r.code, version, status: Number(status), body: r.stdout.slice(0, nl) };
}

/** h2load's counts: { total, succeeded, failed, errored, status2xx }. */
async function h2load(url, n = 400) {
  const r = await run('h2load', ['-n', String(n), '-c', '4', '-m', '8', url]);
  const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(
    r.stdout,
  );
  const codes = /status codes: (\d+) 2xx/.exec(r.stdout);
  assert.ok(m && codes, `h2load output:\n${r.stdout}\n${r.stderr}`);
  return {
    total: Number(m[1]),
    succeeded: Number(m[2]),
    failed: Number(m[3]),
    errored: Number(m[4]),
    status2xx: Number(codes[1]),
    h2: /Application protocol: h2/.test(r.stdout),
  };
}

let backend;
before(async () => {
  backend = await startBackend((req, res, body) => {
    // node:http adds `Connection: keep-alive` and `Keep-Alive: timeout=5`: headers HTTP/2 forbids.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ url: req.url, body: body.toString(), host: req.headers['x-forwarded-host'] ?? null }),
    );
  });
});
after(() => backend?.close());

const endpoints = () => [
  {
    endpoint: '/v1/*',
    input_headers: ['X-Forwarded-Host'],
    backend: [{ host: [backend.url], url_pattern: '/' }],
  },
  { endpoint: '/post', method: 'POST', backend: [{ host: [backend.url], url_pattern: '/post' }] },
  {
    endpoint: '/raw',
    output_encoding: 'no-op',
    backend: [{ host: [backend.url], url_pattern: '/raw', encoding: 'no-op' }],
  },
];

describe('use_h2c: h2c beside HTTP/1.1 on the plain port', () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      version: 3,
      use_h2c: true,
      extra_config: { router: { max_payload_size: 1024 } },
      endpoints: endpoints(),
    });
  });
  after(() => gw?.stop());

  test('the start line names the HTTP/2 front', () => {
    assert.match(gw.logs(), /HTTP\/2 \(use_h2c\) is served by node:http2/);
  });

  test('curl --http2-prior-knowledge: HTTP/2 through the pipeline (a wildcard route)', async () => {
    const r = await curl('--http2-prior-knowledge', `${gw.url}/v1/a/b?x=1`);
    assert.equal(r.version, '2');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).url, '/a/b');
  });

  test('HTTP/1.1 on the same port; an Upgrade: h2c request is answered in HTTP/1.1', async () => {
    const h1 = await curl('--http1.1', `${gw.url}/v1/x`);
    assert.equal(h1.version, '1.1');
    assert.equal(h1.status, 200);
    const upgrade = await curl('--http2', `${gw.url}/v1/x`);
    assert.equal(upgrade.status, 200);
    assert.equal(upgrade.version, '1.1');
  });

  test(':authority stands for Host (forwarded as X-Forwarded-Host)', async () => {
    const r = await curl('--http2-prior-knowledge', `${gw.url}/v1/h`);
    assert.equal(JSON.parse(r.body).host, `127.0.0.1:${gw.port}`);
  });

  test('a POST body over HTTP/2 reaches the backend; beyond max_payload_size, 413', async () => {
    const ok = await curl('--http2-prior-knowledge', '-d', 'hello', `${gw.url}/post`);
    assert.equal(ok.version, '2');
    assert.equal(JSON.parse(ok.body).body, 'hello');
    const big = await curl('--http2-prior-knowledge', '-d', 'x'.repeat(5000), `${gw.url}/post`);
    assert.equal(big.status, 413);
  });

  test("a no-op answer with the backend's Connection/Keep-Alive headers is served without them", async () => {
    const r = await run('curl', ['-s', '-i', '--http2-prior-knowledge', '--max-time', '20', `${gw.url}/raw`]);
    assert.match(r.stdout, /^HTTP\/2 200/);
    assert.doesNotMatch(r.stdout, /^(connection|keep-alive):/im);
    assert.equal(JSON.parse(r.stdout.split('\r\n\r\n')[1]).url, '/raw');
  });

  test('h2load (h2c, 4 connections × 8 streams): every request answered 200', async () => {
    const r = await h2load(`${gw.url}/v1/load`);
    assert.equal(r.h2, true);
    assert.equal(r.succeeded, r.total);
    assert.equal(r.status2xx, r.total);
    assert.equal(r.failed + r.errored, 0);
  });
});

describe('without use_h2c the plain port speaks HTTP/1.1 only (as KrakenD)', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ version: 3, endpoints: endpoints() });
  });
  after(() => gw?.stop());

  test('a prior-knowledge HTTP/2 client gets no HTTP/2', async () => {
    const r = await curl('--http2-prior-knowledge', `${gw.url}/v1/x`);
    assert.notEqual(r.version, '2');
    const h1 = await curl(`${gw.url}/v1/x`);
    assert.equal(h1.status, 200);
  });
});

describe('TLS: h2 and http/1.1 by ALPN on the TLS port', () => {
  let gw;
  let pki;
  before(async () => {
    pki = makePki();
    gw = await startGateway({
      version: 3,
      tls: { keys: [{ public_key: pki.cert, private_key: pki.key }] },
      endpoints: endpoints(),
    });
  });
  after(() => gw?.stop());

  const https = () => `https://localhost:${gw.port}`;
  const trust = () => ['--cacert', pki.ca, '--resolve', `localhost:${gw.port}:127.0.0.1`];

  test('curl --http2 negotiates h2; curl --http1.1 gets HTTP/1.1, same pipeline', async () => {
    const h2 = await curl('--http2', ...trust(), `${https()}/v1/tls`);
    assert.equal(h2.version, '2');
    assert.equal(h2.status, 200);
    assert.equal(JSON.parse(h2.body).url, '/tls');
    const h1 = await curl('--http1.1', ...trust(), `${https()}/v1/tls`);
    assert.equal(h1.version, '1.1');
    assert.equal(JSON.parse(h1.body).url, '/tls');
  });

  test("HTTP/1.1 over TLS keeps the front's limits: a 30 KB header under max_header_bytes (1 MB) is served", async () => {
    const big = `X-Big: ${'a'.repeat(30000)}`;
    const h1 = await curl('--http1.1', ...trust(), '-H', big, `${https()}/v1/big`);
    assert.equal(h1.status, 200);
    assert.equal(h1.version, '1.1');
    const h2 = await curl('--http2', ...trust(), '-H', big, `${https()}/v1/big`);
    assert.equal(h2.status, 200);
    assert.equal(h2.version, '2');
  });

  test('a malformed HTTP/1.1 head over TLS is answered as Go answers it (400, Connection: close)', async () => {
    const answer = await new Promise((resolve, reject) => {
      const s = tls.connect(
        {
          host: '127.0.0.1',
          port: gw.port,
          ca: readFileSync(pki.ca),
          servername: 'localhost',
          ALPNProtocols: ['http/1.1'],
        },
        () => s.end('GET /v1/x HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n'),
      );
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('close', () => resolve(data));
      s.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(answer, /\r\nConnection: close\r\n/i);
  });

  test('h2load over TLS (ALPN h2): every request answered 200', async () => {
    const r = await h2load(`https://127.0.0.1:${gw.port}/v1/load`);
    assert.equal(r.h2, true);
    assert.equal(r.succeeded, r.total);
    assert.equal(r.failed + r.errored, 0);
  });
});
