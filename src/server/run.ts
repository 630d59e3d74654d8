// `gw run`: the main thread prepares shared state, then runs one serving instance per worker
// thread on the same port (SO_REUSEPORT: uWS's own, node:http's `reusePort`), or in-process with
// --workers 1. The port is checked free first: workers share it, nothing else may.

import net from 'node:net';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AGENT_HEALTH_KEY, prepareAgentHealth } from '../async/health.js';
import { loadedModules, loadModulesFor, moduleFor, usedNamespaces } from '../extensions/registry.js';
import { tlsOptionsFromConfig } from '../security/tls.js';
import { createLogger } from '../telemetry/logger.js';
import type { ServiceConfig } from '../types.js';
import type { Instance, InstanceOptions } from './instance.js';
import { chooseFront, type FrontKind, type FrontRequest, headLimitOf, setUwsHeadLimit } from './platform.js';

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

function prepareShared(service: ServiceConfig): Record<string, unknown> {
  const shared: Record<string, unknown> = {};
  for (const ns of usedNamespaces(service)) {
    const mod = moduleFor(ns);
    if (mod?.prepareShared) shared[ns] = mod.prepareShared(service);
  }
  const agentHealth = prepareAgentHealth(service);
  if (agentHealth !== undefined) shared[AGENT_HEALTH_KEY] = agentHealth;
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
  /** The main thread's logger. */
  log: ReturnType<typeof createLogger>;
  /**
   * Serves `service` (already checked) from now on, in every worker, or throws and changes
   * nothing. Reloads run one at a time.
   */
  reload(service: ServiceConfig): Promise<void>;
  stop(): Promise<void>;
}

/** How an instance (in-process, or each worker through messages) takes a new configuration. */
interface Reloadable {
  prepare(service: ServiceConfig, shared: Record<string, unknown>): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * The settings the listening socket holds: a reload cannot change them (the port keeps serving
 * through it), so a change waits for a restart and is said so.
 */
function listenerChanges(before: ServiceConfig, after: ServiceConfig): string[] {
  const keys = [
    'port',
    'listen_ip',
    'use_h2c',
    'max_header_bytes',
    'read_timeout',
    'read_header_timeout',
    'write_timeout',
    'idle_timeout',
  ] as const;
  const changed: string[] = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  const maxBody = (s: ServiceConfig) =>
    JSON.stringify((s.extra_config?.router as { max_payload_size?: unknown } | undefined)?.max_payload_size);
  if (maxBody(before) !== maxBody(after)) changed.push('extra_config.router.max_payload_size');
  if ((tlsOptionsFromConfig(before) === undefined) !== (tlsOptionsFromConfig(after) === undefined))
    changed.push('tls (on or off)');
  // The front adds its WebSocket route at start, for a configuration with websocket endpoints.
  const webSockets = (s: ServiceConfig) =>
    (s.endpoints ?? []).some((ep) => ep.extra_config?.websocket !== undefined);
  if (webSockets(before) !== webSockets(after)) changed.push('websocket endpoints (the first or the last)');
  return changed;
}

/** Serialises reloads and applies each to `target`: prepared everywhere, then committed, or aborted. */
function reloader(
  initial: ServiceConfig,
  target: Reloadable,
  log: ReturnType<typeof createLogger>,
): (service: ServiceConfig) => Promise<void> {
  let serving = initial;
  let queue: Promise<unknown> = Promise.resolve();
  return (service) => {
    const run = async () => {
      const started = performance.now();
      const fixed = listenerChanges(serving, service);
      if (fixed.length > 0)
        log.warn(
          `reload: ${fixed.join(', ')} changed; the listener keeps the running values until a restart`,
        );
      await loadModulesFor(service);
      const shared = prepareShared(service);
      try {
        await target.prepare(service, shared);
      } catch (err) {
        await target.abort();
        throw err;
      }
      await target.commit();
      serving = service;
      log.info(
        `reload: the new configuration serves (${(service.endpoints ?? []).length} endpoints, compiled and switched in ${Math.round(performance.now() - started)} ms)`,
      );
    };
    const done = queue.then(run, run);
    queue = done.catch(() => undefined);
    return done;
  };
}

export async function serve(opts: ServeOptions): Promise<RunningGateway> {
  const log = createLogger({ level: opts.logLevel, service: opts.service, sync: true });
  const listenerTls = tlsOptionsFromConfig(opts.service);
  setUwsHeadLimit(headLimitOf(opts.service));
  const choice = chooseFront(
    opts.front,
    Math.max(1, Math.floor(opts.workers ?? availableParallelism())),
    listenerTls?.uwsIncompatibility,
    listenerTls !== undefined
      ? 'ALPN h2 on the TLS port'
      : opts.service.use_h2c === true
        ? 'use_h2c'
        : undefined,
  );
  if (choice.warning !== undefined) log.warn(choice.warning);
  const front = choice.kind;
  const workers = choice.workers;
  const host = opts.service.listen_ip ?? '0.0.0.0';
  await assertPortFree(host, opts.port);
  await loadModulesFor(opts.service);
  const modules = loadedModules();
  log.debug(`modules loaded for this configuration: ${modules.length > 0 ? modules.join(', ') : 'none'}`);
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

  const faultInjection = process.env.GW_FAULT_INJECTION === '1';
  if (workers === 1) {
    // Loaded here only: with worker threads, the main thread never holds the pipeline's code.
    const { startInstance } = await import('./instance.js');
    const instance: Instance = await startInstance({ ...base, workerId: 0 });
    // In-process there is no other worker to take over: an error nothing caught is logged and
    // serving goes on, rather than every connection dropped with the process.
    const uncaught = (err: unknown) =>
      instance.logger.error(
        `uncaught error (serving goes on): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    process.on('uncaughtException', uncaught);
    process.on('unhandledRejection', uncaught);
    if (faultInjection)
      process.on('SIGUSR2', () =>
        setImmediate(() => {
          throw new Error('fault injected: worker failure (SIGUSR2)');
        }),
      );
    log.info(`gw listening on ${host}:${opts.port} (${front}, 1 worker, in-process): ${choice.reason}`);
    const reload = reloader(
      opts.service,
      {
        prepare: (service, shared) => instance.prepare(service, shared),
        commit: async () => instance.commit(),
        abort: () => instance.abort(),
      },
      log,
    );
    return { front, workers, log, reload, stop: () => instance.stop(drainMs) };
  }

  const supervisor = new WorkerSupervisor(base, log);
  await supervisor.start(workers);
  if (faultInjection) process.on('SIGUSR2', () => supervisor.injectFailure());
  log.info(`gw listening on ${host}:${opts.port} (${front}, ${workers} workers): ${choice.reason}`);
  const reload = reloader(opts.service, supervisor, log);
  return { front, workers, log, reload, stop: () => supervisor.stop(drainMs) };
}

/** How long a worker may take to compile (or switch to) a reloaded configuration. */
const RELOAD_STEP_MS = 60000;

/** How long a replaced worker waits before it starts, after one that died young: doubled each time. */
const RESTART_BACKOFF_MS = [0, 250, 500, 1000, 2000, 5000];
/** A worker that served this long before it died counts as healthy: its successor starts at once. */
const HEALTHY_AFTER_MS = 10000;

/**
 * Keeps `count` workers serving. A worker that fails (an uncaught error, logged by the worker with
 * what it was doing) stops taking connections and drains while a new one takes its place on the
 * same port; one that exits without being asked is replaced too. Replacements of a worker that
 * keeps dying young back off, up to 5 s apart.
 */
class WorkerSupervisor implements Reloadable {
  private readonly threads = new Map<number, Worker>();
  private readonly failures = new Map<number, number>();
  private stopping = false;
  /** The reload under way: its number, and the configuration it would put in place. */
  private reloadCount = 0;
  private pending: { service: ServiceConfig; shared: Record<string, unknown> } | undefined;

  constructor(
    private base: Omit<InstanceOptions, 'workerId'>,
    private readonly log: ReturnType<typeof createLogger>,
  ) {}

  /** Asks every serving worker `type` for the current reload; resolves once each answered. */
  private ask(type: 'prepare' | 'commit', extra: Record<string, unknown>, answer: string): Promise<void> {
    const reload = this.reloadCount;
    return Promise.all(
      [...this.threads].map(
        ([id, worker]) =>
          new Promise<void>((resolve, reject) => {
            const onMessage = (m: { type: string; reload?: number; error?: string }) => {
              if (m.reload !== reload) return;
              if (m.type === answer) done(undefined);
              else if (m.type === 'prepare-failed') done(new Error(`worker ${id}: ${m.error}`));
            };
            const onExit = () => done(undefined);
            const timer = setTimeout(
              () =>
                done(
                  new Error(
                    `worker ${id} did not answer the reload's ${type} within ${RELOAD_STEP_MS / 1000} s`,
                  ),
                ),
              RELOAD_STEP_MS,
            );
            const done = (err: Error | undefined) => {
              clearTimeout(timer);
              worker.off('message', onMessage);
              worker.off('exit', onExit);
              if (err === undefined) resolve();
              else reject(err);
            };
            // A worker that exits meanwhile is replaced with the configuration that wins.
            worker.on('message', onMessage);
            worker.once('exit', onExit);
            worker.postMessage({ type, reload, ...extra });
          }),
      ),
    ).then(() => undefined);
  }

  async prepare(service: ServiceConfig, shared: Record<string, unknown>): Promise<void> {
    this.reloadCount++;
    this.pending = { service, shared };
    await this.ask('prepare', { service, shared }, 'prepared');
  }

  async commit(): Promise<void> {
    if (this.pending === undefined) return;
    // Workers started from now on (replacements) serve the new configuration.
    this.base = { ...this.base, ...this.pending };
    this.pending = undefined;
    await this.ask('commit', {}, 'committed');
  }

  async abort(): Promise<void> {
    this.pending = undefined;
    for (const worker of this.threads.values())
      worker.postMessage({ type: 'abort', reload: this.reloadCount });
  }

  /** Starts the workers; fails (and stops those started) when any of them cannot serve. */
  async start(count: number): Promise<void> {
    const ready = Array.from({ length: count }, (_, id) => this.spawn(id));
    const started = await Promise.allSettled(ready);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      this.stopping = true;
      await Promise.all([...this.threads.values()].map((t) => t.terminate()));
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** Starts worker `id`; resolves once it serves, rejects if it cannot start. */
  private spawn(id: number): Promise<void> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { ...this.base, workerId: id },
    });
    this.threads.set(id, worker);
    const bornAt = Date.now();
    let serving = false;
    let replaced = false;
    const replace = (why: string) => {
      if (replaced || this.stopping) return;
      replaced = true;
      const young = Date.now() - bornAt < HEALTHY_AFTER_MS;
      const failures = young ? (this.failures.get(id) ?? 0) + 1 : 0;
      this.failures.set(id, failures);
      const delay = RESTART_BACKOFF_MS[Math.min(failures, RESTART_BACKOFF_MS.length - 1)];
      this.log.error(`worker ${id} ${why}; a new worker ${id} starts${delay > 0 ? ` in ${delay} ms` : ''}`);
      setTimeout(() => {
        if (this.stopping) return;
        this.spawn(id).catch((err: Error) =>
          this.log.error(`worker ${id} could not start again: ${err.message}`),
        );
      }, delay).unref();
    };
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type: string; error?: string }) => {
        if (m.type === 'ready') {
          serving = true;
          resolve();
        } else if (m.type === 'error') reject(new Error(m.error ?? 'worker failed to start'));
        else if (m.type === 'failed') replace('failed (the error is logged above) and is draining');
      });
      worker.on('error', (err) => {
        // An error the worker could not catch itself: it is gone.
        if (!serving) reject(err);
        else this.log.error({ err }, `worker ${id}: ${err.message}`);
      });
      worker.on('exit', (code) => {
        if (this.threads.get(id) === worker) this.threads.delete(id);
        if (!serving) reject(new Error(`worker ${id} exited with code ${code}`));
        else replace(`exited with code ${code}`);
      });
    });
  }

  /** Makes the first worker fail as an uncaught error would (GW_FAULT_INJECTION, tests). */
  injectFailure(): void {
    const first = [...this.threads.keys()].sort((a, b) => a - b)[0];
    if (first !== undefined) this.threads.get(first)?.postMessage({ type: 'fail' });
  }

  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.threads.values()].map(
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
  }
}
