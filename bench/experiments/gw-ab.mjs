// Saturated req/s of this checkout's gw against another checkout's (a git worktree of an earlier
// commit, built), on make bench's config: short bursts against each in turn from one load
// generator (bench/lib/loadgen.mjs `alternate`), so that the machine's drift, slower than a burst,
// falls on both alike. Prints the median of the pairs' req/s ratios with its standard error, the
// ratio of the totals and of req per CPU-second. Run it with the base as both sides to see what
// the same code shows against itself (the noise a difference must beat).
//
//   node bench/experiments/gw-ab.mjs --base DIR [--path /noop] [--workers 2] [--bursts 16]
//                                    [--burst 2] [--connections 64] [--args "--front uws"]
//                                    [--base-args ARGS] [--self]
//
// --self measures the base against itself (A/A); --args and --base-args are extra `gw run`
// arguments for each side.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchBackend } from '../lib/backend.mjs';
import { cliOption } from '../lib/fixed-rate.mjs';
import { findExecutable, freePort, startProcess, waitForHttp } from '../lib/proc.mjs';
import { median, medianError } from '../lib/rounds.mjs';
import { writeGwConfig } from '../lib/scenarios.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => cliOption(args, name, fallback);
const base = option('--base', undefined);
if (base === undefined) {
  process.stderr.write('gw-ab: --base DIR (a built checkout of another commit) is required\n');
  process.exit(2);
}
const self = args.includes('--self');
const path = option('--path', '/noop');
const workers = option('--workers', '2');
const bursts = Number(option('--bursts', 16));
const burstSec = Number(option('--burst', 2));
const connections = Number(option('--connections', 64));
const split = (s) => s.split(' ').filter(Boolean);
const extraArgs = split(option('--args', ''));
const baseArgs = split(option('--base-args', ''));

const nginx = findExecutable(process.env.BENCH_NGINX ?? 'nginx');
const tmp = mkdtempSync(join(tmpdir(), 'gw-ab-'));
const backend = await startBenchBackend(tmp, nginx);
const children = [backend.proc];

async function startGw(root, label, extra) {
  const port = await freePort();
  const config = writeGwConfig(tmp, 'main', backend.url, new Set());
  const proc = startProcess(process.execPath, [
    join(root, 'bin', 'gw.js'),
    'run',
    '-c',
    config,
    '-p',
    String(port),
    '--workers',
    workers,
    ...extra,
  ]);
  children.push(proc);
  await waitForHttp(`http://127.0.0.1:${port}/__health`, label, 20000, proc);
  return { url: `http://127.0.0.1:${port}${path}`, pid: proc.pid };
}

try {
  const a = self ? await startGw(base, 'base (A)', baseArgs) : await startGw(ROOT, 'this gw', extraArgs);
  const b = await startGw(base, 'base', baseArgs);
  const options = { alternate: [a, b], connections, bursts, burstSec };
  // One warm-up pass (JIT, connection pools) that is not counted.
  execFileSync(process.execPath, [
    join(HERE, '..', 'lib', 'loadgen.mjs'),
    JSON.stringify({ ...options, bursts: 2 }),
  ]);
  const out = execFileSync(
    process.execPath,
    [join(HERE, '..', 'lib', 'loadgen.mjs'), JSON.stringify(options)],
    {
      encoding: 'utf8',
    },
  );
  const r = JSON.parse(out.trim().split('\n').pop());
  const [ta, tb] = r.targets;
  const pct = (x) => `${((x - 1) * 100).toFixed(1)} %`;
  const med = median(r.pairRatios);
  process.stdout.write(
    `${self ? 'base vs base' : 'this gw vs base'} ${path}, ${workers} workers, ${bursts} pairs of ${burstSec} s bursts, ${connections} connections\n` +
      `req/s: median ratio ${med.toFixed(3)} (${pct(med)} ± ${(medianError(r.pairRatios) * 100).toFixed(1)} %), ` +
      `totals ${(ta.ok / ta.elapsedSec).toFixed(0)} / ${(tb.ok / tb.elapsedSec).toFixed(0)} = ${pct(ta.ok / ta.elapsedSec / (tb.ok / tb.elapsedSec))}\n` +
      `req per CPU-second: ${(ta.ok / ta.cpuSec).toFixed(0)} / ${(tb.ok / tb.cpuSec).toFixed(0)} = ${pct(ta.ok / ta.cpuSec / (tb.ok / tb.cpuSec))}\n` +
      `pairs: ${r.pairRatios.map((x) => x.toFixed(3)).join(' ')}\n`,
  );
} finally {
  for (const c of children) await c.stop?.();
  rmSync(tmp, { recursive: true, force: true });
}
