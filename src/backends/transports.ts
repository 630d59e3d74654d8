// Which broker a queue or topic backend talks to, read from its first host as krakend-amqp and
// krakend-pubsub read it, and the config errors when gw cannot serve it. Shared by `gw check`
// (validate.ts) and the backends themselves, so both read a host the same way.
//
// - backend/amqp/consumer, backend/amqp/producer: the host is the broker's URL (amqp://, amqps://).
// - backend/pubsub/*: the host names a gocloud driver and the broker is in its environment
//   variable: `nats://` (NATS_SERVER_URL), `rabbit://` (RABBIT_SERVER_URL; `amqp://` too, as the
//   docs' RabbitMQ example writes it). The topic or subscription is the host followed by
//   `topic_url` / `subscription_url`. Kafka and the cloud drivers are refused by name.

import type { BackendConfig, ConfigIssue } from '../types.js';

export type PubSubDriver = 'nats' | 'rabbit';

export const PUBSUB_SCHEMES: Record<string, PubSubDriver> = {
  nats: 'nats',
  rabbit: 'rabbit',
  amqp: 'rabbit',
};
const REFUSED_SCHEMES: Record<string, string> = {
  kafka: 'Kafka',
  gcppubsub: 'GCP Pub/Sub',
  awssns: 'AWS SNS',
  awssqs: 'AWS SQS',
  azuresb: 'Azure Service Bus',
  mem: 'in-memory',
};
const SUPPORTED = 'supported: "nats://" (NATS_SERVER_URL) and "rabbit://" (RABBIT_SERVER_URL)';

export const PUBSUB_NAMESPACES = ['backend/pubsub/publisher', 'backend/pubsub/subscriber'];
export const AMQP_NAMESPACES = ['backend/amqp/consumer', 'backend/amqp/producer'];

/** The `backend/pubsub/*` settings (also the base of `check --lint`'s, src/config/lint-schema.ts). */
export const PUBSUB_PUBLISHER_SCHEMA = {
  type: 'object',
  required: ['topic_url'],
  properties: { topic_url: { type: 'string' } },
};
export const PUBSUB_SUBSCRIBER_SCHEMA = {
  type: 'object',
  required: ['subscription_url'],
  properties: { subscription_url: { type: 'string' } },
};

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function schemeOf(host: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(host);
  return m ? m[1].toLowerCase() : '';
}

/** A pub/sub backend's driver and the name after the scheme (subject, exchange or queue). */
export function pubsubTarget(host: string, path: string): { driver: PubSubDriver; name: string } | undefined {
  const driver = PUBSUB_SCHEMES[schemeOf(host)];
  if (driver === undefined) return undefined;
  return { driver, name: `${host}${path}`.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '') };
}

/** The errors of a queue or topic backend's host (none for an HTTP backend). */
export function transportHostIssues(b: BackendConfig, base: string): ConfigIssue[] {
  const extra = isObj(b.extra_config) ? b.extra_config : {};
  const first = Array.isArray(b.host) ? b.host[0] : undefined;
  const amqp = AMQP_NAMESPACES.find((ns) => extra[ns] !== undefined);
  if (amqp !== undefined) {
    if (typeof first !== 'string' || !/^amqps?:\/\//i.test(first) || !URL.canParse(first))
      return [
        {
          path: `${base}.host`,
          message: `"${amqp}" reads the broker's URL from the first host: expected "host": ["amqp://guest:guest@rabbitmq:5672"], found ${JSON.stringify(first ?? null)}`,
        },
      ];
    return [];
  }
  const pubsub = PUBSUB_NAMESPACES.find((ns) => extra[ns] !== undefined);
  if (pubsub === undefined) return [];
  if (typeof first !== 'string')
    return [
      { path: `${base}.host`, message: `"${pubsub}" names its driver in the first host (${SUPPORTED})` },
    ];
  const scheme = schemeOf(first);
  if (PUBSUB_SCHEMES[scheme] !== undefined) return [];
  const refused = REFUSED_SCHEMES[scheme];
  return [
    {
      path: `${base}.host[0]`,
      message:
        refused !== undefined
          ? `the ${refused} driver ("${scheme}://") of "${pubsub}" is not supported by gw (${SUPPORTED})`
          : `unknown pub/sub driver ${JSON.stringify(first)} (${SUPPORTED})`,
    },
  ];
}
