// auth/validator and auth/signer, from the "JWT Validation", "Shared JWK Caching" and "JWT
// Signing" pages: statuses 401/403, claims checks, JWK sources and caches, propagation, signing.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CompactSign, compactVerify, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { jwtSignerModule } from '../dist/security/jwt-signer.js';
import { jwtValidatorModule } from '../dist/security/jwt-validator.js';
import { captureLogger, ctxFor, okStage, request } from './fixtures/security/unit.mjs';

const dir = mkdtempSync(join(tmpdir(), 'gw-jwt-'));
const keys = {};
const now = () => Math.floor(Date.now() / 1000);

async function makeKey(alg, kid) {
  if (alg.startsWith('HS')) {
    const k = Buffer.from(`secret-for-${kid}-0123456789abcdef0123456789abcdef0123456789`).toString(
      'base64url',
    );
    const jwk = { kty: 'oct', k, kid, alg };
    return { alg, kid, publicJwk: jwk, privateKey: await importJWK(jwk, alg) };
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg };
  return { alg, kid, publicJwk, privateJwk, privateKey };
}

function sign(key, claims, header = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey);
}

function jwkFile(name, jwks) {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify({ keys: jwks }));
  return f;
}

function validator(cfg, endpointExtra = {}, logger) {
  const endpoint = { endpoint: '/protected', extra_config: { 'auth/validator': cfg, ...endpointExtra } };
  const next = okStage();
  const mw = jwtValidatorModule.endpoint(cfg, ctxFor({ endpoint, logger }));
  return { stage: mw(next), next };
}

const bearer = (t) => request({ headers: { authorization: `Bearer ${t}` } });

before(async () => {
  for (const alg of [
    'HS256',
    'HS384',
    'HS512',
    'RS256',
    'RS384',
    'RS512',
    'ES256',
    'ES384',
    'ES512',
    'PS256',
    'PS384',
    'PS512',
    'EdDSA',
  ])
    keys[alg] = await makeKey(alg, `kid-${alg}`);
  keys.other = await makeKey('RS256', 'kid-RS256');
});

describe('auth/validator: algorithms', () => {
  for (const alg of [
    'HS256',
    'HS384',
    'HS512',
    'RS256',
    'RS384',
    'RS512',
    'ES256',
    'ES384',
    'ES512',
    'PS256',
    'PS384',
    'PS512',
    'EdDSA',
  ]) {
    test(`${alg}: a good token passes, a tampered one is 401`, async () => {
      const file = jwkFile(`${alg}.json`, [keys[alg].publicJwk]);
      const { stage, next } = validator({ alg, jwk_local_path: file });
      const token = await sign(keys[alg], { sub: '1234567890', exp: now() + 600 });
      assert.equal((await stage(bearer(token))).status, 200);
      assert.equal(next.seen[0].claims.sub, '1234567890');
      const [h, , s] = token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin', exp: now() + 600 })).toString('base64url')}.${s}`;
      assert.equal((await stage(bearer(forged))).status, 401);
      assert.equal(next.seen.length, 1);
    });
  }
});

describe('auth/validator: token checks', () => {
  let stage;
  let next;
  let file;
  before(() => {
    file = jwkFile('rs.json', [keys.RS256.publicJwk]);
    ({ stage, next } = validator({
      alg: 'RS256',
      jwk_local_path: file,
      audience: ['http://api.example.com'],
      issuer: 'https://krakend.io',
      roles_key: 'http://api.example.com/custom/roles',
      roles: ['user', 'admin'],
    }));
  });
  const good = () => ({
    aud: 'http://api.example.com',
    iss: 'https://krakend.io',
    'http://api.example.com/custom/roles': ['user'],
    exp: now() + 600,
  });

  test('no token, empty, not Bearer, malformed → 401 with an empty body', async () => {
    for (const headers of [
      {},
      { authorization: '' },
      { authorization: 'Bearer ' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer a.b' },
      { authorization: 'Bearer !!!.???.***' },
      { authorization: 'Bearer e30.e30.' },
    ]) {
      const res = await stage(request({ headers }));
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body, null);
    }
    assert.equal(next.seen.length, 0);
  });

  test('the docs example passes: audience, issuer, one of the roles (Bearer is case-insensitive)', async () => {
    const t = await sign(keys.RS256, good());
    assert.equal((await stage(request({ headers: { authorization: `bearer ${t}` } }))).status, 200);
  });

  test('alg in the header must be the configured one', async () => {
    const t = await sign(keys.HS256, good(), { kid: 'kid-RS256' });
    assert.equal((await stage(bearer(t))).status, 401);
    const none = `${Buffer.from('{"alg":"none","kid":"kid-RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(good())).toString('base64url')}.`;
    assert.equal((await stage(bearer(none))).status, 401);
  });

  test('kid is required and must be in the JWK set', async () => {
    const noKid = await new SignJWT(good()).setProtectedHeader({ alg: 'RS256' }).sign(keys.RS256.privateKey);
    assert.equal((await stage(bearer(noKid))).status, 401);
    assert.equal((await stage(bearer(await sign(keys.RS256, good(), { kid: 'unknown' })))).status, 401);
  });

  test('a key with the right kid but another secret → 401', async () => {
    assert.equal((await stage(bearer(await sign(keys.other, good())))).status, 401);
  });

  test('exp / nbf / iat with the one-minute leeway', async () => {
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), exp: now() - 120 })))).status, 401);
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), exp: now() - 30 })))).status, 200);
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), nbf: now() + 300 })))).status, 401);
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), iat: now() + 300 })))).status, 401);
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), exp: 'tomorrow' })))).status, 401);
  });

  test('issuer and audience must match', async () => {
    assert.equal(
      (await stage(bearer(await sign(keys.RS256, { ...good(), iss: 'https://evil.io' })))).status,
      401,
    );
    assert.equal(
      (await stage(bearer(await sign(keys.RS256, { ...good(), aud: 'http://other' })))).status,
      401,
    );
    assert.equal(
      (await stage(bearer(await sign(keys.RS256, { ...good(), aud: ['x', 'http://api.example.com'] }))))
        .status,
      200,
    );
    const { iss, ...noIss } = good();
    assert.equal((await stage(bearer(await sign(keys.RS256, noIss)))).status, 401);
  });

  test('roles: none of the required → 403; missing or non-array claim → 403', async () => {
    const r = 'http://api.example.com/custom/roles';
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), [r]: ['guest'] })))).status, 403);
    assert.equal((await stage(bearer(await sign(keys.RS256, { ...good(), [r]: 'admin' })))).status, 403);
    const { [r]: _, ...noRoles } = good();
    assert.equal((await stage(bearer(await sign(keys.RS256, noRoles)))).status, 403);
    assert.equal(
      (await stage(bearer(await sign(keys.RS256, { ...good(), [r]: ['guest', 'admin'] })))).status,
      200,
    );
  });
});

describe('auth/validator: nested roles, scopes, cookie, propagation, CEL', () => {
  test('roles_key_is_nested', async () => {
    const file = jwkFile('hs.json', [keys.HS256.publicJwk]);
    const { stage } = validator({
      alg: 'HS256',
      jwk_local_path: file,
      roles_key: 'realm_access.roles',
      roles_key_is_nested: true,
      roles: ['admin'],
    });
    assert.equal(
      (await stage(bearer(await sign(keys.HS256, { realm_access: { roles: ['admin'] } })))).status,
      200,
    );
    assert.equal(
      (await stage(bearer(await sign(keys.HS256, { realm_access: { roles: ['user'] } })))).status,
      403,
    );
    assert.equal((await stage(bearer(await sign(keys.HS256, { realm_access: 'admin' })))).status, 403);
  });

  test('scopes: any (default) and all, from a space-separated string or an array', async () => {
    const file = jwkFile('hs.json', [keys.HS256.publicJwk]);
    const scopes = ['resource1:action1', 'resource2:action1'];
    const any = validator({ alg: 'HS256', jwk_local_path: file, scopes_key: 'my_scopes', scopes }).stage;
    const all = validator({
      alg: 'HS256',
      jwk_local_path: file,
      scopes_key: 'my_scopes',
      scopes,
      scopes_matcher: 'all',
    }).stage;
    const one = await sign(keys.HS256, { my_scopes: 'resource1:action1 other' });
    const both = await sign(keys.HS256, { my_scopes: ['resource2:action1', 'resource1:action1'] });
    const none = await sign(keys.HS256, { my_scopes: 'nothing' });
    assert.equal((await any(bearer(one))).status, 200);
    assert.equal((await any(bearer(none))).status, 403);
    assert.equal((await all(bearer(one))).status, 403);
    assert.equal((await all(bearer(both))).status, 200);
  });

  test('cookie_key reads the token from a cookie', async () => {
    const file = jwkFile('hs.json', [keys.HS256.publicJwk]);
    const { stage } = validator({ alg: 'HS256', jwk_local_path: file, cookie_key: 'TOKEN' });
    const t = await sign(keys.HS256, { sub: 'c' });
    assert.equal((await stage(request({ headers: { cookie: `a=b; TOKEN=${t}; c=d` } }))).status, 200);
    assert.equal((await stage(request({ headers: { cookie: 'TOKEN=garbage' } }))).status, 401);
    assert.equal((await stage(request({ headers: { cookie: `OTHER=${t}` } }))).status, 401);
  });

  test('propagate_claims: the docs example, nested, arrays, numbers; missing claims skipped', async () => {
    const file = jwkFile('hs.json', [keys.HS256.publicJwk]);
    const { stage, next } = validator({
      alg: 'HS256',
      jwk_local_path: file,
      propagate_claims: [
        ['sub', 'X-User'],
        ['realm_access.role', 'x-role'],
        ['groups', 'X-Groups'],
        ['exp', 'X-Exp'],
        ['missing', 'X-Missing'],
      ],
    });
    const t = await sign(keys.HS256, {
      sub: 'u-1',
      realm_access: { role: 'admin' },
      groups: ['a', 'b'],
      exp: 1735689600 + 10 ** 9,
    });
    assert.equal((await stage(bearer(t))).status, 200);
    assert.deepEqual(next.seen[0].extraBackendHeaders, {
      'X-User': 'u-1',
      'X-Role': 'admin',
      'X-Groups': 'a,b',
      'X-Exp': '2.7356896e+09',
    });
    assert.equal(next.seen[0].claims.sub, 'u-1');
  });

  test('CEL JWT rejecter from validation/cel → 401', async () => {
    const file = jwkFile('hs.json', [keys.HS256.publicJwk]);
    const cel = [
      {
        check_expr:
          'has(JWT.user_id) && has(JWT.enabled_days) && (timestamp(now).getDayOfWeek() in JWT.enabled_days)',
      },
    ];
    const { stage } = validator({ alg: 'HS256', jwk_local_path: file }, { 'validation/cel': cel });
    assert.equal(
      (await stage(bearer(await sign(keys.HS256, { user_id: 1, enabled_days: [0, 1, 2, 3, 4, 5, 6] }))))
        .status,
      200,
    );
    assert.equal((await stage(bearer(await sign(keys.HS256, { user_id: 1, enabled_days: [] })))).status, 401);
    assert.equal(
      (await stage(bearer(await sign(keys.HS256, { enabled_days: [0, 1, 2, 3, 4, 5, 6] })))).status,
      401,
    );
  });

  test('operation_debug logs the reason, never the token', async () => {
    const file = jwkFile('hs.json', [keys.HS256.publicJwk]);
    const log = captureLogger();
    const { stage } = validator(
      { alg: 'HS256', jwk_local_path: file, operation_debug: true, issuer: 'me' },
      {},
      log.logger,
    );
    const t = await sign(keys.HS256, { iss: 'someone-else' });
    assert.equal((await stage(bearer(t))).status, 401);
    await new Promise((r) => setTimeout(r, 10));
    assert.match(log.text(), /invalid issuer/);
    assert.ok(!log.text().includes(t.split('.')[2]));
    assert.ok(!log.text().includes(keys.HS256.publicJwk.k));
  });
});

describe('auth/validator: jwk_url and caches', () => {
  let server;
  let url;
  let hits = 0;
  let failing = false;
  let served;
  before(async () => {
    served = [keys.RS256.publicJwk];
    server = http.createServer((_req, res) => {
      hits++;
      if (failing) {
        res.writeHead(503);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${server.address().port}/jwks.json`;
  });
  after(() => new Promise((r) => server.close(r)));

  test('validate() refuses http jwk_url without disable_jwk_security', () => {
    const issues = jwtValidatorModule.validate(
      { alg: 'RS256', jwk_url: url },
      '$.endpoints[0].extra_config["auth/validator"]',
      { version: 3 },
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0].path, '$.endpoints[0].extra_config["auth/validator"].jwk_url');
    assert.deepEqual(
      jwtValidatorModule.validate({ alg: 'RS256', jwk_url: url, disable_jwk_security: true }, '$.x', {
        version: 3,
      }),
      [],
    );
  });

  test('with cache: one download serves many requests; unknown kid refresh is rate-limited', async () => {
    hits = 0;
    const { stage } = validator({
      alg: 'RS256',
      jwk_url: url,
      disable_jwk_security: true,
      cache: true,
      cache_duration: 3600,
    });
    const t = await sign(keys.RS256, { sub: 'x' });
    for (let i = 0; i < 20; i++) assert.equal((await stage(bearer(t))).status, 200);
    assert.equal(hits, 1);
    for (let i = 0; i < 20; i++)
      assert.equal(
        (await stage(bearer(await sign(keys.RS256, { sub: 'x' }, { kid: `rand-${i}` })))).status,
        401,
      );
    assert.equal(hits, 2, 'unknown kids trigger at most one refresh per window');
  });

  test('without cache: every request downloads (as KrakenD); concurrent ones share one download', async () => {
    hits = 0;
    const { stage } = validator({ alg: 'RS256', jwk_url: url, disable_jwk_security: true });
    const t = await sign(keys.RS256, { sub: 'x' });
    await new Promise((r) => setTimeout(r, 50));
    hits = 0;
    for (let i = 0; i < 3; i++) assert.equal((await stage(bearer(t))).status, 200);
    assert.equal(hits, 3);
    hits = 0;
    const all = await Promise.all(Array.from({ length: 10 }, () => stage(bearer(t))));
    assert.ok(all.every((r) => r.status === 200));
    assert.ok(hits <= 2, `concurrent lookups share downloads (${hits})`);
  });

  test('fallback: when the JWK URL fails, the last good keys are used', async () => {
    const { stage } = validator({
      alg: 'RS256',
      jwk_url: url,
      disable_jwk_security: true,
      cache: true,
      cache_duration: 1,
    });
    const t = await sign(keys.RS256, { sub: 'x' });
    assert.equal((await stage(bearer(t))).status, 200);
    failing = true;
    await new Promise((r) => setTimeout(r, 1100));
    try {
      assert.equal((await stage(bearer(t))).status, 200);
    } finally {
      failing = false;
    }
  });

  test('key rotation: a new kid is picked up by a refresh', async () => {
    const rotated = await makeKey('RS256', 'kid-rotated');
    const { stage } = validator({
      alg: 'RS256',
      jwk_url: url,
      disable_jwk_security: true,
      cache: true,
      cache_duration: 3600,
    });
    assert.equal((await stage(bearer(await sign(keys.RS256, { sub: 'x' })))).status, 200);
    served = [keys.RS256.publicJwk, rotated.publicJwk];
    assert.equal((await stage(bearer(await sign(rotated, { sub: 'y' })))).status, 200);
  });

  test('shared_cache_duration: endpoints with the same URL share one download', async () => {
    const service = { version: 3, extra_config: { 'auth/validator': { shared_cache_duration: 900 } } };
    const cfg = { alg: 'RS256', jwk_url: url, disable_jwk_security: true, cache: true, cache_duration: 3600 };
    hits = 0;
    const stages = [0, 1, 2].map((i) =>
      jwtValidatorModule.endpoint(
        cfg,
        ctxFor({ service, endpoint: { endpoint: `/p${i}`, extra_config: { 'auth/validator': cfg } } }),
      )(okStage()),
    );
    const t = await sign(keys.RS256, { sub: 'x' });
    for (const s of stages) assert.equal((await s(bearer(t))).status, 200);
    assert.equal(hits, 1);
  });
});

describe('auth/signer', () => {
  test('signs keys_to_sign with sorted JSON; other keys untouched; verifiable with the public key', async () => {
    const file = jwkFile('sign.json', [keys.HS256.publicJwk]);
    const cfg = {
      alg: 'HS256',
      kid: 'kid-HS256',
      keys_to_sign: ['access_token', 'refresh_token', 'absent'],
      jwk_local_path: file,
      disable_jwk_security: true,
    };
    assert.deepEqual(jwtSignerModule.validate(cfg, '$.x', { version: 3 }), []);
    const mw = jwtSignerModule.proxy(cfg, ctxFor({}));
    const backend = {
      access_token: {
        sub: '1234567890qwertyuio',
        aud: 'http://api.example.com',
        roles: ['role_a', 'role_b'],
        exp: 1735689600,
      },
      refresh_token: { sub: '1234567890qwertyuio', jti: 'x<y' },
      exp: 1735689600,
    };
    const stage = mw(async () => ({ data: structuredClone(backend), isComplete: true }));
    const out = await stage(request());
    assert.equal(out.data.exp, 1735689600);
    const { payload, protectedHeader } = await compactVerify(out.data.access_token, keys.HS256.privateKey);
    // krakend-jose jws.go NewSigner adds typ "JWT"
    assert.deepEqual(protectedHeader, { alg: 'HS256', kid: 'kid-HS256', typ: 'JWT' });
    assert.equal(
      Buffer.from(payload).toString(),
      '{"aud":"http://api.example.com","exp":1735689600,"roles":["role_a","role_b"],"sub":"1234567890qwertyuio"}',
    );
    const refresh = await compactVerify(out.data.refresh_token, keys.HS256.privateKey);
    assert.equal(Buffer.from(refresh.payload).toString(), '{"jti":"x\\u003cy","sub":"1234567890qwertyuio"}');
    // Same payload and header as an independent signer → same token (HS256 is deterministic).
    const expected = await new CompactSign(Buffer.from('{"jti":"x\\u003cy","sub":"1234567890qwertyuio"}'))
      .setProtectedHeader({ alg: 'HS256', kid: 'kid-HS256', typ: 'JWT' })
      .sign(keys.HS256.privateKey);
    assert.equal(out.data.refresh_token, expected);
  });

  test('RS256 with a private JWK; full serialization', async () => {
    const file = jwkFile('rsa-private.json', [keys.RS256.privateJwk]);
    const mw = jwtSignerModule.proxy(
      { alg: 'RS256', kid: 'kid-RS256', keys_to_sign: ['t'], jwk_local_path: file, full: true },
      ctxFor({}),
    );
    const out = await mw(async () => ({ data: { t: { a: 1 } }, isComplete: true }))(request());
    const full = JSON.parse(out.data.t);
    assert.deepEqual(Object.keys(full), ['payload', 'protected', 'signature']);
    const compact = `${full.protected}.${full.payload}.${full.signature}`;
    const publicKey = await importJWK(keys.RS256.publicJwk, 'RS256');
    assert.equal(Buffer.from((await compactVerify(compact, publicKey)).payload).toString(), '{"a":1}');
  });

  test('validate(): unknown kid in the file and missing keys_to_sign are reported', () => {
    const file = jwkFile('sign2.json', [keys.HS256.publicJwk]);
    const issues = jwtSignerModule.validate({ alg: 'HS256', kid: 'nope', jwk_local_path: file }, '$.e', {
      version: 3,
    });
    assert.deepEqual(issues.map((i) => i.path).sort(), ['$.e.keys_to_sign', '$.e.kid']);
  });
});
