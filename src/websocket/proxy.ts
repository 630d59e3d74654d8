// A `websocket` endpoint: what its pipeline ends in, in place of the proxy layer. The endpoint
// layer (bot detector, auth, rate limits) and the service middlewares (CORS) have run on the
// upgrade request by the time this handler sees it; it admits the upgrade (answer 101 with the
// session the front then drives) or refuses it (400 without `Upgrade: websocket`, 502 when the
// backend is gone). Both fronts (uWS's WebSocket server, `ws` on node:http) drive the same
// sessions through WsSession/WsConnection (src/types.ts).
//
//  - Multiplexing (default): one backend channel per endpoint (and worker thread), opened at
//    start; each client message goes as the envelope {"url","session","body": base64}, each
//    backend envelope comes back to the clients its `url` and `session` select (all of them
//    without either), and anything else the backend sends goes to every client of the endpoint.
//  - Direct communication: one backend connection per client, opened before the client's upgrade
//    is answered (so the backend's subprotocol is the client's), messages and close codes passed
//    through as they are, text or binary.
//
// Backpressure: a client whose unsent bytes pass `write_buffer_size × message_buffer_size +
// max_message_size` (defaults: 1 KiB × 256 + 512 B) is, in direct communication, waited for:
// its backend is paused until it drains, and it is dropped when it has not within `write_wait`.
// A multiplexed client is dropped at once: a channel shared by every client cannot wait for one.

import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { canonicalHeader, compileQueryFilter } from '../proxy/backend-request.js';
import type {
  CompileContext,
  EndpointConfig,
  GwRequest,
  GwResponse,
  Handler,
  Reply,
  WsConnection,
  WsSession,
} from '../types.js';
import { type WebSocketSettings, websocketSettings } from './config.js';
import { BackendLink } from './link.js';
import { compileWsMeters, type WsMeters } from './metrics.js';

const NOT_WEBSOCKET: GwResponse = {
  status: 400,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body: "websocket: the client is not using the websocket protocol: 'upgrade' token not found in 'Connection' header",
};

function badGateway(): GwResponse {
  return { status: 502, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '502 Bad Gateway' };
}

function upgraded(): GwResponse {
  return { status: 101, headers: {}, body: null };
}

/** Request headers a WebSocket handshake writes itself: never forwarded. */
const HANDSHAKE_HEADERS = new Set([
  'host',
  'connection',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/** The forwarded request headers, by their lower-case name, for `input_headers`. */
function compileHeaderPick(names: readonly string[]): (req: GwRequest) => Array<[string, string]> {
  const all = names.includes('*');
  const wanted = names.map((n) => n.toLowerCase()).filter((n) => !HANDSHAKE_HEADERS.has(n));
  return (req) => {
    const out: Array<[string, string]> = [];
    if (all) {
      for (const k in req.headers) if (!HANDSHAKE_HEADERS.has(k)) out.push([k, req.headers[k]]);
    } else
      for (const k of wanted) {
        const v = req.headers[k];
        if (v !== undefined) out.push([k, v]);
      }
    return out;
  };
}

/** The endpoint's clients, pinged every `ping_period` by one timer, dropped without a pong in `pong_wait`. */
class Clients<T extends ClientBase> {
  readonly all = new Set<T>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: WebSocketSettings,
    readonly meters: WsMeters,
  ) {}

  add(c: T): void {
    this.all.add(c);
    this.meters.opened();
    if (this.timer === undefined) {
      this.timer = setInterval(
        () => this.tick(),
        Math.min(this.settings.pingPeriodMs, this.settings.pongWaitMs),
      );
      this.timer.unref();
    }
  }

  delete(c: T): void {
    if (!this.all.delete(c)) return;
    this.meters.closed();
    if (this.all.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const now = performance.now();
    const { pingPeriodMs, pongWaitMs } = this.settings;
    for (const c of this.all) {
      if (c.conn === null) continue;
      if (c.awaitingPong) {
        if (now - c.pingSentAt >= pongWaitMs) c.conn.terminate();
      } else if (now - c.pingSentAt >= pingPeriodMs) {
        c.awaitingPong = true;
        c.pingSentAt = now;
        c.conn.ping();
      }
    }
  }

  /** Shutdown: every client told the gateway is going away (1001). */
  closeAll(): void {
    for (const c of this.all) c.conn?.close(1001, 'going away');
  }
}

/** What both modes keep of one client. */
abstract class ClientBase implements WsSession {
  conn: WsConnection | null = null;
  awaitingPong = false;
  pingSentAt = performance.now();
  abstract readonly protocol: string;

  constructor(
    readonly maxMessageBytes: number,
    private readonly meters: WsMeters,
  ) {}

  abstract opened(conn: WsConnection): void;
  abstract message(data: Buffer, binary: boolean): void;
  abstract drained(): void;
  abstract closed(code: number, reason: string): void;

  pong(): void {
    this.awaitingPong = false;
  }

  /** Counted and sent; false when the connection is gone. */
  protected deliver(data: Buffer | string, binary: boolean): boolean {
    const conn = this.conn;
    if (conn === null) return false;
    conn.send(data, binary);
    this.meters.sent(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    return true;
  }

  /** Counted; false (and the client closed with 1009) when the message is too big. */
  protected received(data: Buffer): boolean {
    this.meters.received(data.length);
    this.awaitingPong = false;
    if (data.length <= this.maxMessageBytes) return true;
    this.conn?.close(1009, 'message too big');
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Multiplexing

class MuxClient extends ClientBase {
  readonly protocol = '';
  readonly uuid = randomUUID();
  /** The envelope up to the body: `{"url":…,"session":{…},"body":"`. */
  private readonly prefix: string;

  constructor(
    private readonly hub: MuxHub,
    readonly url: string,
    readonly session: Record<string, string>,
  ) {
    super(hub.settings.maxMessageBytes, hub.clients.meters);
    this.session = { uuid: this.uuid, ...session };
    this.prefix = `{"url":${JSON.stringify(url)},"session":${JSON.stringify(this.session)},"body":"`;
  }

  opened(conn: WsConnection): void {
    this.conn = conn;
    this.hub.join(this);
  }

  message(data: Buffer): void {
    if (!this.received(data)) return;
    this.hub.toBackend(this, `${this.prefix}${data.toString('base64')}"}`);
  }

  /** An event envelope: the client's url and session, no body. */
  event(name: 'connect' | 'disconnect'): string {
    return `{"url":${JSON.stringify(this.url)},"session":${JSON.stringify(this.session)},"event":"${name}"}`;
  }

  send(data: Buffer | string, binary: boolean): void {
    if (!this.deliver(data, binary)) return;
    if (this.conn !== null && this.conn.bufferedAmount() > this.hub.settings.clientBufferBytes) {
      this.hub.logger.warn(
        `[SERVICE: Websocket][${this.hub.label}] client ${this.uuid} does not read: disconnected`,
      );
      this.conn.terminate();
    }
  }

  error(reason: string): void {
    this.deliver(JSON.stringify({ error: reason }), false);
  }

  drained(): void {}

  closed(): void {
    this.conn = null;
    this.hub.leave(this);
  }
}

class MuxHub {
  readonly clients: Clients<MuxClient>;
  private readonly byUuid = new Map<string, MuxClient>();
  /** Envelopes waiting while the channel is (re)connecting. */
  private queue: string[] = [];
  readonly link: BackendLink;

  constructor(
    readonly settings: WebSocketSettings,
    urls: string[],
    readonly logger: Logger,
    readonly label: string,
    meters: WsMeters,
  ) {
    this.clients = new Clients(settings, meters);
    this.link = new BackendLink(
      { urls, handshake: true, settings, logger, label },
      {
        ready: () => {
          logger.info(`[SERVICE: Websocket][${label}] channel open to the backend`);
          const queued = this.queue;
          this.queue = [];
          for (const m of queued) this.link.send(m, false);
        },
        message: (data, binary) => this.fromBackend(data, binary),
        closedByBackend: () => true,
        gone: () => {
          const queued = this.queue;
          this.queue = [];
          if (queued.length > 0)
            logger.error(
              `[SERVICE: Websocket] Writing request: empty connection (${queued.length} messages)`,
            );
          for (const c of this.clients.all) c.error('empty connection');
        },
      },
      true,
    );
  }

  /** Whether new clients are admitted: not once the channel is gone for good (502, as KrakenD). */
  get available(): boolean {
    return !this.link.isGone;
  }

  join(c: MuxClient): void {
    this.clients.add(c);
    this.byUuid.set(c.uuid, c);
    if (this.settings.connectEvent) this.toBackend(c, c.event('connect'));
  }

  leave(c: MuxClient): void {
    // A client whose upgrade never completed never joined: nothing to tell.
    if (!this.clients.all.has(c)) return;
    this.clients.delete(c);
    this.byUuid.delete(c.uuid);
    if (this.settings.disconnectEvent) this.toBackend(c, c.event('disconnect'));
  }

  toBackend(from: MuxClient, envelope: string): void {
    if (this.link.send(envelope, false)) return;
    if (this.link.isGone) {
      this.logger.error('[SERVICE: Websocket] Writing request: empty connection');
      from.error('empty connection');
      return;
    }
    // Reconnecting: the message waits, up to `message_buffer_size` per client.
    if (this.queue.length >= this.settings.messageBufferSize * Math.max(1, this.clients.all.size)) {
      if (this.settings.returnErrorDetails) from.error('message buffer full');
      return;
    }
    this.queue.push(envelope);
  }

  private fromBackend(data: Buffer, binary: boolean): void {
    if (!binary && data[0] === 0x7b) {
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        msg = undefined;
      }
      if (msg !== null && typeof msg === 'object' && typeof (msg as { body?: unknown }).body === 'string') {
        this.route(msg as Envelope);
        return;
      }
    }
    // Not an envelope: every client of the endpoint gets it as it came.
    for (const c of this.clients.all) c.send(data, binary);
  }

  private route(msg: Envelope): void {
    const body = Buffer.from(msg.body, 'base64');
    const binary = !isUtf8(body);
    const url = typeof msg.url === 'string' ? msg.url : undefined;
    const session =
      msg.session !== null && typeof msg.session === 'object'
        ? (msg.session as Record<string, unknown>)
        : undefined;
    const keys = session === undefined ? [] : Object.keys(session);
    // Unicast: a session naming only its uuid.
    if (keys.length === 1 && keys[0] === 'uuid') {
      const c = this.byUuid.get(String(session!.uuid));
      if (c !== undefined && (url === undefined || c.url === url)) c.send(body, binary);
      return;
    }
    for (const c of this.clients.all) {
      if (url !== undefined && c.url !== url) continue;
      let match = true;
      for (const k of keys)
        if (c.session[k] !== session![k]) {
          match = false;
          break;
        }
      if (match) c.send(body, binary);
    }
  }

  close(): void {
    this.clients.closeAll();
    this.link.close(1001, 'going away');
  }
}

interface Envelope {
  body: string;
  url?: unknown;
  session?: unknown;
}

// ---------------------------------------------------------------------------------------------
// Direct communication

class DirectClient extends ClientBase {
  protocol = '';
  private link!: BackendLink;
  /** Backend messages that came before the client's upgrade completed. */
  private early: Array<[Buffer, boolean]> = [];
  /** Client messages waiting while the backend is dialled again. */
  private waiting: Array<[Buffer, boolean]> = [];
  private answered = false;
  private paused = false;
  private writeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clients: Clients<DirectClient>,
    private readonly settings: WebSocketSettings,
    urls: string[],
    protocols: string[],
    headers: Record<string, string>,
    req: GwRequest,
    reply: Reply,
    logger: Logger,
    label: string,
  ) {
    super(settings.maxMessageBytes, clients.meters);
    this.link = new BackendLink(
      { urls, protocols, headers, handshake: false, settings, logger, label },
      {
        ready: () => {
          if (!this.answered) {
            this.answered = true;
            this.protocol = this.link.protocol;
            req.upgrade!.accepted = this;
            reply.answer(upgraded());
            return;
          }
          const waiting = this.waiting;
          this.waiting = [];
          for (const [d, b] of waiting) this.link.send(d, b);
        },
        message: (data, binary) => this.fromBackend(data, binary),
        closedByBackend: (code, reason) => {
          // Passed on as it came: a clean close of the backend ends the client's connection.
          this.conn?.close(code === 1005 ? 1000 : code, reason);
          return false;
        },
        gone: () => {
          if (!this.answered) {
            this.answered = true;
            reply.answer(badGateway());
            return;
          }
          // "Kicks the user out": the backend is gone for good.
          this.conn?.close(1011, 'backend unavailable');
        },
      },
      false,
    );
  }

  opened(conn: WsConnection): void {
    this.conn = conn;
    this.clients.add(this);
    const early = this.early;
    this.early = [];
    for (const [d, b] of early) this.fromBackend(d, b);
  }

  message(data: Buffer, binary: boolean): void {
    if (!this.received(data)) return;
    if (this.link.send(data, binary)) {
      if (this.link.bufferedAmount > this.settings.clientBufferBytes)
        this.conn?.close(1013, 'backend not reading');
      return;
    }
    if (this.link.isGone) {
      this.conn?.close(1011, 'backend unavailable');
      return;
    }
    if (this.waiting.length >= this.settings.messageBufferSize) {
      this.conn?.close(1013, 'message buffer full');
      return;
    }
    this.waiting.push([data, binary]);
  }

  private fromBackend(data: Buffer, binary: boolean): void {
    if (this.conn === null) {
      this.early.push([data, binary]);
      return;
    }
    this.deliver(data, binary);
    if (!this.paused && this.conn.bufferedAmount() > this.settings.clientBufferBytes) {
      // The client is behind: its backend waits, for `write_wait` at most.
      this.paused = true;
      this.link.pause();
      this.writeTimer = setTimeout(() => this.conn?.terminate(), this.settings.writeWaitMs);
    }
  }

  drained(): void {
    if (!this.paused || this.conn === null || this.conn.bufferedAmount() > this.settings.clientBufferBytes)
      return;
    this.paused = false;
    clearTimeout(this.writeTimer);
    this.link.resume();
  }

  closed(code: number, reason: string): void {
    this.conn = null;
    clearTimeout(this.writeTimer);
    this.clients.delete(this);
    this.link.close(code, reason);
  }

  close(): void {
    this.link.close(1001, 'going away');
  }
}

// ---------------------------------------------------------------------------------------------

function joinUrl(host: string, path: string): string {
  return `${host.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
}

/** `{param}` of the url_pattern from the request's params. */
function compilePathTemplate(pattern: string): (req: GwRequest) => string {
  const parts = pattern.split(/(\{[^}]+\})/);
  return (req) => {
    let out = '';
    for (const p of parts)
      out += p.startsWith('{') && p.endsWith('}') ? (req.params[p.slice(1, -1)] ?? '') : p;
    return out;
  };
}

/** The `websocket` endpoint's handler (FeatureModule.terminal). */
export function compileWebSocketEndpoint(raw: unknown, ctx: CompileContext): Handler {
  const endpoint = ctx.endpoint as EndpointConfig;
  const settings = websocketSettings(raw, endpoint);
  const backend = endpoint.backend?.[0];
  const hosts = (backend?.host ?? ctx.service.host ?? []).filter((h): h is string => typeof h === 'string');
  const pattern = backend?.url_pattern ?? '/';
  const label = endpoint.endpoint;
  const pickHeaders = compileHeaderPick(settings.inputHeaders);
  const query = compileQueryFilter(endpoint.input_query_strings);
  const logger = ctx.logger;
  const meters = compileWsMeters(ctx, endpoint.endpoint);

  if (!settings.direct) {
    // One channel for the endpoint: the url_pattern as written (a placeholder has no value here).
    const hub = new MuxHub(
      settings,
      hosts.map((h) => joinUrl(h, pattern)),
      logger,
      label,
      meters,
    );
    ctx.onClose(() => hub.close());
    const params = (req: GwRequest): Record<string, string> => {
      const s: Record<string, string> = {};
      if (query !== null && req.query !== '')
        for (const [k, v] of new URLSearchParams(query(req.query))) if (!(k in s)) s[k] = v;
      for (const [k, v] of pickHeaders(req)) s[canonicalHeader(k)] = v;
      // Headers features add for the backend (auth/validator's propagate_claims).
      const extra = req.extraBackendHeaders;
      if (extra !== undefined) for (const k in extra) s[k] = extra[k];
      for (const k in req.params) s[k.charAt(0).toUpperCase() + k.slice(1)] = req.params[k];
      return s;
    };
    return (req, reply) => {
      const up = req.upgrade;
      if (up === undefined) return reply.answer(NOT_WEBSOCKET);
      if (!hub.available) return reply.answer(badGateway());
      up.accepted = new MuxClient(hub, req.path, params(req));
      reply.answer(upgraded());
    };
  }

  const clients = new Clients<DirectClient>(settings, meters);
  ctx.onClose(() => {
    clients.closeAll();
    for (const c of clients.all) c.close();
  });
  const path = compilePathTemplate(pattern);
  return (req, reply) => {
    const up = req.upgrade;
    if (up === undefined) return reply.answer(NOT_WEBSOCKET);
    let target = path(req);
    if (query !== null && req.query !== '') {
      const q = query(req.query);
      if (q !== '') target += `${target.includes('?') ? '&' : '?'}${q}`;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of pickHeaders(req)) headers[k] = v;
    const extra = req.extraBackendHeaders;
    if (extra !== undefined) for (const k in extra) headers[k] = extra[k];
    new DirectClient(
      clients,
      settings,
      hosts.map((h) => joinUrl(h, target)),
      up.protocols,
      headers,
      req,
      reply,
      logger,
      label,
    );
  };
}
