// Several interleaved runs of the same measurement, reduced to one result: the median of each
// figure, so that one round disturbed by CPU steal or a neighbour's burst does not decide.

export function median(values) {
  const sorted = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const COUNTS = ['requests', 'ok', 'non2xx', 'errors', 'timeouts', 'elapsedSec'];

/**
 * One load-generator result per round → one result shaped like a single run: req/s, bytes/s,
 * every latency percentile, CPU seconds and req/CPU-s are medians over the rounds (each taken
 * on its own, so p99 is the median of the rounds' p99s); requests/ok/non2xx/errors/timeouts and
 * elapsedSec are totals; `rounds` lists each round's req/s.
 */
export function summarizeRounds(runs) {
  const out = {};
  for (const key of COUNTS) out[key] = runs.reduce((sum, r) => sum + (r[key] ?? 0), 0);
  out.reqPerSec = median(runs.map((r) => r.reqPerSec));
  out.bytesPerSec = median(runs.map((r) => r.bytesPerSec));
  out.latencyMs = {};
  // to the µs: the median of two rounds is their mean
  for (const p of Object.keys(runs[0].latencyMs))
    out.latencyMs[p] = Math.round(median(runs.map((r) => r.latencyMs[p])) * 1000) / 1000;
  const cpuKnown = runs.every((r) => r.cpuSec !== null && r.cpuSec !== undefined);
  out.cpuSec = cpuKnown ? median(runs.map((r) => r.cpuSec)) : null;
  out.reqPerCpuSec = runs.every((r) => r.reqPerCpuSec > 0) ? median(runs.map((r) => r.reqPerCpuSec)) : null;
  out.statusCodes = {};
  for (const r of runs)
    for (const [code, stat] of Object.entries(r.statusCodes ?? {}))
      out.statusCodes[code] = { count: (out.statusCodes[code]?.count ?? 0) + (stat?.count ?? 0) };
  out.rounds = runs.map((r) => Math.round(r.reqPerSec));
  return out;
}

/** a[i] ÷ b[i] of each round (runs made side by side), null where b's figure is 0 or missing. */
export function roundRatios(a, b, figure) {
  return a.map((run, i) => {
    const x = figure(run);
    const y = b[i] ? figure(b[i]) : null;
    return x > 0 && y > 0 ? Math.round((x / y) * 1000) / 1000 : null;
  });
}

/**
 * The median of the per-round ratios: each round's gw run is compared with the reference run
 * made right after it, so a drift of the machine between rounds cancels out.
 */
export function pairedRatio(a, b, figure) {
  return median(roundRatios(a, b, figure));
}

/** The standard error of the median of `values` (1.2533 σ/√n for a roughly normal spread). */
export function medianError(values) {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return (1.2533 * Math.sqrt(variance)) / Math.sqrt(n);
}
