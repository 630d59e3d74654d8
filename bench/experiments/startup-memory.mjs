// Start to first answer, and resident memory once idle, of `gw run` on a one-endpoint config:
// what a user sees when gw starts, and what it holds doing nothing. Each run starts gw afresh,
// polls GET /a every 5 ms until it answers 200, waits 3 s, then reads VmRSS of the process (all
// its threads). Several checkouts alternate, run by run, so drift hits them alike.
//
//   node bench/experiments/startup-memory.mjs [--workers 2] [--runs 5] [--features] [DIR…]
//
// DIR: a checkout with `npm run build` done (default: this one). --features adds CORS, a router
// rate limit, JWT validation, a Lua endpoint script and OpenTelemetry to the config (what a
// feature-rich config loads).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = args[at + 1];
  args.splice(at, 2);
  return value;
};
const workers = option('--workers', '2');
const runs = Number(option('--runs', '5'));
const featuresAt = args.indexOf('--features');
const features = featuresAt >= 0;
if (features) args.splice(featuresAt, 1);
const here = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs = args.length > 0 ? args.map((d) => resolve(d)) : [here];

const backend = http.createServer((_req, res) => res.end('{"a":1}'));
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const tmp = mkdtempSync(join(tmpdir(), 'gw-startup-'));

function config(port) {
  const endpoint = {
    endpoint: '/a',
    backend: [{ host: [`http://127.0.0.1:${backend.address().port}`], url_pattern: '/' }],
  };
  if (!features) return { version: 3, port, listen_ip: '127.0.0.1', endpoints: [endpoint] };
  return {
    version: 3,
    port,
    listen_ip: '127.0.0.1',
    extra_config: {
      'security/cors': { allow_origins: ['*'] },
      'telemetry/opentelemetry': {
        service_name: 'gw',
        exporters: { prometheus: [{ name: 'p', port: port + 1 }] },
      },
    },
    endpoints: [
      {
        ...endpoint,
        extra_config: {
          'qos/ratelimit/router': { max_rate: 100000 },
          'modifier/lua-endpoint': { sources: [], pre: "local c = ctx.load(); c:headers('X-Lua', 'yes')" },
        },
      },
      {
        endpoint: '/jwt',
        backend: endpoint.backend,
        extra_config: {
          'auth/validator': {
            alg: 'HS256',
            jwk_local_path: join(tmp, 'jwk.json'),
            disable_jwk_security: true,
          },
        },
      },
    ],
  };
}
writeFileSync(
  join(tmp, 'jwk.json'),
  JSON.stringify({ keys: [{ kty: 'oct', kid: 'k', k: 'c2VjcmV0', alg: 'HS256' }] }),
);

const get = (url) =>
  new Promise((r) =>
    http
      .get(url, (res) => {
        res.resume();
        r(res.statusCode === 200);
      })
      .on('error', () => r(false)),
  );

async function once(dir) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const file = join(tmp, `gw-${port}.json`);
  writeFileSync(file, JSON.stringify(config(port)));
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [join(dir, 'bin', 'gw.js'), 'run', '-c', file, '--workers', workers],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  while (!(await get(`http://127.0.0.1:${port}/a`))) {
    if (child.exitCode !== null) throw new Error(`gw exited: ${output}`);
    if (performance.now() - started > 20000) {
      child.kill('SIGKILL');
      throw new Error(`gw did not answer 200: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const firstAnswerMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 3000));
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { firstAnswerMs, rssMb };
}

const results = new Map(dirs.map((d) => [d, []]));
for (let i = 0; i < runs; i++) for (const dir of dirs) results.get(dir).push(await once(dir));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `node ${process.version}, --workers ${workers}, ${features ? 'feature-rich' : 'one-endpoint'} config, ${runs} runs each`,
);
for (const [dir, rs] of results) {
  const first = rs.map((r) => r.firstAnswerMs);
  const rss = rs.map((r) => r.rssMb);
  console.log(
    `${dir}: first answer median ${median(first).toFixed(0)} ms [${first.map((x) => x.toFixed(0)).join(' ')}], ` +
      `idle RSS median ${median(rss).toFixed(0)} MB [${rss.map((x) => x.toFixed(0)).join(' ')}]`,
  );
}
backend.close();
