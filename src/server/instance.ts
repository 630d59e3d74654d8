// One serving instance (one per worker thread, or in-process with --workers 1): the compiled
// app behind an HTTP front. The config arrives already loaded and checked by the main thread.
// A reload compiles a new app beside the serving one (prepare), then switches the front to it
// (commit): a request already dispatched finishes on the pipeline it started on, the next one
// takes the new app; the old app closes once its longest timeout has passed.

import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { loadModulesFor } from '../extensions/registry.js';
import { preloadClientsFor } from '../proxy/http-client.js';
import { parseDurationMs } from '../proxy/util.js';
import { type ListenerTls, tlsOptionsFromConfig } from '../security/tls.js';
import { createLogger, flushLogger } from '../telemetry/logger.js';
import type { GwRequest, ServiceConfig } from '../types.js';
import { buildApp, type GatewayApp } from './app.js';
import { type AnswerLog, type FrontOptions, type FrontTls, type HttpFront, NOT_TIMED } from './front.js';
import { type FrontKind, headLimitOf, loadUws, type UwsBuild } from './platform.js';

export interface InstanceOptions {
  service: ServiceConfig;
  port: number;
  front: FrontKind;
  /** The uWS build, with the uws front. */
  build?: UwsBuild;
  workerId: number;
  workers: number;
  shared: Record<string, unknown>;
  logLevel?: string;
  transform: 'wasm' | 'js';
  tls?: FrontTls;
}

export interface Instance {
  front: HttpFront;
  logger: Logger;
  /**
   * Compiles `service` beside the serving app (its TLS certificates read and parsed too); throws,
   * changing nothing, when it cannot. A second prepare replaces an uncommitted one.
   */
  prepare(service: ServiceConfig, shared: Record<string, unknown>): Promise<void>;
  /** Switches the front to the prepared app; the old one closes once its requests are done. */
  commit(): void;
  /** Drops the prepared app. */
  abort(): Promise<void>;
  stop(deadlineMs: number): Promise<void>;
}

/** What a reload puts in place: the compiled app, its logger and its TLS listener options. */
interface Generation {
  app: GatewayApp;
  logger: Logger;
  tls: ListenerTls | undefined;
  /** How long a request begun on this app may still run once another serves: its longest timeout. */
  drainMs: number;
}

/** The longest `timeout` of a configuration (service and endpoints; 2 s by default, as KrakenD). */
function longestTimeoutMs(service: ServiceConfig): number {
  let longest = parseDurationMs(service.timeout) ?? 2000;
  for (const ep of service.endpoints ?? []) longest = Math.max(longest, parseDurationMs(ep.timeout) ?? 0);
  return longest;
}

/**
 * The app the front calls: one level of indirection a reload switches. The front keeps these
 * functions, and this object as its access log, for its lifetime; each reads the current
 * generation once per call.
 */
class LiveApp implements AnswerLog {
  current: Generation;
  /** The current generation writes an access log: set with it, read by the front per request. */
  on: boolean;

  constructor(first: Generation) {
    this.current = first;
    this.on = first.app.accessLog !== undefined;
  }

  switchTo(next: Generation): void {
    this.current = next;
    this.on = next.app.accessLog !== undefined;
  }

  readonly serve: GatewayApp['serve'] = (req, reply) => this.current.app.serve(req, reply);
  readonly headerReads: GatewayApp['headerReads'] = (method, path) =>
    this.current.app.headerReads(method, path);

  answered(req: GwRequest, status: number, startedMs: number): void {
    if (startedMs !== NOT_TIMED) this.current.app.accessLog?.(req, status, startedMs);
  }
}

const MB = 1024 * 1024;

/** The front chosen by the main thread; the other one is never loaded (node:http costs ~6 MB). */
async function createFront(
  kind: FrontKind,
  build: UwsBuild | undefined,
  opts: FrontOptions,
  app: Pick<GatewayApp, 'serve' | 'headerReads'>,
): Promise<HttpFront> {
  const uws = kind === 'uws' ? loadUws(build ?? 'current') : null;
  if (uws !== null) {
    const { UwsFront } = await import('./front-uws.js');
    return new UwsFront(uws, build ?? 'current', opts, app);
  }
  const { NodeFront } = await import('./front-node.js');
  return new NodeFront(opts, app.serve);
}

/** What the front needs to take WebSocket upgrades; undefined when no endpoint serves them. */
async function webSocketOptions(service: ServiceConfig): Promise<FrontOptions['webSocket']> {
  const endpoints = (service.endpoints ?? []).filter((ep) => ep.extra_config?.websocket !== undefined);
  if (endpoints.length === 0) return undefined;
  const { websocketSettings } = await import('../websocket/config.js');
  let maxMessageBytes = 0;
  let maxBufferedBytes = 0;
  for (const ep of endpoints) {
    const s = websocketSettings(ep.extra_config?.websocket, ep);
    maxMessageBytes = Math.max(maxMessageBytes, s.maxMessageBytes);
    maxBufferedBytes = Math.max(maxBufferedBytes, s.clientBufferBytes);
  }
  // The endpoints apply their own limits first; the front's is a backstop above them.
  return { maxMessageBytes, maxBufferedBytes: 2 * maxBufferedBytes + maxMessageBytes };
}

/** Every HTTP backend host a configuration names (a queue's or a topic's is not an HTTP origin). */
function originsOf(service: ServiceConfig): string[] {
  const out = [...(service.host ?? [])];
  for (const ep of service.endpoints ?? []) for (const b of ep.backend ?? []) out.push(...(b.host ?? []));
  return out.filter((h) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(h) || /^https?:/i.test(h));
}

/** Compiles one generation of the app: the modules, backend clients, logger and TLS it needs. */
async function compileGeneration(
  opts: InstanceOptions,
  service: ServiceConfig,
  shared: Record<string, unknown>,
): Promise<Generation> {
  await loadModulesFor(service);
  await preloadClientsFor(originsOf(service));
  const tls = opts.tls === undefined ? tlsOptionsFromConfig(service) : undefined;
  // Certificates that do not parse fail here, before anything serves them.
  if (tls !== undefined) createSecureContext(tls.node);
  const logger = createLogger({
    level: opts.logLevel,
    bindings: opts.workers > 1 ? { worker: opts.workerId } : {},
    service,
  });
  const app = buildApp(service, {
    logger,
    shared,
    workerId: opts.workerId,
    transform: opts.transform,
  });
  return { app, logger, tls, drainMs: longestTimeoutMs(service) + 1000 };
}

async function closeGeneration(gen: Generation, deadlineMs?: number): Promise<void> {
  await gen.app.close(deadlineMs);
  flushLogger(gen.logger);
}

export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const { service } = opts;
  const first = await compileGeneration(opts, service, opts.shared);
  const live = new LiveApp(first);
  const maxBody = (service.extra_config?.router as { max_payload_size?: number } | undefined)
    ?.max_payload_size;
  const front = await createFront(
    opts.front,
    opts.build,
    {
      port: opts.port,
      workers: opts.workers,
      host: service.listen_ip ?? '0.0.0.0',
      maxBodyBytes: typeof maxBody === 'number' && maxBody > 0 ? maxBody : 10 * MB,
      maxHeaderBytes: headLimitOf(service),
      readTimeoutMs: parseDurationMs(service.read_timeout) ?? 0,
      readHeaderTimeoutMs: parseDurationMs(service.read_header_timeout) ?? 0,
      writeTimeoutMs: parseDurationMs(service.write_timeout) ?? 0,
      idleTimeoutMs: parseDurationMs(service.idle_timeout) ?? 0,
      tls: opts.tls ?? first.tls,
      // HTTP/2 where Go's server gives it: on the TLS port (ALPN), and as h2c with use_h2c.
      http2: (opts.tls ?? first.tls) !== undefined || service.use_h2c === true,
      answers: live,
      webSocket: await webSocketOptions(service),
      onFailure: (req, err) =>
        live.current.logger.error(
          `[ENDPOINT: ${req.method} ${req.path}] internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        ),
    },
    live,
  );
  await front.listen();
  let prepared: Generation | undefined;
  /** Replaced generations still finishing their requests. */
  const retiring = new Map<Generation, NodeJS.Timeout>();
  const retire = (gen: Generation) => {
    const timer = setTimeout(() => {
      retiring.delete(gen);
      closeGeneration(gen).catch((err: Error) =>
        live.current.logger.error(`closing a replaced configuration: ${err.message}`),
      );
    }, gen.drainMs);
    timer.unref();
    retiring.set(gen, timer);
  };
  return {
    front,
    get logger() {
      return live.current.logger;
    },
    async prepare(next: ServiceConfig, shared: Record<string, unknown>) {
      const gen = await compileGeneration(opts, next, shared);
      if (prepared !== undefined) await closeGeneration(prepared);
      prepared = gen;
    },
    commit() {
      const next = prepared;
      if (next === undefined) return;
      prepared = undefined;
      const old = live.current;
      if (next.tls !== undefined) front.updateTls?.(next.tls);
      live.switchTo(next);
      retire(old);
    },
    async abort() {
      const gen = prepared;
      prepared = undefined;
      if (gen !== undefined) await closeGeneration(gen);
    },
    async stop(deadlineMs: number) {
      await front.close(deadlineMs);
      for (const [gen, timer] of retiring) {
        clearTimeout(timer);
        await closeGeneration(gen);
      }
      retiring.clear();
      if (prepared !== undefined) await closeGeneration(prepared);
      await closeGeneration(live.current, deadlineMs);
    },
  };
}
