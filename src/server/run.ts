// `gw run`: the main thread prepares shared state, then runs one serving instance per worker
// thread on the same port (SO_REUSEPORT via uWS), or in-process with --workers 1.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { featureByNamespace } from '../extensions/registry.js';
import { tlsOptionsFromConfig } from '../security/tls.js';
import { createLogger } from '../telemetry/logger.js';
import type { ServiceConfig } from '../types.js';
import { type FrontKind, loadUws, uwsUnavailableReason } from './front.js';
import { type Instance, type InstanceOptions, startInstance } from './instance.js';

export interface ServeOptions {
  service: ServiceConfig;
  port: number;
  workers?: number;
  front: FrontKind;
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

export interface RunningGateway {
  front: FrontKind;
  workers: number;
  stop(): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<RunningGateway> {
  const log = createLogger({ level: opts.logLevel, service: opts.service, sync: true });
  let front = opts.front;
  if (front === 'uws' && !loadUws()) {
    log.warn(`uWebSockets.js does not load here (${uwsUnavailableReason()}): serving with node:http`);
    front = 'node';
  }
  const listenerTls = tlsOptionsFromConfig(opts.service);
  if (front === 'uws' && listenerTls?.uwsIncompatibility) {
    log.warn(`tls: ${listenerTls.uwsIncompatibility} needs the node:https front`);
    front = 'node';
  }
  let workers = Math.max(1, Math.floor(opts.workers ?? availableParallelism()));
  if (front === 'node' && workers > 1) {
    log.warn('node:http cannot share one port between worker threads on Node 20: using 1 worker');
    workers = 1;
  }
  const shared = prepareShared(opts.service);
  const drainMs = opts.drainMs ?? 10000;
  const base: Omit<InstanceOptions, 'workerId'> = {
    service: opts.service,
    port: opts.port,
    front,
    workers,
    shared,
    logLevel: opts.logLevel,
    transform: opts.transform ?? 'wasm',
  };

  if (workers === 1) {
    const instance: Instance = await startInstance({ ...base, workerId: 0 });
    log.info(
      `gw listening on ${opts.service.listen_ip ?? '0.0.0.0'}:${opts.port} (${front}, 1 worker, in-process)`,
    );
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
  log.info(
    `gw listening on ${opts.service.listen_ip ?? '0.0.0.0'}:${opts.port} (${front}, ${workers} workers)`,
  );
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
