// Latency recording shared by the load generators (loadgen.mjs, experiments/fixed-rate-load.mjs):
// an hdr-histogram in microseconds, as autocannon's own has a 1 ms resolution, too coarse for a
// proxy answering in a few hundred microseconds.
import * as hdr from 'hdr-histogram-js';

/** An empty histogram of latencies in µs, from 1 µs to 60 s at 3 significant digits. */
export function latencyHistogram() {
  return hdr.build({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records one answer's time as autocannon reports it (ms, fractional) in µs. */
export function recordLatency(histogram, responseTimeMs) {
  histogram.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
}

/** µs → ms, rounded to the µs. */
export const ms = (us) => Math.round(us) / 1000;
