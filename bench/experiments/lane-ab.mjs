// The pass-through lane against the header-map path, on one build: two gw instances serve the same
// no-op endpoint, one as is (the lane) and one with `max_header_bytes: 8192` (which keeps the lane
// off, src/server/front.ts), measured in turn at the same fixed rate in CPU seconds per request.
//
//   node bench/experiments/lane-ab.mjs [--rate 8000] [--rounds 6] [--input-headers '["Authorization"]'] [--ratelimit]
//
// `--input-headers` sets the endpoint's forwarded headers (JSON list; none by default),
// `--ratelimit` adds a qos/ratelimit/router limit far above the load. The backend is nginx serving
// the bench's 1.4 KB document. Prints req/CPU-s per instance: total and each round.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchBackend } from '../lib/backend.mjs';
import { cliOption, fixedRateLoad } from '../lib/fixed-rate.mjs';
import { findExecutable, freePort, startProcess, treeCpuSec, waitForHttp } from '../lib/proc.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => cliOption(args, name, fallback);
const rate = Number(option('--rate', 8000));
const rounds = Number(option('--rounds', 6));
const inputHeaders = JSON.parse(option('--input-headers', '[]'));
const ratelimit = args.includes('--ratelimit');

const nginx = findExecutable('nginx');
if (!nginx) {
  process.stderr.write('lane-ab: needs nginx (apt-get install nginx) for the backend\n');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'gw-lane-ab-'));
const backend = await startBenchBackend(tmp, nginx);
const config = (extra) => ({
  version: 3,
  timeout: '3s',
  ...extra,
  extra_config: { router: { disable_access_log: true } },
  endpoints: [
    {
      endpoint: '/noop',
      output_encoding: 'no-op',
      ...(inputHeaders.length > 0 ? { input_headers: inputHeaders } : {}),
      ...(ratelimit
        ? { extra_config: { 'qos/ratelimit/router': { max_rate: 1_000_000, client_max_rate: 1_000_000 } } }
        : {}),
      backend: [{ host: [backend.url], url_pattern: '/data.json', encoding: 'no-op' }],
    },
  ],
});

const load = (url, seconds) => fixedRateLoad(url, rate, seconds);

const instances = [];
try {
  for (const [name, extra] of [
    ['lane', {}],
    ['maps', { max_header_bytes: 8192 }],
  ]) {
    const file = join(tmp, `${name}.json`);
    writeFileSync(file, JSON.stringify(config(extra)));
    const port = await freePort();
    const proc = startProcess(process.execPath, [
      join(ROOT, 'bin', 'gw.js'),
      'run',
      '-c',
      file,
      '-p',
      String(port),
      '--workers',
      '1',
    ]);
    const url = `http://127.0.0.1:${port}/noop`;
    await waitForHttp(url, name, 20000, proc);
    await load(url, 2);
    instances.push({ name, proc, url, cpu: 0, ok: 0, perRound: [] });
  }
  for (let round = 0; round < rounds; round++)
    for (const g of instances) {
      const before = treeCpuSec(g.proc.pid);
      const result = await load(g.url, 3);
      const cpu = treeCpuSec(g.proc.pid) - before;
      g.cpu += cpu;
      g.ok += result.ok;
      g.perRound.push(Math.round(result.ok / cpu));
    }
  process.stdout.write(
    `fixed rate ${rate} req/s, ${rounds} rounds of 3 s; input_headers ${JSON.stringify(inputHeaders)}${ratelimit ? ', rate limit' : ''}\n`,
  );
  for (const g of instances)
    process.stdout.write(
      `${g.name.padEnd(5)} ${Math.round(g.ok / g.cpu)} req/CPU-s total [${g.perRound.join(' ')}]\n`,
    );
} finally {
  for (const g of instances) await g.proc.stop();
  await backend.proc.stop();
  rmSync(tmp, { recursive: true, force: true });
}
