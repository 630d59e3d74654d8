// WebSocket counters of this thread: connections and messages both ways. Read by the stats of
// `telemetry/metrics` (summed over the worker threads) and by the benchmarks.

export const wsCounters = {
  /** Client connections open now. */
  open: 0,
  opened: 0,
  closed: 0,
  /** Client → gateway. */
  messagesIn: 0,
  bytesIn: 0,
  /** Gateway → client. */
  messagesOut: 0,
  bytesOut: 0,
};
