// The bench scenarios and the gw configurations that serve them.
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const JWT_SECRET = 'gw-bench-secret-that-is-long-enough-for-hs256!';
const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An HS256 token the bench's auth/validator accepts (kid "bench", valid for a day). */
export function benchToken() {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'bench' }));
  const now = Math.floor(Date.now() / 1000);
  const payload = b64url(
    JSON.stringify({ sub: 'bench-user', iss: 'gw-bench', iat: now, exp: now + 86400, roles: ['user'] }),
  );
  const signature = createHmac('sha256', JWT_SECRET).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/**
 * Each scenario: the gw instance and path it hits, the connection count, and which reference
 * runs it is compared with. `nginx`: the nginx path (scenarios nginx cannot express, such as a
 * merge, compare with the plain proxy of the same document). `floor`: the path of the floor
 * proxy (bench/lib/floor-proxy.mjs: /noop, /large or /merged); scenarios that add a feature to
 * the no-op proxy compare with the floor's /noop.
 */
export const SCENARIOS = [
  {
    name: 'noop',
    description: 'no-op proxy of a 1.4 KB JSON document (output_encoding/encoding no-op)',
    instance: 'main',
    path: '/noop',
    nginx: '/noop',
    floor: '/noop',
    burstRatio: true,
  },
  {
    name: 'merged',
    description: 'two backends merged into one JSON object: allow + mapping on one, group on the other',
    instance: 'main',
    path: '/merged',
    nginx: '/noop',
    floor: '/merged',
    burstRatio: true,
    expect: (body) => body.includes('"contact"') && body.includes('"extra"'),
  },
  {
    name: 'ratelimit',
    description: 'no-op proxy behind qos/ratelimit/router (max_rate and client_max_rate far above the load)',
    instance: 'main',
    path: '/ratelimit',
    nginx: '/noop',
    floor: '/noop',
    requires: 'qos/ratelimit/router',
  },
  {
    name: 'jwt',
    description: 'JSON proxy behind auth/validator (HS256 token checked on every request)',
    instance: 'main',
    path: '/jwt',
    nginx: '/noop',
    floor: '/noop',
    requires: 'auth/validator',
    headers: () => ({ authorization: `Bearer ${benchToken()}` }),
  },
  {
    name: 'large',
    description: 'no-op proxy of a 256 KB JSON document',
    instance: 'main',
    path: '/large',
    nginx: '/large',
    floor: '/large',
  },
  {
    name: 'conns1000',
    description: 'no-op proxy with 1,000 concurrent connections',
    instance: 'main',
    path: '/noop',
    nginx: '/noop',
    floor: '/noop',
    connections: 1000,
  },
  {
    name: 'noop-log',
    description: 'the no-op scenario with the access log on at INFO (pino, one line per request to a file)',
    instance: 'accesslog',
    path: '/noop',
    nginx: '/noop',
    floor: '/noop',
    baseline: 'main',
  },
  {
    name: 'noop-aa',
    description:
      'the harness checking itself: the noop-log/noop-metrics cost measurement with the same config on both sides (run only when named)',
    optional: true,
    instance: 'main',
    path: '/noop',
    nginx: '/noop',
    floor: '/noop',
    baseline: 'main',
  },
  {
    name: 'noop-metrics',
    description: 'the no-op scenario with telemetry/opentelemetry (prometheus) and telemetry/metrics on',
    instance: 'metrics',
    path: '/noop',
    nginx: '/noop',
    floor: '/noop',
    baseline: 'main',
  },
  {
    name: 'merged-metrics',
    description: 'the merged scenario with telemetry/opentelemetry (prometheus) and telemetry/metrics on',
    instance: 'metrics',
    path: '/merged',
    nginx: '/noop',
    floor: '/merged',
    baseline: 'main',
    expect: (body) => body.includes('"contact"') && body.includes('"extra"'),
  },
];

/** The paths the reference nginx proxies, to the backend's files. */
export const NGINX_ROUTES = [
  { path: '/noop', upstreamPath: '/data.json' },
  { path: '/large', upstreamPath: '/large.json' },
];

/**
 * Writes the gw configuration of one instance kind and returns its path.
 * `features`: the namespaces registered in this build (scenarios needing others are left out).
 */
export function writeGwConfig(dir, instance, backendUrl, features) {
  const host = [backendUrl];
  const noop = (endpoint, url_pattern, extra) => ({
    endpoint,
    method: 'GET',
    output_encoding: 'no-op',
    ...(extra ? { extra_config: extra } : {}),
    backend: [{ host, url_pattern, encoding: 'no-op' }],
  });
  const endpoints = [
    noop('/noop', '/data.json'),
    noop('/large', '/large.json'),
    {
      endpoint: '/merged',
      method: 'GET',
      backend: [
        {
          host,
          url_pattern: '/data.json',
          allow: ['id', 'name', 'email', 'address', 'company', 'tags'],
          mapping: { email: 'contact' },
        },
        { host, url_pattern: '/b.json', allow: ['id', 'username', 'posts', 'score'], group: 'extra' },
      ],
    },
  ];
  if (features.has('qos/ratelimit/router'))
    endpoints.push(
      noop('/ratelimit', '/data.json', {
        'qos/ratelimit/router': { max_rate: 1_000_000, client_max_rate: 1_000_000 },
      }),
    );
  if (features.has('auth/validator')) {
    const jwkFile = join(dir, 'bench-jwk.json');
    writeFileSync(
      jwkFile,
      JSON.stringify({ keys: [{ kty: 'oct', kid: 'bench', alg: 'HS256', k: b64url(JWT_SECRET) }] }),
    );
    endpoints.push({
      endpoint: '/jwt',
      method: 'GET',
      extra_config: {
        'auth/validator': {
          alg: 'HS256',
          jwk_local_path: jwkFile,
          disable_jwk_security: true,
          issuer: 'gw-bench',
        },
      },
      backend: [{ host, url_pattern: '/data.json' }],
    });
  }
  const extra_config = {
    router: instance === 'accesslog' ? {} : { disable_access_log: true },
    'telemetry/logging': { level: instance === 'accesslog' ? 'INFO' : 'WARNING', stdout: true },
  };
  if (instance === 'metrics') {
    // port 0: the OS picks free ports; the bench only measures the recording cost
    extra_config['telemetry/metrics'] = { listen_address: '127.0.0.1:0' };
    extra_config['telemetry/opentelemetry'] = {
      exporters: { prometheus: [{ name: 'bench', port: 0, listen_ip: '127.0.0.1' }] },
    };
  }
  const config = {
    $schema: 'https://www.krakend.io/schema/v2.7/krakend.json',
    version: 3,
    name: `gw bench (${instance})`,
    listen_ip: '127.0.0.1',
    timeout: '5s',
    extra_config,
    endpoints,
  };
  const file = join(dir, `gw-${instance}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
