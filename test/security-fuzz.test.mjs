// Bad input against the security and validation features: thousands of seeded malformed tokens,
// Authorization headers, origins, user agents, bodies and parameters. Every answer must be the
// documented one (401/403/400/204…), never a 5xx or a crash, and nothing refused may reach the
// next stage (a counting backend stands there). Part 1 runs the modules in-process (fast, many
// cases); part 2 sends the same kinds of requests through the real gateway (`gw run`).
// Seed: GW_FUZZ_SEED (default fixed), so a failure can be replayed.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { apiKeysModule } from '../dist/security/api-keys.js';
import { basicAuthModule } from '../dist/security/basic-auth.js';
import { botDetectorModule } from '../dist/security/bot-detector.js';
import { corsModule } from '../dist/security/cors.js';
import { jwtValidatorModule } from '../dist/security/jwt-validator.js';
import { celModule } from '../dist/validation/cel.js';
import { jsonSchemaModule } from '../dist/validation/json-schema.js';
import {
  anyText,
  authorization,
  badToken,
  body,
  headerText,
  origin,
  rng,
} from './fixtures/security/fuzz.mjs';
import { ctxFor, okStage, request } from './fixtures/security/unit.mjs';
import { jsonBackend, startGateway } from './helpers/gateway.mjs';

const SEED = Number(process.env.GW_FUZZ_SEED ?? 20240501);
const dir = mkdtempSync(join(tmpdir(), 'gw-fuzz-'));
let rsa;
let validToken;
let jwksFile;

before(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  rsa = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' } };
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [rsa.publicJwk] }));
  validToken = await signToken({ sub: 'u1', roles: ['user'], exp: Math.floor(Date.now() / 1000) + 3600 });
});

function signToken(claims) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(rsa.privateKey);
}

const ADDRESS = {
  type: 'object',
  required: ['number', 'street_name', 'street_type'],
  properties: {
    number: { type: 'number' },
    street_name: { type: 'string' },
    street_type: { type: 'string', enum: ['Street', 'Avenue', 'Boulevard'] },
  },
};
const STREET_TYPES = new Set(['Street', 'Avenue', 'Boulevard']);
/** Independent oracle for ADDRESS. */
function addressValid(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    typeof v.number === 'number' &&
    typeof v.street_name === 'string' &&
    STREET_TYPES.has(v.street_type)
  );
}

describe('fuzz, in-process', () => {
  test('auth/validator: 3000 malformed or forged tokens → 401, never next', async () => {
    const r = rng(SEED);
    const next = okStage();
    const cfg = {
      alg: 'RS256',
      jwk_local_path: jwksFile,
      roles_key: 'roles',
      roles: ['user'],
      cookie_key: 'TOKEN',
    };
    const stage = jwtValidatorModule.endpoint(
      cfg,
      ctxFor({ endpoint: { endpoint: '/p', extra_config: { 'auth/validator': cfg } } }),
    )(next);
    let controls = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 100 === 0) {
        assert.equal(
          (await stage(request({ headers: { authorization: `Bearer ${validToken}` } }))).status,
          200,
        );
        controls++;
        continue;
      }
      const token = badToken(r, validToken);
      const headers =
        r.next() < 0.8 ? { authorization: authorization(r, token) } : { cookie: `TOKEN=${token}` };
      const res = await stage(request({ headers }));
      assert.equal(res.status, 401, `case ${i}: ${JSON.stringify(headers)}`);
    }
    assert.equal(next.seen.length, controls);
    const noRole = await signToken({ sub: 'u2', roles: ['guest'] });
    assert.equal((await stage(request({ headers: { authorization: `Bearer ${noRole}` } }))).status, 403);
    assert.equal(next.seen.length, controls);
  });

  test('auth/api-keys: 3000 random keys and headers → 401, never next', async () => {
    const r = rng(SEED + 1);
    const key = '4d2c61e1-34c4-e96c-9456-15bd983c5019';
    const service = {
      version: 3,
      extra_config: {
        'auth/api-keys': {
          hash: 'sha256',
          salt: 's',
          keys: [
            { key: 'ab'.repeat(32), roles: ['user'] },
            {
              key: (await import('node:crypto')).createHash('sha256').update(`s${key}`).digest('hex'),
              roles: ['user'],
            },
          ],
        },
      },
    };
    const next = okStage();
    const stage = apiKeysModule.endpoint({ roles: ['user'] }, ctxFor({ service }))(next);
    let controls = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 100 === 0) {
        assert.equal((await stage(request({ headers: { authorization: `Bearer ${key}` } }))).status, 200);
        controls++;
        continue;
      }
      let presented =
        r.next() < 0.5 ? anyText(r, 60) : `${key.slice(0, r.int(key.length))}${headerText(r, 0, 3)}`;
      if (presented.trim() === key) presented += 'x';
      const res = await stage(request({ headers: { authorization: authorization(r, presented) } }));
      assert.equal(res.status, 401, `case ${i}`);
    }
    assert.equal(next.seen.length, controls);
  });

  test('auth/basic: 400 random credentials → 401, never next', async () => {
    const r = rng(SEED + 2);
    const service = {
      version: 3,
      extra_config: { 'auth/basic': { users: { admin: bcrypt.hashSync('s3cret', 4) } } },
    };
    const next = okStage();
    const stage = basicAuthModule.endpoint({}, ctxFor({ service }))(next);
    for (let i = 0; i < 400; i++) {
      const user = r.next() < 0.5 ? 'admin' : anyText(r, 10);
      const pass = r.next() < 0.1 ? 's3cret ' : anyText(r, 12);
      const value =
        r.next() < 0.8
          ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
          : authorization(r, anyText(r, 20));
      assert.equal((await stage(request({ headers: { authorization: value } }))).status, 401, `case ${i}`);
    }
    assert.equal(next.seen.length, 0);
    const ok = await stage(
      request({ headers: { authorization: `Basic ${Buffer.from('admin:s3cret').toString('base64')}` } }),
    );
    assert.equal(ok.status, 200);
  });

  test('security/cors: 3000 random preflights and requests → 204 or passthrough, allow-origin only when allowed', async () => {
    const r = rng(SEED + 3);
    const allowed = ['https://app.example.com', 'https://admin.example.com'];
    const next = okStage();
    const stage = corsModule.service(
      {
        allow_origins: allowed,
        allow_methods: ['GET', 'POST'],
        allow_headers: ['Authorization'],
        allow_credentials: true,
      },
      ctxFor({}),
    )(next);
    let passed = 0;
    for (let i = 0; i < 3000; i++) {
      const o = origin(r, allowed);
      const isPreflight = r.next() < 0.6;
      const method = r.pick(['GET', 'POST', 'PUT', 'DELETE', 'get', anyText(r, 6)]);
      const reqHeaders = r.pick(['', 'authorization', 'Authorization, X-Evil', anyText(r, 20)]);
      const headers = { origin: o };
      if (isPreflight) {
        headers['access-control-request-method'] = method || 'GET';
        if (reqHeaders) headers['access-control-request-headers'] = reqHeaders;
      }
      const res = await stage(request({ method: isPreflight ? 'OPTIONS' : 'GET', headers }));
      const originOk = allowed.includes(o.toLowerCase());
      if (isPreflight) {
        assert.equal(res.status, 204);
        // rs/cors: methods compare as written; the requested names must be lower-case, sorted,
        // without repeats (SortedSet.Accepts), one OWS byte around each
        const m = headers['access-control-request-method'];
        const elements = reqHeaders
          ? reqHeaders.split(',').map((h) => h.replace(/^[ \t]/, '').replace(/[ \t]$/, ''))
          : [];
        const names = elements.filter(Boolean);
        const expectAllow =
          originOk &&
          ['GET', 'POST', 'OPTIONS'].includes(m) &&
          elements.length - names.length <= 16 &&
          names.length <= 1 &&
          names.every((h) => h === 'authorization');
        assert.equal(
          res.headers['access-control-allow-origin'],
          expectAllow ? o : undefined,
          `case ${i}: ${JSON.stringify(headers)}`,
        );
      } else {
        passed++;
        assert.equal(res.status, 200);
        assert.equal(res.headers['access-control-allow-origin'], originOk ? o : undefined, `case ${i}`);
        assert.match(res.headers.vary, /Origin/);
      }
    }
    assert.equal(next.seen.length, passed, 'preflights never reach the endpoint');
  });

  test('security/bot-detector: 3000 user agents → 403 exactly for bots', async () => {
    const r = rng(SEED + 4);
    const cfg = {
      allow: ['MyAndroidClient/1.0'],
      deny: ['BadBot/1.0'],
      patterns: ['(facebookexternalhit)/.*', '(?i)^curl/'],
      cache_size: 64,
    };
    const next = okStage();
    const stage = botDetectorModule.service(cfg, ctxFor({}))(next);
    let expectedPass = 0;
    for (let i = 0; i < 3000; i++) {
      const ua = r.pick([
        'MyAndroidClient/1.0',
        'BadBot/1.0',
        `facebookexternalhit/${r.int(3)}`,
        `CURL/${r.int(9)}`,
        'Mozilla/5.0',
        headerText(r, 0, 30),
        `x curl/1`,
      ]);
      const bot =
        ua !== 'MyAndroidClient/1.0' &&
        (ua === 'BadBot/1.0' || /(facebookexternalhit)\/.*/.test(ua) || /^curl\//i.test(ua));
      const res = await stage(request({ headers: ua === '' ? {} : { 'user-agent': ua } }));
      assert.equal(res.status, bot ? 403 : 200, `case ${i}: ${ua}`);
      if (!bot) expectedPass++;
    }
    assert.equal(next.seen.length, expectedPass);
  });

  test('validation/json-schema: 3000 bodies → 400 unless valid, never next when invalid', async () => {
    const r = rng(SEED + 5);
    let calls = 0;
    const stage = jsonSchemaModule.proxy(
      ADDRESS,
      ctxFor({}),
    )(async () => {
      calls++;
      return { data: {}, isComplete: true };
    });
    let valid = 0;
    for (let i = 0; i < 3000; i++) {
      const text = i % 50 === 0 ? '{"number":1,"street_name":"a","street_type":"Avenue"}' : body(r);
      const ok = addressValid(text);
      try {
        await stage(request({ method: 'POST', body: text === '' ? null : Buffer.from(text) }));
        assert.ok(ok, `case ${i} passed but is invalid: ${text}`);
        valid++;
      } catch (err) {
        assert.ok(!ok, `case ${i} refused but valid: ${text}`);
        assert.equal(err.status, 400);
      }
    }
    assert.equal(calls, valid);
  });

  test('validation/cel: 3000 random params and headers; refused requests never call next', async () => {
    const r = rng(SEED + 6);
    const cel = [
      { check_expr: "req_params.Nick.matches('^k[a-z]*$') && req_headers['X-Tenant'][0] == 'acme'" },
    ];
    let calls = 0;
    const stage = celModule.proxy(
      cel,
      ctxFor({
        endpoint: {
          endpoint: '/nick/{nick}',
          input_headers: ['X-Tenant'],
          extra_config: { 'validation/cel': cel },
        },
      }),
    )(async () => {
      calls++;
      return { data: {}, isComplete: true };
    });
    let expected = 0;
    for (let i = 0; i < 3000; i++) {
      const nick = r.pick(['kate', 'kevin', 'ray', `k${anyText(r, 5)}`, anyText(r, 8)]);
      const tenant = r.pick(['acme', 'ACME', anyText(r, 6), undefined]);
      const headers = tenant === undefined ? {} : { 'x-tenant': tenant };
      const ok = /^k[a-z]*$/.test(nick) && tenant === 'acme';
      try {
        await stage(request({ params: { nick }, headers }));
        assert.ok(ok, `case ${i}`);
        expected++;
      } catch (err) {
        assert.ok(!ok, `case ${i}`);
        assert.match(err.message, /request aborted by evaluator #0/);
      }
    }
    assert.equal(calls, expected);
  });
});

describe('fuzz, through the gateway', () => {
  let backend;
  let gw;
  before(async () => {
    backend = await jsonBackend({ '/ok': { ok: true } });
    const host = [backend.url];
    const ep = (endpoint, extra, more = {}) => ({
      endpoint,
      method: more.method ?? 'GET',
      ...more,
      backend: [{ host, url_pattern: '/ok' }],
      extra_config: extra,
    });
    gw = await startGateway({
      version: 3,
      extra_config: {
        'security/cors': { allow_origins: ['https://app.example.com'], allow_methods: ['GET', 'POST'] },
        'security/bot-detector': {
          deny: ['BadBot/1.0'],
          patterns: ['(facebookexternalhit)/.*'],
          cache_size: 100,
        },
        'auth/api-keys': { keys: [{ key: 'good-key', roles: ['user'] }] },
      },
      endpoints: [
        ep('/jwt', {
          'auth/validator': { alg: 'RS256', jwk_local_path: jwksFile, roles_key: 'roles', roles: ['user'] },
        }),
        ep('/key', { 'auth/api-keys': { roles: ['user'] } }),
        ep('/schema', { 'validation/json-schema': ADDRESS }, { method: 'POST' }),
        ep('/cel/{nick}', { 'validation/cel': [{ check_expr: "req_params.Nick.matches('^k[a-z]*$')" }] }),
        ep('/open', {}),
      ],
    });
  });
  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  test('2000 bad requests over HTTP: documented 4xx only, backend hit only by accepted ones', async () => {
    const r = rng(SEED + 7);
    const cases = [];
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      switch (i % 6) {
        case 0: {
          const good = i % 120 === 0;
          cases.push({
            path: '/jwt',
            headers: {
              authorization: good ? `Bearer ${validToken}` : authorization(r, badToken(r, validToken)),
            },
            expect: good ? 200 : 401,
          });
          if (good) accepted++;
          break;
        }
        case 1: {
          const good = i % 121 === 1;
          cases.push({
            path: '/key',
            headers: { authorization: good ? 'Bearer good-key' : authorization(r, headerText(r, 0, 40)) },
            expect: good ? 200 : 401,
          });
          if (good) accepted++;
          break;
        }
        case 2: {
          const text = body(r);
          const ok = addressValid(text);
          cases.push({ path: '/schema', method: 'POST', body: text, expect: ok ? 200 : 400 });
          if (ok) accepted++;
          break;
        }
        case 3: {
          const nick = r.pick(['kate', 'ray', encodeURIComponent(anyText(r, 8)) || 'x', 'k%20x']);
          const decoded = decodeURIComponent(nick);
          const ok = /^k[a-z]*$/.test(decoded);
          // A param that holds an escape, `?`, `#` or `/` once decoded never reaches the endpoint
          // (lura router/gin/engine.go paramChecker; gw adds `/`).
          const refused = /[%?#/]/.test(decoded);
          cases.push({ path: `/cel/${nick}`, expect: refused ? 400 : ok ? 200 : 500 });
          if (ok) accepted++;
          break;
        }
        case 4: {
          const o = origin(r, ['https://app.example.com']).replace(/[^\x20-\x7e]/g, '');
          cases.push({
            path: r.pick(['/open', '/jwt', '/nowhere']),
            method: 'OPTIONS',
            headers: { origin: o || 'null', 'access-control-request-method': r.pick(['GET', 'PUT', 'X']) },
            expect: 204,
          });
          break;
        }
        default: {
          const ua = r.pick(['BadBot/1.0', `facebookexternalhit/${r.int(3)}`]);
          cases.push({ path: '/open', headers: { 'user-agent': ua }, expect: 403 });
        }
      }
    }
    let i = 0;
    const worker = async () => {
      while (i < cases.length) {
        const c = cases[i++];
        const res = await fetch(`${gw.url}${c.path}`, {
          method: c.method ?? 'GET',
          headers: c.headers,
          body: c.body || undefined,
        });
        await res.arrayBuffer();
        assert.equal(
          res.status,
          c.expect,
          `${c.method ?? 'GET'} ${c.path} ${JSON.stringify(c.headers ?? {})} ${c.body ?? ''}`,
        );
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.equal(backend.requests.length, accepted, 'only accepted requests reach the backend');
    const alive = await fetch(`${gw.url}/open`);
    assert.equal(alive.status, 200);
  });
});
