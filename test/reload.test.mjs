// Reload without restart (KrakenD CE and EE restart to apply a new configuration; their
// `:watch` image restarts the binary, see the docs' "Hot Reload Feature" pages): SIGHUP and
// `gw run --watch` read, check and serve the configuration again, in every worker, under load.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { makePki } from './fixtures/security/certs.mjs';
import { freePort, jsonBackend, startBackend, startGateway, writeConfig } from './helpers/gateway.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let backend;
let slowBackend;
before(async () => {
  slowBackend = await startBackend((_req, res) =>
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"version":"slow"}');
    }, 400),
  );
  backend = await jsonBackend({
    '/a': { version: 'a' },
    '/b': { version: 'b' },
  });
});
after(() => Promise.all([backend?.close(), slowBackend?.close()]));

const configFor = (port, pattern, extra = {}) => ({
  version: 3,
  port,
  listen_ip: '127.0.0.1',
  endpoints: [
    { endpoint: '/v', backend: [{ host: [backend.url], url_pattern: pattern }] },
    { endpoint: '/slow', backend: [{ host: [slowBackend.url], url_pattern: '/slow' }] },
  ],
  ...extra,
});

/** A broken configuration: a wildcard at the root and an endpoint without backends. */
const brokenConfig = (port) => ({
  version: 3,
  port,
  endpoints: [{ endpoint: '/*', backend: [] }],
});

/**
 * Load from `loops` concurrent clients until stopped: half keep their connection alive, half open
 * a new one per request (the accept path). Every answer that is not a 200 with a known body, and
 * every connection error, is a failure.
 */
function load(port, path, loops = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const seen = [];
  const failures = [];
  let running = true;
  /** When each answer's request was sent, in the order answers arrived. */
  const sentAt = [];
  const one = (keepAlive) =>
    new Promise((resolve) => {
      const sent = Date.now();
      const req = http.request({ host: '127.0.0.1', port, path, agent: keepAlive ? agent : false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          let version;
          try {
            version = JSON.parse(body).version;
          } catch {}
          if (res.statusCode !== 200 || version === undefined)
            failures.push(`${res.statusCode} ${body.slice(0, 120)}`);
          else {
            seen.push(version);
            sentAt.push(sent);
          }
          resolve();
        });
        res.on('error', (err) => {
          failures.push(`response error ${err.code ?? err.message}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        failures.push(`request error ${err.code ?? err.message}`);
        resolve();
      });
      req.end();
    });
  const loopsDone = Array.from({ length: loops }, async (_, i) => {
    while (running) await one(i % 2 === 0);
  });
  return {
    seen,
    sentAt,
    failures,
    async stop() {
      running = false;
      await Promise.all(loopsDone);
      agent.destroy();
    },
  };
}

async function until(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('SIGHUP under load', () => {
  test('two reloads (one good, one broken) under load: 0 failed requests; the broken one changes nothing', async () => {
    const port = await freePort();
    const file = writeConfig(configFor(port, '/a'));
    const gw = await startGateway(null, { file, port, args: ['--workers', '2'] });
    const traffic = load(port, '/v');
    let switchedAt = Number.POSITIVE_INFINITY;
    // Each phase lasts at least a second and 50 answers, whatever the machine's load.
    const phase = async (what) => {
      const from = traffic.seen.length;
      await sleep(1000);
      await until(() => traffic.seen.length > from + 50, what);
    };
    try {
      await phase('traffic on the first configuration');
      writeFileSync(file, JSON.stringify(configFor(port, '/b')));
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/the new configuration serves/, 10000);
      // Every worker has switched when the main thread says so.
      switchedAt = Date.now();
      await until(() => traffic.seen.at(-1) === 'b', 'answers from the reloaded configuration');
      await phase('traffic after the first reload');

      writeFileSync(file, JSON.stringify(brokenConfig(port)));
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/reload refused: 2 error/, 10000);
      await phase('traffic after the broken reload');
    } finally {
      await traffic.stop();
    }
    const logs = gw.logs();
    await gw.stop();
    console.log(
      `reload under load: ${traffic.seen.length} requests, ${traffic.failures.length} failed, ` +
        `${traffic.seen.filter((v) => v === 'a').length} on the first configuration`,
    );
    assert.deepEqual(traffic.failures, [], 'no request fails through the two reloads');
    // The switch is one way: once b answered, a never again (every worker switched).
    // A request sent once every worker had switched is served by the new configuration; one sent
    // before may still finish on the old one (workers switch one after the other, within ms).
    const after = traffic.seen.filter((_v, i) => traffic.sentAt[i] > switchedAt);
    assert.ok(after.length > 50);
    assert.deepEqual([...new Set(after)], ['b']);
    assert.ok(traffic.seen.includes('a'));
    // Every error of the broken configuration is logged with its JSON path.
    assert.match(logs, /reload refused: \$\.endpoints\[0\]\.endpoint: .*all traffic/);
    assert.match(logs, /reload refused: \$\.endpoints\[0\]\.backend: an endpoint needs at least one backend/);
    assert.match(logs, /the running configuration keeps serving/);
  });

  test('a request in flight during a reload finishes on the pipeline it started on', async () => {
    const port = await freePort();
    const file = writeConfig(configFor(port, '/a'));
    const gw = await startGateway(null, { file, port });
    try {
      const slow = fetch(`http://127.0.0.1:${port}/slow`).then((r) => r.json());
      await sleep(100);
      const next = configFor(port, '/b');
      next.endpoints.pop(); // the new configuration no longer has /slow
      writeFileSync(file, JSON.stringify(next));
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/the new configuration serves/);
      assert.deepEqual(await slow, { version: 'slow' });
      assert.equal((await fetch(`http://127.0.0.1:${port}/slow`)).status, 404);
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/v`)).json(), { version: 'b' });
    } finally {
      await gw.stop();
    }
  });

  test('a file that does not parse is refused with its line and column; serving goes on', async () => {
    const port = await freePort();
    const file = writeConfig(configFor(port, '/a'));
    const gw = await startGateway(null, { file, port });
    try {
      writeFileSync(file, '{"version": 3,\n  "endpoints": [,]\n}');
      gw.child.kill('SIGHUP');
      const logs = await gw.waitForLog(/reload refused: 1 error/);
      assert.match(logs, /reload refused: .*krakend\.json:2:\d+: invalid JSON/);
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/v`)).json(), { version: 'a' });
    } finally {
      await gw.stop();
    }
  });

  test('a listener setting (port) that changed is said to wait for a restart; the rest applies', async () => {
    const port = await freePort();
    const file = writeConfig(configFor(port, '/a'));
    const gw = await startGateway(null, { file, rawArgs: ['run', '-c', file, '--workers', '1'], port });
    try {
      writeFileSync(file, JSON.stringify(configFor(port + 1, '/b')));
      gw.child.kill('SIGHUP');
      const logs = await gw.waitForLog(/the new configuration serves/);
      assert.match(logs, /reload: port changed; the listener keeps the running values until a restart/);
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/v`)).json(), { version: 'b' });
    } finally {
      await gw.stop();
    }
  });
});

describe('what a reload keeps', () => {
  test('the /__stats listener moves to the new configuration once the replaced one frees its port', async () => {
    const port = await freePort();
    const statsPort = await freePort();
    const withStats = (pattern) =>
      configFor(port, pattern, {
        extra_config: { 'telemetry/metrics': { listen_address: `127.0.0.1:${statsPort}` } },
      });
    const file = writeConfig(withStats('/a'));
    const gw = await startGateway(null, { file, port });
    try {
      await gw.waitForLog(/__stats listening/);
      writeFileSync(file, JSON.stringify(withStats('/b')));
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/the new configuration serves/);
      // The replaced configuration closes after its longest timeout (2 s) and a second.
      await until(
        () => (gw.logs().match(/__stats listening/g) ?? []).length === 2,
        'the new /__stats listener',
      );
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/v`)).json(), { version: 'b' });
      const stats = await (await fetch(`http://127.0.0.1:${statsPort}/__stats`)).json();
      // The new configuration counts from zero: the one request it served.
      assert.equal(stats['krakend.router.response./v.status.200'], 1);
    } finally {
      await gw.stop();
    }
  });

  // The fronts read the clock for the access log only while the serving configuration writes one
  // (`AnswerLog.on` in src/server/front.ts, set by LiveApp in src/server/instance.ts at each
  // switch). KrakenD logs every answer through gin's logger middleware unless
  // `disable_access_log` (krakend-ce router_engine.go, NewEngine); it restarts to change it.
  test('the access log follows the serving configuration: a reload switches it off and on', async () => {
    const port = await freePort();
    const withLog = (on) => configFor(port, '/a', { extra_config: { router: { disable_access_log: !on } } });
    const file = writeConfig(withLog(false));
    const gw = await startGateway(null, { file, port });
    const logged = (path) => gw.logs().includes(`GET ${path} 200`);
    const get = async (path) => assert.equal((await fetch(`http://127.0.0.1:${port}${path}`)).status, 200);
    let reloads = 0;
    const reload = async (on) => {
      writeFileSync(file, JSON.stringify(withLog(on)));
      gw.child.kill('SIGHUP');
      reloads++;
      await until(
        () => (gw.logs().match(/the new configuration serves/g) ?? []).length === reloads,
        `reload ${reloads}`,
      );
    };
    try {
      await get('/v?phase=off');
      // Arrives while the log is off, answered once it is on: its latency is unknown, not logged.
      const straddling = fetch(`http://127.0.0.1:${port}/slow?phase=off-to-on`);
      await sleep(100);
      await reload(true);
      assert.equal((await straddling).status, 200);
      await get('/v?phase=on');
      await until(() => logged('/v?phase=on'), 'the access log line of a request once it is on');
      // Arrives while the log is on, answered once it is off: the serving configuration logs none.
      const straddlingOff = fetch(`http://127.0.0.1:${port}/slow?phase=on-to-off`);
      await sleep(100);
      await reload(false);
      assert.equal((await straddlingOff).status, 200);
      await get('/v?phase=off-again');
      await reload(true);
      await get('/v?phase=on-again');
      await until(() => logged('/v?phase=on-again'), 'the access log line once it is on again');
      const lines = gw
        .logs()
        .split('\n')
        .filter((l) => l.includes('[GW] GET'));
      assert.deepEqual(
        lines.map((l) => /GET (\S+) 200/.exec(l)?.[1]),
        ['/v?phase=on', '/v?phase=on-again'],
        gw.logs(),
      );
    } finally {
      await gw.stop();
    }
  });
});

describe('gw run --watch', () => {
  test('a saved configuration is served without a signal (an editor that replaces the file too)', async () => {
    const port = await freePort();
    const file = writeConfig(configFor(port, '/a'));
    const gw = await startGateway(null, { file, port, args: ['--workers', '1', '--watch'] });
    try {
      await gw.waitForLog(/reloading on changes to/);
      // Written beside it, then renamed over it: how editors and ConfigMaps replace a file.
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, JSON.stringify(configFor(port, '/b')));
      renameSync(tmp, file);
      await gw.waitForLog(/the new configuration serves/, 10000);
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/v`)).json(), { version: 'b' });
      assert.match(gw.logs(), /reload \(a watched file changed\)/);
    } finally {
      await gw.stop();
    }
  });

  test('with FC_ENABLE=1, a change in the FC_SETTINGS folder reloads too', async () => {
    const port = await freePort();
    const file = writeConfig(configFor(port, '/a'));
    const settings = mkdtempSync(join(tmpdir(), 'gw-fc-settings-'));
    const gw = await startGateway(null, {
      file,
      port,
      args: ['--workers', '1', '--watch'],
      env: { FC_ENABLE: '1', FC_SETTINGS: settings },
    });
    try {
      assert.match(
        await gw.waitForLog(/reloading on changes to/),
        new RegExp(`reloading on changes to .*${settings}`),
      );
      writeFileSync(join(settings, 'service.json'), '{"timeout": "3s"}');
      await gw.waitForLog(/reload \(a watched file changed\)/, 10000);
      assert.match(gw.logs(), /reload \(a watched file changed\)/);
    } finally {
      await gw.stop();
    }
  });
});

describe('TLS certificates reload', () => {
  let pkiA;
  let pkiB;
  before(() => {
    pkiA = makePki();
    pkiB = makePki();
  });

  /** The SHA-256 fingerprint of the certificate a new connection is served. */
  const servedCert = (port) =>
    new Promise((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' },
        () => {
          const fp = s.getPeerCertificate().fingerprint256;
          s.destroy();
          resolve(fp);
        },
      );
      s.on('error', reject);
    });
  const fingerprint = (pem) => new X509Certificate(readFileSync(pem)).fingerprint256;

  /** Serves certificate A, reloads B, then a broken one: new connections get A, B, then B. */
  async function certificatesReload(tlsExtra, args) {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tls-reload-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    copyFileSync(pkiA.cert, cert);
    copyFileSync(pkiA.key, key);
    const port = await freePort();
    const file = writeConfig(
      configFor(port, '/a', { tls: { keys: [{ public_key: cert, private_key: key }], ...tlsExtra } }),
    );
    const gw = await startGateway(null, { file, port, args });
    try {
      assert.equal(await servedCert(port), fingerprint(pkiA.cert));
      copyFileSync(pkiB.cert, cert);
      copyFileSync(pkiB.key, key);
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/the new configuration serves/);
      // uWS: the new listener replaces the old one as soon as it is bound.
      let served;
      for (let i = 0; i < 40 && served !== fingerprint(pkiB.cert); i++) {
        served = await servedCert(port);
        if (served !== fingerprint(pkiB.cert)) await sleep(50);
      }
      assert.equal(served, fingerprint(pkiB.cert));
      writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/reload refused: (?!.*error\(s\))/);
      assert.equal(await servedCert(port), fingerprint(pkiB.cert));
      return gw.logs();
    } finally {
      await gw.stop();
    }
  }

  test('uWebSockets.js front (--front uws, a TLS 1.2 config it serves): new certificates for new connections', async (t) => {
    const { loadUws } = await import('../dist/server/platform.js');
    if (loadUws('current') === null) return t.skip('the current uWebSockets.js build does not load here');
    const logs = await certificatesReload({ min_version: 'TLS12' }, ['--workers', '2', '--front', 'uws']);
    assert.match(logs, /\(uws, 2 workers\)/);
  });

  test('SIGHUP serves new certificates to new connections; an unreadable one is refused and the old stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tls-reload-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    copyFileSync(pkiA.cert, cert);
    copyFileSync(pkiA.key, key);
    const port = await freePort();
    const file = writeConfig(
      configFor(port, '/a', { tls: { keys: [{ public_key: cert, private_key: key }] } }),
    );
    const gw = await startGateway(null, { file, port });
    try {
      assert.equal(await servedCert(port), fingerprint(pkiA.cert));
      copyFileSync(pkiB.cert, cert);
      copyFileSync(pkiB.key, key);
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/the new configuration serves/);
      assert.equal(await servedCert(port), fingerprint(pkiB.cert));

      writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/reload refused: (?!.*error\(s\))/);
      assert.equal(await servedCert(port), fingerprint(pkiB.cert));
    } finally {
      await gw.stop();
    }
  });
});
