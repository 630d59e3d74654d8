// backend/amqp/consumer and backend/amqp/producer: backends that are a RabbitMQ queue, as
// krakend-amqp's consumer.go and producer.go make them ("AMQP Consumer/Producer Integration").
// Either replaces the backend's HTTP call: the rest of the pipeline (Lua, manipulation, merge,
// static, sequential) is the same as for an HTTP backend.
//
// Consumer: the exchange (topic), the queue and its `routing_key` bindings are declared. Each
// request takes the next message (waiting up to the backend's timeout when none is there: see
// QueueConsumer for how it is fetched), decodes it by the backend's `encoding` and acks it (unless
// `auto_ack`); a message that does not decode is nacked (requeued unless `nack_discard`) and the
// request fails.
//
// Producer: the exchange is declared; each request publishes its body to it. The routing key,
// expiration, reply-to, message id and priority come from the endpoint parameters the config
// names with their first letter capitalised (`"routing_key": "Route"` reads `{route}`), unless
// `static_routing_key` makes `routing_key` the key itself. Request headers go as message headers.
// The publish is confirmed by the broker before the request answers (an unconfirmed message is a
// failed request, not a silent loss).
//
// Both keep their connection up with `backoff_strategy` and `max_retries` (amqp-link.ts); while it
// is down a request fails at once ("connection not available"), as in KrakenD.

import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';
import { getDecoder } from '../proxy/encodings.js';
import { UpstreamError } from '../proxy/errors.js';
import type {
  BackendMiddleware,
  BackendRequest,
  BackendResponse,
  CompileContext,
  FeatureModule,
} from '../types.js';
import { AmqpLink, declareExchange, declareQueue, maxRetriesOf } from './amqp-link.js';
import {
  AMQP_CONSUMER_SCHEMA,
  AMQP_PRODUCER_SCHEMA,
  type ConsumerSettings,
  type ProducerSettings,
  type QueueSettings,
  queueIssues,
} from './amqp-settings.js';
import { backoffByName } from './backoff.js';
import { Mailbox } from './mailbox.js';

/** The broker is not reachable now: the request fails at once, as krakend-amqp's does. */
export class ConnectionUnavailable extends UpstreamError {
  constructor() {
    super('connection not available, trying to reconnect', 'GW_BACKEND_CONNECT');
  }
}

const EMPTY = Buffer.alloc(0);

interface Delivery {
  msg: GetMessage;
  ch: Channel;
}

/** How long the poll of an empty queue waits before asking again: doubling, 10 ms to 200 ms. */
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 200;

/**
 * A queue read one message per waiting request. The link declares what `declare` says; while
 * requests wait, one loop asks the broker for the next message (basic.get) and hands it to the
 * oldest of them. KrakenD consumes (basic.consume) into its one process instead; gw's worker
 * threads would each hold messages the others' requests wait for, so a message is fetched only
 * for a request that waits, in the thread that serves it. One that arrives after its request gave
 * up goes back to the queue at once.
 */
export class QueueConsumer {
  private readonly link: AmqpLink;
  private readonly mailbox = new Mailbox<Delivery>();
  private queue = '';
  private polling = false;

  constructor(
    url: string,
    label: string,
    ctx: CompileContext,
    private readonly cfg: QueueSettings,
    declare: (ch: Channel) => Promise<string>,
  ) {
    this.link = new AmqpLink({
      url,
      label,
      logger: ctx.logger,
      backoff: backoffByName(cfg.backoff_strategy),
      maxRetries: maxRetriesOf(cfg.max_retries),
      setup: async (ch) => {
        this.queue = await declare(ch);
      },
      onUp: () => this.poll(),
    });
    this.link.start();
  }

  /** Fetches messages while requests wait for one (a single loop per consumer). */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    let idleMs = POLL_MIN_MS;
    try {
      while (this.mailbox.waiting > 0) {
        const ch = this.link.channel;
        if (ch === null) return; // onUp starts the loop again
        let msg: GetMessage | false;
        try {
          msg = await ch.get(this.queue, { noAck: this.cfg.auto_ack === true });
        } catch {
          return; // the channel closed: the link reconnects
        }
        if (msg === false) {
          await sleep(idleMs);
          idleMs = Math.min(POLL_MAX_MS, idleMs * 2);
          continue;
        }
        idleMs = POLL_MIN_MS;
        if (this.mailbox.waiting > 0 || this.cfg.auto_ack === true) this.mailbox.put({ msg, ch });
        else settle(() => ch.nack(msg, false, true)); // its request gave up meanwhile
      }
    } finally {
      this.polling = false;
    }
  }

  /** The next message, waiting until `deadline` (ms since the epoch) for one. */
  take(deadline: number): Promise<Delivery> {
    const taken = this.mailbox.take(deadline, () => (this.link.up ? undefined : new ConnectionUnavailable()));
    void this.poll();
    return taken;
  }

  close(): Promise<void> {
    this.mailbox.fail(new ConnectionUnavailable());
    return this.link.close();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function consumerStage(cfg: ConsumerSettings, ctx: CompileContext): BackendMiddleware {
  const backend = ctx.backend!;
  const label = `[ENDPOINT: ${ctx.endpoint?.endpoint ?? ''}][AMQP: ${cfg.exchange ?? ''} -> ${cfg.name ?? ''}]`;
  const consumer = new QueueConsumer(backend.host![0], label, ctx, cfg, (ch) =>
    declareQueue(ch, cfg, cfg.routing_key ?? []),
  );
  ctx.onClose(() => consumer.close());
  const decode = getDecoder(backend.encoding ?? 'json') ?? getDecoder('json')!;
  const isCollection = backend.is_collection === true;
  const autoAck = cfg.auto_ack === true;
  const requeue = cfg.nack_discard !== true;
  return () =>
    async (breq: BackendRequest): Promise<BackendResponse> => {
      const { msg, ch } = await consumer.take(breq.deadline > 0 ? breq.deadline : Date.now() + 2000);
      let data: Record<string, unknown>;
      try {
        // As lura's decoders read it, an empty message is no data rather than an error (io.EOF).
        data = msg.content.length === 0 ? {} : decode(msg.content, isCollection);
      } catch (err) {
        if (!autoAck) settle(() => ch.nack(msg, false, requeue));
        if (!requeue) ctx.logger.debug(`${label} Nack: message discarded from queue '${cfg.name}'`);
        throw err;
      }
      if (!autoAck) settle(() => ch.ack(msg));
      return { status: 200, headers: {}, body: msg.content, data };
    };
}

/** An ack or nack on a channel that closed meanwhile throws: the broker redelivers that message. */
function settle(fn: () => void): void {
  try {
    fn();
  } catch {}
}

const capitalize = (s: string) => (s === '' ? s : s[0].toUpperCase() + s.slice(1));

/**
 * The endpoint parameter a producer key names: lura hands parameters to backends with their first
 * letter capitalised, so `"Route"` names `{route}` (and `{Route}`). Resolved once, at startup.
 */
function paramNamed(key: string | undefined, params: string[]): string | undefined {
  if (key === undefined || key === '') return undefined;
  return params.find((p) => capitalize(p) === key);
}

function endpointParams(pattern: string | undefined): string[] {
  return [...(pattern ?? '').matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]);
}

function producerStage(cfg: ProducerSettings, ctx: CompileContext): BackendMiddleware {
  const backend = ctx.backend!;
  const label = `[ENDPOINT: ${ctx.endpoint?.endpoint ?? ''}][AMQP: ${cfg.exchange ?? ''} -> ${cfg.name ?? ''}]`;
  const link = new AmqpLink({
    url: backend.host![0],
    label,
    logger: ctx.logger,
    backoff: backoffByName(cfg.backoff_strategy),
    maxRetries: maxRetriesOf(cfg.max_retries),
    confirm: true,
    setup: async (ch) => {
      if (cfg.exchange !== undefined && cfg.exchange !== '') await declareExchange(ch, cfg);
    },
  });
  link.start();
  ctx.onClose(() => link.close());
  const params = endpointParams(ctx.endpoint?.endpoint);
  const expParam = paramNamed(cfg.exp_key, params);
  const replyToParam = paramNamed(cfg.reply_to_key, params);
  const msgIdParam = paramNamed(cfg.msg_id_key, params);
  const priorityParam = paramNamed(cfg.priority_key, params);
  const routingParam = cfg.static_routing_key === true ? undefined : paramNamed(cfg.routing_key, params);
  const staticKey = cfg.static_routing_key === true ? (cfg.routing_key ?? '') : undefined;
  const exchange = cfg.exchange ?? '';
  const mandatory = cfg.mandatory === true;
  const answer: BackendResponse = { status: 200, headers: {}, body: EMPTY, data: {} };

  return () =>
    (breq: BackendRequest): Promise<BackendResponse> => {
      const ch = link.channel as ConfirmChannel | null;
      if (ch === null) return Promise.reject(new ConnectionUnavailable());
      const p = breq.params;
      const headers: Record<string, string[]> = {};
      for (const k in breq.headers) headers[k] = [breq.headers[k]];
      const priority = priorityParam !== undefined ? Number.parseInt(p[priorityParam] ?? '', 10) : Number.NaN;
      const routingKey = staticKey ?? (routingParam !== undefined ? (p[routingParam] ?? '') : '');
      return new Promise((resolve, reject) => {
        try {
          ch.publish(
            exchange,
            routingKey,
            breq.body ?? EMPTY,
            {
              headers,
              contentType: breq.headers['Content-Type'] || undefined,
              timestamp: Math.floor(Date.now() / 1000),
              expiration: (expParam !== undefined && p[expParam]) || undefined,
              replyTo: (replyToParam !== undefined && p[replyToParam]) || undefined,
              messageId: (msgIdParam !== undefined && p[msgIdParam]) || undefined,
              priority: Number.isInteger(priority) && priority >= 0 && priority <= 255 ? priority : undefined,
              mandatory,
            },
            (err) =>
              err ? reject(new Error(`publish not confirmed by the broker: ${err}`)) : resolve(answer),
          );
        } catch (err) {
          reject(err);
        }
      });
    };
}

export const amqpConsumerModule: FeatureModule = {
  namespace: 'backend/amqp/consumer',
  schema: AMQP_CONSUMER_SCHEMA,
  validate: (cfg, path) => queueIssues(cfg as ConsumerSettings, path),
  backend: (cfg, ctx) => consumerStage(cfg as ConsumerSettings, ctx),
};

export const amqpProducerModule: FeatureModule = {
  namespace: 'backend/amqp/producer',
  schema: AMQP_PRODUCER_SCHEMA,
  validate(cfg, path) {
    const out = queueIssues(cfg as ProducerSettings, path);
    if ((cfg as ProducerSettings).immediate === true)
      out.push({
        path: `${path}.immediate`,
        message:
          'RabbitMQ closes the connection of an immediate publish (not implemented since 3.0): ignored',
        severity: 'warning',
      });
    return out;
  },
  backend: (cfg, ctx) => producerStage(cfg as ProducerSettings, ctx),
};
