// The pass-through lane against the header-map path, on one build: two gw instances serve the same
// no-op endpoint, one as is (the lane) and one with `max_header_bytes: 8192` (which keeps the lane
// off, src/server/front.ts), measured in turn at the same fixed rate in CPU seconds per request.
// With `--merged`, the endpoint is make bench's merged one (two backends, allow + mapping + group)
// and the lane is the merge lane.
//
//   node bench/experiments/lane-ab.mjs [--rate 8000] [--rounds 6] [--merged] [--input-headers '["Authorization"]'] [--ratelimit] [--jwt] [--metrics]
//
// `--input-headers` sets the endpoint's forwarded headers (JSON list; none by default),
// `--ratelimit` adds a qos/ratelimit/router limit far above the load, `--jwt` an auth/validator
// (make bench's HS256 key and token, sent with every request), `--metrics` telemetry/metrics and a
// Prometheus exporter. The backend is nginx serving the bench's 1.4 KB document. Prints
// req/CPU-s per instance: total and each round.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchBackend } from '../lib/backend.mjs';
import { cliOption, fixedRateLoad } from '../lib/fixed-rate.mjs';
import { findExecutable, freePort, startProcess, treeCpuSec, waitForHttp } from '../lib/proc.mjs';
import { benchToken, JWT_SECRET } from '../lib/scenarios.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => cliOption(args, name, fallback);
const rate = Number(option('--rate', 8000));
const rounds = Number(option('--rounds', 6));
const inputHeaders = JSON.parse(option('--input-headers', '[]'));
const ratelimit = args.includes('--ratelimit');
const jwt = args.includes('--jwt');
const metrics = args.includes('--metrics');
const merged = args.includes('--merged');
const path = merged ? '/merged' : '/noop';

const nginx = findExecutable('nginx');
if (!nginx) {
  process.stderr.write('lane-ab: needs nginx (apt-get install nginx) for the backend\n');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'gw-lane-ab-'));
const backend = await startBenchBackend(tmp, nginx);
const jwkFile = join(tmp, 'jwk.json');
writeFileSync(
  jwkFile,
  JSON.stringify({
    keys: [{ kty: 'oct', kid: 'bench', alg: 'HS256', k: Buffer.from(JWT_SECRET).toString('base64url') }],
  }),
);
const endpointExtra = {};
if (ratelimit) endpointExtra['qos/ratelimit/router'] = { max_rate: 1_000_000, client_max_rate: 1_000_000 };
if (jwt)
  endpointExtra['auth/validator'] = {
    alg: 'HS256',
    jwk_local_path: jwkFile,
    disable_jwk_security: true,
    issuer: 'gw-bench',
  };
const serviceExtra = (ports) =>
  metrics
    ? {
        'telemetry/metrics': { listen_address: `127.0.0.1:${ports[0]}` },
        'telemetry/opentelemetry': {
          exporters: { prometheus: [{ name: 'ab', port: ports[1], listen_ip: '127.0.0.1' }] },
        },
      }
    : {};
const config = (extra, metricsPorts) => ({
  version: 3,
  timeout: '3s',
  ...extra,
  extra_config: { router: { disable_access_log: true }, ...serviceExtra(metricsPorts) },
  endpoints: [
    {
      endpoint: path,
      ...(merged ? {} : { output_encoding: 'no-op' }),
      ...(inputHeaders.length > 0 ? { input_headers: inputHeaders } : {}),
      extra_config: endpointExtra,
      backend: merged
        ? [
            {
              host: [backend.url],
              url_pattern: '/data.json',
              allow: ['id', 'name', 'email', 'address', 'company', 'tags'],
              mapping: { email: 'contact' },
            },
            {
              host: [backend.url],
              url_pattern: '/b.json',
              allow: ['id', 'username', 'posts', 'score'],
              group: 'extra',
            },
          ]
        : [{ host: [backend.url], url_pattern: '/data.json', encoding: 'no-op' }],
    },
  ],
});

const headers = jwt ? { authorization: `Bearer ${benchToken()}` } : undefined;
const load = (url, seconds) => fixedRateLoad(url, rate, seconds, headers);

const instances = [];
try {
  for (const [name, extra] of [
    ['lane', {}],
    ['maps', { max_header_bytes: 8192 }],
  ]) {
    const file = join(tmp, `${name}.json`);
    writeFileSync(file, JSON.stringify(config(extra, [await freePort(), await freePort()])));
    const port = await freePort();
    const proc = startProcess(process.execPath, [
      join(ROOT, 'bin', 'gw.js'),
      'run',
      '-c',
      file,
      '-p',
      String(port),
      '--workers',
      '1',
    ]);
    const url = `http://127.0.0.1:${port}${path}`;
    await waitForHttp(`http://127.0.0.1:${port}/__health`, name, 20000, proc);
    await load(url, 2);
    instances.push({ name, proc, url, cpu: 0, ok: 0, perRound: [] });
  }
  for (let round = 0; round < rounds; round++)
    for (const g of instances) {
      const before = treeCpuSec(g.proc.pid);
      const result = await load(g.url, 3);
      const cpu = treeCpuSec(g.proc.pid) - before;
      g.cpu += cpu;
      g.ok += result.ok;
      g.perRound.push(Math.round(result.ok / cpu));
    }
  process.stdout.write(
    `fixed rate ${rate} req/s, ${rounds} rounds of 3 s; ${path}; input_headers ${JSON.stringify(inputHeaders)}${ratelimit ? ', rate limit' : ''}${jwt ? ', auth/validator' : ''}${metrics ? ', metrics' : ''}\n`,
  );
  for (const g of instances)
    process.stdout.write(
      `${g.name.padEnd(5)} ${Math.round(g.ok / g.cpu)} req/CPU-s total [${g.perRound.join(' ')}]\n`,
    );
} finally {
  for (const g of instances) await g.proc.stop();
  await backend.proc.stop();
  rmSync(tmp, { recursive: true, force: true });
}
