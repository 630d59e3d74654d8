// Middlewares run in KrakenD's order whatever the config's key order: a request without a valid
// token is refused by auth/validator (401) before the rate limit counts it.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

test('rate limit listed before auth/validator: unauthenticated requests get 401, not 503', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-order-'));
  const jwk = join(dir, 'keys.json');
  writeFileSync(
    jwk,
    JSON.stringify({
      keys: [{ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ1Njc4', kid: 'k1', alg: 'HS256' }],
    }),
  );
  const backend = await jsonBackend({ '/ok': { ok: true } });
  const gw = await startGateway({
    version: 3,
    endpoints: [
      {
        endpoint: '/limited',
        extra_config: {
          'qos/ratelimit/router': { max_rate: 1, every: '1m' },
          'auth/validator': { alg: 'HS256', jwk_local_path: jwk, disable_jwk_security: true },
        },
        backend: [{ host: [backend.url], url_pattern: '/ok' }],
      },
    ],
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(`${gw.url}/limited`)).status, 401);
    assert.equal(backend.requests.length, 0);
  } finally {
    await gw.stop();
    await backend.close();
  }
});
