// In-process cost of the security middlewares per request (no network): JWT validation per
// algorithm, for a token seen before (verified-signature memo) and for a new token every time,
// and the CEL, JSON-schema, CORS and bot-detector stages. Run: node bench/security-jwt.mjs
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import pino from 'pino';
import { botDetectorModule } from '../dist/security/bot-detector.js';
import { corsModule } from '../dist/security/cors.js';
import { jwtValidatorModule } from '../dist/security/jwt-validator.js';
import { celModule } from '../dist/validation/cel.js';
import { jsonSchemaModule } from '../dist/validation/json-schema.js';

const logger = pino({ level: 'silent' });
const ctx = (endpoint, service = { version: 3 }) => ({
  service,
  endpoint,
  path: '$',
  logger,
  shared: {},
  workerId: 0,
  onClose() {},
});
const req = (over) => ({
  method: 'GET',
  path: '/p',
  query: '',
  headers: {},
  params: {},
  body: null,
  clientIp: '127.0.0.1',
  ...over,
});
const ok = async () => ({ status: 200, headers: {}, body: null });
const okProxy = async () => ({ data: {}, isComplete: true });

async function measure(label, n, fn) {
  for (let i = 0; i < Math.min(2000, n); i++) await fn(n + i); // warm-up on other indices
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  const us = ((performance.now() - t) * 1000) / n;
  console.log(
    `${label.padEnd(44)} ${us.toFixed(1).padStart(8)} µs/req  ${Math.round(1e6 / us)
      .toString()
      .padStart(8)} req/s`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
const keys = [];
const signers = {};
for (const alg of ['HS256', 'RS256', 'ES256', 'EdDSA']) {
  if (alg === 'HS256') {
    const jwk = { kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), kid: alg, alg };
    keys.push(jwk);
    signers[alg] = await importJWK(jwk, alg);
  } else {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(publicKey)), kid: alg, alg });
    signers[alg] = privateKey;
  }
}
const file = join(dir, 'jwks.json');
writeFileSync(file, JSON.stringify({ keys }));
const exp = Math.floor(Date.now() / 1000) + 3600;
for (const alg of ['HS256', 'RS256', 'ES256', 'EdDSA']) {
  const cfg = { alg, jwk_local_path: file, roles_key: 'roles', roles: ['user'] };
  const stage = jwtValidatorModule.endpoint(
    cfg,
    ctx({ endpoint: '/p', extra_config: { 'auth/validator': cfg } }),
  )(ok);
  const same = await new SignJWT({ sub: 'u', roles: ['user'], exp })
    .setProtectedHeader({ alg, kid: alg })
    .sign(signers[alg]);
  await measure(`auth/validator ${alg}, same token`, 20000, () =>
    stage(req({ headers: { authorization: `Bearer ${same}` } })),
  );
  const fresh = [];
  for (let i = 0; i < 3000; i++)
    fresh.push(
      await new SignJWT({ sub: 'u', roles: ['user'], exp, jti: String(i) })
        .setProtectedHeader({ alg, kid: alg })
        .sign(signers[alg]),
    );
  await measure(`auth/validator ${alg}, new token each time`, 1000, (i) =>
    stage(req({ headers: { authorization: `Bearer ${fresh[i]}` } })),
  );
}
const cel = [
  { check_expr: "req_params.Nick.matches('k.*') && '127.0.0.1' in req_headers['X-Forwarded-For']" },
];
const celStage = celModule.proxy(
  cel,
  ctx({ endpoint: '/n/{nick}', extra_config: { 'validation/cel': cel } }),
)(okProxy);
await measure('validation/cel (2 conditions)', 50000, () => celStage(req({ params: { nick: 'kate' } })));
const schema = {
  type: 'object',
  required: ['a'],
  properties: { a: { type: 'number' }, b: { type: 'string' } },
};
const schemaStage = jsonSchemaModule.proxy(schema, ctx({ endpoint: '/s' }))(okProxy);
const body = Buffer.from('{"a":1,"b":"x"}');
await measure('validation/json-schema (small body)', 50000, () => schemaStage(req({ method: 'POST', body })));
const corsStage = corsModule.service({ allow_origins: ['https://a.com'] }, ctx())(ok);
await measure('security/cors (actual request)', 50000, () =>
  corsStage(req({ headers: { origin: 'https://a.com' } })),
);
const botStage = botDetectorModule.service(
  { patterns: ['(facebookexternalhit)/.*', 'bot', 'spider'], cache_size: 1000 },
  ctx(),
)(ok);
await measure('security/bot-detector (3 patterns, cached)', 50000, () =>
  botStage(req({ headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' } })),
);
