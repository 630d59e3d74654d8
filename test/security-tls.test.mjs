// The service `tls` block (the "TLS" page): option parsing and checks, and the node:https
// options served for real with certificates made by openssl in the test (TLS 1.3 only by
// default, min_version, cipher suites, mTLS with ca_certs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { before, describe, test } from 'node:test';
import tls from 'node:tls';
import { tlsOptionsFromConfig, validateTls } from '../dist/security/tls.js';
import { makePki } from './fixtures/security/certs.mjs';

let pki;
before(() => {
  pki = makePki();
});

/** Serves `tlsCfg` with node:https; resolves { port, close }. */
async function serve(tlsCfg) {
  const opts = tlsOptionsFromConfig({ tls: tlsCfg });
  const server = https.createServer(opts.node, (req, res) => {
    res.end(req.socket.getPeerCertificate()?.subject?.CN ?? 'anonymous');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)), opts };
}

function handshake(port, extra = {}) {
  return new Promise((resolve) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, ca: readFileSync(pki.ca), servername: 'localhost', ...extra },
      () => {
        const v = s.getProtocol();
        s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        let data = '';
        s.on('data', (d) => (data += d));
        s.on('end', () => resolve({ ok: true, protocol: v, body: data.split('\r\n\r\n')[1] ?? '' }));
        s.on('error', () => resolve({ ok: false, protocol: v }));
      },
    );
    s.on('error', (err) => resolve({ ok: false, error: err.code ?? err.message }));
  });
}

describe('tls options', () => {
  test('plain HTTP when absent or disabled', () => {
    assert.equal(tlsOptionsFromConfig({}), undefined);
    assert.equal(
      tlsOptionsFromConfig({ tls: { disabled: true, keys: [{ public_key: 'a', private_key: 'b' }] } }),
      undefined,
    );
  });

  test('defaults: TLS 1.3 only; a TLS 1.2 client is refused', async () => {
    const s = await serve({ keys: [{ public_key: pki.cert, private_key: pki.key }] });
    try {
      assert.equal(s.opts.node.minVersion, 'TLSv1.3');
      assert.match(s.opts.uwsIncompatibility, /TLSv1.3/);
      const r13 = await handshake(s.port);
      assert.equal(r13.ok, true);
      assert.equal(r13.protocol, 'TLSv1.3');
      const r12 = await handshake(s.port, { maxVersion: 'TLSv1.2' });
      assert.equal(r12.ok, false);
    } finally {
      await s.close();
    }
  });

  test('legacy public_key/private_key + min_version TLS12 + cipher_suites', async () => {
    const s = await serve({
      public_key: pki.cert,
      private_key: pki.key,
      min_version: 'TLS12',
      cipher_suites: [49199],
    });
    try {
      assert.equal(s.opts.uwsIncompatibility, undefined, 'uWS can serve TLS 1.2-1.3 with one certificate');
      assert.equal(s.opts.ciphers, 'ECDHE-RSA-AES128-GCM-SHA256');
      const r12 = await handshake(s.port, { maxVersion: 'TLSv1.2' });
      assert.equal(r12.ok, true);
      assert.equal(r12.protocol, 'TLSv1.2');
      const wrongSuite = await handshake(s.port, {
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
      });
      assert.equal(wrongSuite.ok, false);
      assert.equal((await handshake(s.port)).protocol, 'TLSv1.3');
    } finally {
      await s.close();
    }
  });

  test('mTLS: enable_mtls + ca_certs; no client cert or an untrusted one is refused', async () => {
    const s = await serve({
      keys: [{ public_key: pki.cert, private_key: pki.key }],
      enable_mtls: true,
      ca_certs: [pki.ca],
      disable_system_ca_pool: true,
    });
    try {
      const good = await handshake(s.port, {
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
      });
      assert.equal(good.ok, true);
      assert.equal(good.body, 'client');
      const none = await handshake(s.port);
      assert.equal(none.body ?? '', '');
      assert.notEqual(none.body, 'anonymous');
      const rogue = await handshake(s.port, {
        cert: readFileSync(pki.rogueCert),
        key: readFileSync(pki.rogueKey),
      });
      assert.notEqual(rogue.body, 'rogue');
    } finally {
      await s.close();
    }
  });

  test('validateTls: every problem with its path', () => {
    const issues = validateTls({
      keys: [{ public_key: '/nope/cert.pem', private_key: 7 }],
      min_version: 'TLS14',
      cipher_suites: [49199, 12345],
      curve_preferences: [99],
      ca_certs: ['/nope/ca.pem'],
    });
    assert.deepEqual(
      issues.map((i) => i.path),
      [
        '$.tls.keys[0].public_key',
        '$.tls.keys[0].private_key',
        '$.tls.min_version',
        '$.tls.cipher_suites[1]',
        '$.tls.curve_preferences[0]',
        '$.tls.ca_certs[0]',
      ],
    );
    assert.deepEqual(
      validateTls({ keys: [{ public_key: pki.cert, private_key: pki.key }], min_version: 'TLS12' }),
      [],
    );
    assert.equal(validateTls({}).length, 1);
    assert.equal(
      validateTls({
        keys: [{ public_key: pki.cert, private_key: pki.key }],
        min_version: 'TLS13',
        max_version: 'TLS12',
      }).length,
      1,
    );
  });
});
