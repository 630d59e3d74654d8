// One fixed-rate load run in its own process (the load generator never shares an event loop with
// what cpu-ab.mjs measures): node fixed-rate-load.mjs URL RATE SECONDS [HEADERS-JSON] →
// {"ok":N,"non2xx":N,"p50":MS,"p99":MS} on stdout. The latencies of 2xx answers are recorded in
// microseconds (bench/lib/latency.mjs).
import autocannon from 'autocannon';
import { latencyHistogram, ms, recordLatency } from '../lib/latency.mjs';

const [url, rate, seconds, headers] = process.argv.slice(2);
const options = { url, connections: 64, duration: Number(seconds), overallRate: Number(rate) };
if (headers !== undefined) options.headers = JSON.parse(headers);
const histogram = latencyHistogram();
const instance = autocannon(options, (err, result) => {
  if (err) {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  }
  const latency = {
    p50: ms(histogram.getValueAtPercentile(50)),
    p99: ms(histogram.getValueAtPercentile(99)),
  };
  process.stdout.write(`${JSON.stringify({ ok: result['2xx'], non2xx: result.non2xx, ...latency })}\n`);
});
instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
  if (statusCode >= 200 && statusCode < 300) recordLatency(histogram, responseTimeMs);
});
