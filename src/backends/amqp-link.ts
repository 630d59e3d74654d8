// One AMQP 0-9-1 connection and its channel, kept up: what krakend-amqp's connectionHandler does
// for a consumer or producer backend, and lura's agent loop for an async agent. The link connects
// in the background (gw's start never waits for a broker), runs `setup` on each new channel
// (exchange, queue, bindings, QoS, consumer), and when the connection or the channel is lost it
// tells its owner (`onDown`: unacked deliveries are the broker's again) and connects anew after
// the `backoff_strategy` delay of each attempt, up to `max_retries` attempts per outage.
//
// The client is amqplib (zero dependencies; measured against rabbitmq-client in
// docs/benchmarks.md). It loads with the first link a thread opens: only threads that connect pay
// for it (worker 0 alone for async agents).

import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import type { QueueSettings } from './amqp-settings.js';
import type { Backoff } from './backoff.js';

export interface LinkOptions {
  url: string;
  /** Log prefix: `[BACKEND: /path][AMQP]`, `[SERVICE: AsyncAgent][AMQP][name]`. */
  label: string;
  logger: Logger;
  backoff: Backoff;
  /** Attempts per outage before giving up (Infinity: never). */
  maxRetries: number;
  /** A confirm channel: each publish is answered by the broker. */
  confirm?: boolean;
  /** Declares what the owner needs on a new channel; a failure closes the connection and retries. */
  setup(ch: Channel): Promise<void>;
  /** The channel is open and set up. */
  onUp?(ch: Channel): void;
  /** The channel is gone: its unacked deliveries go back to the queue. */
  onDown?(): void;
  /** Every attempt failed: the link stays down. */
  onGiveUp?(err: Error): void;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class AmqpLink {
  /** The open, set-up channel; null while connecting. */
  channel: Channel | ConfirmChannel | null = null;
  private model: ChannelModel | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: LinkOptions) {}

  /** Starts connecting (the first attempt at once); returns without waiting. */
  start(): void {
    void this.connectLoop(true);
  }

  get up(): boolean {
    return this.channel !== null;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    });
  }

  private async connectLoop(first: boolean): Promise<void> {
    let lastError: Error = new Error('not connected');
    for (let attempt = 0; !this.closed; attempt++) {
      if (attempt >= this.o.maxRetries) {
        this.o.logger.error(
          `${this.o.label} giving up after ${attempt} connection attempts: ${lastError.message}`,
        );
        this.o.onGiveUp?.(lastError);
        return;
      }
      if (!first || attempt > 0) await this.sleep(this.o.backoff(attempt));
      if (this.closed) return;
      try {
        await this.open();
        this.o.logger.info(`${this.o.label} connection attempt #${attempt + 1}: connected`);
        return;
      } catch (err) {
        lastError = err instanceof Error ? err : new Error(String(err));
        this.o.logger.warn(`${this.o.label} connection attempt #${attempt + 1}: ${errorText(err)}`);
      }
    }
  }

  private async open(): Promise<void> {
    const { default: amqp } = await import('amqplib');
    const model = await amqp.connect(this.o.url);
    // 'close' follows every 'error': the loss is handled there.
    model.on('error', () => {});
    let ch: Channel;
    try {
      ch = this.o.confirm ? await model.createConfirmChannel() : await model.createChannel();
      ch.on('error', () => {});
      await this.o.setup(ch);
    } catch (err) {
      model.close().catch(() => {});
      throw err;
    }
    if (this.closed) {
      model.close().catch(() => {});
      return;
    }
    let lost = false;
    const down = () => {
      if (lost) return;
      lost = true;
      this.channel = null;
      this.model = null;
      this.o.onDown?.();
      model.close().catch(() => {});
      if (this.closed) return;
      this.o.logger.warn(`${this.o.label} connection lost: reconnecting`);
      void this.connectLoop(false);
    };
    model.on('close', down);
    ch.on('close', down);
    this.model = model;
    this.channel = ch;
    this.o.onUp?.(ch);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.wake?.();
    const model = this.model;
    const ch = this.channel;
    this.channel = null;
    this.model = null;
    // The channel first: its close is answered after the acks sent before it, which a connection
    // close alone may overtake (they would be lost, and the messages delivered again).
    if (ch !== null) await ch.close().catch(() => {});
    if (model !== null) await model.close().catch(() => {});
  }
}

/**
 * The exchange as krakend-amqp declares it: a topic exchange whose `internal` flag is the
 * `exclusive` setting (it passes `exclusive` in ExchangeDeclare's internal position).
 */
export function declareExchange(ch: Channel, s: QueueSettings): Promise<unknown> {
  return ch.assertExchange(s.exchange ?? '', 'topic', {
    durable: s.durable === true,
    autoDelete: s.delete === true,
    internal: s.exclusive === true,
  });
}

/** Unacked messages a consumer holds when `prefetch_count` is 0 or absent. */
export const DEFAULT_PREFETCH = 100;

/** The queue, its bindings to the exchange, then QoS (newConsumer / initConsumer). */
export async function declareQueue(ch: Channel, s: QueueSettings, routingKeys: string[]): Promise<string> {
  if (s.exchange !== undefined && s.exchange !== '') await declareExchange(ch, s);
  const q = await ch.assertQueue(s.name ?? '', {
    durable: s.durable === true,
    autoDelete: s.delete === true,
    exclusive: s.exclusive === true,
  });
  if (s.exchange !== undefined && s.exchange !== '')
    for (const key of routingKeys) await ch.bindQueue(q.queue, s.exchange, key);
  // Without a prefetch_count the broker would push the whole queue into this process's memory
  // (KrakenD's client buffers it all too): gw holds at most DEFAULT_PREFETCH unacked messages.
  // prefetch_size is refused by RabbitMQ (not implemented): only the count is set.
  const count = s.prefetch_count ?? 0;
  await ch.prefetch(count > 0 ? count : DEFAULT_PREFETCH, false);
  return q.queue;
}

/** `max_retries` as krakend-amqp reads it: 0 or less is no limit. */
export function maxRetriesOf(v: unknown): number {
  return typeof v === 'number' && v > 0 ? v : Number.POSITIVE_INFINITY;
}
