// What the WebSocket proxy records for `telemetry/metrics` (/__stats) and
// `telemetry/opentelemetry` (Prometheus): per endpoint, connections opened and closed, and the
// size of each message in and out (a message count, a byte sum and a size histogram in one
// series). Series are made at compile time; a configuration without telemetry records nothing.

import { telemetryState } from '../telemetry/instrument.js';
import type { Series } from '../telemetry/metrics-store.js';
import type { CompileContext } from '../types.js';

/** Series families (prometheus.ts and stats.ts give them their public names). */
export const WS_CONNECTIONS = 'websocket.connections';
export const WS_MESSAGE_SIZE = 'websocket.message.size';

const TELEMETRY_NAMESPACES = ['telemetry/metrics', 'telemetry/opentelemetry'];

export interface WsMeters {
  opened(): void;
  closed(): void;
  /** A message from a client. */
  received(bytes: number): void;
  /** A message to a client. */
  sent(bytes: number): void;
}

const NONE: WsMeters = { opened() {}, closed() {}, received() {}, sent() {} };

export function compileWsMeters(ctx: CompileContext, route: string): WsMeters {
  const stores = TELEMETRY_NAMESPACES.filter((ns) => ctx.service.extra_config?.[ns] !== undefined).map(
    (ns) => telemetryState(ns, ctx).store,
  );
  if (stores.length === 0) return NONE;
  const of = (family: string, labels: Record<string, string>, unit: 'count' | 'bytes'): Series[] =>
    stores.map((store) => store.series(family, { route, ...labels }, unit));
  const opened = of(WS_CONNECTIONS, { event: 'opened' }, 'count');
  const closed = of(WS_CONNECTIONS, { event: 'closed' }, 'count');
  const inbound = of(WS_MESSAGE_SIZE, { direction: 'in' }, 'bytes');
  const outbound = of(WS_MESSAGE_SIZE, { direction: 'out' }, 'bytes');
  return {
    opened: () => {
      for (const s of opened) s.record(1);
    },
    closed: () => {
      for (const s of closed) s.record(1);
    },
    received: (bytes) => {
      for (const s of inbound) s.record(bytes);
    },
    sent: (bytes) => {
      for (const s of outbound) s.record(bytes);
    },
  };
}
