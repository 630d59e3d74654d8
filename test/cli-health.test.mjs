// `gw health` (src/cli/health.ts) against a real `gw run` of the same configuration: the port,
// health_path, disable_health and TLS it reads as `gw run` does; exit 0 healthy, 1 not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePki } from './fixtures/security/certs.mjs';
import { freePort, jsonBackend, runGw, startGateway, writeConfig } from './helpers/gateway.mjs';

const endpoints = (be) => [{ endpoint: '/a', backend: [{ host: [be.url], url_pattern: '/a' }] }];

test('the default /__health of a running gw: healthy; once stopped: unhealthy, exit 1', async () => {
  const be = await jsonBackend({ '/a': { a: 1 } });
  const port = await freePort();
  const file = writeConfig({ version: 3, port, listen_ip: '127.0.0.1', endpoints: endpoints(be) });
  const gw = await startGateway(null, { file, port });
  try {
    const ok = await runGw(['health', '-c', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `healthy: GET http://127.0.0.1:${port}/__health answered 200\n`);
  } finally {
    await gw.stop();
    await be.close();
  }
  const down = await runGw(['health', '-c', file]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, new RegExp(`^unhealthy: 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
});

test('health_path, -p and KRAKEND_PORT are read as gw run reads them', async () => {
  const be = await jsonBackend({ '/a': { a: 1 } });
  const port = await freePort();
  const file = writeConfig({
    version: 3,
    port: 1,
    listen_ip: '127.0.0.1',
    extra_config: { router: { health_path: '/_status' } },
    endpoints: endpoints(be),
  });
  const gw = await startGateway(null, {
    file,
    port,
    env: { KRAKEND_PORT: String(port) },
    rawArgs: ['run', '-c', file, '--workers', '1'],
  });
  try {
    const byEnv = await runGw(['health', '-c', file], { env: { KRAKEND_PORT: String(port) } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.match(byEnv.stdout, new RegExp(`GET http://127\\.0\\.0\\.1:${port}/_status answered 200`));
    const byFlag = await runGw(['health', '-c', file, '-p', String(port)]);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    // The configured port (1): nothing there.
    assert.equal((await runGw(['health', '-c', file])).code, 1);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('a health path that does not answer 200 is unhealthy', async () => {
  const be = await jsonBackend({ '/a': { a: 1 } });
  const port = await freePort();
  const file = writeConfig({ version: 3, port, listen_ip: '127.0.0.1', endpoints: endpoints(be) });
  const gw = await startGateway(null, { file, port });
  const wrong = writeConfig({
    version: 3,
    port,
    listen_ip: '127.0.0.1',
    extra_config: { router: { health_path: '/not-here' } },
    endpoints: endpoints(be),
  });
  try {
    const r = await runGw(['health', '-c', wrong]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `unhealthy: GET http://127.0.0.1:${port}/not-here answered 404\n`);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('disable_health: the port accepting connections is what is checked', async () => {
  const be = await jsonBackend({ '/a': { a: 1 } });
  const port = await freePort();
  const file = writeConfig({
    version: 3,
    port,
    listen_ip: '127.0.0.1',
    extra_config: { router: { disable_health: true } },
    endpoints: endpoints(be),
  });
  const gw = await startGateway(null, { file, port });
  try {
    const r = await runGw(['health', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /accepts connections \(disable_health: no health endpoint to ask\)/);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('TLS: the health endpoint is asked over https', async () => {
  const pki = makePki();
  const be = await jsonBackend({ '/a': { a: 1 } });
  const port = await freePort();
  const file = writeConfig({
    version: 3,
    port,
    listen_ip: '127.0.0.1',
    tls: { keys: [{ public_key: pki.cert, private_key: pki.key }] },
    endpoints: endpoints(be),
  });
  const gw = await startGateway(null, { file, port });
  try {
    const r = await runGw(['health', '-c', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `healthy: GET https://127.0.0.1:${port}/__health answered 200\n`);
  } finally {
    await gw.stop();
    await be.close();
  }
});

test('a configuration that cannot be read: its error, exit 1', async () => {
  const r = await runGw(['health', '-c', '/nonexistent/krakend.json']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nonexistent\/krakend\.json/);
});
