// Real HTTP/1.1 clients against the real `gw run`: Node's keep-alive Agent, undici, curl, Python's
// http.client and requests, ApacheBench, h2load and wrk. Each must get its answers as it expects
// them, with no reset connection. A test is skipped only when its client is not installed
// (.ci/run installs them all).
//
// gw names its front in its start line (`gw listening on HOST:PORT (uws|node, …)`). HTTP/1.0 (curl
// -0, ab) is refused at once with 505 + close on the uws front (a documented limit of
// uWebSockets.js) and served on the node front. GW_FRONT=uws|node|auto runs
// this file with `--front GW_FRONT` (gw's default otherwise).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { noopEndpoint, startFrontBackend } from './helpers/front-backend.mjs';
import { startGateway } from './helpers/gateway.mjs';

const FRONT_ARG = process.env.GW_FRONT ? ['--front', process.env.GW_FRONT] : [];

let api;
/** { gw, front } by worker count. */
const gateways = {};

/** The path of `name` when it is installed, else null. */
function which(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** A Python 3 that imports `module` (Debian's own first: python3-requests installs there). */
function pythonWith(module) {
  for (const py of ['/usr/bin/python3', which('python3')]) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', `import ${module}`], { stdio: 'ignore' });
      return py;
    } catch {}
  }
  return null;
}

/** Runs a client to completion (bounded): { code, stdout, stderr }. */
function run(file, args, timeoutMs = 30000) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr });
    });
  });
}

function skipUnless(t, path, what) {
  if (path) return false;
  t.skip(`${what} is not installed`);
  return true;
}

before(async () => {
  api = await startFrontBackend();
  const host = [api.url];
  const noop = (endpoint, urlPattern, extra) => noopEndpoint(host, endpoint, urlPattern, extra);
  const config = {
    version: 3,
    timeout: '2s',
    extra_config: { router: { disable_access_log: true } },
    endpoints: [
      noop('/noop', '/noop'),
      noop('/slow', '/slow'),
      noop('/post', '/post', { method: 'POST' }),
      {
        endpoint: '/merged',
        backend: [
          { host, url_pattern: '/a' },
          { host, url_pattern: '/b' },
        ],
      },
    ],
  };
  for (const workers of [1, 2]) {
    const gw = await startGateway(config, { args: ['--workers', String(workers), ...FRONT_ARG] });
    const front = /gw listening on \S+ \((uws|node),/.exec(gw.logs())?.[1];
    assert.ok(front, `no front named in gw's start line:\n${gw.logs()}`);
    gateways[workers] = { gw, front };
  }
});

after(async () => {
  for (const { gw } of Object.values(gateways)) await gw.stop();
  await api?.close();
});

const gw1 = () => gateways[1].gw;

for (const workers of [1, 2]) {
  describe(`--workers ${workers}`, () => {
    test('node http.Agent (keepAlive, maxSockets 1): 20 sequential GETs with Connection: close → all 200, each answer says close', async () => {
      const { gw } = gateways[workers];
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 20; i++) {
          const answer = await new Promise((resolve, reject) => {
            const req = http.get(
              `${gw.url}/noop`,
              { agent, headers: { Connection: 'close' }, timeout: 5000 },
              (res) => {
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (d) => (body += d));
                res.on('end', () =>
                  resolve({ status: res.statusCode, connection: res.headers.connection, body }),
                );
                res.on('error', reject);
              },
            );
            req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
            req.on('error', reject);
          }).catch((err) => ({ error: `${err.code ?? ''} ${err.message}` }));
          assert.equal(answer.error, undefined, `request ${i + 1}: ${answer.error}`);
          assert.equal(answer.status, 200, `request ${i + 1}: ${JSON.stringify(answer)}`);
          assert.equal(answer.body, 'noop', `request ${i + 1}: ${JSON.stringify(answer)}`);
          assert.equal(
            answer.connection,
            'close',
            `request ${i + 1}: the answer's Connection header is ${answer.connection ?? 'missing'}`,
          );
        }
      } finally {
        agent.destroy();
      }
    });

    test('ab -n 500 -c 8 (HTTP/1.0) and ab -k → 500 complete, 0 failed, all 2xx (uws: all 505)', async (t) => {
      const ab = which('ab');
      if (skipUnless(t, ab, 'ab (apache2-utils)')) return;
      const { gw, front } = gateways[workers];
      for (const keepAlive of [false, true]) {
        const args = [...(keepAlive ? ['-k'] : []), '-n', '500', '-c', '8', '-s', '5', `${gw.url}/noop`];
        const r = await run(ab, args, 60000);
        const out = `ab ${args.join(' ')} → exit ${r.code}\n${r.stdout}\n${r.stderr}`;
        assert.equal(r.code, 0, out);
        assert.match(r.stdout, /^Complete requests:\s+500$/m, out);
        if (front === 'uws') {
          assert.match(r.stdout, /^Non-2xx responses:\s+500$/m, `uws refuses HTTP/1.0 with 505: ${out}`);
        } else {
          assert.match(r.stdout, /^Failed requests:\s+0$/m, out);
          assert.doesNotMatch(r.stdout, /Non-2xx responses/, out);
          // ab counts a connection closed without an answer as a complete request: the bodies
          // ('noop', 4 bytes each) prove that 500 answers came.
          assert.match(r.stdout, /^HTML transferred:\s+2000 bytes$/m, out);
        }
      }
    });
  });
}

test('undici: 50 concurrent GETs → all 200; a POST with a body → 200', async () => {
  const dispatcher = new Agent({ connections: 50 });
  try {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        request(`${gw1().url}/${i % 2 ? 'noop' : 'merged'}`, { dispatcher, headersTimeout: 5000 }).then(
          async (res) => ({ status: res.statusCode, body: await res.body.text() }),
          (err) => ({ error: `${err.code ?? ''} ${err.message}` }),
        ),
      ),
    );
    const bad = answers.filter((a) => a.status !== 200);
    assert.equal(bad.length, 0, `${bad.length} of 50 not 200: ${JSON.stringify(bad.slice(0, 5))}`);
    assert.deepEqual(JSON.parse(answers[0].body), { a: 1, b: 1 });
    assert.equal(answers[1].body, 'noop');
    const post = await request(`${gw1().url}/post`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello undici',
      headersTimeout: 5000,
    });
    const body = await post.body.text();
    assert.equal(post.statusCode, 200, body);
    assert.equal(body, 'length=12');
  } finally {
    await dispatcher.close();
  }
});

describe('curl', () => {
  const curl = which('curl');
  const get = (...args) => run(curl, ['-sS', '-m', '5', '-o', '-', '-w', '\n%{http_code}', ...args], 10000);
  /** [body, status] from curl's output (body, then the code on its own line). */
  const split = (out) => {
    const at = out.lastIndexOf('\n');
    return [out.slice(0, at), Number(out.slice(at + 1))];
  };

  test('curl --http1.1 → 200', async (t) => {
    if (skipUnless(t, curl, 'curl')) return;
    const r = await get('--http1.1', `${gw1().url}/noop`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(split(r.stdout), ['noop', 200], r.stderr);
  });

  test("curl --http1.1 -H 'Connection: close' → 200", async (t) => {
    if (skipUnless(t, curl, 'curl')) return;
    const r = await get('--http1.1', '-H', 'Connection: close', `${gw1().url}/noop`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(split(r.stdout), ['noop', 200], r.stderr);
  });

  test('curl --http1.1 POST with a body → 200', async (t) => {
    if (skipUnless(t, curl, 'curl')) return;
    const r = await get('--http1.1', '--data-binary', 'abcd', `${gw1().url}/post`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(split(r.stdout), ['length=4', 200], r.stderr);
  });

  test('curl -0 (HTTP/1.0) → 200 (uws: 505)', async (t) => {
    if (skipUnless(t, curl, 'curl')) return;
    const r = await get('-0', `${gw1().url}/noop`);
    assert.equal(r.code, 0, r.stderr);
    const [body, status] = split(r.stdout);
    if (gateways[1].front === 'uws') assert.equal(status, 505, `uws refuses HTTP/1.0: ${r.stdout}`);
    else assert.deepEqual([body, status], ['noop', 200], r.stderr);
  });
});

describe('python', () => {
  test('http.client: two GETs on one connection (reused), then one with Connection: close → 200s, closed', async (t) => {
    const py = pythonWith('http.client');
    if (skipUnless(t, py, 'python3')) return;
    const script = `
import http.client, json, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=5)
out = []
for headers in ({}, {}, {'Connection': 'close'}):
    c.request('GET', '/noop', headers=headers)
    r = c.getresponse()
    port = c.sock.getsockname()[1] if c.sock else None
    body = r.read().decode()
    out.append({'status': r.status, 'body': body, 'local_port': port, 'connection': r.getheader('Connection'), 'open_after': c.sock is not None})
print(json.dumps(out))
`;
    const r = await run(py, ['-c', script, String(gw1().port)], 20000);
    assert.equal(r.code, 0, r.stderr);
    const [first, second, third] = JSON.parse(r.stdout);
    const all = r.stdout.trim();
    assert.deepEqual([first.status, second.status, third.status], [200, 200, 200], all);
    assert.deepEqual([first.body, second.body, third.body], ['noop', 'noop', 'noop'], all);
    assert.ok(first.open_after, `the connection was closed after the first answer: ${all}`);
    assert.equal(second.local_port, first.local_port, `the second GET did not reuse the connection: ${all}`);
    assert.equal(third.open_after, false, `http.client kept the connection after Connection: close: ${all}`);
  });

  test('requests.Session: 20 GETs and a POST with a JSON body → all 200', async (t) => {
    const py = pythonWith('requests');
    if (skipUnless(t, py, 'python3-requests')) return;
    const script = `
import json, sys, requests
base = sys.argv[1]
s = requests.Session()
out = [s.get(base + '/noop', timeout=5).status_code for _ in range(20)]
p = s.post(base + '/post', json={'hello': 'requests'}, timeout=5)
print(json.dumps({'gets': out, 'post': p.status_code, 'post_body': p.text}))
`;
    const r = await run(py, ['-c', script, gw1().url], 30000);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.gets, Array(20).fill(200), r.stdout);
    assert.equal(out.post, 200, r.stdout);
    // requests sends json.dumps's text: {"hello": "requests"}, 21 bytes.
    assert.equal(out.post_body, 'length=21', r.stdout);
  });
});

test('h2load --h1 -n 2000 -c 8 → 2000 succeeded, 2000 2xx', async (t) => {
  const h2load = which('h2load');
  if (skipUnless(t, h2load, 'h2load (nghttp2-client)')) return;
  const r = await run(h2load, ['--h1', '-n', '2000', '-c', '8', '-T', '5', `${gw1().url}/noop`], 60000);
  const out = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.match(r.stdout, /^requests: 2000 total, .*\b2000 succeeded\b/m, out);
  assert.match(r.stdout, /^status codes: 2000 2xx\b/m, out);
});

test('wrk -t1 -c8 -d2s → no non-2xx/3xx, no socket errors, Requests/sec > 0', async (t) => {
  const wrk = which('wrk');
  if (skipUnless(t, wrk, 'wrk')) return;
  const r = await run(wrk, ['-t1', '-c8', '-d2s', '--timeout', '5s', `${gw1().url}/noop`], 30000);
  const out = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, out);
  assert.doesNotMatch(r.stdout, /Non-2xx or 3xx responses/, out);
  assert.doesNotMatch(r.stdout, /Socket errors/, out);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(r.stdout);
  assert.ok(rps && Number(rps[1]) > 0, out);
});
