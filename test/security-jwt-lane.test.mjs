// auth/validator on the pass-through lane: a no-op endpoint behind JWT validation keeps the lane
// for tokens verified recently and for requests without a token; a token not seen before takes
// the header-map path, where its signature is verified (and remembered). The same config is
// served twice: as is (lane) and with router.forwarded_by_client_ip (no lane), and the same
// requests get the same answers: good, expired, wrong-role and forged tokens, a rate limit behind
// the validator (a request handed back to the header-map path is counted once), a rate limit keyed
// by a claim, and propagate_claims (which keeps the lane off). The lane writes the backend's header
// names in the backend's case, where the header-map path writes them lower-case: that is how the
// test sees which path answered.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBackend, startGateway } from './helpers/gateway.mjs';
import { rawGet } from './helpers/raw-http.mjs';

// The lanes exist on the uWS front only.
const UWS = ['--workers', '1', '--front', 'uws'];
const UWS_DEBUG = [...UWS, '--log-level', 'DEBUG'];

const SECRET = 'gw-lane-test-secret-0123456789abcdef0123456789';
const b64url = (s) => Buffer.from(s).toString('base64url');

let api;
let lane;
let layered;
let jti = 0;

function token(claims, secret = SECRET) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k1' }));
  const payload = b64url(
    JSON.stringify({
      iss: 'gw-test',
      exp: Math.floor(Date.now() / 1000) + 3600,
      jti: String(++jti),
      ...claims,
    }),
  );
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

function config(jwkPath, extraRouter) {
  const validator = {
    alg: 'HS256',
    jwk_local_path: jwkPath,
    disable_jwk_security: true,
    issuer: 'gw-test',
    roles_key: 'roles',
    roles: ['user'],
  };
  const noop = (endpoint, extra) => ({
    endpoint,
    output_encoding: 'no-op',
    extra_config: { 'auth/validator': validator, ...extra },
    backend: [{ host: [api.url], url_pattern: `/store${endpoint}`, encoding: 'no-op' }],
  });
  const propagating = noop('/propagating');
  propagating.extra_config['auth/validator'] = { ...validator, propagate_claims: [['sub', 'X-User']] };
  return {
    version: 3,
    extra_config: { router: { disable_access_log: true, ...extraRouter } },
    endpoints: [
      noop('/private'),
      noop('/limited', { 'qos/ratelimit/router': { max_rate: 2, capacity: 2, every: '1m' } }),
      noop('/per-sub', {
        'qos/ratelimit/router': {
          client_max_rate: 2,
          client_capacity: 2,
          every: '1m',
          strategy: 'jwt',
          key: 'sub',
        },
      }),
      propagating,
    ],
  };
}

function getWithToken(port, path, bearer) {
  return rawGet(port, path, bearer === undefined ? '' : `Authorization: Bearer ${bearer}\r\n`);
}

const normalized = (a) => ({
  status: a.status,
  headers: a.headers.map((l) => l.toLowerCase()),
  body: a.body,
});

/** Which path answered a 200: the lane keeps the backend's case. */
const viaLane = (a) => a.headers.includes('X-Backend: yes');
const viaMaps = (a) => a.headers.includes('x-backend: yes');

before(async () => {
  api = await startBackend((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('X-Backend', 'yes');
    res.end(JSON.stringify({ url: req.url, user: req.headers['x-user'] ?? null }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'gw-jwt-lane-'));
  const jwk = join(dir, 'jwk.json');
  writeFileSync(jwk, JSON.stringify({ keys: [{ kty: 'oct', kid: 'k1', alg: 'HS256', k: b64url(SECRET) }] }));
  lane = await startGateway(config(jwk, {}), { args: UWS_DEBUG });
  layered = await startGateway(config(jwk, { forwarded_by_client_ip: true }), { args: UWS });
});

after(async () => {
  await lane?.stop();
  await layered?.stop();
  await api?.close();
});

test('auth/validator keeps the lane for remembered tokens, with the answers of the header-map path', async () => {
  for (const path of ['/private', '/limited', '/per-sub'])
    assert.match(
      lane.logs(),
      new RegExp(`\\[ENDPOINT: GET ${path}\\] response path: no-op pass-through lane`),
    );
  assert.match(lane.logs(), /\[ENDPOINT: GET \/propagating\] response path: no-op"/);

  const good = token({ sub: 'ann', roles: ['user'] });
  const expired = token({ sub: 'bob', roles: ['user'], exp: Math.floor(Date.now() / 1000) - 3600 });
  const guest = token({ sub: 'cid', roles: ['guest'] });
  const forged = token({ sub: 'eve', roles: ['user'] }, 'not-the-secret-0123456789abcdef0123456789');
  const limitedToken = token({ sub: 'dan', roles: ['user'] });
  const [subA, subA2, subB] = [
    token({ sub: 'a', roles: ['user'] }),
    token({ sub: 'a', roles: ['user'] }),
    token({ sub: 'b', roles: ['user'] }),
  ];
  const sequence = [
    ['/private', undefined],
    ['/private', good],
    ['/private', good],
    ['/private', expired],
    ['/private', expired],
    ['/private', guest],
    ['/private', guest],
    ['/private', forged],
    ['/private', forged],
    ['/private', 'not.a.token'],
    ['/limited', limitedToken],
    ['/limited', limitedToken],
    ['/limited', limitedToken],
    ['/per-sub', subA],
    ['/per-sub', subA],
    ['/per-sub', subA],
    ['/per-sub', subA2],
    ['/per-sub', subB],
    ['/propagating', good],
  ];
  const answers = [];
  for (const gw of [lane, layered]) {
    const seen = [];
    for (const [path, bearer] of sequence) seen.push(await getWithToken(gw.port, path, bearer));
    answers.push(seen);
  }
  const [a, b] = answers;
  assert.deepEqual(
    a.map((x) => x.status),
    [401, 200, 200, 401, 401, 403, 403, 401, 401, 401, 200, 200, 503, 200, 200, 429, 429, 200, 200],
  );
  assert.deepEqual(a.map(normalized), b.map(normalized));

  // a token seen for the first time: verified on the header-map path; then the lane serves it
  assert.ok(viaMaps(a[1]), a[1].headers.join('|'));
  assert.ok(viaLane(a[2]), a[2].headers.join('|'));
  // the rate limit counted the handed-back request once: 200 (header-map path), 200 (lane), 503
  assert.ok(viaMaps(a[10]) && viaLane(a[11]));
  // the claim-keyed limit reads the claims the lane's validator found: without them the key
  // would be missing, and the second request of sub "a" refused
  assert.ok(viaMaps(a[13]) && viaLane(a[14]), a[14].headers.join('|'));
  assert.ok(viaMaps(a[18]), 'propagate_claims keeps the header-map path');
  assert.equal(JSON.parse(a[18].body).user, 'ann');
});
