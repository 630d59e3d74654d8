// `node bench/run.mjs --quick --scenarios noop --rounds 1` end to end: a backend, gw, the nginx
// reference when installed, the floor proxy (uWS + undici), a load run each, and the JSON + SVG
// results written with real figures; and the median reduction of interleaved rounds.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runToEnd } from '../bench/lib/proc.mjs';
import { median, medianError, pairedRatio, roundRatios, summarizeRounds } from '../bench/lib/rounds.mjs';
import { loadBenchUws } from '../bench/lib/uws.mjs';
import { ROOT } from './helpers/gateway.mjs';

/** Whether the floor proxy can run here: it needs a uWebSockets.js build that loads (Node 22 on an
 * older glibc has none: the current build needs glibc 2.38, the old one Node 20). */
const floorRuns = (() => {
  try {
    loadBenchUws();
    return true;
  } catch {
    return false;
  }
})();

/** `node bench/run.mjs ARGS --out OUT` to its end; its stdout (a failed run rejects with its stderr). */
async function runBench(args, out) {
  const { stdout } = await runToEnd(process.execPath, [
    join(ROOT, 'bench', 'run.mjs'),
    ...args,
    '--out',
    out,
  ]);
  return stdout;
}

test('bench --quick --scenarios noop --rounds 1 writes the table, JSON and SVG with positive numbers', {
  timeout: 60_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), 'gw-bench-smoke-'));
  try {
    const stdout = await runBench(
      [
        '--quick',
        '--scenarios',
        'noop',
        '--duration',
        '2',
        '--warmup',
        '1',
        '--rounds',
        '1',
        '--ratio-bursts',
        '2',
        '--burst',
        '1',
      ],
      out,
    );
    assert.match(stdout, /\| noop +\| 64 +\|/);
    assert.match(stdout, /^1 round .* gw \d+ worker threads? .* load autocannon/m, 'the meta line');
    const [head, , row] = stdout.split('\n').filter((l) => l.startsWith('|'));
    const cells = (l) => l.split('|').map((c) => c.trim());
    const column = (name) => cells(row)[cells(head).indexOf(name)];
    if (floorRuns) {
      for (const name of ['floor req/s', 'floor req/CPU-s'])
        assert.ok(Number(column(name)) > 0, `${name}: ${row}`);
      assert.ok(Number(column('gw/floor').replace('×', '')) > 0, `gw/floor: ${row}`);
    } else assert.equal(column('floor req/s'), '—', `no uWS build loads here: ${row}`);

    const files = readdirSync(out);
    assert.ok(files.includes('latest.json') && files.includes('latest.svg'), files.join(', '));
    assert.ok(
      files.some((f) => /^\d{4}-\d\d-\d\dT.*\.json$/.test(f)),
      'a timestamped JSON file',
    );

    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    assert.equal(report.meta.connections, 64);
    assert.equal(report.meta.rounds, 1);
    if (floorRuns) assert.match(report.meta.floor, /uWebSockets\.js .* undici/);
    assert.equal(report.scenarios.length, 1);
    const [noop] = report.scenarios;
    assert.equal(noop.name, 'noop');
    assert.ok(noop.gw, `noop was skipped: ${noop.skipped}`);
    assert.ok(noop.gw.ok > 0 && noop.gw.reqPerSec > 0, 'gw served requests');
    assert.equal(noop.gw.non2xx + noop.gw.errors, 0);
    for (const p of ['p50', 'p90', 'p99', 'p999']) assert.ok(noop.gw.latencyMs[p] > 0, `gw ${p}`);
    assert.ok(
      noop.gw.latencyMs.p50 <= noop.gw.latencyMs.p99 && noop.gw.latencyMs.p99 <= noop.gw.latencyMs.p999,
    );
    assert.ok(noop.gw.cpuSec > 0 && noop.gw.reqPerCpuSec > 0, 'gw CPU time was read');
    assert.deepEqual(noop.gw.rounds, [Math.round(noop.gw.reqPerSec)]);
    if (floorRuns) {
      assert.equal(noop.floorPath, '/noop');
      assert.ok(noop.floor.ok > 0 && noop.floor.reqPerSec > 0, 'floor served requests');
      assert.equal(noop.floor.non2xx + noop.floor.errors, 0);
      assert.ok(noop.floor.latencyMs.p99 > 0 && noop.floor.reqPerCpuSec > 0, 'floor latency and CPU time');
      assert.equal(noop.floor.rounds.length, 1);
      assert.ok(noop.floorRatio > 0 && noop.floorP99Ratio > 0);
    } else assert.equal(noop.floor ?? null, null, 'no floor where no uWS build loads');
    if (report.meta.nginx) {
      assert.ok(noop.nginx.reqPerSec > 0 && noop.nginx.latencyMs.p99 > 0, 'nginx reference measured');
      assert.ok(noop.ratio > 0 && noop.p99Ratio > 0);
      if (noop.gw.reqPerCpuSec !== null) assert.ok(noop.cpuRatio > 0, 'CPU ratio where /proc tells CPU time');
      // the target scenarios also get gw ÷ nginx from alternating bursts
      const b = noop.burstRatio;
      assert.equal(b.pairRatios.length, 2);
      for (const r of b.pairRatios) assert.ok(r > 0, `pair ratio ${r}`);
      assert.equal(b.reqPerSec, Math.round(median(b.pairRatios) * 1000) / 1000);
      const [g, n] = b.targets;
      assert.notEqual(g.url, n.url, 'gw and nginx in turn');
      for (const t of b.targets) assert.ok(t.ok > 0 && t.elapsedSec >= 2, JSON.stringify(t));
      assert.match(
        stdout,
        /^noop: gw ÷ nginx \d+\.\d\d× ± \d+\.\d\d in alternating bursts \(median of 2 pairs of 1 s/m,
      );
    } else assert.equal(noop.burstRatio, undefined);

    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<rect [^>]*class="gw"><title>noop gw: /);
    if (floorRuns) assert.match(svg, /<rect [^>]*class="floor"><title>noop floor: /);
    assert.ok(existsSync(join(out, 'latest.svg')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('noop-log measures the access log against gw on the plain config, in alternating bursts', {
  timeout: 90_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), 'gw-bench-cost-'));
  try {
    const stdout = await runBench(
      [
        '--quick',
        '--scenarios',
        'noop-log',
        '--rounds',
        '1',
        '--cost-bursts',
        '3',
        '--burst',
        '1',
        '--no-nginx',
        '--no-floor',
      ],
      out,
    );
    assert.match(
      stdout,
      /^noop-log: costs -?\d+\.\d % ± \d+\.\d % of gw's req\/s against gw on its main config \(median of 3 pairs of 1 s bursts/m,
    );
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    const [scenario] = report.scenarios;
    assert.equal(scenario.name, 'noop-log');
    const cost = scenario.featureCost;
    assert.equal(cost.baseline, 'main');
    assert.equal(cost.pairRatios.length, 3);
    for (const r of cost.pairRatios) assert.ok(r > 0, `pair ratio ${r}`);
    assert.equal(cost.targets.length, 2);
    const [withLog, plain] = cost.targets;
    assert.notEqual(withLog.url, plain.url, 'two gw processes');
    for (const t of cost.targets) assert.ok(t.ok > 0 && t.elapsedSec >= 3 && t.cpuSec > 0, JSON.stringify(t));
    assert.equal(cost.reqPerSec, Math.round((1 - median(cost.pairRatios)) * 1000) / 1000);
    assert.ok(cost.reqPerSec < 1 && cost.reqPerCpuSec < 1);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the standard error of a median shrinks with the number of pairs', () => {
  const spread = [0.9, 1.1, 0.95, 1.05];
  const few = medianError(spread);
  const many = medianError([...spread, ...spread, ...spread, ...spread]);
  assert.ok(Math.abs(few - (1.2533 * Math.sqrt(0.025 / 3)) / 2) < 1e-9, String(few));
  assert.ok(many < few / 1.9, `${many} vs ${few}`);
  assert.ok(Number.isNaN(medianError([1])));
});

test("rounds reduce to the median of each figure, counts summed, each round's req/s kept", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
  const run = (reqPerSec, p99, reqPerCpuSec) => ({
    requests: 10,
    ok: 9,
    non2xx: 1,
    errors: 0,
    timeouts: 0,
    elapsedSec: 2,
    reqPerSec,
    bytesPerSec: reqPerSec * 100,
    latencyMs: { p50: p99 / 4, p99 },
    cpuSec: 1,
    reqPerCpuSec,
    statusCodes: { 200: { count: 9 }, 502: { count: 1 } },
  });
  const out = summarizeRounds([run(1000, 8, 500), run(3000, 2, 900), run(2000, 40, 700)]);
  assert.equal(out.reqPerSec, 2000);
  assert.equal(out.bytesPerSec, 200000);
  assert.deepEqual(out.latencyMs, { p50: 2, p99: 8 });
  assert.equal(out.reqPerCpuSec, 700);
  assert.equal(out.cpuSec, 1);
  assert.deepEqual([out.requests, out.ok, out.non2xx, out.elapsedSec], [30, 27, 3, 6]);
  assert.deepEqual(out.statusCodes, { 200: { count: 27 }, 502: { count: 3 } });
  assert.deepEqual(out.rounds, [1000, 3000, 2000]);
  const noCpu = summarizeRounds([{ ...run(1000, 8, null), cpuSec: null }, run(3000, 2, 900)]);
  assert.equal(noCpu.cpuSec, null);
  assert.equal(noCpu.reqPerCpuSec, null);
});

test('a ratio is the median of the rounds side by side, so a drift between rounds cancels out', () => {
  const rps = (v) => ({ reqPerSec: v });
  // the machine halves its speed in round 2: both runs of that round drop together
  const gw = [rps(900), rps(450), rps(880)];
  const nginx = [rps(1000), rps(500), rps(1100)];
  assert.deepEqual(
    roundRatios(gw, nginx, (r) => r.reqPerSec),
    [0.9, 0.9, 0.8],
  );
  assert.equal(
    pairedRatio(gw, nginx, (r) => r.reqPerSec),
    0.9,
  );
  assert.equal(
    pairedRatio([rps(1)], [rps(0)], (r) => r.reqPerSec),
    null,
  );
});
