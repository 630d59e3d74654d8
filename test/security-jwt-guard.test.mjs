// auth/validator in front of no-op endpoints, end to end: good, expired, wrong-role, forged and
// malformed tokens and none; a rate limit behind the validator; a rate limit keyed by a claim;
// propagate_claims. The validator is a guard for a token it verified recently (checked in the
// request's turn) and a promise middleware for a token it has not seen (its signature verified,
// then remembered). Either way each request is admitted or refused once, and refused requests
// never reach the backend.
//
// How the answer is written shows which form served: a no-op answer's header lines go to the
// client as bytes (the backend's names keep their case: `X-Backend: yes`), but the promise
// middleware reads the answer back into a header map (names lower-cased: `x-backend: yes`).
//
// GW_FRONT=uws|node|auto runs this file with `--front GW_FRONT` (gw's default otherwise).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startBackend, startGateway } from './helpers/gateway.mjs';
import { rawGet } from './helpers/raw-http.mjs';

const ARGS = ['--workers', '1', ...(process.env.GW_FRONT ? ['--front', process.env.GW_FRONT] : [])];
const VERSION = 'KrakenD Version 0.1.0';
const SECRET = 'gw-jwt-guard-test-secret-0123456789abcdef0123456789';
const b64url = (s) => Buffer.from(s).toString('base64url');

let api;
let apiHost;
let gw;
let jti = 0;

/** An HS256 token of `claims` (issuer gw-test, an hour to live, a fresh jti: never seen before). */
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

function config(jwkPath) {
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
    extra_config: { router: { disable_access_log: true } },
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

function getWithToken(path, bearer) {
  return rawGet(gw.port, path, bearer === undefined ? '' : `Authorization: Bearer ${bearer}\r\n`);
}

/** The answer's header lines but those the front writes itself: framing and uWS's own line. */
function own(answer) {
  return answer.headers.filter((l) => !/^(content-length|connection|uwebsockets):/i.test(l));
}

/** An admitted answer's header lines, passed as bytes: the backend's case. */
const PASSED = [
  'Content-Type: application/json',
  'X-Backend: yes',
  'X-Krakend: Version 0.1.0',
  'X-Krakend-Completed: false',
];
/** The same answer read into a header map by the validator's promise middleware. */
const MAPPED = [
  'content-type: application/json',
  'x-backend: yes',
  'x-krakend: Version 0.1.0',
  'x-krakend-completed: false',
];

/** Sends each [path, token] in turn: the answers, and the urls the backend received meanwhile. */
async function run(sequence) {
  const from = api.requests.length;
  const answers = [];
  for (const [path, bearer] of sequence) answers.push(await getWithToken(path, bearer));
  return { answers, calls: api.requests.slice(from).map((r) => r.url) };
}

before(async () => {
  api = await startBackend((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('X-Backend', 'yes');
    res.end(JSON.stringify({ url: req.url, user: req.headers['x-user'] ?? null, raw: req.rawHeaders }));
  });
  apiHost = api.url.slice('http://'.length);
  const dir = mkdtempSync(join(tmpdir(), 'gw-jwt-guard-'));
  const jwk = join(dir, 'jwk.json');
  writeFileSync(jwk, JSON.stringify({ keys: [{ kty: 'oct', kid: 'k1', alg: 'HS256', k: b64url(SECRET) }] }));
  gw = await startGateway(config(jwk), { args: [...ARGS, '--log-level', 'DEBUG'] });
});

after(async () => {
  await gw?.stop();
  await api?.close();
});

test('tokens: none, good (twice), expired, wrong role, forged, malformed: statuses, and only the good reach the backend', async () => {
  const good = token({ sub: 'ann', roles: ['user'] });
  const expired = token({ sub: 'bob', roles: ['user'], exp: Math.floor(Date.now() / 1000) - 3600 });
  const guest = token({ sub: 'cid', roles: ['guest'] });
  const forged = token({ sub: 'eve', roles: ['user'] }, 'not-the-secret-0123456789abcdef0123456789');
  const { answers, calls } = await run([
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
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [401, 200, 200, 401, 401, 403, 403, 401, 401, 401],
  );
  for (const refused of answers.filter((a) => a.status !== 200)) {
    assert.deepEqual(own(refused), []);
    assert.equal(refused.body, '');
  }
  // The first time: verified by the promise middleware, which reads the answer into a header
  // map. Remembered: the guard admits it and the answer passes as bytes.
  assert.deepEqual(own(answers[1]), MAPPED);
  assert.deepEqual(own(answers[2]), PASSED);
  for (const a of [answers[1], answers[2]]) {
    assert.deepEqual(JSON.parse(a.body), {
      url: '/store/private',
      user: null,
      raw: [
        'User-Agent',
        VERSION,
        'Accept-Encoding',
        'gzip',
        'X-Forwarded-For',
        '127.0.0.1',
        'X-Forwarded-Host',
        'gw.test',
        'host',
        apiHost,
      ],
    });
  }
  assert.deepEqual(calls, ['/store/private', '/store/private']);
});

test('a rate limit behind the validator: a token verified the first time is counted once', async () => {
  const limitedToken = token({ sub: 'dan', roles: ['user'] });
  const { answers, calls } = await run([
    ['/limited', limitedToken],
    ['/limited', limitedToken],
    ['/limited', limitedToken],
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 503],
  );
  assert.deepEqual(own(answers[0]), MAPPED);
  assert.deepEqual(own(answers[1]), PASSED);
  assert.deepEqual(own(answers[2]), ['content-type: text/plain; charset=utf-8']);
  assert.equal(answers[2].body, '');
  assert.deepEqual(calls, ['/store/limited', '/store/limited']);
});

test('a rate limit keyed by a claim: remembered tokens keep their claims, one bucket per sub', async () => {
  const [subA, subA2, subB] = [
    token({ sub: 'a', roles: ['user'] }),
    token({ sub: 'a', roles: ['user'] }),
    token({ sub: 'b', roles: ['user'] }),
  ];
  const { answers, calls } = await run([
    ['/per-sub', subA],
    ['/per-sub', subA],
    ['/per-sub', subA],
    // another token of the same sub: the same bucket
    ['/per-sub', subA2],
    ['/per-sub', subB],
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 429, 429, 200],
  );
  // Without the claims of the remembered token the key would be missing: the second request of
  // sub "a" would be refused.
  assert.deepEqual(own(answers[0]), MAPPED);
  assert.deepEqual(own(answers[1]), PASSED);
  for (const refused of [answers[2], answers[3]]) {
    assert.deepEqual(own(refused), ['content-type: text/plain; charset=utf-8']);
    assert.equal(refused.body, '');
  }
  assert.deepEqual(calls, ['/store/per-sub', '/store/per-sub', '/store/per-sub']);
});

test('propagate_claims: the claim reaches the backend as a header, for a new and a remembered token', async () => {
  const good = token({ sub: 'ann', roles: ['user'] });
  const { answers } = await run([
    ['/propagating', good],
    ['/propagating', good],
  ]);
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200],
  );
  assert.deepEqual(own(answers[0]), MAPPED);
  assert.deepEqual(own(answers[1]), PASSED);
  for (const a of answers)
    assert.deepEqual(JSON.parse(a.body), {
      url: '/store/propagating',
      user: 'ann',
      raw: [
        'User-Agent',
        VERSION,
        'Accept-Encoding',
        'gzip',
        'X-Forwarded-For',
        '127.0.0.1',
        'X-Forwarded-Host',
        'gw.test',
        'X-User',
        'ann',
        'host',
        apiHost,
      ],
    });
});

test('the -d log names the validator a guard or promise middleware, the answer passed as bytes', async () => {
  const logs = await gw.waitForLog(/\[ENDPOINT: GET \/propagating\] pipeline: /);
  const pipeline = (endpoint) => {
    const at = logs.indexOf(`[ENDPOINT: GET ${endpoint}] pipeline: `);
    assert.ok(at >= 0, `no pipeline line for ${endpoint}:\n${logs}`);
    return logs.slice(at, logs.indexOf('"', at));
  };
  const passed =
    /; proxy: -; core: no-op: the backend answer passed on; backend\[0\]: GET \/store\/[\w-]+, the call, head from a template, answer head passed as bytes; render: the backend's header lines as bytes$/;
  assert.match(pipeline('/private'), /pipeline: endpoint: 1 guard or promise middleware; /);
  assert.match(pipeline('/propagating'), /pipeline: endpoint: 1 guard or promise middleware; /);
  assert.match(pipeline('/limited'), /pipeline: endpoint: 1 guard, 1 guard or promise middleware; /);
  assert.match(pipeline('/per-sub'), /pipeline: endpoint: 1 guard, 1 guard or promise middleware; /);
  for (const endpoint of ['/private', '/limited', '/per-sub', '/propagating'])
    assert.match(pipeline(endpoint), passed);
  // What serves: a remembered token's answer passes as bytes, with the backend's case.
  const good = token({ sub: 'fay', roles: ['user'] });
  assert.deepEqual(own(await getWithToken('/private', good)), MAPPED);
  assert.deepEqual(own(await getWithToken('/private', good)), PASSED);
});
