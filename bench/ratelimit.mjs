// What a rate limit costs: req/s of the same no-op endpoint with and without
// `qos/ratelimit/router` (client_max_rate by IP, and client + endpoint max_rate), in one run
// against one gw process, alternating the endpoints round after round so that drift and the
// neighbours' load on this shared machine hit all of them alike. Limits are set far above the
// load: every request pays the check and none is refused (the script verifies it).
//
//   node bench/ratelimit.mjs [--rounds N] [--duration SEC] [--warmup SEC] [--connections N] [--workers N]
//
// Environment: BENCH_NGINX (nginx binary). Processes: backend (nginx serving a 1.4 KB JSON file;
// node:http when nginx is missing), gw, and the load generator (autocannon, a fresh process per run).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCUMENTS } from './lib/docs.mjs';
import { backendConf, startNginx } from './lib/nginx.mjs';
import { findExecutable, freePort, runToEnd, startProcess, treeCpuSec, waitForHttp } from './lib/proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const GW_BIN = join(HERE, '..', 'bin', 'gw.js');
const LOADGEN = join(HERE, 'lib', 'loadgen.mjs');

const opts = { rounds: 5, durationSec: 5, warmupSec: 1, connections: 64, workers: 1 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const key = {
    '--rounds': 'rounds',
    '--duration': 'durationSec',
    '--warmup': 'warmupSec',
    '--connections': 'connections',
    '--workers': 'workers',
  }[argv[i]];
  if (!key) {
    console.error(`unknown argument ${argv[i]}`);
    process.exit(2);
  }
  opts[key] = Number(argv[++i]);
}

const VARIANTS = [
  { name: 'plain', path: '/plain', label: 'no rate limit' },
  { name: 'client', path: '/client', label: 'client_max_rate (strategy ip)' },
  { name: 'both', path: '/both', label: 'max_rate + client_max_rate' },
];

const tmp = mkdtempSync(join(tmpdir(), 'gw-bench-ratelimit-'));
const procs = [];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function startBackend() {
  const www = join(tmp, 'www');
  mkdirSync(www, { recursive: true });
  for (const [name, text] of Object.entries(DOCUMENTS)) writeFileSync(join(www, name), text);
  const port = await freePort();
  const nginx = process.env.BENCH_NGINX ?? findExecutable('nginx');
  if (nginx) {
    procs.push(
      await startNginx(
        nginx,
        tmp,
        'backend',
        backendConf(tmp, www, port),
        `http://127.0.0.1:${port}/__ready`,
      ),
    );
    return { url: `http://127.0.0.1:${port}`, kind: 'nginx' };
  }
  const proc = startProcess(process.execPath, [join(HERE, 'lib', 'node-backend.mjs'), String(port)]);
  procs.push(proc);
  await waitForHttp(`http://127.0.0.1:${port}/__ready`, 'node backend', 10000, proc);
  return { url: `http://127.0.0.1:${port}`, kind: 'node:http' };
}

async function startGw(backendUrl) {
  const host = [backendUrl];
  const endpoint = (path, limit) => ({
    endpoint: path,
    method: 'GET',
    output_encoding: 'no-op',
    ...(limit ? { extra_config: { 'qos/ratelimit/router': limit } } : {}),
    backend: [{ host, url_pattern: '/data.json', encoding: 'no-op' }],
  });
  const config = {
    version: 3,
    listen_ip: '127.0.0.1',
    extra_config: { router: { disable_access_log: true } },
    endpoints: [
      endpoint('/plain'),
      endpoint('/client', { client_max_rate: 100_000_000, every: '1s', strategy: 'ip' }),
      endpoint('/both', { max_rate: 100_000_000, client_max_rate: 100_000_000, every: '1s', strategy: 'ip' }),
    ],
  };
  const file = join(tmp, 'krakend.json');
  writeFileSync(file, JSON.stringify(config));
  const port = await freePort();
  const proc = startProcess(
    process.execPath,
    [GW_BIN, 'run', '-c', file, '-p', String(port), '--workers', String(opts.workers)],
    {
      env: { ...process.env, GW_LOG_LEVEL: 'ERROR' },
    },
  );
  procs.push(proc);
  await waitForHttp(`http://127.0.0.1:${port}/__health`, 'gw', 15000, proc);
  return { url: `http://127.0.0.1:${port}`, pid: proc.pid };
}

async function load(url, durationSec, warmupSec) {
  const { stdout } = await runToEnd(process.execPath, [
    LOADGEN,
    JSON.stringify({ url, connections: opts.connections, durationSec, warmupSec }),
  ]);
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** In-process: ns per request of the router stage with each limit, against a bare stage. */
async function microCost() {
  const { routerRateLimitModule } = await import('../dist/qos/ratelimit-router.js');
  const { layoutBuckets } = await import('../dist/qos/buckets.js');
  const pino = (await import('pino')).default;
  const ns = 'qos/ratelimit/router';
  const limits = {
    client: { client_max_rate: 100_000_000, every: '1s' },
    both: { max_rate: 100_000_000, client_max_rate: 100_000_000, every: '1s' },
  };
  const service = {
    version: 3,
    endpoints: Object.values(limits).map((l, i) => ({ endpoint: `/${i}`, extra_config: { [ns]: l } })),
  };
  const shared = { [ns]: layoutBuckets(service, ns, true) };
  const res = { status: 200, headers: {}, body: null };
  const next = () => Promise.resolve(res);
  const stages = { plain: next };
  Object.entries(limits).forEach(([name, cfg], i) => {
    const ctx = {
      service,
      endpoint: service.endpoints[i],
      path: `$.endpoints[${i}].extra_config["${ns}"]`,
      logger: pino({ level: 'silent' }),
      shared,
      workerId: 0,
      onClose() {},
    };
    stages[name] = routerRateLimitModule.endpoint(cfg, ctx)(next);
  });
  const ips = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const reqs = ips.map((ip) => ({
    method: 'GET',
    path: '/',
    query: '',
    headers: {},
    params: {},
    body: null,
    clientIp: ip,
  }));
  // The fastest of 7 interleaved passes: the neighbours' load only ever adds time.
  const out = Object.fromEntries(Object.keys(stages).map((k) => [k, Number.POSITIVE_INFINITY]));
  for (let pass = 0; pass < 7; pass++) {
    for (const [name, stage] of Object.entries(stages)) {
      const n = 500_000;
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await stage(reqs[i % 1000]);
      out[name] = Math.min(out[name], Number(process.hrtime.bigint() - t) / n);
    }
  }
  return out;
}

try {
  const micro = await microCost();
  console.log(
    `in-process router stage (1,000 client IPs): plain ${micro.plain.toFixed(0)} ns, client limit +${(micro.client - micro.plain).toFixed(0)} ns, ` +
      `both limits +${(micro.both - micro.plain).toFixed(0)} ns per request`,
  );
  const backend = await startBackend();
  const { url: gw, pid: gwPid } = await startGw(backend.url);
  console.log(
    `gw ${opts.workers} worker(s), backend ${backend.kind}, ${opts.connections} connections, ` +
      `${opts.rounds} rounds × ${opts.durationSec}s per endpoint (+${opts.warmupSec}s warm-up)`,
  );
  const results = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  // gw's CPU time per request: what the limit adds, much less disturbed by the neighbours' load
  // than req/s (which also measures how much of the machine gw got).
  const cpu = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  for (let round = 0; round < opts.rounds; round++) {
    // Rotate the order each round: no endpoint always runs first or last.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    const line = [];
    for (const v of order) {
      if (opts.warmupSec > 0) await load(`${gw}${v.path}`, opts.warmupSec, 0);
      const cpu0 = treeCpuSec(gwPid);
      const r = await load(`${gw}${v.path}`, opts.durationSec, 0);
      const cpuUs = ((treeCpuSec(gwPid) - cpu0) * 1e6) / r.requests;
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(`${v.path}: ${r.non2xx} non-2xx, ${r.errors} errors (limit refused?)`);
      results[v.name].push(r.reqPerSec);
      cpu[v.name].push(cpuUs);
      line.push(`${v.name} ${Math.round(r.reqPerSec)} req/s ${cpuUs.toFixed(1)} µs`);
    }
    console.log(`round ${round + 1}: ${line.join('  ')}`);
  }
  const base = median(results.plain);
  console.log('\nmedian req/s:');
  for (const v of VARIANTS) {
    const m = median(results[v.name]);
    // Paired per round too: each round's runs are minutes apart at most, so the neighbours'
    // load drifts less within a round than across the run.
    const paired = median(results[v.name].map((x, i) => 1 - x / results.plain[i]));
    const cost =
      v.name === 'plain'
        ? ''
        : `  cost ${(((base - m) / base) * 100).toFixed(1)}% (of medians), ${(paired * 100).toFixed(1)}% (median of per-round pairs; negative = faster)`;
    console.log(`  ${v.label.padEnd(32)} ${String(Math.round(m)).padStart(7)}${cost}`);
  }
  const cpuBase = median(cpu.plain);
  console.log('\nmedian gw CPU per request:');
  for (const v of VARIANTS) {
    const m = median(cpu[v.name]);
    const cost =
      v.name === 'plain'
        ? ''
        : `  ${m >= cpuBase ? '+' : ''}${(((m - cpuBase) / cpuBase) * 100).toFixed(1)}%`;
    console.log(`  ${v.label.padEnd(32)} ${m.toFixed(1).padStart(7)} µs${cost}`);
  }
} finally {
  for (const p of procs.reverse()) await p.stop();
  rmSync(tmp, { recursive: true, force: true });
}
