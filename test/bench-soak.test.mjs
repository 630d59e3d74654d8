// The soak (bench/soak.mjs) in short: 20 s of mixed traffic against `gw run` while its backends
// reset, hang, send gzip bombs and close keep-alive connections, with slow readers holding large
// answers. Every fault is answered as due (500 for the broken backends, 200 for the rest), nothing
// unexpected, gw alive, and the report and chart written. `make bench` runs it for ten minutes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runToEnd } from '../bench/lib/proc.mjs';
import { ROOT } from './helpers/gateway.mjs';

test('20 s of the soak: every fault answered as due, nothing unexpected, gw alive', {
  timeout: 120_000,
}, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'gw-soak-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const { stdout } = await runToEnd(process.execPath, [
    join(ROOT, 'bench', 'soak.mjs'),
    '--duration',
    '20',
    '--rate',
    '100',
    '--out',
    out,
  ]);
  const { summary, samples } = JSON.parse(readFileSync(join(out, 'soak-latest.json'), 'utf8'));
  t.diagnostic(stdout.split('\n').find((l) => l.startsWith('soak: 20 s')) ?? '');
  assert.equal(summary.gwAlive, true);
  assert.equal(summary.unexpected, 0, JSON.stringify(samples.map((s) => s.notes)));
  assert.ok(summary.answered > 1000, `${summary.answered} answered`);
  assert.ok(summary.expectedFaults > 100, `${summary.expectedFaults} faults answered as due`);
  assert.ok(samples.length >= 4, 'sampled over time');
  assert.match(readFileSync(join(out, 'soak-latest.svg'), 'utf8'), /^<svg [\s\S]*<path d="M/);
});
