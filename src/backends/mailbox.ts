// The messages a subscriber backend (AMQP consumer, Pub/Sub subscriber) has received and not yet
// handed to a request, and the requests waiting for one: each request takes the oldest message,
// or waits for the next until its deadline. Lura's consumers read a Go channel the same way.

import { BroadcastChannel, threadId as workerThreadId } from 'node:worker_threads';
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

  /** Told the number of waiting requests each time it changes (see `SharedMailbox`). */
  onWaiting: ((waiting: number) => void) | undefined;
  /** Told when a message is kept because no request waits for it. */
  onKept: (() => void) | undefined;

  /** `limit`: the most messages kept for later (a subscription the broker does not pace); older go. */
  constructor(private readonly limit = Number.POSITIVE_INFINITY) {}

  /** A message arrived: to the oldest waiting request, else kept. Returns false when one was dropped. */
  put(m: T): boolean {
    for (const take of this.takers) {
      this.takers.delete(take);
      this.onWaiting?.(this.takers.size);
      take(m);
      return true;
    }
    this.buffered.push(m);
    let kept = true;
    if (this.buffered.length - this.head > this.limit) {
      this.head++;
      this.compact();
      kept = false;
    }
    this.onKept?.();
    return kept;
  }

  /** The oldest kept message, taken out (no request is waiting while any is kept). */
  takeKept(): T | undefined {
    if (this.head >= this.buffered.length) return undefined;
    const m = this.buffered[this.head++];
    if (this.head === this.buffered.length) this.clear();
    else this.compact();
    return m;
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
    const kept = this.takeKept();
    if (kept !== undefined) return Promise.resolve(kept);
    const err = unavailable();
    if (err !== undefined) return Promise.reject(err);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.takers.delete(take);
          this.onWaiting?.(this.takers.size);
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
      this.onWaiting?.(this.takers.size);
    });
  }

  /** Fails every waiting request with `err` (shutdown). */
  fail(err: Error): void {
    for (const take of this.takers) take(err);
    this.takers.clear();
    this.onWaiting?.(0);
  }
}

/**
 * What the holders of one `SharedMailbox` tell each other: how many requests wait (a first one,
 * `hello`, asks the others to say theirs), that one is gone, or a message moved to one holder.
 */
type ShareMessage<T> =
  | { from: string; waiting: number; hello?: boolean }
  | { from: string; gone: true }
  | { to: string; message: T };

let sharedCount = 0;

/**
 * One mailbox shared by the worker threads of a gateway: a broker that hands each message to one
 * subscriber of a group, not to the one whose request waits (NATS queue groups), would otherwise
 * leave a message in a thread no request reaches while another thread's request times out. Each
 * holder tells the others how many of its requests wait; one that keeps a message no request of
 * its own waits for passes it to a thread that has waiting requests. A holder that closes (a
 * reload's old configuration) passes what it keeps to another one, the new configuration's. A
 * message is moved, never copied: it is taken by one request at most.
 */
export class SharedMailbox<T> {
  private readonly id = `${workerThreadId}:${sharedCount++}`;
  private readonly channel: BroadcastChannel;
  /** The other holders, each with how many of its requests wait (as last told). */
  private readonly peers = new Map<string, number>();

  constructor(
    name: string,
    private readonly mailbox: Mailbox<T>,
  ) {
    this.channel = new BroadcastChannel(name);
    (this.channel as unknown as { unref?: () => void }).unref?.();
    this.channel.onmessage = (ev) => this.received((ev as { data: ShareMessage<T> }).data);
    mailbox.onWaiting = (waiting) => this.channel.postMessage({ from: this.id, waiting });
    mailbox.onKept = () => this.passOn();
    this.channel.postMessage({ from: this.id, waiting: 0, hello: true });
  }

  private received(m: ShareMessage<T>): void {
    if ('to' in m) {
      if (m.to === this.id) this.mailbox.put(m.message);
      return;
    }
    if ('gone' in m) {
      this.peers.delete(m.from);
      return;
    }
    if (m.hello === true && !this.peers.has(m.from))
      this.channel.postMessage({ from: this.id, waiting: this.mailbox.waiting });
    this.peers.set(m.from, m.waiting);
    this.passOn();
  }

  /** Kept messages go to the holders whose requests wait for one. */
  private passOn(): void {
    for (const [peer, waiting] of this.peers) {
      let left = waiting;
      while (left > 0) {
        const message = this.mailbox.takeKept();
        if (message === undefined) break;
        this.channel.postMessage({ to: peer, message });
        left--;
      }
      this.peers.set(peer, left);
      if (left > 0) return;
    }
  }

  /** Stops sharing; what this holder keeps goes to another one (the hungriest), if any is left. */
  close(): void {
    this.mailbox.onWaiting = undefined;
    this.mailbox.onKept = undefined;
    let heir: string | undefined;
    let most = -1;
    for (const [peer, waiting] of this.peers)
      if (waiting > most) {
        heir = peer;
        most = waiting;
      }
    if (heir !== undefined)
      for (let m = this.mailbox.takeKept(); m !== undefined; m = this.mailbox.takeKept())
        this.channel.postMessage({ to: heir, message: m });
    this.channel.postMessage({ from: this.id, gone: true });
    this.channel.close();
  }
}
