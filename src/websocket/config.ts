// The `websocket` namespace (endpoint level), as the "WebSockets Integration" page of the KrakenD
// Enterprise docs and its schema (krakend-schema `websocket.json`) define it: every field
// optional, `"websocket": {}` a multiplexed endpoint with the defaults below.

import { parseDurationMs } from '../proxy/util.js';
import type { ConfigIssue, EndpointConfig, ServiceConfig } from '../types.js';

export const WEBSOCKET_NAMESPACE = 'websocket';

export type BackoffStrategy = 'linear' | 'linear-jitter' | 'exponential' | 'exponential-jitter' | 'fallback';

const STRATEGIES = ['linear', 'linear-jitter', 'exponential', 'exponential-jitter', 'fallback'];
const DURATION = { type: 'string', pattern: '^[0-9.]+(ns|ms|us|µs|s|m|h)$' };
const POSITIVE_INT = { type: 'integer', minimum: 1 };

export const websocketSchema = {
  type: 'object',
  properties: {
    input_headers: { type: 'array', uniqueItems: true, items: { type: 'string' } },
    connect_event: { type: 'boolean' },
    disconnect_event: { type: 'boolean' },
    enable_direct_communication: { type: 'boolean' },
    return_error_details: { type: 'boolean' },
    read_buffer_size: POSITIVE_INT,
    write_buffer_size: POSITIVE_INT,
    message_buffer_size: POSITIVE_INT,
    max_message_size: POSITIVE_INT,
    max_retries: { type: 'integer' },
    backoff_strategy: { type: 'string', enum: STRATEGIES },
    write_wait: DURATION,
    pong_wait: DURATION,
    ping_period: DURATION,
    timeout: DURATION,
  },
  patternProperties: { '^[@$_#]': {} },
  additionalProperties: false,
};

/** An endpoint's `websocket` settings, defaults filled in (the schema's defaults). */
export interface WebSocketSettings {
  direct: boolean;
  /** Header names (canonical) passed to the backend; `*` = all but the handshake's own. */
  inputHeaders: string[];
  connectEvent: boolean;
  disconnectEvent: boolean;
  returnErrorDetails: boolean;
  maxMessageBytes: number;
  /** Messages a client may have waiting while the backend is away. */
  messageBufferSize: number;
  /** Bytes a client may have unsent before the backpressure policy applies (`write_buffer_size × message_buffer_size + max_message_size`). */
  clientBufferBytes: number;
  writeWaitMs: number;
  pongWaitMs: number;
  pingPeriodMs: number;
  /** Direct communication: a backend silent this long is dropped and dialled again. */
  backendReadTimeoutMs: number;
  /** 0 = retry forever. */
  maxRetries: number;
  backoff: BackoffStrategy;
}

function int(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fallback;
}

export function websocketSettings(raw: unknown, endpoint: EndpointConfig): WebSocketSettings {
  const cfg = (raw ?? {}) as Record<string, unknown>;
  const maxMessageBytes = int(cfg.max_message_size, 512);
  const messageBufferSize = int(cfg.message_buffer_size, 256);
  const writeBufferSize = int(cfg.write_buffer_size, 1024);
  const strategy = typeof cfg.backoff_strategy === 'string' ? cfg.backoff_strategy : 'fallback';
  const wsHeaders = Array.isArray(cfg.input_headers) ? (cfg.input_headers as string[]) : [];
  const maxRetries = typeof cfg.max_retries === 'number' && cfg.max_retries > 0 ? cfg.max_retries : 0;
  return {
    direct: cfg.enable_direct_communication === true,
    inputHeaders: [...new Set([...wsHeaders, ...(endpoint.input_headers ?? [])])],
    connectEvent: cfg.connect_event === true,
    disconnectEvent: cfg.disconnect_event === true,
    returnErrorDetails: cfg.return_error_details === true,
    maxMessageBytes,
    messageBufferSize,
    clientBufferBytes: writeBufferSize * messageBufferSize + maxMessageBytes,
    writeWaitMs: parseDurationMs(cfg.write_wait) ?? 10_000,
    pongWaitMs: parseDurationMs(cfg.pong_wait) ?? 60_000,
    pingPeriodMs: parseDurationMs(cfg.ping_period) ?? 54_000,
    backendReadTimeoutMs: Math.max(parseDurationMs(cfg.timeout) ?? 300_000, 60_000),
    maxRetries,
    backoff: (STRATEGIES.includes(strategy) ? strategy : 'fallback') as BackoffStrategy,
  };
}

/** What the schema cannot say: the backend must be a WebSocket server. */
export function validateWebSocket(_raw: unknown, path: string, service: ServiceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = /^\$\.endpoints\[(\d+)\]\.extra_config/.exec(path);
  const endpoint = at === null ? undefined : service.endpoints?.[Number(at[1])];
  if (endpoint === undefined) return issues;
  const base = `$.endpoints[${at![1]}]`;
  const backends = endpoint.backend ?? [];
  if (backends.length === 0)
    issues.push({
      path: `${base}.backend`,
      message: 'a websocket endpoint needs one backend with ws:// or wss:// hosts',
    });
  backends.forEach((b, i) => {
    (b.host ?? []).forEach((h, j) => {
      if (typeof h === 'string' && !/^wss?:\/\//i.test(h))
        issues.push({
          path: `${base}.backend[${i}].host[${j}]`,
          message: `expected a WebSocket host like "ws://chat:8081" (ws:// or wss://), found "${h}"`,
        });
    });
  });
  if (backends.length > 1)
    issues.push({
      path: `${base}.backend`,
      message: 'a websocket endpoint talks to one backend (its hosts are balanced): the others are ignored',
      severity: 'warning',
    });
  const method = (endpoint.method ?? 'GET').toUpperCase();
  if (method !== 'GET')
    issues.push({
      path: `${base}.method`,
      message: `expected GET (a WebSocket opens with a GET), found "${method}"`,
    });
  return issues;
}
