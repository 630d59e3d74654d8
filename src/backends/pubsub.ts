// backend/pubsub/subscriber and backend/pubsub/publisher ("Publisher/Subscribe with Kafka, NATS and
// cloud systems"), as krakend-pubsub's client.go makes them on gocloud.dev/pubsub, for the two
// drivers gw has (transports.ts says how the host names them):
//
// - NATS (`nats://subject`, server in NATS_SERVER_URL; the `nats` client): the publisher publishes
//   the request body with the request headers as NATS headers; the subscriber subscribes to the
//   subject. NATS keeps no messages: what arrives while no request waits is kept here (the newest
//   10 000), and the workers of one gw share the subscription (a queue group of this process) and
//   pass kept messages to a worker whose request waits (SharedMailbox), so each message is taken
//   once per gateway, by whichever request waits, as by KrakenD's single process.
// - RabbitMQ (`rabbit://name`, server in RABBIT_SERVER_URL; amqplib): the publisher publishes to the
//   exchange `name` (persistent, confirmed by the broker), the subscriber consumes the queue `name`.
//   As gocloud, gw declares neither: they must exist (the link retries until they do, and says so).
//
// Each request of a subscriber takes one message, decoded by the backend's `encoding`, and acks it;
// a publisher answers an empty, complete response once the message is sent.

import type { Channel, ConfirmChannel } from 'amqplib';
import { connect, type NatsConnection, headers as natsHeaders, type Subscription } from 'nats';
import { getDecoder } from '../proxy/encodings.js';
import { UpstreamError } from '../proxy/errors.js';
import type {
  BackendConfig,
  BackendMiddleware,
  BackendRequest,
  BackendResponse,
  CompileContext,
  FeatureModule,
} from '../types.js';
import { ConnectionUnavailable, QueueConsumer } from './amqp.js';
import { AmqpLink } from './amqp-link.js';
import { backoffByName } from './backoff.js';
import { Mailbox, SharedMailbox } from './mailbox.js';
import { PUBSUB_PUBLISHER_SCHEMA, PUBSUB_SUBSCRIBER_SCHEMA, pubsubTarget } from './transports.js';

const EMPTY = Buffer.alloc(0);
const NATS_KEEP = 10_000;

function serverUrl(driver: 'nats' | 'rabbit'): string | undefined {
  const v = process.env[driver === 'nats' ? 'NATS_SERVER_URL' : 'RABBIT_SERVER_URL'];
  if (v === undefined || v === '') return undefined;
  // The docs set RABBIT_SERVER_URL='guest:guest@localhost:5672', without the scheme.
  return driver === 'rabbit' && !/^amqps?:\/\//i.test(v) ? `amqp://${v}` : v;
}

class NotConfigured extends UpstreamError {
  constructor(variable: string) {
    super(`${variable} is not set: no server to connect to`, 'GW_BACKEND_CONNECT');
  }
}

/** One NATS connection, kept up by the client (it reconnects forever, every 2 s). */
function natsConnection(url: string, label: string, ctx: CompileContext): { get(): NatsConnection | null } {
  let nc: NatsConnection | null = null;
  let closed = false;
  connect({ servers: url, maxReconnectAttempts: -1, waitOnFirstConnect: true, reconnectTimeWait: 2000 }).then(
    (c) => {
      if (closed) {
        void c.close();
        return;
      }
      nc = c;
      ctx.logger.info(`${label} connected to ${url}`);
    },
    (err: Error) => ctx.logger.error(`${label} ${err.message}`),
  );
  ctx.onClose(async () => {
    closed = true;
    await nc?.drain().catch(() => {});
  });
  return { get: () => nc };
}

function decoderOf(backend: BackendConfig): (body: Buffer) => Record<string, unknown> {
  const decode = getDecoder(backend.encoding ?? 'json') ?? getDecoder('json')!;
  const isCollection = backend.is_collection === true;
  return (body) => (body.length === 0 ? {} : decode(body, isCollection));
}

function subscriberStage(cfg: { subscription_url?: string }, ctx: CompileContext): BackendMiddleware {
  const backend = ctx.backend!;
  const host = backend.host?.[0] ?? '';
  const target = pubsubTarget(host, cfg.subscription_url ?? '')!;
  const label = `[BACKEND: ${host}${cfg.subscription_url ?? ''}][PubSub]`;
  const decode = decoderOf(backend);
  const url = serverUrl(target.driver);
  const variable = target.driver === 'nats' ? 'NATS_SERVER_URL' : 'RABBIT_SERVER_URL';
  if (url === undefined) {
    ctx.logger.error(`${label} ${variable} is not set: every request to this backend fails`);
    return () => () => Promise.reject(new NotConfigured(variable));
  }

  if (target.driver === 'rabbit') {
    const consumer = new QueueConsumer(url, label, ctx, {}, async () => target.name);
    ctx.onClose(() => consumer.close());
    return () =>
      async (breq: BackendRequest): Promise<BackendResponse> => {
        const { msg, ch } = await consumer.take(breq.deadline > 0 ? breq.deadline : Date.now() + 2000);
        let data: Record<string, unknown>;
        try {
          data = decode(msg.content);
        } catch (err) {
          // Back to the queue (gocloud leaves it unacked until the subscription closes).
          settle(() => ch.nack(msg, false, true));
          throw err;
        }
        settle(() => ch.ack(msg));
        return { status: 200, headers: {}, body: msg.content, data };
      };
  }

  const mailbox = new Mailbox<Uint8Array>(NATS_KEEP);
  // The threads' subscriptions form a queue group: NATS picks which thread gets a message.
  const shared = new SharedMailbox(`gw nats ${url} ${target.name}`, mailbox);
  const conn = natsConnection(url, label, ctx);
  let sub: Subscription | undefined;
  let dropped = 0;
  const subscribe = () => {
    const nc = conn.get();
    if (nc === null || sub !== undefined) return nc !== null;
    try {
      sub = nc.subscribe(target.name, {
        queue: `gw-${process.pid}`,
        callback: (_err, msg) => {
          if (!mailbox.put(msg.data) && dropped++ % 1000 === 0)
            ctx.logger.warn(
              `${label} no request took the last ${NATS_KEEP} messages: the oldest are dropped`,
            );
        },
      });
    } catch (err) {
      ctx.logger.error(`${label} ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    return true;
  };
  const timer = setInterval(() => subscribe() && clearInterval(timer), 50);
  timer.unref();
  ctx.onClose(() => {
    clearInterval(timer);
    shared.close();
    mailbox.fail(new ConnectionUnavailable());
  });
  return () =>
    async (breq: BackendRequest): Promise<BackendResponse> => {
      const data = await mailbox.take(breq.deadline > 0 ? breq.deadline : Date.now() + 2000, () =>
        subscribe() ? undefined : new ConnectionUnavailable(),
      );
      const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      return { status: 200, headers: {}, body, data: decode(body) };
    };
}

function settle(fn: () => void): void {
  try {
    fn();
  } catch {}
}

function publisherStage(cfg: { topic_url?: string }, ctx: CompileContext): BackendMiddleware {
  const backend = ctx.backend!;
  const host = backend.host?.[0] ?? '';
  const target = pubsubTarget(host, cfg.topic_url ?? '')!;
  const label = `[BACKEND: ${host}${cfg.topic_url ?? ''}][PubSub]`;
  const url = serverUrl(target.driver);
  const variable = target.driver === 'nats' ? 'NATS_SERVER_URL' : 'RABBIT_SERVER_URL';
  const answer: BackendResponse = { status: 200, headers: {}, body: EMPTY, data: {} };
  if (url === undefined) {
    ctx.logger.error(`${label} ${variable} is not set: every request to this backend fails`);
    return () => () => Promise.reject(new NotConfigured(variable));
  }

  if (target.driver === 'rabbit') {
    const link = new AmqpLink({
      url,
      label,
      logger: ctx.logger,
      backoff: backoffByName(undefined),
      maxRetries: Number.POSITIVE_INFINITY,
      confirm: true,
      setup: async (ch: Channel) => {
        await ch.checkExchange(target.name);
      },
    });
    link.start();
    ctx.onClose(() => link.close());
    return () =>
      (breq: BackendRequest): Promise<BackendResponse> => {
        const ch = link.channel as ConfirmChannel | null;
        if (ch === null) return Promise.reject(new ConnectionUnavailable());
        return new Promise((resolve, reject) => {
          try {
            ch.publish(
              target.name,
              '',
              breq.body ?? EMPTY,
              { headers: { ...breq.headers }, persistent: true },
              (err) =>
                err ? reject(new Error(`publish not confirmed by the broker: ${err}`)) : resolve(answer),
            );
          } catch (err) {
            reject(err);
          }
        });
      };
  }

  const conn = natsConnection(url, label, ctx);
  return () =>
    async (breq: BackendRequest): Promise<BackendResponse> => {
      const nc = conn.get();
      if (nc === null || nc.isClosed()) throw new ConnectionUnavailable();
      const h = natsHeaders();
      for (const k in breq.headers) h.set(k, breq.headers[k]);
      nc.publish(target.name, breq.body ?? EMPTY, { headers: h });
      return answer;
    };
}

export const pubsubSubscriberModule: FeatureModule = {
  namespace: 'backend/pubsub/subscriber',
  schema: PUBSUB_SUBSCRIBER_SCHEMA,
  backend: (cfg, ctx) => subscriberStage(cfg as { subscription_url?: string }, ctx),
};

export const pubsubPublisherModule: FeatureModule = {
  namespace: 'backend/pubsub/publisher',
  schema: PUBSUB_PUBLISHER_SCHEMA,
  backend: (cfg, ctx) => publisherStage(cfg as { topic_url?: string }, ctx),
};
