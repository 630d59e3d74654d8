// The AMQP settings, declared once: krakend-amqp's queueCfg (the exchange, the queue and how it is
// consumed) is the same struct under `backend/amqp/consumer`, `backend/amqp/producer` and the
// async agents' `async/amqp`. Each namespace's schema is composed here from the shared field
// groups, and `queueIssues` checks what the schema cannot say, for all three. The backends
// (amqp.ts), the agent driver (src/async/amqp.ts) and `check --lint` (src/config/lint-schema.ts)
// read these; nothing here loads amqplib.

import type { ConfigIssue } from '../types.js';
import { BACKOFF_STRATEGIES } from './backoff.js';

/** The queue and exchange settings shared by krakend-amqp's consumer, producer and agent (queueCfg). */
export interface QueueSettings {
  name?: string;
  exchange?: string;
  durable?: boolean;
  delete?: boolean;
  exclusive?: boolean;
  no_wait?: boolean;
  no_local?: boolean;
  prefetch_count?: number;
  prefetch_size?: number;
  auto_ack?: boolean;
  nack_discard?: boolean;
  backoff_strategy?: string;
  max_retries?: number;
}

export interface ConsumerSettings extends QueueSettings {
  routing_key?: string[];
}

export interface ProducerSettings extends QueueSettings {
  routing_key?: string;
  static_routing_key?: boolean;
  mandatory?: boolean;
  immediate?: boolean;
  exp_key?: string;
  reply_to_key?: string;
  msg_id_key?: string;
  priority_key?: string;
}

export interface AgentAmqpSettings extends QueueSettings {
  host?: string;
}

/** The exchange and the queue: every AMQP namespace declares them. */
const QUEUE_FIELDS = {
  name: { type: 'string' },
  exchange: { type: 'string' },
  durable: { type: 'boolean' },
  delete: { type: 'boolean' },
  exclusive: { type: 'boolean' },
  no_wait: { type: 'boolean' },
  no_local: { type: 'boolean' },
  prefetch_count: { type: 'integer', minimum: 0 },
  prefetch_size: { type: 'integer', minimum: 0 },
};

/** How a lost connection is retried: in the backends' own settings (an agent's are in `connection`). */
const RECONNECT_FIELDS = {
  backoff_strategy: { type: 'string' },
  max_retries: { type: 'integer' },
};

/** How deliveries are settled: the consumer backend and the agent. */
const ACK_FIELDS = {
  auto_ack: { type: 'boolean' },
  nack_discard: { type: 'boolean' },
};

const REQUIRED = ['name', 'exchange'];

export const AMQP_CONSUMER_SCHEMA = {
  type: 'object',
  required: REQUIRED,
  properties: {
    ...QUEUE_FIELDS,
    ...RECONNECT_FIELDS,
    routing_key: { type: 'array', items: { type: 'string' } },
    ...ACK_FIELDS,
  },
};

export const AMQP_PRODUCER_SCHEMA = {
  type: 'object',
  required: REQUIRED,
  properties: {
    ...QUEUE_FIELDS,
    ...RECONNECT_FIELDS,
    routing_key: { type: 'string' },
    static_routing_key: { type: 'boolean' },
    mandatory: { type: 'boolean' },
    immediate: { type: 'boolean' },
    exp_key: { type: 'string' },
    reply_to_key: { type: 'string' },
    msg_id_key: { type: 'string' },
    priority_key: { type: 'string' },
  },
};

export const AMQP_AGENT_SCHEMA = {
  type: 'object',
  required: ['host', ...REQUIRED],
  properties: {
    host: { type: 'string' },
    ...QUEUE_FIELDS,
    ...ACK_FIELDS,
  },
};

/** Checks shared by the AMQP namespaces (the strategy name, unsupported flags). */
export function queueIssues(cfg: QueueSettings, path: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  if (cfg.backoff_strategy !== undefined && !BACKOFF_STRATEGIES.includes(cfg.backoff_strategy.toLowerCase()))
    out.push({
      path: `${path}.backoff_strategy`,
      message: `unknown strategy "${cfg.backoff_strategy}": a constant 1 s delay is used (strategies: ${BACKOFF_STRATEGIES.join(', ')})`,
      severity: 'warning',
    });
  if ((cfg.prefetch_size ?? 0) > 0)
    out.push({
      path: `${path}.prefetch_size`,
      message: 'RabbitMQ does not implement a prefetch size: ignored (prefetch_count applies)',
      severity: 'warning',
    });
  return out;
}
