// Per-thread metric series: counters and latency/size histograms.
//
// Recording uses HdrHistogram's bucket layout with 2 significant digits (256 sub-buckets, ≤ 0.8%
// error, values 1 µs … 71 min) in a plain Float64Array, indexed with Math.clz32: ~5 ns per
// observation. hdr-histogram-js's own recordValue costs 190–350 ns here (measured on this box:
// it takes log2/floor and polymorphic calls), too much for three observations per request.
// hdr-histogram-js computes the statistics (percentiles, mean, std-dev, min, max) from the merged
// counts, which have the same layout, so nothing is lost in between.
//
// Series are created at compile time (or on a status code's first occurrence): recording
// allocates nothing per request. Each worker thread records into its own store; the hub
// (hub.ts) gathers the snapshots of all threads when /metrics or /__stats is read, and
// mergeSnapshots() adds them up.

import * as hdr from 'hdr-histogram-js';

/** Microseconds: latencies. Bytes: sizes. 'count': a counter without histogram. */
export type SeriesUnit = 'us' | 'bytes' | 'count';

export type Labels = Record<string, string>;

/**
 * Labels of configured static attributes (`static_attributes`, `metrics_static_attributes`) are
 * stored under this prefix, which no internal label has: the exporters strip it and keep the
 * layer's own labels when a name is taken twice.
 */
export const STATIC_LABEL_PREFIX = '@';

/** The internal labels of a list of static attributes (the last one of a key wins). */
export function staticLabels(attributes: ReadonlyArray<{ key: string; value: string }>): Labels {
  const out: Labels = {};
  for (const a of attributes) out[`${STATIC_LABEL_PREFIX}${a.key}`] = a.value;
  return out;
}

const SUB_BUCKETS = 256;
const HALF = SUB_BUCKETS / 2;
/** Indexes for values up to 2^32 - 1. */
export const BUCKET_COUNT = SUB_BUCKETS + (32 - 9 + 1) * HALF;
const MAX_VALUE = 0xffffffff;

/** HdrHistogram's counts index of an integer value ≥ 0 (2 significant digits). */
export function bucketIndex(value: number): number {
  if (value < SUB_BUCKETS) return value;
  const shift = 31 - Math.clz32(value) - 7;
  return SUB_BUCKETS + (shift - 1) * HALF + ((value >>> shift) - HALF);
}

/** The lowest value that lands in bucket `index`. */
export function bucketLow(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const shift = Math.floor((index - SUB_BUCKETS) / HALF) + 1;
  return (((index - SUB_BUCKETS) % HALF) + HALF) * 2 ** shift;
}

/** The highest value that lands in bucket `index`. */
export function bucketHigh(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const shift = Math.floor((index - SUB_BUCKETS) / HALF) + 1;
  return bucketLow(index) + 2 ** shift - 1;
}

export class Series {
  count = 0;
  sum = 0;
  /** Allocated on the first observation: series that never see traffic cost nothing. */
  counts: Float64Array | undefined;

  constructor(
    readonly key: string,
    readonly family: string,
    readonly labels: Labels,
    readonly unit: SeriesUnit,
  ) {}

  /** A counter increment (unit 'count') or one observation (µs or bytes). */
  record(value: number): void {
    this.count++;
    if (this.unit === 'count') return;
    this.sum += value;
    const v = value < 0 ? 0 : value > MAX_VALUE ? MAX_VALUE : Math.round(value);
    if (this.counts === undefined) this.counts = new Float64Array(BUCKET_COUNT);
    this.counts[bucketIndex(v)]++;
  }
}

export interface SeriesSnapshot {
  key: string;
  family: string;
  labels: Labels;
  unit: SeriesUnit;
  count: number;
  sum: number;
  /** Non-empty buckets: their indexes and counts. */
  indexes?: Uint16Array;
  counts?: Float64Array;
}

export function seriesKey(family: string, labels: Labels): string {
  let key = family;
  for (const k of Object.keys(labels).sort()) key += `\u0000${k}\u0001${labels[k]}`;
  return key;
}

export class MetricsStore {
  private readonly all = new Map<string, Series>();

  /** The series of `family` with `labels`, created on first use. */
  series(family: string, labels: Labels, unit: SeriesUnit): Series {
    const key = seriesKey(family, labels);
    let s = this.all.get(key);
    if (s === undefined) {
      s = new Series(key, family, { ...labels }, unit);
      this.all.set(key, s);
    }
    return s;
  }

  /** Series with observations, in a compact form that crosses threads (structured clone). */
  snapshot(): SeriesSnapshot[] {
    const out: SeriesSnapshot[] = [];
    for (const s of this.all.values()) {
      if (s.count === 0) continue;
      const snap: SeriesSnapshot = {
        key: s.key,
        family: s.family,
        labels: s.labels,
        unit: s.unit,
        count: s.count,
        sum: s.sum,
      };
      if (s.counts) {
        let used = 0;
        for (let i = 0; i < BUCKET_COUNT; i++) if (s.counts[i] !== 0) used++;
        const indexes = new Uint16Array(used);
        const counts = new Float64Array(used);
        for (let i = 0, j = 0; i < BUCKET_COUNT; i++) {
          if (s.counts[i] === 0) continue;
          indexes[j] = i;
          counts[j++] = s.counts[i];
        }
        snap.indexes = indexes;
        snap.counts = counts;
      }
      out.push(snap);
    }
    return out;
  }
}

/** A series summed over all threads. */
export interface AggregatedSeries {
  family: string;
  labels: Labels;
  unit: SeriesUnit;
  count: number;
  sum: number;
  /** Merged bucket counts (HdrHistogram layout), undefined for counters. */
  counts?: Float64Array;
}

export function mergeSnapshots(snapshots: SeriesSnapshot[][]): AggregatedSeries[] {
  const byKey = new Map<string, AggregatedSeries>();
  for (const list of snapshots) {
    for (const s of list) {
      let agg = byKey.get(s.key);
      if (agg === undefined) {
        agg = { family: s.family, labels: s.labels, unit: s.unit, count: 0, sum: 0 };
        byKey.set(s.key, agg);
      }
      agg.count += s.count;
      agg.sum += s.sum;
      if (s.indexes && s.counts) {
        if (agg.counts === undefined) agg.counts = new Float64Array(BUCKET_COUNT);
        const merged = agg.counts;
        for (let j = 0; j < s.indexes.length; j++) merged[s.indexes[j]] += s.counts[j];
      }
    }
  }
  return [...byKey.values()];
}

/** Cumulative counts at each upper bound (`le`, in the series' unit): Prometheus buckets. */
export function cumulativeBuckets(counts: Float64Array, bounds: number[]): number[] {
  const out = new Array<number>(bounds.length).fill(0);
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    const top = bucketHigh(i);
    for (let b = 0; b < bounds.length; b++) if (top <= bounds[b]) out[b] += c;
  }
  return out;
}

export interface HistogramStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p75: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}

/** Statistics of merged counts, computed by hdr-histogram-js (values in the series' unit). */
export function histogramStats(counts: Float64Array): HistogramStats {
  const h = hdr.build({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2 ** 32,
    numberOfSignificantValueDigits: 2,
    useWebAssembly: false,
  });
  try {
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i];
      // hdr-histogram reports a bucket by its middle value; 0 is stored as 1 µs/byte
      if (c !== 0) h.recordValueWithCount(Math.max(1, Math.floor((bucketLow(i) + bucketHigh(i)) / 2)), c);
    }
    return {
      count: h.totalCount,
      min: h.totalCount > 0 ? h.minNonZeroValue : 0,
      max: h.maxValue,
      mean: h.mean,
      stddev: h.stdDeviation,
      p50: h.getValueAtPercentile(50),
      p75: h.getValueAtPercentile(75),
      p90: h.getValueAtPercentile(90),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      p999: h.getValueAtPercentile(99.9),
    };
  } finally {
    h.destroy();
  }
}
