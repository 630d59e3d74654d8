// async/amqp: the AMQP driver of async agents ("AMQP driver for the Asynchronous Agent"), as
// krakend-amqp's async/subscriber.go runs it. It declares the topic exchange, the queue and its
// binding by `consumer.topic`, sets QoS from `prefetch_count`, and consumes; each message goes
// through the agent's pipeline, at most `consumer.workers` at once and `consumer.max_rate` per
// second. A message whose pipeline succeeds is acked; one that fails is nacked and requeued (dropped
// with `nack_discard`); with `auto_ack` the broker forgets it on delivery. The agent reports itself
// alive on connecting and every `health_interval` while connected.
//
// What gw adds, and why:
// - A failing pipeline does not spin. KrakenD nacks at once, and a backend that keeps failing gets
//   the same message again at once, in a tight loop. gw holds a failed message before its nack:
//   100 ms after the first failure in a row, doubling up to 5 s, back to none after a success.
// - Stopping (SIGTERM) drains: the consumer is cancelled, messages not started are given back,
//   those in flight finish and are acked or nacked, then the connection closes. Nothing is lost:
//   a message is acked only once its pipeline succeeded.
// - The connection is kept up by amqp-link.ts with `connection.backoff_strategy` and
//   `connection.max_retries` per outage (lura: the agent's restart loop with the same settings).

import type { Channel, ConsumeMessage } from 'amqplib';
import { AmqpLink, declareQueue, maxRetriesOf } from '../backends/amqp-link.js';
import { type AgentAmqpSettings, AMQP_AGENT_SCHEMA, queueIssues } from '../backends/amqp-settings.js';
import { backoffByName } from '../backends/backoff.js';
import type { AgentDriver, AgentRuntime, CompileContext, ConfigIssue, FeatureModule } from '../types.js';

/** Held before the nack of the n-th failure in a row: 100 ms doubling, at most 5 s. */
export function failureHoldMs(failuresInARow: number): number {
  return failuresInARow <= 0 ? 0 : Math.min(5000, 100 * 2 ** Math.min(failuresInARow - 1, 16));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** max_rate as lura's token bucket: `rate` tokens a second, a burst of max(1, ⌊rate⌋). */
class RateLimit {
  private tokens: number;
  private last = performance.now();
  private readonly capacity: number;

  constructor(private readonly rate: number) {
    this.capacity = Math.max(1, Math.floor(rate));
    this.tokens = this.capacity;
  }

  /** Resolves when a token is taken. */
  async take(): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
    }
  }
}

interface Delivery {
  msg: ConsumeMessage;
  ch: Channel;
}

class AmqpAgent implements AgentDriver {
  private readonly link: AmqpLink;
  private readonly pending: Delivery[] = [];
  private active = 0;
  private failures = 0;
  private stopping = false;
  private idle: (() => void) | null = null;
  private consumerTag: string | undefined;
  private channel: Channel | null = null;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly limit: RateLimit | undefined;
  private readonly label: string;

  constructor(
    private readonly cfg: AgentAmqpSettings,
    private readonly agent: AgentRuntime,
    private readonly ctx: CompileContext,
  ) {
    this.label = `[SERVICE: AsyncAgent][AMQP][${agent.name}]`;
    this.limit = agent.maxRate > 0 ? new RateLimit(agent.maxRate) : undefined;
    this.link = new AmqpLink({
      url: cfg.host ?? '',
      label: this.label,
      logger: ctx.logger,
      backoff: backoffByName(agent.backoffStrategy),
      maxRetries: maxRetriesOf(agent.maxRetries),
      setup: async (ch) => {
        const queue = await declareQueue(ch, cfg, [agent.topic]);
        const ok = await ch.consume(queue, (msg) => msg !== null && this.deliver({ msg, ch }), {
          consumerTag: 'krakend',
          noAck: cfg.auto_ack === true,
          exclusive: cfg.exclusive === true,
          noLocal: cfg.no_local === true,
        });
        this.consumerTag = ok.consumerTag;
      },
      onUp: (ch) => {
        this.channel = ch;
        agent.ping();
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => agent.ping(), agent.healthIntervalMs);
        this.heartbeat.unref();
      },
      onDown: () => {
        // Unacked deliveries are the broker's again (redelivered): the ones not started are void.
        this.channel = null;
        clearInterval(this.heartbeat);
        this.pending.length = 0;
      },
    });
    ctx.logger.info(`${this.label} Starting the consumer`);
    this.link.start();
  }

  private deliver(d: Delivery): void {
    if (this.stopping) return; // given back when the channel closes
    this.pending.push(d);
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.active < this.agent.workers && this.pending.length > 0) {
      const d = this.pending.shift()!;
      this.active++;
      this.handle(d)
        .catch((err: unknown) =>
          this.ctx.logger.error(`${this.label} ${err instanceof Error ? err.message : String(err)}`),
        )
        .finally(() => {
          this.active--;
          if (this.active === 0) this.idle?.();
          this.pump();
        });
    }
  }

  private async handle(d: Delivery): Promise<void> {
    if (this.limit !== undefined) await this.limit.take();
    const ok = await this.agent.process(d.msg.content);
    if (ok) this.failures = 0;
    else this.failures++;
    if (this.cfg.auto_ack === true) return; // the broker forgot it on delivery
    if (ok) {
      this.settle(d, () => d.ch.ack(d.msg));
      return;
    }
    const hold = this.stopping ? 0 : failureHoldMs(this.failures);
    if (hold > 0) await sleep(hold);
    this.settle(d, () => d.ch.nack(d.msg, false, this.cfg.nack_discard !== true));
  }

  /** An ack or nack on a channel that closed meanwhile: the broker redelivers that message. */
  private settle(d: Delivery, fn: () => void): void {
    if (d.ch !== this.channel) return;
    try {
      fn();
    } catch {}
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    const ch = this.channel;
    if (ch !== null && this.consumerTag !== undefined) await ch.cancel(this.consumerTag).catch(() => {});
    // Not started: back to the queue now, for another consumer.
    const givenBack = this.pending.splice(0);
    for (const d of givenBack) this.settle(d, () => d.ch.nack(d.msg, false, true));
    this.ctx.logger.info(
      `${this.label} stopping: ${this.active} message(s) in flight, ${givenBack.length} given back to the queue`,
    );
    if (this.active > 0)
      await Promise.race([
        new Promise<void>((resolve) => {
          this.idle = resolve;
        }),
        sleep(deadlineMs),
      ]);
    await this.link.close();
    this.ctx.logger.info(`${this.label} Consumer stopped`);
  }
}

export const asyncAmqpModule: FeatureModule = {
  namespace: 'async/amqp',
  schema: AMQP_AGENT_SCHEMA,
  validate(cfg, path): ConfigIssue[] {
    const s = cfg as AgentAmqpSettings;
    const out = queueIssues(s, path);
    if (typeof s.host === 'string' && (!/^amqps?:\/\//i.test(s.host) || !URL.canParse(s.host)))
      out.push({
        path: `${path}.host`,
        message: `expected the broker's URL, e.g. "amqp://guest:guest@localhost:5672/", found ${JSON.stringify(s.host)}`,
      });
    return out;
  },
  agent: (cfg, agent, ctx) => new AmqpAgent(cfg as AgentAmqpSettings, agent, ctx),
};
