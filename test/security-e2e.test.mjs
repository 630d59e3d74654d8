// Security and validation end to end through `gw run`: the docs' examples served for real,
// with a recording backend (what arrives, and whether anything arrives at all).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { compactVerify, importJWK, SignJWT } from 'jose';
import { makePki } from './fixtures/security/certs.mjs';
import { get, jsonBackend, startBackend, startGateway } from './helpers/gateway.mjs';

const dir = mkdtempSync(join(tmpdir(), 'gw-sec-e2e-'));
// The playground's symmetric key (sim2, HS256).
const SIM2 = {
  kty: 'oct',
  k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
  kid: 'sim2',
  alg: 'HS256',
};
const jwkPath = join(dir, 'symmetric.json');
writeFileSync(jwkPath, JSON.stringify({ keys: [SIM2] }));
const htpasswd = join(dir, '.htpasswd');
writeFileSync(htpasswd, `admin:${bcrypt.hashSync('s3cret', 5).replace('$2b$', '$2y$')}\n`);
let hmacKey;
const sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'sim2' }).sign(hmacKey);

const ADDRESS = {
  type: 'object',
  required: ['number', 'street_name', 'street_type'],
  properties: {
    number: { type: 'number' },
    street_name: { type: 'string' },
    street_type: { type: 'string', enum: ['Street', 'Avenue', 'Boulevard'] },
  },
};

describe('security end to end', () => {
  let backend;
  let gw;
  before(async () => {
    hmacKey = await importJWK(SIM2, 'HS256');
    const routes = {
      '/login': {
        access_token: { aud: 'http://api.example.com', sub: '1234567890qwertyuio', exp: 1735689600 },
        refresh_token: { sub: 'x' },
        exp: 1735689600,
      },
      '/github': { name: 'n', company: 'c', login: 'l' },
      '/ok': { ok: true },
    };
    backend = await startBackend((req, res) => {
      const path = req.url.split('?')[0];
      const value = path.startsWith('/echo')
        ? {
            path: req.url,
            user: req.headers['x-user'] ?? null,
            role: req.headers['x-role'] ?? null,
            krole: req.headers['x-krakend-role'] ?? null,
          }
        : routes[path];
      res.writeHead(value ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value ?? { error: 'not found' }));
    });
    const host = [backend.url];
    const be = (url_pattern, extra = {}) => [{ host, url_pattern, ...extra }];
    gw = await startGateway({
      version: 3,
      extra_config: {
        router: { return_error_msg: true },
        'security/cors': {
          allow_origins: ['https://app.example.com'],
          allow_methods: ['GET', 'POST'],
          expose_headers: ['X-Krakend'],
          max_age: '12h',
        },
        'security/http': {
          frame_deny: true,
          content_type_nosniff: true,
          browser_xss_filter: true,
          referrer_policy: 'same-origin',
          content_security_policy: "default-src 'self';",
          sts_seconds: 300,
        },
        'security/bot-detector': {
          deny: ['BadBot/1.0'],
          patterns: ['(facebookexternalhit)/.*'],
          cache_size: 100,
        },
        'auth/api-keys': {
          propagate_role: 'X-Krakend-Role',
          keys: [{ key: '4d2c61e1-34c4-e96c-9456-15bd983c5019', roles: ['user'] }],
        },
        'auth/basic': { htpasswd_path: htpasswd },
      },
      endpoints: [
        {
          endpoint: '/protected/{id}',
          input_headers: ['X-User', 'X-Role'],
          backend: be('/echo/{JWT.sub}/{id}'),
          extra_config: {
            'auth/validator': {
              alg: 'HS256',
              jwk_local_path: jwkPath,
              roles_key: 'roles',
              roles: ['user', 'admin'],
              propagate_claims: [
                ['sub', 'X-User'],
                ['realm_access.role', 'X-Role'],
              ],
            },
          },
        },
        {
          endpoint: '/token',
          backend: be('/login'),
          extra_config: {
            'auth/signer': {
              alg: 'HS256',
              kid: 'sim2',
              keys_to_sign: ['access_token', 'refresh_token'],
              jwk_local_path: jwkPath,
              disable_jwk_security: true,
            },
          },
        },
        {
          endpoint: '/address',
          method: 'POST',
          backend: be('/ok'),
          extra_config: { 'validation/json-schema': ADDRESS },
        },
        {
          endpoint: '/nick/{nick}',
          backend: be('/ok'),
          extra_config: { 'validation/cel': [{ check_expr: "req_params.Nick.matches('k.*')" }] },
        },
        {
          endpoint: '/company',
          backend: be('/github', {
            allow: ['name', 'company'],
            group: 'github',
            extra_config: { 'validation/cel': [{ check_expr: "'company' in resp_data.github" }] },
          }),
        },
        {
          endpoint: '/no-company',
          backend: be('/github', {
            allow: ['name'],
            group: 'github',
            extra_config: { 'validation/cel': [{ check_expr: "'company' in resp_data.github" }] },
          }),
        },
        { endpoint: '/key', backend: be('/echo'), extra_config: { 'auth/api-keys': { roles: ['user'] } } },
        { endpoint: '/basic', backend: be('/ok'), extra_config: { 'auth/basic': {} } },
        { endpoint: '/open', backend: be('/ok') },
      ],
    });
  });
  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  const hits = (prefix) => backend.requests.filter((r) => r.url.startsWith(prefix)).length;

  test('JWT: 401 / 403 / 200; {JWT.sub} in the url_pattern; propagate_claims as headers', async () => {
    const before = hits('/echo');
    assert.equal((await get(`${gw.url}/protected/7`)).status, 401);
    assert.equal(
      (await get(`${gw.url}/protected/7`, { headers: { authorization: 'Bearer nope' } })).status,
      401,
    );
    const guest = await sign({ sub: 'g', roles: ['guest'] });
    assert.equal(
      (await get(`${gw.url}/protected/7`, { headers: { authorization: `Bearer ${guest}` } })).status,
      403,
    );
    assert.equal(hits('/echo'), before);
    const t = await sign({
      sub: '1234567890',
      roles: ['user'],
      realm_access: { role: 'admin' },
      exp: Math.floor(Date.now() / 1000) + 60,
    });
    const ok = await get(`${gw.url}/protected/7`, { headers: { authorization: `Bearer ${t}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { path: '/echo/1234567890/7', user: '1234567890', role: 'admin', krole: null });
  });

  test('signer: the /token endpoint signs access_token and refresh_token with sim2', async () => {
    const res = await get(`${gw.url}/token`);
    assert.equal(res.status, 200);
    assert.equal(res.json.exp, 1735689600);
    const { payload, protectedHeader } = await compactVerify(res.json.access_token, hmacKey);
    // krakend-jose jws.go NewSigner adds typ "JWT"
    assert.deepEqual(protectedHeader, { alg: 'HS256', kid: 'sim2', typ: 'JWT' });
    assert.equal(
      Buffer.from(payload).toString(),
      '{"aud":"http://api.example.com","exp":1735689600,"sub":"1234567890qwertyuio"}',
    );
  });

  test('JSON schema: 400 with the error text (return_error_msg), backend not called', async () => {
    const before = hits('/ok');
    const bad = await get(`${gw.url}/address`, { method: 'POST', body: '{"invalid": true}' });
    assert.equal(bad.status, 400);
    assert.equal(
      bad.text,
      '- (root): number is required\n- (root): street_name is required\n- (root): street_type is required',
    );
    assert.equal(hits('/ok'), before);
    const good = await get(`${gw.url}/address`, {
      method: 'POST',
      body: '{"number": 1, "street_name": "Main", "street_type": "Street"}',
    });
    assert.equal(good.status, 200);
    assert.equal(hits('/ok'), before + 1);
  });

  test('CEL: endpoint request check; backend response check after group', async () => {
    const before = hits('/ok');
    assert.equal((await get(`${gw.url}/nick/kate`)).status, 200);
    const ray = await get(`${gw.url}/nick/ray`);
    assert.equal(ray.status, 500);
    assert.equal(hits('/ok'), before + 1);
    const company = await get(`${gw.url}/company`);
    assert.equal(company.status, 200);
    assert.deepEqual(company.json, { github: { name: 'n', company: 'c' } });
    const none = await get(`${gw.url}/no-company`);
    assert.equal(none.status, 500);
    assert.equal(none.headers.get('x-krakend-completed'), 'false');
  });

  test('CORS preflight on a configured path and on an unknown one; headers on actual responses', async () => {
    for (const path of ['/open', '/protected/1', '/does-not-exist']) {
      const pre = await get(`${gw.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
      });
      assert.equal(pre.status, 204, path);
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.equal(pre.headers.get('access-control-allow-methods'), 'GET');
      assert.equal(pre.headers.get('access-control-max-age'), '43200');
    }
    const res = await get(`${gw.url}/open`, { headers: { origin: 'https://app.example.com' } });
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(res.headers.get('access-control-expose-headers'), 'X-Krakend');
    assert.match(res.headers.get('vary'), /Origin/);
    const evil = await get(`${gw.url}/open`, { headers: { origin: 'https://evil.com' } });
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  test('security/http headers on every response (404 included); no HSTS over plain HTTP', async () => {
    for (const path of ['/open', '/nowhere']) {
      const res = await get(`${gw.url}${path}`);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-xss-protection'), '1; mode=block');
      assert.equal(res.headers.get('referrer-policy'), 'same-origin');
      assert.equal(res.headers.get('content-security-policy'), "default-src 'self';");
      assert.equal(res.headers.get('strict-transport-security'), null);
    }
  });

  test('bot detector at the root: 403 for bots on any path', async () => {
    assert.equal((await get(`${gw.url}/open`, { headers: { 'user-agent': 'BadBot/1.0' } })).status, 403);
    assert.equal(
      (await get(`${gw.url}/open`, { headers: { 'user-agent': 'facebookexternalhit/1.1' } })).status,
      403,
    );
    assert.equal((await get(`${gw.url}/open`, { headers: { 'user-agent': 'Mozilla/5.0' } })).status, 200);
  });

  test('API key and basic auth; the secrets never appear in the logs', async () => {
    assert.equal((await get(`${gw.url}/key`)).status, 401);
    const k = await get(`${gw.url}/key`, {
      headers: { authorization: 'Bearer 4d2c61e1-34c4-e96c-9456-15bd983c5019' },
    });
    assert.equal(k.status, 200);
    assert.equal(k.json.krole, 'user');
    assert.equal(
      (
        await get(`${gw.url}/basic`, {
          headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
        })
      ).status,
      401,
    );
    assert.equal(
      (
        await get(`${gw.url}/basic`, {
          headers: { authorization: `Basic ${Buffer.from('admin:s3cret').toString('base64')}` },
        })
      ).status,
      200,
    );
    await new Promise((r) => setTimeout(r, 400)); // log lines are batched for up to 200 ms
    const logs = gw.logs();
    for (const secret of [
      '4d2c61e1-34c4-e96c-9456-15bd983c5019',
      's3cret',
      SIM2.k,
      readFileSync(htpasswd, 'utf8').split(':')[1].trim(),
    ])
      assert.ok(!logs.includes(secret), 'a secret reached the logs');
  });
});

describe('TLS listener', () => {
  let pki;
  let backend;
  before(async () => {
    pki = makePki();
    backend = await jsonBackend({ '/ok': { ok: true } });
  });
  after(() => backend?.close());

  function httpsGet(port, opts = {}) {
    return new Promise((resolve) => {
      const req = https.get(
        { host: '127.0.0.1', port, path: '/ok', ca: readFileSync(pki.ca), servername: 'localhost', ...opts },
        (res) => {
          let data = '';
          res.on('data', (d) => (data += d));
          res.on('end', () => resolve({ status: res.statusCode, body: data }));
        },
      );
      req.on('error', (err) => resolve({ error: err.code ?? err.message }));
    });
  }
  const config = (tls) => ({
    version: 3,
    tls,
    endpoints: [{ endpoint: '/ok', backend: [{ host: [backend.url], url_pattern: '/ok' }] }],
  });

  for (const [label, tls, front] of [
    [
      'default (TLS 1.3 only) on node:https',
      (p) => ({ keys: [{ public_key: p.cert, private_key: p.key }] }),
      'node',
    ],
    [
      'TLS 1.2+1.3 on uWS SSLApp',
      (p) => ({ keys: [{ public_key: p.cert, private_key: p.key }], min_version: 'TLS12' }),
      'uws',
    ],
  ]) {
    test(label, async () => {
      const gw = await startGateway(config(tls(pki)));
      try {
        const res = await httpsGet(gw.port);
        assert.equal(res.status, 200);
        assert.equal(res.body, '{"ok":true}');
        const v12 = await httpsGet(gw.port, { maxVersion: 'TLSv1.2' });
        if (front === 'node') assert.ok(v12.error, 'TLS 1.2 refused by default');
        else assert.equal(v12.status, 200);
        assert.equal(/needs the node:https front/.test(gw.logs()), front === 'node', gw.logs());
        const plain = await fetch(`http://127.0.0.1:${gw.port}/ok`).then(
          (r) => r.status,
          () => 'refused',
        );
        assert.notEqual(plain, 200, 'no plain HTTP on a TLS listener');
      } finally {
        await gw.stop();
      }
    });
  }

  test('mTLS: a client certificate from ca_certs is required', async () => {
    const gw = await startGateway(
      config({
        keys: [{ public_key: pki.cert, private_key: pki.key }],
        enable_mtls: true,
        ca_certs: [pki.ca],
        disable_system_ca_pool: true,
      }),
    );
    try {
      const ok = await httpsGet(gw.port, {
        cert: readFileSync(pki.clientCert),
        key: readFileSync(pki.clientKey),
      });
      assert.equal(ok.status, 200);
      const none = await httpsGet(gw.port);
      assert.ok(none.error, 'no client certificate → no response');
      const rogue = await httpsGet(gw.port, {
        cert: readFileSync(pki.rogueCert),
        key: readFileSync(pki.rogueKey),
      });
      assert.ok(rogue.error, 'untrusted client certificate → no response');
    } finally {
      await gw.stop();
    }
  });
});
