// The load generator, run as its own process so that it never shares an event loop (or a core's
// time slice accounting) with the gateway or the backend.
//
//   node bench/lib/loadgen.mjs '<json options>'
//
// Options: { url, connections, durationSec, warmupSec, headers, method, body }.
// Or { alternate: [{ url, pid }, { url, pid }], bursts, burstSec, connections, headers }: short
// bursts against each target in turn (ABAB…, the first of each pair alternating), the CPU time
// of each target's process read around its bursts; prints one JSON line with each target's
// totals ({ ok, elapsedSec, cpuSec }) and the per-pair req/s ratios. Two configurations of the
// same gateway compared this way share every drift of the machine that is slower than a burst.
// Prints one JSON line on stdout: requests, 2xx count, errors, req/s, latency percentiles in
// milliseconds from an hdr-histogram recorded in microseconds (autocannon's own histogram has
// a 1 ms resolution, too coarse for a proxy answering in a few hundred microseconds).
import autocannon from 'autocannon';
import { latencyHistogram, ms, recordLatency } from './latency.mjs';
import { treeCpuSec } from './proc.mjs';

const opts = JSON.parse(process.argv[2] ?? '{}');

function run(durationSec, record) {
  return new Promise((resolve, reject) => {
    const histogram = latencyHistogram();
    let ok = 0;
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections ?? 64,
        duration: durationSec,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        body: opts.body,
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({ result, histogram, ok });
      },
    );
    if (record) {
      instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
        if (statusCode >= 200 && statusCode < 300) {
          ok++;
          recordLatency(histogram, responseTimeMs);
        }
      });
    }
  });
}

/** One burst against `url`: 2xx count and elapsed seconds. */
function burst(url, seconds) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    autocannon(
      {
        url,
        connections: opts.connections ?? 64,
        duration: seconds,
        headers: opts.headers ?? {},
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({ ok: result['2xx'], elapsedSec: Number(process.hrtime.bigint() - started) / 1e9 });
      },
    );
  });
}

async function alternate() {
  const targets = opts.alternate.map((t) => ({ ...t, ok: 0, elapsedSec: 0, cpuSec: 0, perBurst: [] }));
  for (const t of targets) await burst(t.url, 1);
  const pairRatios = [];
  for (let i = 0; i < opts.bursts; i++) {
    const order = i % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const cpuBefore = treeCpuSec(t.pid);
      const r = await burst(t.url, opts.burstSec);
      t.cpuSec += treeCpuSec(t.pid) - cpuBefore;
      t.ok += r.ok;
      t.elapsedSec += r.elapsedSec;
      t.perBurst.push(r.ok / r.elapsedSec);
    }
    pairRatios.push(Math.round((targets[0].perBurst[i] / targets[1].perBurst[i]) * 1000) / 1000);
  }
  const out = targets.map(({ url, ok, elapsedSec, cpuSec }) => ({
    url,
    ok,
    elapsedSec: Math.round(elapsedSec * 1000) / 1000,
    cpuSec: Math.round(cpuSec * 100) / 100,
  }));
  process.stdout.write(`${JSON.stringify({ targets: out, pairRatios })}\n`);
}

try {
  if (opts.alternate) {
    await alternate();
    process.exit(0);
  }
  if (opts.warmupSec > 0) await run(opts.warmupSec, false);
  const started = process.hrtime.bigint();
  const { result, histogram, ok } = await run(opts.durationSec ?? 10, true);
  const elapsedSec = Number(process.hrtime.bigint() - started) / 1e9;
  const out = {
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedSec,
    reqPerSec: ok / result.duration,
    bytesPerSec: result.throughput.average,
    latencyMs: {
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p99: ms(histogram.getValueAtPercentile(99)),
      p999: ms(histogram.getValueAtPercentile(99.9)),
      max: ms(histogram.maxValue),
      mean: ms(histogram.mean),
    },
    statusCodes: result.statusCodeStats,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (err) {
  process.stderr.write(`loadgen: ${err?.stack ?? err}\n`);
  process.exit(1);
}
