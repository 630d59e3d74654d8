// One serving instance (one per worker thread, or in-process with --workers 1): the compiled
// app behind an HTTP front. The config arrives already loaded and checked by the main thread.

import type { Logger } from 'pino';
import { loadModulesFor } from '../extensions/registry.js';
import { preloadClientsFor } from '../proxy/http-client.js';
import { parseDurationMs } from '../proxy/util.js';
import { tlsOptionsFromConfig } from '../security/tls.js';
import { createLogger, flushLogger } from '../telemetry/logger.js';
import type { ServiceConfig } from '../types.js';
import { buildApp, type GatewayApp } from './app.js';
import type { FrontOptions, FrontTls, HttpFront } from './front.js';
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
  stop(deadlineMs: number): Promise<void>;
}

const MB = 1024 * 1024;

/** The front chosen by the main thread; the other one is never loaded (node:http costs ~6 MB). */
async function createFront(
  kind: FrontKind,
  build: UwsBuild | undefined,
  opts: FrontOptions,
  app: GatewayApp,
): Promise<HttpFront> {
  const uws = kind === 'uws' ? loadUws(build ?? 'current') : null;
  if (uws !== null) {
    const { UwsFront } = await import('./front-uws.js');
    return new UwsFront(uws, build ?? 'current', opts, app);
  }
  const { NodeFront } = await import('./front-node.js');
  return new NodeFront(opts, app.serve);
}

/** Every HTTP backend host a configuration names (a queue's or a topic's is not an HTTP origin). */
function originsOf(service: ServiceConfig): string[] {
  const out = [...(service.host ?? [])];
  for (const ep of service.endpoints ?? []) for (const b of ep.backend ?? []) out.push(...(b.host ?? []));
  return out.filter((h) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(h) || /^https?:/i.test(h));
}

export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const { service } = opts;
  await loadModulesFor(service);
  await preloadClientsFor(originsOf(service));
  const logger = createLogger({
    level: opts.logLevel,
    bindings: opts.workers > 1 ? { worker: opts.workerId } : {},
    service,
  });
  const app = buildApp(service, {
    logger,
    shared: opts.shared,
    workerId: opts.workerId,
    transform: opts.transform,
  });
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
      tls: opts.tls ?? tlsOptionsFromConfig(service),
      onAnswered: app.accessLog,
      onFailure: (req, err) =>
        logger.error(
          `[ENDPOINT: ${req.method} ${req.path}] internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        ),
    },
    app,
  );
  await front.listen();
  return {
    front,
    logger,
    async stop(deadlineMs: number) {
      await front.close(deadlineMs);
      await app.close(deadlineMs);
      flushLogger(logger);
    },
  };
}
