// Gathers the metric stores of every worker thread, on demand. Worker 0 (or the only instance)
// is the aggregator: it serves /metrics and /__stats, and when one is read it asks the other
// threads for their snapshots over a BroadcastChannel (one per gateway process, its name made by
// the main thread). Nothing crosses threads while nobody reads the metrics.

import { BroadcastChannel } from 'node:worker_threads';
import {
  type AggregatedSeries,
  type MetricsStore,
  mergeSnapshots,
  type SeriesSnapshot,
} from './metrics-store.js';

type Message =
  | { type: 'hello'; worker: number }
  | { type: 'bye'; worker: number }
  | { type: 'who' }
  | { type: 'collect'; seq: number }
  | { type: 'snapshot'; seq: number; worker: number; series: SeriesSnapshot[] };

export class TelemetryHub {
  private readonly channel: BroadcastChannel;
  private readonly peers = new Set<number>();
  private seq = 0;
  private pending = new Map<number, { got: SeriesSnapshot[][]; from: Set<number>; done: () => void }>();

  constructor(
    channelName: string,
    private readonly store: MetricsStore,
    private readonly worker: number,
  ) {
    this.channel = new BroadcastChannel(channelName);
    // the channel must not keep a stopping worker alive
    (this.channel as unknown as { unref?: () => void }).unref?.();
    this.channel.onmessage = (event) => this.onMessage((event as unknown as { data: Message }).data);
    if (this.isAggregator) this.post({ type: 'who' });
    else this.post({ type: 'hello', worker });
  }

  get isAggregator(): boolean {
    return this.worker === 0;
  }

  private post(m: Message): void {
    this.channel.postMessage(m);
  }

  private onMessage(m: Message): void {
    switch (m.type) {
      case 'who':
        if (!this.isAggregator) this.post({ type: 'hello', worker: this.worker });
        break;
      case 'hello':
        if (this.isAggregator) this.peers.add(m.worker);
        break;
      case 'bye':
        if (this.isAggregator) {
          this.peers.delete(m.worker);
          for (const p of this.pending.values()) if (this.peers.size <= p.from.size) p.done();
        }
        break;
      case 'collect':
        if (!this.isAggregator)
          this.post({ type: 'snapshot', seq: m.seq, worker: this.worker, series: this.store.snapshot() });
        break;
      case 'snapshot': {
        const p = this.pending.get(m.seq);
        if (!p || p.from.has(m.worker)) return;
        this.peers.add(m.worker);
        p.from.add(m.worker);
        p.got.push(m.series);
        if (p.from.size >= this.peers.size) p.done();
        break;
      }
    }
  }

  /** Every thread's series, summed. Threads that do not answer within `timeoutMs` are left out. */
  async collect(timeoutMs = 500): Promise<{ series: AggregatedSeries[]; threads: number }> {
    const own = this.store.snapshot();
    if (this.peers.size === 0) return { series: mergeSnapshots([own]), threads: 1 };
    const seq = ++this.seq;
    const got: SeriesSnapshot[][] = [own];
    const from = new Set<number>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.pending.set(seq, { got, from, done: finish });
      this.post({ type: 'collect', seq });
    });
    this.pending.delete(seq);
    return { series: mergeSnapshots(got), threads: got.length };
  }

  close(): void {
    if (!this.isAggregator) this.post({ type: 'bye', worker: this.worker });
    for (const p of this.pending.values()) p.done();
    this.channel.close();
  }
}
