// The shapes shared by the control plane (config → plan) and the data plane (per request).
// Lura's model: one function type per layer and middlewares that wrap it, stacked at startup.

import type { Logger } from 'pino';

/** Raw KrakenD v3 configuration objects, as read from the file (after env overrides). */
export type ExtraConfig = Record<string, unknown>;

export interface BackendConfig {
  host?: string[];
  url_pattern: string;
  method?: string;
  encoding?: string;
  sd?: string;
  sd_scheme?: string;
  disable_host_sanitize?: boolean;
  is_collection?: boolean;
  target?: string;
  allow?: string[];
  deny?: string[];
  mapping?: Record<string, string>;
  group?: string;
  input_headers?: string[];
  input_query_strings?: string[];
  timeout?: string;
  extra_config?: ExtraConfig;
  [key: string]: unknown;
}

export interface EndpointConfig {
  endpoint: string;
  method?: string;
  backend?: BackendConfig[];
  output_encoding?: string;
  timeout?: string;
  cache_ttl?: string;
  concurrent_calls?: number;
  input_headers?: string[];
  input_query_strings?: string[];
  extra_config?: ExtraConfig;
  [key: string]: unknown;
}

export interface ServiceConfig {
  version: number;
  name?: string;
  port?: number;
  listen_ip?: string;
  host?: string[];
  timeout?: string;
  cache_ttl?: string;
  output_encoding?: string;
  endpoints?: EndpointConfig[];
  extra_config?: ExtraConfig;
  debug_endpoint?: boolean;
  echo_endpoint?: boolean;
  read_timeout?: string;
  write_timeout?: string;
  idle_timeout?: string;
  read_header_timeout?: string;
  max_header_bytes?: number;
  disable_rest?: boolean;
  tls?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A config problem, located by its JSON path (`$.endpoints[0].backend[1].host`). */
export interface ConfigIssue {
  path: string;
  message: string;
  /** A module's `validate()` may report a warning (gw check prints it, gw run still starts). */
  severity?: 'warning';
}

/**
 * Header maps use lower-case names; a header sent several times is joined with ", ", but for
 * Content-Type, a single-valued field, whose first value counts (as Go's Header.Get reads it).
 */
export type HeaderMap = Record<string, string>;
/** Response headers may carry several values (Set-Cookie). */
export type ResponseHeaders = Record<string, string | string[]>;

/** The request as the router hands it to an endpoint pipeline. */
export interface GwRequest {
  /** Upper-case method. */
  method: string;
  /** Path as received (after remove_duplicate_slash), without the query string. */
  path: string;
  /** Raw query string without the leading '?', '' when absent. */
  query: string;
  headers: HeaderMap;
  /** Endpoint `{params}` by the name written in the endpoint pattern. */
  params: Record<string, string>;
  /**
   * A wildcard endpoint (`/v1/*`): the rest of the path after the `/*`, as received, escapes
   * included; each backend appends it to its url_pattern.
   */
  wildcard?: string;
  body: Buffer | null;
  /** Client IP as the router computed it (forwarded_by_client_ip rules applied). */
  clientIp: string;
  /** JWT claims once auth/validator accepted the token; used by `{JWT.claim}` and CEL. */
  claims?: Record<string, unknown>;
  /** Headers that features add for the backends (propagate_claims, …), canonical names. */
  extraBackendHeaders?: HeaderMap;
  /** Set by the front on a request asking to become a WebSocket (`Upgrade: websocket`). */
  upgrade?: WsUpgrade;
}

/**
 * A WebSocket upgrade on its way through the pipeline. The request runs the endpoint's pipeline
 * like any other (CORS, bot detector, auth, rate limits); a `websocket` endpoint that admits it
 * sets `accepted` and answers 101, and the front then completes the upgrade.
 */
export interface WsUpgrade {
  /** The subprotocols the client offered (Sec-WebSocket-Protocol), in its order. */
  protocols: string[];
  accepted?: WsSession;
}

/** A client's WebSocket as a front holds it: what the WebSocket proxy writes to. */
export interface WsConnection {
  /** Sends one message (nothing once the connection is closed). */
  send(data: Buffer | string, binary: boolean): void;
  /** Bytes sent but not yet taken by the client's socket. */
  bufferedAmount(): number;
  ping(): void;
  /** Closes with a close frame. */
  close(code: number, reason: string): void;
  /** Drops the connection without a close handshake (a client that does not read). */
  terminate(): void;
}

/** The upgraded connection's side in the WebSocket proxy: the front calls these. */
export interface WsSession {
  /** The subprotocol the answer selects ('' for none). */
  readonly protocol: string;
  /** Messages beyond this many bytes close the connection with 1009. */
  readonly maxMessageBytes: number;
  opened(conn: WsConnection): void;
  message(data: Buffer, binary: boolean): void;
  /** The client's socket took what was buffered for it. */
  drained(): void;
  pong(): void;
  /** The connection is gone (the close code the client sent, 1005 when none, 1006 when dropped). */
  closed(code: number, reason: string): void;
}

/** What an endpoint pipeline answers; the front writes it as is. */
export interface GwResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer | string | null;
}

/** A stage of the router layer: request in, HTTP response out. */
export type EndpointStage = (req: GwRequest) => Promise<GwResponse>;
export type EndpointMiddleware = ((next: EndpointStage) => EndpointStage) & {
  /**
   * Set by a middleware that only admits or refuses a request, unchanged (rate limits): the
   * pipeline then runs this check in place of the middleware, without a promise.
   */
  guard?: Guard;
  /** Set by a telemetry middleware whose recording the pipeline can do itself (see Meter). */
  meter?: Meter;
};

/** An endpoint middleware's admission check, as the pipeline runs it (src/proxy/layers.ts). */
export interface Guard {
  /**
   * Whether `check` can decide this request without waiting (JWT: a token verified recently); when
   * it cannot, the middleware itself serves the request. `ready` is called right before `check`,
   * for the same request: it may keep its verdict for `check`, and must change nothing else.
   */
  ready?(req: GwRequest): boolean;
  /** The refusal to answer with, or undefined to let the request through. */
  check(req: GwRequest): GwResponse | undefined;
  /**
   * The request headers `ready` and `check` read (lower-case names); undefined: any of them. The
   * front then reads only those (and what the rest of the pipeline reads) from the client.
   */
  headers?: readonly string[];
}

/**
 * A telemetry middleware's recording, as the pipeline does it: it reads the clock when a layer
 * starts and when it ends, and tells the layer's meters how it ended. Each meter records what its
 * middleware would have recorded around a promise.
 */
export interface Meter {
  record(outcome: Outcome): void;
}

/** How far a request went: refused by a guard, its backend request not built, or sent. */
export type Reach = 'refused' | 'unbuilt' | 'called';

/**
 * How a layer's work ended (one scratch object, valid during `Meter.record`): the endpoint
 * layer's answer, the proxy layer's merge, one backend's call.
 */
export interface Outcome {
  /** The status answered to the client. */
  status: number;
  /** The answer's body length in bytes. */
  bytes: number;
  reach: Reach;
  /** Whether the backend call answered (any status: a no-op endpoint passes it on). */
  backendOk: boolean;
  /** The backend's status, or, for a failed call, the status its error carries (0 when none). */
  backendStatus: number;
  /** Microseconds the layer took. */
  elapsedUs: number;
  /**
   * The proxy layer's merge, as its series label it: complete, and with an error (a no-op answer
   * is never complete, and has an error unless the call answered).
   */
  proxyComplete: boolean;
  proxyError: boolean;
}

/**
 * What a root-level telemetry namespace records of a request no endpoint serves: the router's own
 * answers (404, 405, a redirect to a path that has a route, an automatic OPTIONS answer). The
 * router calls it with that answer and `startedMs`, performance.now() when the lookup found no
 * endpoint. Compiled once at startup and called from the not-found branch only: matched routes
 * pay nothing for it.
 */
export type UnmatchedRecorder = (req: GwRequest, res: GwResponse, startedMs: number) => void;

/** Where an answer is written: the front's exchange for the request, or a layer around it. */
export interface Reply {
  answer(res: GwResponse): void;
  /**
   * The same, with the header lines as bytes, written as they are after the status line:
   * `passed` (a backend's, CRLF-prefixed, or null), then `added` (gw's own, CRLF-prefixed).
   */
  pass(status: number, passed: Buffer | null, added: Buffer, body: Buffer): void;
  /** As `pass`, the body still arriving: the front pipes it to the client at the client's pace. */
  passStream(status: number, passed: Buffer | null, added: Buffer, body: BodyStream): void;
}

/**
 * A body that arrives after its head (a large no-op answer), read at the pace of the client it
 * goes to: the front pipes it into a BodySink, and pauses it while the client is not reading,
 * so a slow or stalled client holds one window of it, not the whole body.
 */
export interface BodyStream {
  /** The announced size in bytes; -1 when unknown (chunked, or framed by the close). */
  readonly length: number;
  /** Starts the flow; once, with the sink that takes it. */
  pipe(sink: BodySink): void;
  /** The sink is full: no more data until `resume`. */
  pause(): void;
  resume(): void;
  /** The client is gone: the body is not wanted any more (its backend connection is closed). */
  abort(): void;
}

export interface BodySink {
  /** A chunk: a view valid during the call only. Returns false when the sink is now full. */
  data(chunk: Buffer): boolean;
  end(): void;
  /** The body cannot be had whole: the client's answer is cut (its connection closed). */
  fail(err: Error): void;
}

/** An endpoint's pipeline, and the gateway's: a request in, its answer written to `reply`. */
export type Handler = (req: GwRequest, reply: Reply) => void;

/**
 * The proxy layer's answer (lura's proxy.Response): merged data before output encoding.
 * `raw` is set instead of `data` for no-op endpoints (bytes passed through untouched).
 */
export interface ProxyResponse {
  data: Record<string, unknown> | null;
  raw?: Buffer;
  /**
   * With `raw`: the backend's header lines as bytes, CRLF-prefixed, when its answer was read for
   * passing on (HeadMode.Pass); `headers` then holds only the names gw itself reads.
   */
  head?: Buffer;
  /**
   * The merged response already encoded as JSON bytes (the WASM transform path); `data` is
   * null then. Only endpoints without proxy-layer middlewares take that path.
   */
  json?: Buffer;
  isComplete: boolean;
  /** With `raw` (empty then): a no-op body still arriving, piped to the client by the front. */
  stream?: BodyStream;
  /** Status/headers to return (no-op, return_error_code, static…); undefined → 200. */
  status?: number;
  headers?: ResponseHeaders;
  /** Set when the response is an error to report (all backends failed). */
  error?: BackendError;
}

export type ProxyStage = (req: GwRequest) => Promise<ProxyResponse>;
export type ProxyMiddleware = ((next: ProxyStage) => ProxyStage) & { meter?: Meter };

/** The request one backend receives, after forwarding rules and url_pattern filling. */
export interface BackendRequest {
  method: string;
  /** Path and query to send (`/users/1?page=2`). */
  path: string;
  /** Headers to send, canonical names (`Content-Type`). */
  headers: HeaderMap;
  body: Buffer | null;
  /** Endpoint params, for features that read them (lua, graphql variables). */
  params: Record<string, string>;
  /** The router-layer request, read-only, for features needing client context. */
  origin: GwRequest;
  /** Absolute deadline (Date.now() based) for this call; 0 = none. */
  deadline: number;
  /** Given by telemetry that reports the call's phases: the HTTP client fills it (otherwise absent). */
  timings?: BackendTimings;
}

/**
 * When the phases of one backend call happened (performance.now() ms; 0: not reached). After a
 * redirect they describe the last hop.
 */
export interface BackendTimings {
  /** The request was handed to the connection pool. */
  dispatched: number;
  /** A new connection was opened for it (0: a pooled one, or not known: undici). */
  connectStart: number;
  /** The host name of that new connection was resolved (0: an IP address, nothing to resolve). */
  resolved: number;
  /** The request went out on its connection. */
  sent: number;
  /** The response head arrived. */
  head: number;
  /** The body arrived in full. */
  done: number;
  /** Whether the connection had served requests before (undefined: not known, undici). */
  reused: boolean | undefined;
}

/** What one backend answered, decoded by its `encoding`. */
export interface BackendResponse {
  status: number;
  headers: ResponseHeaders;
  /** Raw body bytes as received (decompressed). */
  body: Buffer;
  /** The header lines as bytes, when the call was made to pass them on (HeadMode.Pass). */
  head?: Buffer;
  /** A body still arriving (a large no-op answer passed on): `body` is empty then. */
  stream?: BodyStream;
  /**
   * Decoded data for json/safejson/xml/rss/string encodings (objects; arrays wrapped under
   * `collection` when is_collection); undefined for no-op.
   */
  data?: Record<string, unknown>;
}

export type BackendStage = (req: BackendRequest) => Promise<BackendResponse>;
export type BackendMiddleware = ((next: BackendStage) => BackendStage) & { meter?: Meter };

/**
 * An error raised in the proxy or backend layer. `status` is what the client gets when the
 * error decides the response (rate limit 503, schema 400, return_error_code…); a backend that
 * answered a non-2xx is reported with status 500 and its own code in `backendStatus`.
 */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body?: Buffer,
    readonly headers?: ResponseHeaders,
    readonly backendStatus?: number,
    /**
     * The backend's status and body are the answer (`return_error_code`: Lura's HTTPResponseError),
     * its body the text return_error_msg writes.
     */
    readonly passesBackendAnswer = false,
  ) {
    super(message);
  }
}

/** What a feature module sees at compile time. */
export interface CompileContext {
  service: ServiceConfig;
  endpoint?: EndpointConfig;
  backend?: BackendConfig;
  /** JSON path of the extra_config being compiled, for messages. */
  path: string;
  logger: Logger;
  /** Objects the main thread prepared for all workers (shared memory, …), by namespace. */
  shared: Record<string, unknown>;
  /** Worker index (0-based) and count. */
  workerId: number;
  /** Registers a function run at graceful shutdown (close pools, clients…). */
  onClose(fn: () => void | Promise<void>): void;
}

/**
 * One `extra_config` namespace = one module. Registered in src/extensions/registry.ts.
 * Every hook is optional; a hook that does not apply to a scope is simply absent.
 */
export interface FeatureModule {
  namespace: string;
  /** JSON schema of the namespace's value, compiled once with ajv by `gw check`. */
  schema?: object;
  /** Semantic checks beyond the schema; `path` is the JSON path of the namespace value. */
  validate?(cfg: unknown, path: string, service: ServiceConfig): ConfigIssue[];
  /** Main thread, once, before workers start: returns transferable/shared objects. */
  prepareShared?(service: ServiceConfig): unknown;
  /** Service-level: wraps the whole router dispatch (every request, incl. 404s). */
  service?(cfg: unknown, ctx: CompileContext): EndpointMiddleware | undefined;
  /** Endpoint-level (router layer): wraps one endpoint's pipeline. */
  endpoint?(cfg: unknown, ctx: CompileContext): EndpointMiddleware | undefined;
  /**
   * Endpoint-level: the endpoint is not a backend call but a protocol of its own (WebSockets):
   * the handler replaces the proxy layer, under the endpoint layer's middlewares.
   */
  terminal?(cfg: unknown, ctx: CompileContext): Handler;
  /** Endpoint-level proxy layer: wraps the merge of the backends (data in, data out). */
  proxy?(cfg: unknown, ctx: CompileContext): ProxyMiddleware | undefined;
  /** Backend-level: wraps the HTTP call of one backend. */
  backend?(cfg: unknown, ctx: CompileContext): BackendMiddleware | undefined;
  /**
   * The backend middleware never reads or writes `BackendResponse.data` (rate limits, circuit
   * breaker, cache…): the endpoint may then keep bodies as bytes for the WASM transform.
   */
  bytesOnly?: boolean;
  /**
   * Root-level namespaces that observe the whole service (telemetry): called once per endpoint,
   * per endpoint proxy and per backend with the root config value (`ctx.endpoint`/`ctx.backend`
   * say which), whether or not that endpoint has extra_config of its own. Outermost wrappers.
   */
  instrumentEndpoint?(cfg: unknown, ctx: CompileContext): EndpointMiddleware | undefined;
  instrumentProxy?(cfg: unknown, ctx: CompileContext): ProxyMiddleware | undefined;
  instrumentBackend?(cfg: unknown, ctx: CompileContext): BackendMiddleware | undefined;
  /** Root-level, once per gateway instance: the recording of the requests no endpoint serves. */
  instrumentUnmatched?(cfg: unknown, ctx: CompileContext): UnmatchedRecorder | undefined;
  /** An async agent's driver (`async/amqp`): consumes messages and hands each to the agent. */
  agent?(cfg: unknown, agent: AgentRuntime, ctx: CompileContext): AgentDriver;
}

/** What an async agent's driver is given (src/async/agents.ts). */
export interface AgentRuntime {
  name: string;
  /** `consumer.topic`: the binding of the agent's queue. */
  topic: string;
  /** `consumer.workers`: messages processed at once. */
  workers: number;
  /** `consumer.max_rate`: messages per second at most (0: no limit). */
  maxRate: number;
  /** `connection.*` */
  maxRetries: number;
  backoffStrategy: string | undefined;
  healthIntervalMs: number;
  /** Runs the agent's pipeline for one message: true when every backend succeeded (ack). */
  process(body: Buffer): Promise<boolean>;
  /** Tells the health endpoint the agent is alive. */
  ping(): void;
}

export interface AgentDriver {
  /** Stops taking messages, lets the ones in flight finish (up to `deadlineMs`), disconnects. */
  stop(deadlineMs: number): Promise<void>;
}
