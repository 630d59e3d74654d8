// Worker-thread entry: one serving instance; stops (draining in-flight requests) on 'stop'.
import { parentPort, workerData } from 'node:worker_threads';
import { type InstanceOptions, startInstance } from './instance.js';

const port = parentPort!;
startInstance(workerData as InstanceOptions).then(
  (instance) => {
    port.on('message', (m: { type: string; deadlineMs?: number }) => {
      if (m.type !== 'stop') return;
      instance.stop(m.deadlineMs ?? 10000).finally(() => {
        port.close();
        process.exit(0);
      });
    });
    port.postMessage({ type: 'ready' });
  },
  (err: unknown) => {
    port.postMessage({ type: 'error', error: err instanceof Error ? err.message : String(err) });
  },
);
