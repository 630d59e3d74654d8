// The messages a subscriber backend (AMQP consumer, Pub/Sub subscriber) has received and not yet
// handed to a request, and the requests waiting for one: each request takes the oldest message,
// or waits for the next until its deadline. Lura's consumers read a Go channel the same way.

import { UpstreamError } from '../proxy/errors.js';

type Taker<T> = (m: T | Error) => void;

export class Mailbox<T> {
  private readonly buffered: T[] = [];
  private head = 0;
  private readonly takers = new Set<Taker<T>>();

  /** Requests waiting for a message. */
  get waiting(): number {
    return this.takers.size;
  }

  /** `limit`: the most messages kept for later (a subscription the broker does not pace); older go. */
  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  /** A message arrived: to the oldest waiting request, else kept. Returns false when one was dropped. */
  put(m: T): boolean {
    for (const take of this.takers) {
      this.takers.delete(take);
      take(m);
      return true;
    }
    this.buffered.push(m);
    if (this.buffered.length - this.head > this.limit) {
      this.head++;
      this.compact();
      return false;
    }
    return true;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.buffered.length) {
      this.buffered.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The kept messages are void (their channel closed: the broker has them again). */
  clear(): void {
    this.buffered.length = 0;
    this.head = 0;
  }

  /**
   * The next message; when none is kept, `unavailable()` decides whether to wait (undefined) or
   * fail at once (its error), and the wait ends at `deadline` (ms since the epoch).
   */
  take(deadline: number, unavailable: () => Error | undefined): Promise<T> {
    if (this.head < this.buffered.length) {
      const m = this.buffered[this.head++];
      if (this.head === this.buffered.length) this.clear();
      else this.compact();
      return Promise.resolve(m);
    }
    const err = unavailable();
    if (err !== undefined) return Promise.reject(err);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.takers.delete(take);
          reject(new UpstreamError('no message before the backend timeout', 'GW_BACKEND_TIMEOUT'));
        },
        Math.max(1, deadline - Date.now()),
      );
      const take: Taker<T> = (m) => {
        clearTimeout(timer);
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
      this.takers.add(take);
    });
  }

  /** Fails every waiting request with `err` (shutdown). */
  fail(err: Error): void {
    for (const take of this.takers) take(err);
    this.takers.clear();
  }
}
