// auth/signer as KrakenD CE answers it, through the real `gw run` and a real backend.
// Sources: krakend-jose v2.12 jws.go (NewSigner: ExtraHeaders kid and typ "JWT" unless `typ`;
// signer.sign marshals the payload with encoding/json), jose.go (SignFields), gin/jose.go
// (TokenSigner: its handler replaces lura's, 400 on any proxy or signing error, c.JSON of the
// data), go-jose (the protected header is a JSON map: keys sorted; FullSerialize's field order).
// RS256 (PKCS #1 v1.5) and HS256 are deterministic, so tokens are checked byte for byte against
// signatures computed here with node:crypto, as jws_test.go Test_newSigner checks a fixed token.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, jsonBackend, startGateway } from './helpers/gateway.mjs';

const b64 = (s) => Buffer.from(s).toString('base64url');

const CLAIMS = {
  sub: '1234567890qwertyuio',
  iss: 'http://example.com',
  aud: 'http://api.example.com',
  jti: 'mnb23vcsrt756yuiomnbvcx98ertyuiop',
  note: '<a&b>',
};
// Go's encoding/json: sorted keys, <, > and & as \u escapes
const CLAIMS_JSON =
  '{"aud":"http://api.example.com","iss":"http://example.com","jti":"mnb23vcsrt756yuiomnbvcx98ertyuiop","note":"\\u003ca\\u0026b\\u003e","sub":"1234567890qwertyuio"}';

describe('KrakenD CE auth/signer over HTTP', () => {
  let backend;
  let gw;
  let rsaKey;
  let hmacSecret;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-signer-'));
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    rsaKey = privateKey;
    hmacSecret = Buffer.from('a-shared-secret-of-thirty-two-by');
    const keys = [
      { ...privateKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256' },
      { kty: 'oct', k: hmacSecret.toString('base64url'), kid: 'hmac-1', alg: 'HS256' },
    ];
    const jwkPath = join(dir, 'private.json');
    writeFileSync(jwkPath, JSON.stringify({ keys }));

    backend = await jsonBackend({
      '/tokens': { access_token: CLAIMS, refresh_token: { sub: 'r' }, exp: 1735689600, scalar: 'left as is' },
      '/fail': { __status: 500, __body: { error: 'down' } },
    });
    const signer = (extra) => ({
      'auth/signer': { jwk_local_path: jwkPath, disable_jwk_security: true, ...extra },
    });
    const b = (path) => ({ host: [backend.url], url_pattern: path });
    gw = await startGateway({
      version: 3,
      timeout: '3s',
      cache_ttl: '1h',
      endpoints: [
        {
          endpoint: '/rs256',
          backend: [b('/tokens')],
          extra_config: signer({
            alg: 'RS256',
            kid: 'rsa-1',
            keys_to_sign: ['access_token', 'scalar', 'missing'],
          }),
        },
        {
          endpoint: '/hs256-typ',
          backend: [b('/tokens')],
          extra_config: signer({
            alg: 'HS256',
            kid: 'hmac-1',
            typ: 'at+jwt',
            keys_to_sign: ['refresh_token'],
          }),
        },
        {
          endpoint: '/full',
          backend: [b('/tokens')],
          extra_config: signer({ alg: 'HS256', kid: 'hmac-1', full: true, keys_to_sign: ['refresh_token'] }),
        },
        {
          endpoint: '/failing',
          backend: [b('/fail')],
          extra_config: signer({ alg: 'HS256', kid: 'hmac-1', keys_to_sign: ['refresh_token'] }),
        },
        {
          endpoint: '/partial',
          backend: [b('/tokens'), b('/fail')],
          extra_config: signer({ alg: 'HS256', kid: 'hmac-1', keys_to_sign: ['refresh_token'] }),
        },
        {
          endpoint: '/xml-ignored',
          output_encoding: 'xml',
          backend: [b('/tokens')],
          extra_config: signer({ alg: 'HS256', kid: 'hmac-1', keys_to_sign: ['refresh_token'] }),
        },
      ],
    });
  });

  after(async () => {
    await gw?.stop();
    await backend?.close();
  });

  const hs256 = (header, payloadJson) => {
    const input = `${b64(header)}.${b64(payloadJson)}`;
    return { input, signature: createHmac('sha256', hmacSecret).update(input).digest('base64url') };
  };

  test('jws.go NewSigner + jws_test.go Test_newSigner: {"alg","kid","typ":"JWT"}, Go-marshalled payload, RS256 bytes', async () => {
    const r = await get(`${gw.url}/rs256`);
    assert.equal(r.status, 200);
    const input = `${b64('{"alg":"RS256","kid":"rsa-1","typ":"JWT"}')}.${b64(CLAIMS_JSON)}`;
    const signature = sign('sha256', Buffer.from(input), rsaKey).toString('base64url');
    assert.equal(r.json.access_token, `${input}.${signature}`);
  });

  test('jose.go SignFields: keys that are absent or not objects are left as they are', async () => {
    const r = await get(`${gw.url}/rs256`);
    assert.equal(r.json.scalar, 'left as is');
    assert.equal('missing' in r.json, false);
    assert.deepEqual(r.json.refresh_token, { sub: 'r' });
    assert.equal(r.json.exp, 1735689600);
  });

  test("gin/jose.go TokenSigner: c.JSON's answer — no X-Krakend, X-Krakend-Completed or Cache-Control", async () => {
    const r = await get(`${gw.url}/rs256`);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('x-krakend'), null);
    assert.equal(r.headers.get('x-krakend-completed'), null);
    assert.equal(r.headers.get('cache-control'), null);
  });

  test('jws.go NewSigner: the config typ replaces "JWT" in the header; HS256 bytes', async () => {
    const r = await get(`${gw.url}/hs256-typ`);
    const { input, signature } = hs256('{"alg":"HS256","kid":"hmac-1","typ":"at+jwt"}', '{"sub":"r"}');
    assert.equal(r.json.refresh_token, `${input}.${signature}`);
  });

  test("jws.go fullSerializeSigner: go-jose's FullSerialize, {payload, protected, signature} as a string", async () => {
    const r = await get(`${gw.url}/full`);
    const { signature } = hs256('{"alg":"HS256","kid":"hmac-1","typ":"JWT"}', '{"sub":"r"}');
    assert.equal(
      r.json.refresh_token,
      `{"payload":"${b64('{"sub":"r"}')}","protected":"${b64('{"alg":"HS256","kid":"hmac-1","typ":"JWT"}')}","signature":"${signature}"}`,
    );
  });

  test('gin/jose.go TokenSigner: a failed backend is c.AbortWithStatus(400), an empty body', async () => {
    const r = await get(`${gw.url}/failing`);
    assert.equal(r.status, 400);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('x-krakend'), null);
  });

  test('gin/jose.go TokenSigner: a partial merge carries an error, so 400 as well', async () => {
    const r = await get(`${gw.url}/partial`);
    assert.equal(r.status, 400);
    assert.equal(r.text, '');
  });

  test('gin/jose.go TokenSigner: the answer is JSON whatever output_encoding says', async () => {
    const r = await get(`${gw.url}/xml-ignored`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    const { input, signature } = hs256('{"alg":"HS256","kid":"hmac-1","typ":"JWT"}', '{"sub":"r"}');
    assert.equal(r.json.refresh_token, `${input}.${signature}`);
  });
});
