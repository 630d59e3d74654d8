// Worker-thread entry: one serving instance; stops (draining in-flight requests) on 'stop'.
// An error nothing caught ends this worker in order: it is logged, the main thread starts a
// replacement on the same port, and this one stops taking connections and drains before it
// exits. Ending the thread at once instead would abort the whole process while uWS still holds
// handles on its loop (`uv_loop_close() while having open handles`).
import { parentPort, workerData } from 'node:worker_threads';
import { type Instance, type InstanceOptions, startInstance } from './instance.js';

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
    port.on('message', (m: { type: string; deadlineMs?: number }) => {
      if (m.type === 'stop') end(0, m.deadlineMs ?? 10000);
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
