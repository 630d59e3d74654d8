// Latency at equal offered load: gw (make bench's config, 2 worker threads) and nginx proxy_pass
// (2 workers) loaded in turn at the same fixed request rate, below both of their saturation
// points. At saturation with a fixed number of connections, a proxy's latency is its
// connections ÷ its req/s (Little's law), so the p99 ratio `make bench` reports for the merged
// endpoint is bounded below by 1 ÷ its req/s ratio; at a rate both sustain, the ratio says what
// a request waits for the gateway's work itself. autocannon paces a fixed rate in bursts, so the
// absolute figures include the queueing of those bursts (p50 is higher at 5,000 req/s than at
// 15,000 here): compare targets within one run, not across rates.
//
//   node bench/experiments/latency-at-rate.mjs [--rate 15000] [--rounds 6] [--duration 5] [--paths /noop,/merged]
//
// Each round loads every gw path and nginx's /noop once (the order rotating with the round), 64
// connections, and prints p50/p99 (µs-resolution histogram, 2xx answers) per target: the median
// over the rounds, and the median of each round's p99 ratio to nginx's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchBackend } from '../lib/backend.mjs';
import { cliOption, fixedRateLoad } from '../lib/fixed-rate.mjs';
import { proxyConf, startNginx } from '../lib/nginx.mjs';
import { findExecutable, freePort, startProcess, waitForHttp } from '../lib/proc.mjs';
import { median } from '../lib/rounds.mjs';
import { NGINX_ROUTES, writeGwConfig } from '../lib/scenarios.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => cliOption(args, name, fallback);
const rate = Number(option('--rate', 15000));
const rounds = Number(option('--rounds', 6));
const durationSec = Number(option('--duration', 5));
const paths = option('--paths', '/noop,/merged').split(',').filter(Boolean);
const WORKERS = 2;

const nginx = findExecutable('nginx');
if (!nginx) {
  process.stderr.write('latency-at-rate: needs nginx (apt-get install nginx)\n');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'gw-latency-'));
const backend = await startBenchBackend(tmp, nginx);
const backendPort = Number(new URL(backend.url).port);
const stops = [() => backend.proc.stop()];
try {
  const gwPort = await freePort();
  const gw = startProcess(process.execPath, [
    join(ROOT, 'bin', 'gw.js'),
    'run',
    '-c',
    writeGwConfig(tmp, 'main', backend.url, new Set()),
    '-p',
    String(gwPort),
    '--workers',
    String(WORKERS),
  ]);
  stops.push(() => gw.stop());
  await waitForHttp(`http://127.0.0.1:${gwPort}/__health`, 'gw', 20000, gw);
  const nginxPort = await freePort();
  const conf = proxyConf(tmp, NGINX_ROUTES, backendPort, nginxPort, WORKERS);
  const proxy = await startNginx(nginx, tmp, 'proxy', conf, `http://127.0.0.1:${nginxPort}/__ready`);
  stops.push(() => proxy.stop());

  const targets = [
    ...paths.map((path) => ({ name: `gw ${path}`, url: `http://127.0.0.1:${gwPort}${path}`, runs: [] })),
    { name: 'nginx /noop', url: `http://127.0.0.1:${nginxPort}/noop`, runs: [] },
  ];
  for (const t of targets) await fixedRateLoad(t.url, rate, 2);
  for (let round = 0; round < rounds; round++)
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length];
      t.runs.push(await fixedRateLoad(t.url, rate, durationSec));
    }

  const reference = targets.at(-1);
  process.stdout.write(
    `fixed rate ${rate} req/s, ${rounds} rounds of ${durationSec} s, 64 connections, gw ${WORKERS} worker threads, nginx ${WORKERS} workers\n`,
  );
  for (const t of targets) {
    const answered = t.runs.reduce((n, r) => n + r.ok, 0) / (durationSec * rounds);
    const p99Ratios = t.runs.map((r, i) => r.p99 / reference.runs[i].p99);
    process.stdout.write(
      `${t.name.padEnd(12)} p50 ${median(t.runs.map((r) => r.p50)).toFixed(3)} ms, p99 ${median(t.runs.map((r) => r.p99)).toFixed(3)} ms [${t.runs.map((r) => r.p99.toFixed(2)).join(' ')}]` +
        `${t === reference ? '' : `, p99 ratio to nginx ${median(p99Ratios).toFixed(2)}×`}; ${Math.round(answered)} 2xx/s\n`,
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  rmSync(tmp, { recursive: true, force: true });
}
