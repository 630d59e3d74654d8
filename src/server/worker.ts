// Worker-thread entry: one serving instance; stops (draining in-flight requests) on 'stop'.
// An error nothing caught ends this worker in order: it is logged, the main thread starts a
// replacement on the same port, and this one stops taking connections and drains before it
// exits. Ending the thread at once instead would abort the whole process while uWS still holds
// handles on its loop (`uv_loop_close() while having open handles`).
import { parentPort, workerData } from 'node:worker_threads';
import type { ServiceConfig } from '../types.js';
import { type Instance, type InstanceOptions, startInstance } from './instance.js';

/** What the main thread tells a worker. */
interface WorkerMessage {
  type: 'stop' | 'fail' | 'prepare' | 'commit' | 'abort';
  deadlineMs?: number;
  /** A reload's number, echoed in the answers. */
  reload?: number;
  service?: ServiceConfig;
  shared?: Record<string, unknown>;
}

/** How long a failed worker lets its in-flight requests finish before it exits. */
const FAILED_DRAIN_MS = 5000;

const port = parentPort!;
const options = workerData as InstanceOptions;
let instance: Instance | undefined;
let ending = false;

function end(code: number, drainMs: number): void {
  if (ending) return;
  ending = true;
  const stopped = instance === undefined ? Promise.resolve() : instance.stop(drainMs);
  stopped.finally(() => {
    port.close();
    process.exit(code);
  });
}

function failed(err: unknown): void {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (instance !== undefined) instance.logger.error(`worker ${options.workerId}: uncaught error: ${text}`);
  else console.error(`worker ${options.workerId}: uncaught error: ${text}`);
  if (ending) return;
  port.postMessage({ type: 'failed' });
  end(1, FAILED_DRAIN_MS);
}

process.on('uncaughtException', failed);
process.on('unhandledRejection', failed);

startInstance(options).then(
  (started) => {
    instance = started;
    port.on('message', (m: WorkerMessage) => {
      if (m.type === 'stop') end(0, m.deadlineMs ?? 10000);
      // A reload in two steps, so that every worker switches or none does: prepare compiles the
      // new configuration beside the serving one, then commit switches to it (or abort drops it).
      else if (m.type === 'prepare' && m.service !== undefined)
        started.prepare(m.service, m.shared ?? {}).then(
          () => port.postMessage({ type: 'prepared', reload: m.reload }),
          (err: unknown) =>
            port.postMessage({
              type: 'prepare-failed',
              reload: m.reload,
              error: err instanceof Error ? err.message : String(err),
            }),
        );
      else if (m.type === 'commit') {
        started.commit();
        port.postMessage({ type: 'committed', reload: m.reload });
      } else if (m.type === 'abort') started.abort().catch(() => undefined);
      // Fault injection for the supervision tests (gw run with GW_FAULT_INJECTION=1, SIGUSR2).
      else if (m.type === 'fail')
        setImmediate(() => {
          throw new Error('fault injected: worker failure (SIGUSR2)');
        });
    });
    port.postMessage({ type: 'ready' });
  },
  (err: unknown) => {
    port.postMessage({ type: 'error', error: err instanceof Error ? err.message : String(err) });
  },
);
