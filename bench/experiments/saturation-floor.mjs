// How close to nginx a proxy on this stack can get at saturation, and how much of the gap is
// gw's own work: each proxy below against nginx proxy_pass in alternating bursts (loadgen's
// `alternate` mode, as `make bench --ratio-bursts` does for gw), each with 2 threads/workers:
//
//   raw     uWS + a minimal node:net keep-alive client (raw-client-proxy.mjs): the stack's floor
//   h1pool  uWS + gw's own HTTP/1.1 client, no gateway work (h1pool-proxy.mjs)
//   lane    KrakenD's no-op semantics done the cheapest way (passthrough-lane-proxy.mjs)
//   gw      `gw run` on make bench's noop endpoint
//
//   node bench/experiments/saturation-floor.mjs [--bursts 20] [--burst-sec 2] [--threads 2] [--proxies raw,h1pool,lane,gw]
//
// Prints, per proxy: its req/s ÷ nginx's (median of the burst pairs ± standard error), both
// req/s totals, and both req/CPU-s (the proxy's process tree, nginx master + workers). Needs nginx
// and `npm run build`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { startBenchBackend } from '../lib/backend.mjs';
import { proxyConf, startNginx } from '../lib/nginx.mjs';
import { findExecutable, freePort, runToEnd, startProcess, waitForHttp } from '../lib/proc.mjs';
import { median, medianError } from '../lib/rounds.mjs';
import { writeGwConfig } from '../lib/scenarios.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const args = process.argv.slice(2);

if (args[0] === '--threads-of') {
  // Runs one single-threaded experiment proxy in N worker threads on one port (uWS: SO_REUSEPORT).
  const [, file, port, backendPort, threads] = args;
  for (let i = 0; i < Number(threads); i++) new Worker(file, { argv: [port, backendPort] });
} else {
  await main();
}

async function main() {
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const bursts = Number(option('--bursts', 20));
  const burstSec = Number(option('--burst-sec', 2));
  const threads = Number(option('--threads', 2));
  const wanted = option('--proxies', 'raw,h1pool,lane,gw').split(',');
  const nginx = findExecutable('nginx');
  if (!nginx) {
    process.stderr.write('saturation-floor: needs nginx (apt-get install nginx)\n');
    process.exit(1);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'gw-floor-'));
  const backend = await startBenchBackend(tmp, nginx);
  const backendPort = Number(new URL(backend.url).port);
  const threaded = (file) => (port) => [
    fileURLToPath(import.meta.url),
    '--threads-of',
    join(HERE, file),
    String(port),
    String(backendPort),
    String(threads),
  ];
  const kinds = {
    raw: threaded('raw-client-proxy.mjs'),
    h1pool: threaded('h1pool-proxy.mjs'),
    lane: threaded('passthrough-lane-proxy.mjs'),
    gw: (port) => [
      join(ROOT, 'bin', 'gw.js'),
      'run',
      '-c',
      writeGwConfig(tmp, 'main', backend.url, new Set()),
      '-p',
      String(port),
      '--workers',
      String(threads),
    ],
  };
  const nginxPort = await freePort();
  const reference = await startNginx(
    nginx,
    tmp,
    'proxy',
    proxyConf(tmp, [{ path: '/noop', upstreamPath: '/data.json' }], backendPort, nginxPort, threads),
    `http://127.0.0.1:${nginxPort}/__ready`,
  );
  const nginxUrl = `http://127.0.0.1:${nginxPort}/noop`;
  const rows = [];
  try {
    for (const name of wanted) {
      if (!kinds[name]) throw new Error(`unknown proxy ${name} (raw, h1pool, lane, gw)`);
      const port = await freePort();
      const proc = startProcess(process.execPath, kinds[name](port));
      const url = `http://127.0.0.1:${port}/noop`;
      try {
        await waitForHttp(url, name, 20000, proc);
        const { stdout } = await runToEnd(process.execPath, [
          join(ROOT, 'bench', 'lib', 'loadgen.mjs'),
          JSON.stringify({
            alternate: [
              { url, pid: proc.pid },
              { url: nginxUrl, pid: reference.pid },
            ],
            bursts,
            burstSec,
            connections: 64,
          }),
        ]);
        const { targets, pairRatios } = JSON.parse(stdout.trim());
        const [p, n] = targets;
        rows.push({
          name,
          ratio: median(pairRatios),
          error: medianError(pairRatios),
          reqPerSec: p.ok / p.elapsedSec,
          nginxReqPerSec: n.ok / n.elapsedSec,
          reqPerCpuSec: p.ok / p.cpuSec,
          nginxReqPerCpuSec: n.ok / n.cpuSec,
        });
      } finally {
        await proc.stop();
      }
    }
  } finally {
    await reference.stop();
    await backend.proc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const n = (v) => Math.round(v).toLocaleString('en-US');
  process.stdout.write(
    `${bursts} pairs of ${burstSec} s bursts, 64 connections, ${threads} threads each, nginx backend (1.4 KB JSON)\n`,
  );
  process.stdout.write('proxy    ÷ nginx req/s     req/s (proxy / nginx)   req/CPU-s (proxy / nginx)\n');
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(8)} ${r.ratio.toFixed(2)}× ± ${r.error.toFixed(2)}      ${n(r.reqPerSec)} / ${n(r.nginxReqPerSec)}`.padEnd(
        50,
      ) + `${n(r.reqPerCpuSec)} / ${n(r.nginxReqPerCpuSec)}\n`,
    );
}
