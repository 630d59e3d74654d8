// CPU per request of several proxies at the same fixed request rate, measured in turn for
// several rounds: on a VM whose throughput drifts by ±30 % within minutes, CPU seconds per
// request at a rate every proxy sustains is steadier than saturated req/s.
//
//   node bench/experiments/cpu-ab.mjs [--rate 8000] [--rounds 8] [--duration 3] [--gw-args "--front uws"] [--gw-base DIR [--base-instance main|accesslog] [--base-args ARGS]] [--with-log] [--with-undici] [--node-flags "--flag …"] [--path /merged] [--features qos/ratelimit/router] [--only gw,gw-log] [--together] [--stdout null|pipe|file]
//
// Proxies: gw (`gw run --workers 1` on make bench's config, /noop or --path, access log off), floor
// (bench/lib/floor-proxy.mjs, 1 thread: uWS + undici dispatch), raw (raw-client-proxy.mjs: uWS +
// a minimal node:net client), with --gw-base DIR a second gw built in DIR (a git worktree of another commit) for before/after,
// with --with-log a gw on make bench's noop-log config (gin access lines to stdout, here /dev/null),
// with --with-undici a gw calling backends through undici (GW_BACKEND_CLIENT=undici), with
// --node-flags a gw started with those node/V8 flags.
// nginx proxy_pass (1 worker) is measured the same way as the reference.
// The backend is nginx serving the bench's 1.4 KB document. Prints req/CPU-s per proxy: total,
// median of rounds and each round.
// --only NAMES keeps those proxies (nginx included only when named). --together loads every
// proxy at once in each round (each at --rate): the host's drift then falls on all of them in the
// same seconds, and each round gives a paired CPU-per-request ratio to the first proxy, printed
// as the median and mean ± standard error of those ratios. That is how a feature's cost (the
// access log: --with-log --only gw,gw-log --together) is told apart from the drift of a VM whose
// speed changes by more than the cost between two sequential bursts. --stdout says where every gw's
// stdout goes: /dev/null (default), a pipe drained by `cat` (as in a container) or a file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchBackend } from '../lib/backend.mjs';
import { cliOption, fixedRateLoad } from '../lib/fixed-rate.mjs';
import { proxyConf, startNginx } from '../lib/nginx.mjs';
import {
  childStdout,
  findExecutable,
  freePort,
  startProcess,
  treeCpuSec,
  waitForHttp,
} from '../lib/proc.mjs';
import { median } from '../lib/rounds.mjs';
import { writeGwConfig } from '../lib/scenarios.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => cliOption(args, name, fallback);
const rate = Number(option('--rate', 8000));
const rounds = Number(option('--rounds', 8));
const durationSec = Number(option('--duration', 3));
const gwBase = option('--gw-base', undefined);
/** Extra `gw run` arguments for this checkout's gw (not the base's), e.g. "--front uws". */
const gwArgs = option('--gw-args', '').split(' ').filter(Boolean);
/** Extra `gw run` arguments for the base's gw (a base that knows them). */
const baseArgs = option('--base-args', '').split(' ').filter(Boolean);
const withLog = args.includes('--with-log');
const withUndici = args.includes('--with-undici');
const nodeFlags = option('--node-flags', undefined);
const baseInstance = option('--base-instance', 'main');
/** The gw path measured (nginx, floor and raw serve /noop whatever it is). */
const gwPath = option('--path', '/noop');
/** Optional endpoints of the bench config to add (its `requires`), e.g. qos/ratelimit/router for /ratelimit. */
const features = new Set(option('--features', '').split(',').filter(Boolean));
const only = option('--only', undefined)?.split(',').filter(Boolean);
const together = args.includes('--together');
const stdoutKind = option('--stdout', 'null');
const wanted = (name) => only === undefined || only.includes(name);

const nginx = findExecutable('nginx');
if (!nginx) {
  process.stderr.write('cpu-ab: needs nginx (apt-get install nginx) for the backend\n');
  process.exit(1);
}

const load = (url, seconds) => fixedRateLoad(url, rate, seconds);

const tmp = mkdtempSync(join(tmpdir(), 'gw-cpu-ab-'));
const backend = await startBenchBackend(tmp, nginx);
const backendPort = Number(new URL(backend.url).port);

/** The bench's own gw configs (bench/lib/scenarios.mjs): `main` (access log off) or `accesslog`. */
const gwConfig = (instance) => writeGwConfig(tmp, instance, `http://127.0.0.1:${backendPort}`, features);
const gwRun =
  (root, instance, flags = [], extra = []) =>
  (port) => [
    ...flags,
    join(root, 'bin', 'gw.js'),
    'run',
    '-c',
    gwConfig(instance),
    '-p',
    String(port),
    '--workers',
    '1',
    ...extra,
  ];

const kinds = [
  ['gw', gwRun(ROOT, 'main', [], gwArgs)],
  ...(withLog ? [['gw-log', gwRun(ROOT, 'accesslog')]] : []),
  ...(withUndici ? [['gw-undici', gwRun(ROOT, 'main'), { GW_BACKEND_CLIENT: 'undici' }]] : []),
  ...(nodeFlags ? [['gw-flags', gwRun(ROOT, 'main', nodeFlags.split(' '))]] : []),
  ...(gwBase ? [['gw-base', gwRun(gwBase, baseInstance, [], baseArgs)]] : []),
  [
    'floor',
    (port) => [
      join(ROOT, 'bench', 'lib', 'floor-proxy.mjs'),
      String(port),
      `http://127.0.0.1:${backendPort}`,
      '1',
    ],
  ],
  ['raw', (port) => [join(HERE, 'raw-client-proxy.mjs'), String(port), String(backendPort)]],
];
const proxies = [];
const readers = [];
try {
  for (const [name, argv, env] of kinds) {
    if (!wanted(name)) continue;
    const port = await freePort();
    const stdout = childStdout(name.startsWith('gw') ? stdoutKind : 'null', tmp, name);
    const proc = startProcess(process.execPath, argv(port), {
      env: { ...process.env, ...env },
      stdout: stdout.fd,
    });
    stdout.done();
    readers.push(stdout);
    const url = `http://127.0.0.1:${port}${name.startsWith('gw') ? gwPath : '/noop'}`;
    await waitForHttp(url, name, 20000, proc);
    await load(url, 2);
    proxies.push({ name, proc, url, cpu: 0, ok: 0, perRound: [] });
  }
  if (wanted('nginx')) {
    // The reference at the same rate: nginx proxy_pass, 1 worker (master + worker CPU counted).
    const port = await freePort();
    const conf = proxyConf(tmp, [{ path: '/noop', upstreamPath: '/data.json' }], backendPort, port, 1);
    const proc = await startNginx(nginx, tmp, 'proxy', conf, `http://127.0.0.1:${port}/__ready`);
    const url = `http://127.0.0.1:${port}/noop`;
    await load(url, 2);
    proxies.push({ name: 'nginx', proc, url, cpu: 0, ok: 0, perRound: [] });
  }
  const measure = async (p) => {
    const before = treeCpuSec(p.proc.pid);
    const result = await load(p.url, durationSec);
    const cpu = treeCpuSec(p.proc.pid) - before;
    p.cpu += cpu;
    p.ok += result.ok;
    p.perRound.push(result.ok / cpu);
  };
  for (let round = 0; round < rounds; round++)
    if (together) await Promise.all(proxies.map(measure));
    else for (const p of proxies) await measure(p);
  process.stdout.write(
    `fixed rate ${rate} req/s${together ? ' to each proxy at once' : ''}, ${rounds} rounds of ${durationSec} s, 64 connections\n`,
  );
  for (const p of proxies)
    process.stdout.write(
      `${p.name.padEnd(8)} ${Math.round(p.ok / p.cpu)} req/CPU-s total, median ${Math.round(median(p.perRound))} [${p.perRound.map(Math.round).join(' ')}]\n`,
    );
  if (together && proxies.length > 1) {
    // CPU per request of each proxy over the first's, round by round (same seconds, same host)
    const first = proxies[0];
    for (const p of proxies.slice(1)) {
      const costs = p.perRound.map((v, i) => (first.perRound[i] / v - 1) * 100);
      const mean = costs.reduce((a, b) => a + b, 0) / costs.length;
      const sd = Math.sqrt(costs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, costs.length - 1));
      process.stdout.write(
        `${p.name} CPU per request vs ${first.name}: median ${median(costs).toFixed(1)} %, mean ${mean.toFixed(1)} % ± ${(sd / Math.sqrt(costs.length)).toFixed(1)} (standard error, ${costs.length} rounds) [${costs.map((c) => c.toFixed(1)).join(' ')}]\n`,
      );
    }
  }
} finally {
  for (const p of proxies) await p.proc.stop();
  for (const r of readers) r.stop();
  await backend.proc.stop();
  rmSync(tmp, { recursive: true, force: true });
}
