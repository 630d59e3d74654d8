// `node bench/run.mjs --quick --scenarios noop` end to end: a backend, gw, the nginx reference
// when installed, a load run each, and the JSON + SVG results written with real figures.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/gateway.mjs';

test('bench --quick --scenarios noop writes the table, JSON and SVG with positive numbers', {
  timeout: 60_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), 'gw-bench-smoke-'));
  try {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bench', 'run.mjs'),
        '--quick',
        '--scenarios',
        'noop',
        '--duration',
        '2',
        '--warmup',
        '1',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `bench failed:\n${stderr}`);
    assert.match(stdout, /\| noop +\| 64 +\|/);

    const files = readdirSync(out);
    assert.ok(files.includes('latest.json') && files.includes('latest.svg'), files.join(', '));
    assert.ok(
      files.some((f) => /^\d{4}-\d\d-\d\dT.*\.json$/.test(f)),
      'a timestamped JSON file',
    );

    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    assert.equal(report.meta.connections, 64);
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
    if (report.meta.nginx) {
      assert.ok(noop.nginx.reqPerSec > 0 && noop.nginx.latencyMs.p99 > 0, 'nginx reference measured');
      assert.ok(noop.ratio > 0 && noop.p99Ratio > 0);
    }

    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<rect [^>]*class="gw"><title>noop gw: /);
    assert.ok(existsSync(join(out, 'latest.svg')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
