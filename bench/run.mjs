// `make bench`: gw against nginx `proxy_pass` and against the "floor" proxy on the same machine.
//
//   node bench/run.mjs [--quick] [--scenarios noop,merged,...] [--rounds N] [--duration SEC]
//                      [--warmup SEC] [--connections N] [--workers N] [--out DIR]
//                      [--cost-bursts N] [--ratio-bursts N] [--burst SEC] [--no-nginx] [--no-floor]
//
// Environment: BENCH_ROUNDS (default 1; `make bench` runs 3), BENCH_DURATION (seconds per
// measured run, default 10), BENCH_WARMUP (default 3), BENCH_CONNECTIONS (default 64),
// BENCH_GW_WORKERS (gw worker threads, default: one per core), BENCH_GW_ARGS (extra `gw run`
// arguments, e.g. "--node-http"), BENCH_NGINX (nginx binary).
//
// Processes: a backend (nginx, 1 worker, serving static JSON files; a node:http server when
// nginx is not installed), gw (`gw run -c <generated config>`), the reference nginx proxy
// (worker_processes = gw's worker threads, keep-alive upstream), the floor proxy
// (bench/lib/floor-proxy.mjs: uWebSockets.js + undici `Pool.dispatch` with no config and no
// header processing, as many worker threads as gw: the ceiling of gw's own stack on this box),
// and the load generator (autocannon in its own process, a fresh one per run). Every measured
// run is preceded by a warm-up run on the same URL. CPU seconds are read from /proc for the gw
// process (all worker threads), the nginx proxy (master + workers) and the floor process.
//
// Rounds: for each scenario, gw, nginx and the floor are measured in turn N times (gw, nginx,
// floor, gw, nginx, floor…) so that a slow patch of the machine (CPU steal, neighbours) hits
// all three alike; each figure reported is the median over the rounds (each round's req/s is
// kept in the JSON as `rounds`). A ratio is the median of the rounds' ratios, each round's gw
// run against the reference runs made right after it (never a reference run of another
// scenario: the machine drifts by ±30 % within minutes).
// Scenarios that add a feature to a plain one (noop-log, noop-metrics, merged-metrics) also
// measure the feature's cost against a second gw started on the plain config: N pairs of short
// bursts, one load generator alternating between the two (ABBAAB…); the cost is 1 − the median of the pairs'
// req/s ratios (`featureCost`, with the req/CPU-s cost over the totals). Ten-second runs minutes
// apart differ by ±20 % on this machine; bursts seconds apart share its drift. The scenarios the
// targets name (noop, merged) get their ratio to nginx measured the same way too (`burstRatio`:
// gw and nginx in alternating bursts, --ratio-bursts N pairs, 0 = off).
//
// Writes bench/results/<timestamp>.json, bench/results/latest.json and bench/results/latest.svg
// (or into --out DIR) and prints the run's settings and a table.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchBackend } from './lib/backend.mjs';
import { nginxVersion, proxyConf, startNginx } from './lib/nginx.mjs';
import {
  cpuAccountingAvailable,
  findExecutable,
  freePort,
  runToEnd,
  startProcess,
  treeCpuSec,
  waitForHttp,
} from './lib/proc.mjs';
import { median, medianError, pairedRatio, roundRatios, summarizeRounds } from './lib/rounds.mjs';
import { NGINX_ROUTES, SCENARIOS, writeGwConfig } from './lib/scenarios.mjs';
import { renderChart } from './lib/svg.mjs';
import { loadBenchUws } from './lib/uws.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const GW_BIN = join(ROOT, 'bin', 'gw.js');
const LOADGEN = join(HERE, 'lib', 'loadgen.mjs');
const FLOOR = join(HERE, 'lib', 'floor-proxy.mjs');

function parseArgs(argv) {
  const opts = {
    quick: false,
    scenarios: undefined,
    rounds: Number(process.env.BENCH_ROUNDS ?? 1),
    durationSec: Number(process.env.BENCH_DURATION ?? 10),
    warmupSec: Number(process.env.BENCH_WARMUP ?? 3),
    connections: Number(process.env.BENCH_CONNECTIONS ?? 64),
    workers: process.env.BENCH_GW_WORKERS ? Number(process.env.BENCH_GW_WORKERS) : availableParallelism(),
    out: join(HERE, 'results'),
    nginx: true,
    floor: true,
    gwArgs: (process.env.BENCH_GW_ARGS ?? '').split(/\s+/).filter(Boolean),
    costBursts: Number(process.env.BENCH_COST_BURSTS ?? 16),
    ratioBursts: Number(process.env.BENCH_RATIO_BURSTS ?? 16),
    burstSec: Number(process.env.BENCH_BURST ?? 2),
  };
  let durationGiven = process.env.BENCH_DURATION !== undefined;
  let warmupGiven = process.env.BENCH_WARMUP !== undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--scenarios')
      opts.scenarios = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (a === '--duration') {
      opts.durationSec = Number(value());
      durationGiven = true;
    } else if (a === '--warmup') {
      opts.warmupSec = Number(value());
      warmupGiven = true;
    } else if (a === '--connections') opts.connections = Number(value());
    else if (a === '--workers') opts.workers = Number(value());
    else if (a === '--out') opts.out = value();
    else if (a === '--no-nginx') opts.nginx = false;
    else if (a === '--no-floor') opts.floor = false;
    else if (a === '--rounds') opts.rounds = Number(value());
    else if (a === '--cost-bursts') opts.costBursts = Number(value());
    else if (a === '--ratio-bursts') opts.ratioBursts = Number(value());
    else if (a === '--burst') opts.burstSec = Number(value());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${readHelp()}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  if (opts.quick) {
    if (!durationGiven) opts.durationSec = 2;
    if (!warmupGiven) opts.warmupSec = 1;
    opts.costBursts = Math.min(opts.costBursts, 4);
    opts.ratioBursts = Math.min(opts.ratioBursts, 4);
    opts.burstSec = Math.min(opts.burstSec, 1);
  }
  for (const [k, v] of Object.entries({
    durationSec: opts.durationSec,
    rounds: opts.rounds,
    connections: opts.connections,
    workers: opts.workers,
    costBursts: opts.costBursts,
    burstSec: opts.burstSec,
  }))
    if (!(v > 0)) throw new Error(`${k} must be a positive number`);
  if (!(opts.ratioBursts >= 0)) throw new Error('ratioBursts must be 0 (off) or a positive number');
  if (!Number.isInteger(opts.rounds)) throw new Error('rounds must be a whole number');
  return opts;
}

function readHelp() {
  return `node bench/run.mjs [options]: gw against nginx proxy_pass and the floor proxy (uWS + undici)

  --quick              2 s runs after a 1 s warm-up (unless --duration/--warmup say otherwise)
  --scenarios LIST     comma-separated, default all but noop-aa: ${SCENARIOS.map((s) => s.name).join(',')}
  --rounds N           measure gw, nginx and the floor in turn N times per scenario and report
                       the medians (env BENCH_ROUNDS, default 1; make bench uses 3)
  --duration SEC       seconds per measured run (env BENCH_DURATION, default 10)
  --warmup SEC         warm-up seconds before every measured run (env BENCH_WARMUP, default 3)
  --connections N      concurrent connections (env BENCH_CONNECTIONS, default 64)
  --workers N          gw worker threads, also nginx workers and floor threads (env BENCH_GW_WORKERS,
                       default one per core)
  --out DIR            where the JSON and SVG results go (default bench/results)
  --cost-bursts N      pairs of bursts measuring a feature's cost (noop-log, noop-metrics, merged-metrics) against
                       gw on the plain config (env BENCH_COST_BURSTS, default 16)
  --ratio-bursts N     pairs of bursts measuring gw ÷ nginx on the target scenarios (noop, merged)
                       with one load generator alternating between them (env BENCH_RATIO_BURSTS,
                       default 16; 0 = off)
  --burst SEC          seconds per burst (env BENCH_BURST, default 2)
  --no-nginx           no nginx reference proxy
  --no-floor           no floor proxy

Other environment: BENCH_GW_ARGS (extra gw run arguments), BENCH_NGINX (nginx binary).`;
}

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

async function registeredFeatures() {
  try {
    const { featureByNamespace } = await import('../dist/extensions/registry.js');
    return new Set(featureByNamespace.keys());
  } catch (err) {
    throw new Error(`cannot load dist/ (build first: npm run build): ${err.message}`);
  }
}

function gitDescribe() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}

/** A fresh load generator process (bench/lib/loadgen.mjs) with `options`; resolves with its JSON line. */
async function runLoadgen(options) {
  const { stdout } = await runToEnd(process.execPath, [LOADGEN, JSON.stringify(options)]).catch((err) => {
    throw new Error(`load generator failed: ${err.message.trim()}`);
  });
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** One run against `url`. */
function loadgen(url, { connections, durationSec, headers }) {
  return runLoadgen({ url, connections, durationSec, warmupSec: 0, headers });
}

/** Feature cost: bursts against two gw in turn (loadgen's `alternate` mode). */
function alternateRun(targets, { connections, headers, bursts, burstSec }) {
  return runLoadgen({ alternate: targets, connections, headers, bursts, burstSec });
}

/** A warm-up run, then the measured run with the CPU time of `targetPid`'s tree read around it. */
async function loadRun(url, opts, targetPid) {
  if (opts.warmupSec > 0) await loadgen(url, { ...opts, durationSec: opts.warmupSec });
  const cpuBefore = treeCpuSec(targetPid);
  const result = await loadgen(url, opts);
  const cpuSec = treeCpuSec(targetPid) - cpuBefore;
  result.cpuSec = cpuAccountingAvailable ? Math.round(cpuSec * 100) / 100 : null;
  result.reqPerCpuSec = cpuAccountingAvailable && cpuSec > 0 ? Math.round(result.ok / cpuSec) : null;
  return result;
}

async function startGw(tmp, instance, backendUrl, features, opts) {
  const config = writeGwConfig(tmp, instance, backendUrl, features);
  await runToEnd(process.execPath, [GW_BIN, 'check', '-c', config]).catch((err) => {
    throw new Error(`gw check refused the bench config ${config}: ${err.message}`);
  });
  const port = await freePort();
  const logFile = join(tmp, `gw-${instance}.log`);
  const fd = openSync(logFile, 'w');
  const proc = startProcess(
    process.execPath,
    [GW_BIN, 'run', '-c', config, '-p', String(port), '--workers', String(opts.workers), ...opts.gwArgs],
    { stdout: fd },
  );
  closeSync(fd);
  await waitForHttp(`http://127.0.0.1:${port}/__health`, `gw (${instance})`, 20000, proc);
  return { proc, url: `http://127.0.0.1:${port}`, instance, logFile };
}

/** The floor proxy, checked on each of its routes before it is measured. */
async function startFloor(backendUrl, opts) {
  const port = await freePort();
  const proc = startProcess(process.execPath, [FLOOR, String(port), backendUrl, String(opts.workers)]);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/__ready`, 'floor proxy', 15000, proc);
    const url = `http://127.0.0.1:${port}`;
    for (const path of ['/noop', '/large', '/merged']) {
      const res = await fetch(`${url}${path}`);
      const body = await res.text();
      JSON.parse(body);
      if (res.status !== 200) throw new Error(`floor proxy answered ${res.status} to ${path}`);
    }
    return { proc, url };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

const r0 = (v) => (v === null || v === undefined ? '—' : String(Math.round(v)));
const r2 = (v) => (v === null || v === undefined ? '—' : v.toFixed(2));

const ratio = (v) => (v ? `${v.toFixed(2)}×` : '—');
/** "12345" or "12345 (/noop)" when the reference ran another path than the scenario. */
const refReqPerSec = (result, path, scenarioPath) =>
  result ? `${r0(result.reqPerSec)}${path !== scenarioPath ? ` (${path})` : ''}` : '—';

function metaLine(meta) {
  const parts = [
    meta.rounds > 1
      ? `${meta.rounds} rounds (gw → nginx → floor in turn; medians)`
      : '1 round (no median: --rounds N for that)',
    `${meta.durationSec} s per run after ${meta.warmupSec} s warm-up${meta.quick ? ' (quick)' : ''}`,
    `gw ${meta.gwWorkers} worker thread${meta.gwWorkers === 1 ? '' : 's'}${meta.gwArgs.length ? ` ${meta.gwArgs.join(' ')}` : ''}`,
    meta.nginxProxy ? `${meta.nginx} proxy_pass, ${meta.gwWorkers} workers` : 'no nginx proxy',
    meta.floor ? `floor ${meta.floor}` : 'no floor proxy',
    `backend ${meta.backend}`,
    `load ${meta.loadGenerator}`,
    `${meta.cpus} CPUs, node ${meta.node}, git ${meta.git}`,
  ];
  return parts.join(' · ');
}

function printTable(report) {
  const head = [
    'scenario',
    'conns',
    'gw req/s',
    'p50',
    'p90',
    'p99',
    'p99.9',
    'nginx req/s',
    'ratio',
    'nginx p99',
    'p99 ratio',
    'floor req/s',
    'gw/floor',
    'gw req/CPU-s',
    'nginx req/CPU-s',
    'floor req/CPU-s',
    'CPU ratio',
    'errors',
  ];
  const rows = [head];
  for (const s of report.scenarios) {
    if (!s.gw) {
      rows.push([s.name, '', `skipped: ${s.skipped}`, ...head.slice(3).map(() => '')]);
      continue;
    }
    const g = s.gw;
    rows.push([
      s.name,
      String(s.connections),
      r0(g.reqPerSec),
      r2(g.latencyMs.p50),
      r2(g.latencyMs.p90),
      r2(g.latencyMs.p99),
      r2(g.latencyMs.p999),
      refReqPerSec(s.nginx, s.nginxPath, s.path),
      ratio(s.ratio),
      s.nginx ? r2(s.nginx.latencyMs.p99) : '—',
      ratio(s.p99Ratio),
      refReqPerSec(s.floor, s.floorPath, s.path),
      ratio(s.floorRatio),
      r0(g.reqPerCpuSec),
      s.nginx ? r0(s.nginx.reqPerCpuSec) : '—',
      s.floor ? r0(s.floor.reqPerCpuSec) : '—',
      ratio(s.cpuRatio),
      String(g.non2xx + g.errors),
    ]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [
    metaLine(report.meta),
    '',
    line(rows[0]),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ];
  const median =
    report.meta.rounds > 1
      ? `medians over ${report.meta.rounds} rounds, ratios = median of each round's ratio; `
      : '';
  process.stdout.write(
    `${out.join('\n')}\n(${median}latencies in ms; ratio = gw req/s ÷ nginx proxy_pass req/s; ` +
      'gw/floor = gw req/s ÷ floor proxy req/s, the floor being uWS + undici with no gateway code; ' +
      'CPU ratio = gw req/CPU-s ÷ nginx req/CPU-s; ' +
      'errors = gw non-2xx + socket errors)\n',
  );
  const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);
  const times = (v) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}×`);
  for (const s of report.scenarios) {
    const b = s.burstRatio;
    if (!b) continue;
    process.stdout.write(
      `${s.name}: gw ÷ nginx ${times(b.reqPerSec)} ± ${b.reqPerSecError.toFixed(2)} in alternating bursts ` +
        `(median of ${b.bursts} pairs of ${b.burstSec} s; ${times(b.reqPerSecTotals)} over the totals), ` +
        `${times(b.reqPerCpuSec)} in req/CPU-s\n`,
    );
  }
  for (const s of report.scenarios) {
    const c = s.featureCost;
    if (!c) continue;
    process.stdout.write(
      `${s.name}: costs ${pct(c.reqPerSec)} ± ${pct(c.reqPerSecError)} of gw's req/s against gw on its ${c.baseline} config ` +
        `(median of ${c.bursts} pairs of ${c.burstSec} s bursts in turn; ${pct(c.reqPerSecTotals)} over the totals), ` +
        `${pct(c.reqPerCpuSec)} of its req/CPU-s\n`,
    );
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const features = await registeredFeatures();
  const wanted = opts.scenarios ?? SCENARIOS.filter((s) => !s.optional).map((s) => s.name);
  for (const name of wanted)
    if (!SCENARIOS.some((s) => s.name === name))
      throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const scenarios = SCENARIOS.filter((s) => wanted.includes(s.name));

  const nginxBin = process.env.BENCH_NGINX ?? findExecutable('nginx');
  if (!nginxBin)
    log(
      'nginx is not installed (apt-get install nginx): the backend is a node:http server and there is no reference proxy, so no ratios.',
    );
  const tmp = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const children = [];
  const stopAll = async () => {
    for (const p of children.reverse()) await p.stop().catch(() => {});
  };
  process.once('SIGINT', () => {
    stopAll().finally(() => process.exit(130));
  });

  const report = {
    meta: {
      date: new Date().toISOString(),
      git: gitDescribe(),
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      nginx: nginxBin ? nginxVersion(nginxBin) : null,
      nginxProxy: false,
      floor: null,
      backend: '',
      gwWorkers: opts.workers,
      gwArgs: opts.gwArgs,
      connections: opts.connections,
      rounds: opts.rounds,
      aggregation:
        'per figure, the median over the rounds (req/s, bytes/s, each latency percentile, CPU s, req/CPU-s); ' +
        'requests/ok/non2xx/errors/timeouts/elapsedSec are totals; rounds = req/s of each round; ratios = median of the per-round ratios (gw run vs the reference runs right after it)',
      durationSec: opts.durationSec,
      warmupSec: opts.warmupSec,
      quick: opts.quick,
      loadGenerator: 'autocannon 9 (own process, 1 thread); latency hdr-histogram in µs',
    },
    scenarios: [],
  };

  try {
    const backend = await startBenchBackend(tmp, nginxBin);
    children.push(backend.proc);
    report.meta.backend = backend.kind;
    log(`backend: ${backend.kind} at ${backend.url}`);

    const references = [];
    if (nginxBin && opts.nginx) {
      const port = await freePort();
      const conf = proxyConf(tmp, NGINX_ROUTES, new URL(backend.url).port, port, opts.workers);
      const proc = await startNginx(nginxBin, tmp, 'proxy', conf, `http://127.0.0.1:${port}/__ready`);
      children.push(proc);
      references.push({ kind: 'nginx', proc, url: `http://127.0.0.1:${port}`, pathOf: (sc) => sc.nginx });
      report.meta.nginxProxy = true;
      log(`reference: nginx proxy_pass (${opts.workers} workers) at http://127.0.0.1:${port}`);
    }
    if (opts.floor) {
      try {
        const floor = await startFloor(backend.url, opts);
        children.push(floor.proc);
        references.push({ kind: 'floor', ...floor, pathOf: (sc) => sc.floor });
        report.meta.floor = `uWebSockets.js ${packageVersion(loadBenchUws().name)} + undici ${packageVersion('undici')} Pool.dispatch, ${opts.workers} threads`;
        log(`reference: floor proxy (uWS + undici, ${opts.workers} threads) at ${floor.url}`);
      } catch (err) {
        log(`floor proxy unavailable, measuring without it: ${err.message}`);
      }
    }

    // Each reference is measured right after gw in every round of every scenario, never reused
    // from another scenario: on this machine throughput drifts by ±30 % within minutes, so only
    // runs made side by side can be compared.
    const measureReference = async (ref, path, connections) => {
      log(`  ${ref.kind} ${path} with ${connections} connections…`);
      const result = await loadRun(
        `${ref.url}${path}`,
        { connections, durationSec: opts.durationSec, warmupSec: opts.warmupSec },
        ref.proc.pid,
      );
      const failed = result.non2xx + result.errors;
      if (failed > 0) log(`  warning: ${ref.kind} ${path} had ${failed} failed requests`);
      return result;
    };

    let gw;
    let baselineGw;
    for (const sc of scenarios) {
      const connections = sc.connections ?? opts.connections;
      const entry = { name: sc.name, description: sc.description, connections, path: sc.path };
      report.scenarios.push(entry);
      if (sc.requires && !features.has(sc.requires)) {
        entry.skipped = `${sc.requires} is not registered in this build`;
        log(`${sc.name}: skipped (${entry.skipped})`);
        continue;
      }
      if (gw?.instance !== sc.instance) {
        if (gw) await gw.proc.stop();
        gw = await startGw(tmp, sc.instance, backend.url, features, opts);
        children.push(gw.proc);
        log(`gw (${sc.instance} config, ${opts.workers} workers) at ${gw.url}`);
      }
      const headers = sc.headers?.() ?? {};
      const probe = await fetch(`${gw.url}${sc.path}`, { headers });
      const probeBody = await probe.text();
      if (probe.status !== 200 || (sc.expect && !sc.expect(probeBody))) {
        entry.skipped = `gw answered ${probe.status} to ${sc.path}: ${probeBody.slice(0, 200)}`;
        log(`${sc.name}: skipped (${entry.skipped})`);
        continue;
      }
      if (sc.baseline && baselineGw?.instance !== sc.baseline) {
        if (baselineGw) await baselineGw.proc.stop();
        baselineGw = await startGw(tmp, sc.baseline, backend.url, features, opts);
        children.push(baselineGw.proc);
        log(`baseline gw (${sc.baseline} config) at ${baselineGw.url}`);
      }
      const gwRuns = [];
      const refRuns = references.map(() => []);
      const run = { connections, durationSec: opts.durationSec, warmupSec: opts.warmupSec, headers };
      for (let round = 0; round < opts.rounds; round++) {
        log(`${sc.name} round ${round + 1}/${opts.rounds}: gw ${sc.path} with ${connections} connections…`);
        gwRuns.push(await loadRun(`${gw.url}${sc.path}`, run, gw.proc.pid));
        for (const [i, ref] of references.entries())
          refRuns[i].push(await measureReference(ref, ref.pathOf(sc), connections));
      }
      entry.gw = summarizeRounds(gwRuns);
      if (sc.baseline) {
        log(
          `  ${sc.name}: ${opts.costBursts} × ${opts.burstSec} s bursts against gw and gw (${sc.baseline} config) in turn…`,
        );
        const cost = await alternateRun(
          [
            { url: `${gw.url}${sc.path}`, pid: gw.proc.pid },
            { url: `${baselineGw.url}${sc.path}`, pid: baselineGw.proc.pid },
          ],
          { connections, headers, bursts: opts.costBursts, burstSec: opts.burstSec },
        );
        const [withFeature, without] = cost.targets;
        const share = (x) => Math.round((1 - x) * 1000) / 1000;
        entry.featureCost = {
          baseline: sc.baseline,
          bursts: opts.costBursts,
          burstSec: opts.burstSec,
          // > 0: the feature costs that share of gw's req/s (of its req per CPU-second)
          reqPerSec: share(median(cost.pairRatios)),
          reqPerSecTotals: share(withFeature.ok / withFeature.elapsedSec / (without.ok / without.elapsedSec)),
          reqPerCpuSec:
            withFeature.cpuSec > 0 && without.cpuSec > 0
              ? share(withFeature.ok / withFeature.cpuSec / (without.ok / without.cpuSec))
              : null,
          // the standard error of that median (1.2533 σ/√n), so a reader sees what the pairs can tell
          reqPerSecError: Math.round(medianError(cost.pairRatios) * 1000) / 1000,
          pairRatios: cost.pairRatios,
          targets: cost.targets,
        };
      }
      const nginxRef = references.find((r) => r.kind === 'nginx');
      if (sc.burstRatio && nginxRef && opts.ratioBursts > 0) {
        log(`  ${sc.name}: ${opts.ratioBursts} × ${opts.burstSec} s bursts against gw and nginx in turn…`);
        const pairs = await alternateRun(
          [
            { url: `${gw.url}${sc.path}`, pid: gw.proc.pid },
            { url: `${nginxRef.url}${nginxRef.pathOf(sc)}`, pid: nginxRef.proc.pid },
          ],
          { connections, headers, bursts: opts.ratioBursts, burstSec: opts.burstSec },
        );
        const [g, n] = pairs.targets;
        const round3 = (x) => Math.round(x * 1000) / 1000;
        entry.burstRatio = {
          bursts: opts.ratioBursts,
          burstSec: opts.burstSec,
          reqPerSec: round3(median(pairs.pairRatios)),
          reqPerSecError: round3(medianError(pairs.pairRatios)),
          reqPerSecTotals: round3(g.ok / g.elapsedSec / (n.ok / n.elapsedSec)),
          reqPerCpuSec: g.cpuSec > 0 && n.cpuSec > 0 ? round3(g.ok / g.cpuSec / (n.ok / n.cpuSec)) : null,
          pairRatios: pairs.pairRatios,
          targets: pairs.targets,
        };
      }
      for (const [i, ref] of references.entries()) {
        const result = summarizeRounds(refRuns[i]);
        const ratio = pairedRatio(gwRuns, refRuns[i], (r) => r.reqPerSec);
        const p99Ratio = pairedRatio(gwRuns, refRuns[i], (r) => r.latencyMs.p99);
        if (ref.kind === 'nginx') {
          entry.nginx = result;
          entry.nginxPath = sc.nginx;
          entry.ratio = ratio;
          entry.p99Ratio = p99Ratio;
          entry.ratioRounds = roundRatios(gwRuns, refRuns[i], (r) => r.reqPerSec);
          // req/CPU-s does not depend on how much CPU the machine lent each run: the steady ratio
          entry.cpuRatio = pairedRatio(gwRuns, refRuns[i], (r) => r.reqPerCpuSec);
        } else {
          entry.floor = result;
          entry.floorPath = sc.floor;
          entry.floorRatio = ratio;
          entry.floorP99Ratio = p99Ratio;
        }
      }
      const nginxAt = references.findIndex((r) => r.kind === 'nginx');
      const floorAt = references.findIndex((r) => r.kind === 'floor');
      if (entry.nginx && entry.floor)
        entry.floorToNginx = pairedRatio(refRuns[floorAt], refRuns[nginxAt], (r) => r.reqPerSec);
    }
    if (gw) await gw.proc.stop();
    if (baselineGw) await baselineGw.proc.stop();
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }

  mkdirSync(opts.out, { recursive: true });
  const stamp = report.meta.date.replace(/[:.]/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(opts.out, `${stamp}.json`), json);
  writeFileSync(join(opts.out, 'latest.json'), json);
  writeFileSync(join(opts.out, 'latest.svg'), renderChart(report));
  printTable(report);
  log(`wrote ${join(opts.out, `${stamp}.json`)}, latest.json and latest.svg`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
