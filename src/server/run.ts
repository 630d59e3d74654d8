// `gw run`: the main thread prepares shared state, then runs one serving instance per worker
// thread on the same port (SO_REUSEPORT: uWS's own, node:http's `reusePort`), or in-process with
// --workers 1. The port is checked free first: workers share it, nothing else may.

import net from 'node:net';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { featureByNamespace } from '../extensions/registry.js';
import { tlsOptionsFromConfig } from '../security/tls.js';
import { createLogger } from '../telemetry/logger.js';
import type { ServiceConfig } from '../types.js';
import { headLimitOf, type Instance, type InstanceOptions, startInstance } from './instance.js';
import { chooseFront, type FrontKind, type FrontRequest, setUwsHeadLimit } from './platform.js';

export interface ServeOptions {
  service: ServiceConfig;
  port: number;
  workers?: number;
  front: FrontRequest;
  /** Response manipulation path: WASM (default) or the TypeScript reference. */
  transform?: 'wasm' | 'js';
  logLevel?: string;
  /** How long SIGTERM waits for in-flight requests. */
  drainMs?: number;
}

/** Every namespace used anywhere in the config (root, endpoints, backends). */
export function usedNamespaces(service: ServiceConfig): Set<string> {
  const out = new Set<string>(Object.keys(service.extra_config ?? {}));
  for (const ep of service.endpoints ?? []) {
    for (const ns of Object.keys(ep.extra_config ?? {})) out.add(ns);
    for (const b of ep.backend ?? []) for (const ns of Object.keys(b.extra_config ?? {})) out.add(ns);
  }
  return out;
}

function prepareShared(service: ServiceConfig): Record<string, unknown> {
  const shared: Record<string, unknown> = {};
  for (const ns of usedNamespaces(service)) {
    const mod = featureByNamespace.get(ns);
    if (mod?.prepareShared) shared[ns] = mod.prepareShared(service);
  }
  return shared;
}

/**
 * Fails when something already listens on the port. Workers bind it with SO_REUSEPORT, which
 * would let a second gw (or any process of the same user that set it) share the port and take
 * part of its traffic; a bind without it fails while anyone listens there.
 */
function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} on ${host} is in use: another process listens there`
            : `cannot listen on ${host}:${port}: ${err.message}`,
        ),
      );
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

export interface RunningGateway {
  front: FrontKind;
  workers: number;
  stop(): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<RunningGateway> {
  const log = createLogger({ level: opts.logLevel, service: opts.service, sync: true });
  const listenerTls = tlsOptionsFromConfig(opts.service);
  setUwsHeadLimit(headLimitOf(opts.service));
  const choice = chooseFront(
    opts.front,
    Math.max(1, Math.floor(opts.workers ?? availableParallelism())),
    listenerTls?.uwsIncompatibility,
  );
  if (choice.warning !== undefined) log.warn(choice.warning);
  const front = choice.kind;
  const workers = choice.workers;
  const host = opts.service.listen_ip ?? '0.0.0.0';
  await assertPortFree(host, opts.port);
  const shared = prepareShared(opts.service);
  const drainMs = opts.drainMs ?? 10000;
  const base: Omit<InstanceOptions, 'workerId'> = {
    service: opts.service,
    port: opts.port,
    front,
    build: choice.build,
    workers,
    shared,
    logLevel: opts.logLevel,
    transform: opts.transform ?? 'wasm',
  };

  if (workers === 1) {
    const instance: Instance = await startInstance({ ...base, workerId: 0 });
    log.info(`gw listening on ${host}:${opts.port} (${front}, 1 worker, in-process): ${choice.reason}`);
    return { front, workers, stop: () => instance.stop(drainMs) };
  }

  const threads: Worker[] = [];
  const ready: Promise<void>[] = [];
  for (let id = 0; id < workers; id++) {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { ...base, workerId: id },
    });
    threads.push(worker);
    ready.push(
      new Promise<void>((resolve, reject) => {
        worker.once('message', (m: { type: string; error?: string }) => {
          if (m.type === 'ready') resolve();
          else reject(new Error(m.error ?? 'worker failed to start'));
        });
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker ${id} exited with code ${code}`)));
      }),
    );
  }
  try {
    await Promise.all(ready);
  } catch (err) {
    await Promise.all(threads.map((t) => t.terminate()));
    throw err;
  }
  log.info(`gw listening on ${host}:${opts.port} (${front}, ${workers} workers): ${choice.reason}`);
  return {
    front,
    workers,
    async stop() {
      await Promise.all(
        threads.map(
          (t) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                t.terminate().finally(resolve);
              }, drainMs + 2000);
              t.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              t.postMessage({ type: 'stop', deadlineMs: drainMs });
            }),
        ),
      );
    },
  };
}
