// The load generator, run as its own process so that it never shares an event loop (or a core's
// time slice accounting) with the gateway or the backend.
//
//   node bench/lib/loadgen.mjs '<json options>'
//
// Options: { url, connections, durationSec, warmupSec, headers, method, body }.
// Prints one JSON line on stdout: requests, 2xx count, errors, req/s, latency percentiles in
// milliseconds from an hdr-histogram recorded in microseconds (autocannon's own histogram has
// a 1 ms resolution, too coarse for a proxy answering in a few hundred microseconds).
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';

const opts = JSON.parse(process.argv[2] ?? '{}');

function run(durationSec, record) {
  return new Promise((resolve, reject) => {
    const histogram = hdr.build({
      bitBucketSize: 64,
      autoResize: true,
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
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
          histogram.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
        }
      });
    }
  });
}

const ms = (us) => Math.round(us) / 1000;

try {
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
