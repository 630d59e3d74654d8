// auth/api-keys and auth/basic, from the "API Key Authentication" and "Basic Authentication"
// pages: strategies, hashes, roles, propagation, rate; htpasswd + inline users; nothing secret logged.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { apiKeysModule, fnv128Hex, hashApiKey } from '../dist/security/api-keys.js';
import { basicAuthModule } from '../dist/security/basic-auth.js';
import { captureLogger, ctxFor, okStage, request } from './fixtures/security/unit.mjs';

const ACME = '4d2c61e1-34c4-e96c-9456-15bd983c5019';
const ADMIN = '58427514-be32-0b52-b7c6-d01fada30497';
const rootDocs = {
  strategy: 'header',
  identifier: 'Authorization',
  propagate_role: 'X-Krakend-Role',
  keys: [
    { '@description': 'ACME Inc.', key: ACME, roles: ['user', 'whitelabel'] },
    { '@description': 'Administrators Inc.', key: ADMIN, roles: ['admin', 'user'] },
  ],
};

function apiKeys(root, endpointCfg, logger) {
  const service = { version: 3, extra_config: { 'auth/api-keys': root } };
  const next = okStage();
  return { stage: apiKeysModule.endpoint(endpointCfg, ctxFor({ service, logger }))(next), next };
}
const auth = (v, over = {}) => request({ headers: { authorization: v }, ...over });

describe('auth/api-keys', () => {
  test('docs complete example: Bearer, Basic (with and without the newline of `echo | base64`), raw value', async () => {
    const user = apiKeys(rootDocs, { roles: ['user'] });
    assert.equal((await user.stage(auth(`Bearer ${ACME}`))).status, 200);
    assert.equal(user.next.seen[0].extraBackendHeaders['X-Krakend-Role'], 'user');
    assert.equal((await user.stage(auth(`Basic ${Buffer.from(`${ACME}:`).toString('base64')}`))).status, 200);
    assert.equal(
      (await user.stage(auth('Basic NGQyYzYxZTEtMzRjNC1lOTZjLTk0NTYtMTViZDk4M2M1MDE5Ogo='))).status,
      200,
    );
    assert.equal((await user.stage(auth(ACME))).status, 200);
  });

  test('wrong role and invalid key → 401 with an empty body; backend not reached', async () => {
    const admin = apiKeys(rootDocs, { roles: ['admin'] });
    const r = await admin.stage(auth(`Bearer ${ACME}`));
    assert.equal(r.status, 401);
    assert.equal(r.body, null);
    assert.equal((await admin.stage(auth('Bearer INVALID-API-KEY'))).status, 401);
    assert.equal((await admin.stage(request())).status, 401);
    assert.equal((await admin.stage(auth(`Bearer ${ADMIN}`))).status, 200);
    assert.equal(admin.next.seen[0].extraBackendHeaders['X-Krakend-Role'], 'admin');
    assert.equal(admin.next.seen.length, 1);
  });

  test('custom header identifier per endpoint, query_string strategy', async () => {
    const custom = apiKeys(rootDocs, { roles: ['admin'], identifier: 'X-User-Key', strategy: 'header' });
    assert.equal((await custom.stage(request({ headers: { 'x-user-key': `Bearer ${ADMIN}` } }))).status, 200);
    assert.equal((await custom.stage(auth(`Bearer ${ADMIN}`))).status, 401);
    const q = apiKeys({ keys: rootDocs.keys, strategy: 'query_string' }, { roles: ['user'] });
    assert.equal((await q.stage(request({ query: `key=${ACME}` }))).status, 200);
    assert.equal((await q.stage(request({ query: `other=1&key=${ACME}` }))).status, 200);
    assert.equal((await q.stage(request({ query: 'key=' }))).status, 401);
    const named = apiKeys({ ...rootDocs, strategy: 'query_string', identifier: 'mycustomapikey' }, {});
    assert.equal((await named.stage(request({ query: `mycustomapikey=${ACME}` }))).status, 200);
  });

  test('hashed keys: sha256 and fnv128 with salt (the docs values)', async () => {
    assert.equal(
      hashApiKey('sha256', 'mySalt', 'abc'),
      '2ad27678dd4fdf811ffe7f9c77801ab66e2cc62d08abb393451ddda48c1eba3f',
    );
    assert.equal(fnv128Hex(`mySalt${ACME}`), 'e0f7fce642685956791e58b835e26786');
    const sha = apiKeys(
      {
        salt: 'mySalt',
        hash: 'sha256',
        keys: [{ key: '2ad27678dd4fdf811ffe7f9c77801ab66e2cc62d08abb393451ddda48c1eba3f', roles: ['user'] }],
      },
      { roles: ['user'] },
    );
    assert.equal((await sha.stage(auth('Bearer abc'))).status, 200);
    assert.equal(
      (await sha.stage(auth('Bearer 2ad27678dd4fdf811ffe7f9c77801ab66e2cc62d08abb393451ddda48c1eba3f')))
        .status,
      401,
      'the hash itself is not a key',
    );
    const fnv = apiKeys(
      {
        strategy: 'header',
        identifier: 'X-Key',
        hash: 'fnv128',
        salt: 'mySalt',
        keys: [{ key: 'e0f7fce642685956791e58b835e26786', roles: ['admin'] }],
      },
      { roles: ['admin'] },
    );
    assert.equal((await fnv.stage(request({ headers: { 'x-key': ACME } }))).status, 200);
  });

  test('client_max_rate: over the rate → 429, per key', async () => {
    const limited = apiKeys(rootDocs, { roles: ['user'], client_max_rate: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await limited.stage(auth(`Bearer ${ACME}`))).status);
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    assert.equal((await limited.stage(auth(`Bearer ${ADMIN}`))).status, 200);
  });

  test('validate(): root keys and endpoint without root', () => {
    const issues = apiKeysModule.validate(
      { hash: 'md5', keys: [{ roles: [] }] },
      '$.extra_config["auth/api-keys"]',
      { version: 3 },
    );
    assert.deepEqual(
      issues.map((i) => i.path),
      ['$.extra_config["auth/api-keys"].hash', '$.extra_config["auth/api-keys"].keys[0].key'],
    );
    assert.equal(
      apiKeysModule.validate({ roles: ['a'] }, '$.endpoints[0].extra_config["auth/api-keys"]', { version: 3 })
        .length,
      1,
    );
  });
});

describe('auth/basic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-basic-'));
  const aliceHash = bcrypt.hashSync('wonderland', 5).replace(/^\$2b\$/, '$2y$');
  const bobHash = bcrypt.hashSync('builder', 5);
  const htpasswd = join(dir, '.htpasswd');
  writeFileSync(htpasswd, `# users\nalice:${aliceHash}\n`);
  const basic = (u, p) =>
    request({ headers: { authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` } });

  function endpoint(endpointCfg, root, logger) {
    const service = { version: 3, extra_config: root ? { 'auth/basic': root } : {} };
    const next = okStage();
    return { stage: basicAuthModule.endpoint(endpointCfg, ctxFor({ service, logger }))(next), next };
  }

  test('root config inherited with {}: htpasswd ($2y$) and inline users', async () => {
    const log = captureLogger();
    const { stage, next } = endpoint({}, { htpasswd_path: htpasswd, users: { bob: bobHash } }, log.logger);
    assert.equal((await stage(basic('alice', 'wonderland'))).status, 200);
    assert.equal((await stage(basic('alice', 'wonderland'))).status, 200, 'remembered');
    assert.equal((await stage(basic('bob', 'builder'))).status, 200);
    const bad = await stage(basic('alice', 'nope'));
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['www-authenticate'], 'Basic realm="Restricted"');
    assert.equal((await stage(basic('carol', 'x'))).status, 401);
    assert.equal((await stage(request({ headers: { authorization: 'Basic !!!' } }))).status, 401);
    assert.equal((await stage(request())).status, 401);
    assert.equal(next.seen.length, 3);
    assert.ok(!log.text().includes('wonderland') && !log.text().includes(aliceHash));
  });

  test('a non-empty endpoint object overrides the root', async () => {
    const { stage } = endpoint({ users: { bob: bobHash } }, { htpasswd_path: htpasswd });
    assert.equal((await stage(basic('alice', 'wonderland'))).status, 401);
    assert.equal((await stage(basic('bob', 'builder'))).status, 200);
  });

  test('validate(): non-bcrypt hashes and missing files', () => {
    const issues = basicAuthModule.validate(
      { htpasswd_path: join(dir, 'missing'), users: { x: 'plain' } },
      '$.endpoints[0].extra_config["auth/basic"]',
      { version: 3 },
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      '$.endpoints[0].extra_config["auth/basic"].htpasswd_path',
      '$.endpoints[0].extra_config["auth/basic"].users["x"]',
    ]);
    assert.equal(
      basicAuthModule.validate({}, '$.endpoints[0].extra_config["auth/basic"]', { version: 3 }).length,
      1,
    );
    assert.deepEqual(
      basicAuthModule.validate({}, '$.endpoints[0].extra_config["auth/basic"]', {
        version: 3,
        extra_config: { 'auth/basic': { users: { bob: bobHash } } },
      }),
      [],
    );
  });
});
